/**
 * The API bench's server (bench/api.bench.ts starts it pinned to one core): the REST app
 * over a read model of `--hosts` hosts (default 100 000), each with a latest prediction,
 * a policy state (zone, rack, service) and a short score history; 1 % of them at risk
 * `act`. POST /v1/score uses `--model` (default models/demo). Prints `url=<url>` when ready.
 */
import { parseArgs } from 'node:util'
import { buildApp } from '../src/api/app.js'
import { createApiMetrics } from '../src/api/metrics.js'
import { ModelRegistry } from '../src/api/models.js'
import { FleetView } from '../src/api/view.js'
import { loadConfig } from '../src/config/index.js'
import { createLogger } from '../src/log.js'
import { loadModel } from '../src/model/artifact.js'
import { initBackend } from '../src/model/backend.js'
import { newHostPolicy } from '../src/policy/engine.js'
import { streamModelOf } from '../src/stream/model.js'

const { values: a } = parseArgs({
  options: { hosts: { type: 'string', default: '100000' }, model: { type: 'string', default: 'models/demo' } },
})
const hosts = Number(a.hosts)
await initBackend()
const model = streamModelOf(await loadModel(a.model))
const config = loadConfig({ overrides: { api: { scoreRatePerMinute: 1e9, bodyLimitBytes: 16 * 1024 * 1024 } } })
const view = new FleetView({ historyPoints: 32, historyMs: 6 * 3_600_000, maxCommands: 100_000 })
const T0 = Date.UTC(2026, 10, 1)
for (let h = 0; h < hosts; h++) {
  const host = `host-${String(h).padStart(6, '0')}`
  const act = h % 100 === 7
  for (let k = 0; k < 8; k++) {
    const score = act ? 0.7 + k * 0.03 : ((h * 7919 + k) % 1000) / 2000
    view.applyPrediction({
      host,
      ts: T0 + k * 30_000,
      scoredAt: T0 + k * 30_000 + 50,
      score,
      risk: act && k >= 5 ? 'act' : score >= 0.63 ? 'watch' : 'ok',
      model: { name: model.name, version: model.version },
      horizonMs: model.horizonMs,
      top: [
        { feature: 'disk_err_rate.mean.20m', contribution: 0.41 },
        { feature: 'temp_c.slope.1h', contribution: 0.22 },
      ],
    })
  }
  const policy = newHostPolicy(host, T0, { zone: `zone-${h % 6}`, rack: `rack-${h % 400}`, service: `svc-${h % 20}` })
  if (act) Object.assign(policy, { state: 'at_risk', streak: 3 })
  view.applyPolicy(policy)
}
const app = await buildApp({
  view,
  config: config.api,
  policyConfig: config.policy,
  log: createLogger({ level: 'warn' }),
  models: new ModelRegistry(config.api.modelsDir),
  metrics: createApiMetrics({ view }),
  model,
  stateTopic: config.topics.state,
  version: 'bench',
})
// Build the sorted snapshot once before the clients come (as a warm instance would have).
await app.inject({ method: 'GET', url: '/v1/predictions?limit=1' })
const url = await app.listen({ port: 0, host: '127.0.0.1' })
process.stdout.write(`url=${url} rss=${Math.round(process.memoryUsage().rss / 2 ** 20)}\n`)
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)))
