/**
 * A simulated fleet's MetricSampleV1 records for one topic, pulled one at a time in the order
 * the simulator makes them (the fleet's failures and statuses are left out): the serve bench's
 * input and its latency load.
 */
import type { OutgoingMessage } from '../src/bus/index.js'
import { FleetSim } from '../src/sim/engine.js'
import { busSink } from '../src/sim/kafka-mode.js'
import { DEFAULT_SIM_PARAMS } from '../src/sim/model.js'

export function fleetSamples(topic: string, hosts: number, seed: number): () => OutgoingMessage {
  let pending: OutgoingMessage[] = []
  let next = 0
  const sink = busSink({ metrics: topic, failures: `${topic}.failures`, commandStatus: `${topic}.status` }, (m) => {
    if (m.topic === topic) pending.push(m)
  })
  const sim = new FleetSim({ ...DEFAULT_SIM_PARAMS, hosts, durationMs: 365 * 86_400_000, seed }, sink)
  return () => {
    while (next >= pending.length) {
      pending = []
      next = 0
      sim.tick()
    }
    return pending[next++]!
  }
}
