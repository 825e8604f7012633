/**
 * The API as a service: read model + materializer + metrics + app, wired once for
 * `preempt serve --api-port`, `preempt api`, the tests and the bench.
 */
import type { FastifyInstance } from 'fastify'
import type { Bus } from '../bus/index.js'
import type { Config } from '../config/index.js'
import type { Logger } from '../log.js'
import type { StreamModel } from '../stream/model.js'
import type { Scorer } from '../stream/scorer.js'
import { buildApp } from './app.js'
import { createMaterializer, type Materializer } from './materialize.js'
import { type ApiMetrics, createApiMetrics } from './metrics.js'
import { ModelRegistry } from './models.js'
import { FleetView } from './view.js'

export { buildApp } from './app.js'
export { FleetView } from './view.js'

export interface ApiServiceOptions {
  bus: Bus
  config: Config
  log: Logger
  version: string
  scorer?: Scorer | undefined
  /** The scorer's group (consumer lag on /metrics). */
  scorerGroup?: string | undefined
  /** For POST /v1/score without a scorer. */
  model?: StreamModel | undefined
  /** Folder of the active model (listed by GET /v1/models beside api.modelsDir). */
  modelDir?: string | undefined
  /** Lists' staleness bound, ms (tests: 0). Default 1000. */
  snapshotMs?: number
  waitForTopicsMs?: number
}

export interface ApiService {
  app: FastifyInstance
  view: FleetView
  metrics: ApiMetrics
  materializer: Materializer
  /** Starts reading the topics (resolves once joined, not once caught up: see /readyz). */
  start(): Promise<void>
  listen(port: number): Promise<string>
  close(): Promise<void>
}

export async function createApiService(o: ApiServiceOptions): Promise<ApiService> {
  const { bus, config, log } = o
  const view = new FleetView({
    historyPoints: config.api.historyPoints,
    historyMs: config.api.historyMs,
    maxCommands: config.api.maxCommands,
    snapshotMs: o.snapshotMs ?? 1000,
  })
  const materializer = createMaterializer({
    bus,
    topics: config.topics,
    view,
    log,
    waitForTopicsMs: o.waitForTopicsMs,
  })
  const models = new ModelRegistry(config.api.modelsDir)
  const active = o.scorer?.model ?? o.model
  if (active && o.modelDir) models.activate(active.name, o.modelDir)
  let admin: Awaited<ReturnType<Bus['admin']>> | undefined
  const adminOnce = async () => {
    admin ??= await bus.admin()
    return admin
  }
  const metrics = createApiMetrics({
    view,
    scorer: o.scorer,
    lag: o.scorer
      ? { admin: adminOnce, groupId: o.scorerGroup ?? 'preempt-scorer', topic: config.topics.metrics }
      : undefined,
  })
  let brokerOk = { at: 0, ok: false }
  const app = await buildApp({
    view,
    config: config.api,
    policyConfig: config.policy,
    log,
    models,
    metrics,
    scorer: o.scorer,
    model: o.model,
    bus,
    stateTopic: config.topics.state,
    version: o.version,
    onActivated: (name, dir) => models.activate(name, dir),
    readiness: async () => {
      if (Date.now() - brokerOk.at > 2000) {
        const ok = await Promise.race([
          adminOnce()
            .then((a) => a.listTopics())
            .then(() => true)
            .catch(() => false),
          new Promise<boolean>((r) => setTimeout(() => r(false), 2000).unref()),
        ])
        brokerOk = { at: Date.now(), ok }
      }
      return { broker_reachable: brokerOk.ok, read_model_caught_up: materializer.ready() }
    },
  })
  return {
    app,
    view,
    metrics,
    materializer,
    start: () => materializer.start(),
    async listen(port) {
      return app.listen({ port, host: config.api.host })
    },
    async close() {
      await app.close()
      await materializer.close()
      await admin?.close().catch(() => {})
    },
  }
}
