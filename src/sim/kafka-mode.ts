/**
 * Kafka mode: the simulated fleet publishes MetricSampleV1 (key = host) and FailureEventV1
 * at a chosen time compression, while its actuator consumes HealingCommandV1 from the
 * control topic (read_committed) and answers with CommandStatusV1.
 *
 * Clock: the actuator judges commands (expires_at) by the simulation clock, which is the
 * event time of the samples it publishes: preempt stamps commands with event time too.
 */
import { randomUUID } from 'node:crypto'
import type { Bus, OutgoingMessage } from '../bus/index.js'
import {
  decodeHealingCommand,
  encodeCommandStatus,
  encodeFailureEvent,
  encodeMetricSample,
  type HealingCommand,
} from '../contracts/index.js'
import type { Logger } from '../log.js'
import { FleetSim, type SimSink } from './engine.js'
import { type ActuatorParams, DEFAULT_ACTUATOR_PARAMS, SIM_METRICS, type SimParams } from './model.js'
import { computeOutcome, type OutcomeReport } from './outcome.js'

export interface KafkaModeTopics {
  metrics: string
  failures: string
  commands: string
  commandStatus: string
}

export interface KafkaModeOptions {
  bus: Bus
  topics: KafkaModeTopics
  params: SimParams
  actuator?: ActuatorParams
  logger: Logger
  /** Simulated ms per real ms. Default 60 (one simulated hour per real minute); Infinity = as fast as possible. */
  speed?: number
  /** Consumer group of the actuator. Default a fresh one per run (commands from before the run are not replayed). */
  groupId?: string
  /** Stops the run early (SIGINT). */
  signal?: AbortSignal
  /** Called once the actuator listens, before the first tick. */
  onStart?: (sim: FleetSim) => void
  /** Called after every tick. */
  onTick?: (sim: FleetSim) => void
}

export interface KafkaModeResult {
  outcome: OutcomeReport
  samples: number
  commandsReceived: number
  commandsInvalid: number
  sim: FleetSim
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve()
    const onAbort = () => {
      clearTimeout(t)
      resolve()
    }
    // Removed when the timer fires: one pacing sleep per tick must not pile up listeners.
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })

/**
 * The simulator's sink as bus records: samples (MetricSampleV1), failures (FailureEventV1)
 * and the actuator's statuses (CommandStatusV1), keyed by host, record timestamp = event
 * time. Kafka mode and the backtest publish the same records.
 */
export function busSink(
  topics: Pick<KafkaModeTopics, 'metrics' | 'failures' | 'commandStatus'>,
  emit: (m: OutgoingMessage) => void,
): SimSink & { readonly samples: number } {
  let samples = 0
  return {
    get samples() {
      return samples
    },
    sample(host, ts, values) {
      const metrics: Record<string, number | null> = {}
      for (let i = 0; i < values.length; i++) {
        const v = values[i]!
        metrics[SIM_METRICS[i]!] = Number.isNaN(v) ? null : v
      }
      emit({
        topic: topics.metrics,
        key: host.name,
        value: encodeMetricSample({ host: host.name, ts, metrics, labels: host.labels }),
        timestamp: ts,
      })
      samples++
    },
    failure(f) {
      emit({
        topic: topics.failures,
        key: f.host,
        value: encodeFailureEvent({ host: f.host, ts: f.ts, kind: f.kind, recoveredTs: f.recoveredTs }),
        timestamp: f.ts,
      })
    },
    status(s) {
      emit({ topic: topics.commandStatus, key: s.host, value: encodeCommandStatus(s), timestamp: s.ts })
    },
  }
}

export async function runSimulationOnKafka(opts: KafkaModeOptions): Promise<KafkaModeResult> {
  const log = opts.logger.child({ module: 'sim' })
  const { bus, topics } = opts
  const speed = opts.speed ?? 60
  const admin = await bus.admin()
  // Simulated time may lie in the past: topics the simulator creates keep their records
  // until deleted, or the broker's time retention would drop them minutes later.
  const keep = { 'retention.ms': '-1' }
  await admin.createTopics([
    { topic: topics.metrics, partitions: 6, configs: keep },
    { topic: topics.failures, configs: keep },
    { topic: topics.commands, partitions: 6, configs: keep },
    { topic: topics.commandStatus, partitions: 6, configs: keep },
  ])
  const producer = await bus.producer()
  let out: OutgoingMessage[] = []
  const sink = busSink(topics, (m) => out.push(m))
  const sim = new FleetSim(opts.params, sink, opts.actuator ?? DEFAULT_ACTUATOR_PARAMS)

  const inbox: HealingCommand[] = []
  let commandsReceived = 0
  let commandsInvalid = 0
  const consumer = await bus.consumer({
    groupId: opts.groupId ?? `preempt-sim-actuator-${randomUUID().slice(0, 8)}`,
    topics: [topics.commands],
    fromBeginning: false,
  })
  await consumer.run(async (batch) => {
    for (const m of batch.messages) {
      commandsReceived++
      const d = decodeHealingCommand(m.value ?? new Uint8Array(), { key: m.key })
      if (d.ok) inbox.push(d.value)
      else {
        commandsInvalid++
        log.warn({ offset: m.offset, partition: m.partition, error: d.error }, 'invalid healing command ignored')
      }
    }
    await consumer.commit([
      { topic: batch.topic, partition: batch.partition, offset: String(Number(batch.messages.at(-1)!.offset) + 1) },
    ])
  })
  log.info(
    { hosts: opts.params.hosts, speed, metricsTopic: topics.metrics, commandsTopic: topics.commands },
    'simulated fleet publishing',
  )
  opts.onStart?.(sim)

  const realStart = Date.now()
  try {
    while (!sim.done && !opts.signal?.aborted) {
      for (const cmd of inbox.splice(0)) sim.submit(cmd)
      sim.tick()
      if (out.length) {
        const batch = out
        out = []
        await producer.send(batch)
      }
      opts.onTick?.(sim)
      if (Number.isFinite(speed)) {
        const due = realStart + (sim.now - opts.params.startMs) / speed
        const wait = due - Date.now()
        if (wait > 0) await sleep(wait, opts.signal)
      } else await new Promise<void>((r) => setImmediate(r))
    }
    for (const cmd of inbox.splice(0)) sim.submit(cmd)
    sim.finish()
    if (out.length) await producer.send(out.splice(0))
  } finally {
    await consumer.close().catch(() => {})
    await producer.close().catch(() => {})
    await admin.close().catch(() => {})
  }
  // A run stopped early is judged on the span it covered.
  const outcome = computeOutcome(sim, sim.now)
  return { outcome, samples: sink.samples, commandsReceived, commandsInvalid, sim }
}
