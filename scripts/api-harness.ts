/**
 * The REST API over a small simulated fleet, in one process on the in-memory bus (no
 * broker): the fleet simulator publishes a few hours of samples and failures, a scorer with
 * a real model scores them, and the API (with its scorer) listens. For the REST fuzzer
 * (scripts/fuzz-api.sh) and for poking at the API by hand.
 *
 *   npx tsx scripts/api-harness.ts [--model models/demo] [--port 0] [--hosts 40] [--hours 6]
 *
 * Prints one line `url=<url> token=<token>` on stdout once the API is ready; stops on SIGTERM.
 */
import { parseArgs } from 'node:util'
import { createApiService } from '../src/api/index.js'
import { createMemoryBus, MemoryCluster, type OutgoingMessage } from '../src/bus/index.js'
import { loadConfig } from '../src/config/index.js'
import { DefaultTopics } from '../src/contracts/index.js'
import { createLogger } from '../src/log.js'
import { loadModel } from '../src/model/artifact.js'
import { initBackend } from '../src/model/backend.js'
import { FleetSim } from '../src/sim/engine.js'
import { busSink } from '../src/sim/kafka-mode.js'
import { DEFAULT_ACTUATOR_PARAMS, DEFAULT_SIM_PARAMS } from '../src/sim/model.js'
import { streamModelOf } from '../src/stream/model.js'
import { createScorer } from '../src/stream/scorer.js'

const { values: a } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/demo' },
    port: { type: 'string', default: '0' },
    hosts: { type: 'string', default: '40' },
    hours: { type: 'string', default: '6' },
    token: { type: 'string', default: 'harness-token-0123456789' },
  },
})
const log = createLogger({ level: process.env['PREEMPT_LOG_LEVEL'] ?? 'warn' })
await initBackend()
const model = streamModelOf(await loadModel(a.model))
const cluster = new MemoryCluster()
const bus = createMemoryBus(cluster)
const topics = { ...DefaultTopics }
const admin = await bus.admin()
await admin.createTopics([{ topic: topics.metrics, partitions: 6 }])
const out: OutgoingMessage[] = []
const sink = busSink(topics, (m) => out.push(m))
const sim = new FleetSim(
  {
    ...DEFAULT_SIM_PARAMS,
    hosts: Number(a.hosts),
    durationMs: Number(a.hours) * 3_600_000,
    mtbfMs: 2 * 86_400_000,
    intervalMs: 30_000,
    seed: 11,
  },
  sink,
  DEFAULT_ACTUATOR_PARAMS,
)
sim.runToEnd()
await (await bus.producer()).send(out)
const scorer = createScorer({
  bus,
  model,
  log,
  config: { topics, fromBeginning: true, partitions: 6, policy: { guards: { maxConcurrentFraction: 0.5 } } },
})
await scorer.start()
while (scorer.stats().records < sink.samples) await new Promise((r) => setTimeout(r, 100))
const config = loadConfig({ overrides: { api: { token: a.token } } })
const api = await createApiService({ bus, config, log, version: 'harness', scorer, modelDir: a.model })
await api.start()
while (!api.materializer.ready()) await new Promise((r) => setTimeout(r, 100))
const url = await api.listen(Number(a.port))
process.stdout.write(`url=${url} token=${a.token}\n`)
const stop = async () => {
  await api.close()
  await scorer.close(5000)
  await bus.close()
  process.exit(0)
}
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
