/**
 * The REST API (fastify). `buildApp(deps)` builds it and never listens: `preempt serve
 * --api-port` and `preempt api` listen, tests call `app.inject()`.
 *
 * Reads come from the read model every instance materialises (view.ts), so any instance
 * answers for every host. Routes that need the scorer (activate a model, guard decisions)
 * answer 409 PREEMPT_ERR_API_READ_ONLY on an instance without one. Mutating routes need
 * `Authorization: Bearer <api.token>` (401 without, 403 wrong). Every error is
 * `{ "error": { "code", "message", "field"? } }` with a catalogue code; no stack trace
 * ever leaves the process (5xx are logged at error with the cause, 4xx at info).
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import cors from '@fastify/cors'
import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify'
import type { Bus } from '../bus/index.js'
import type { Config } from '../config/index.js'
import {
  healingCommandWire as commandWire,
  failureEventWire as failureWire,
  predictionWire,
  commandStatusWire as statusWire,
} from '../contracts/index.js'
import { type ErrorCode, isPreemptError, PreemptError } from '../errors.js'
import type { Logger } from '../log.js'
import { loadModel } from '../model/artifact.js'
import { type GuardDecision, Guards, type HostPolicy } from '../policy/engine.js'
import { setKillSwitch } from '../stream/control.js'
import { type StreamModel, streamModelOf } from '../stream/model.js'
import type { Scorer } from '../stream/scorer.js'
import type { ApiMetrics } from './metrics.js'
import type { ModelRegistry } from './models.js'
import * as S from './schemas.js'
import { scoreSamples } from './score.js'
import { fleetStats } from './stats.js'
import { decodeCursor, type FleetView, type SortKey } from './view.js'

export interface ApiDeps {
  view: FleetView
  config: Config['api']
  /** The policy options of the config (GET /v1/policy on an instance without a scorer). */
  policyConfig: Config['policy']
  log: Logger
  models: ModelRegistry
  metrics: ApiMetrics
  /** The scorer of this process (`serve --api-port`); absent for `preempt api`. */
  scorer?: Scorer | undefined
  /** A model for POST /v1/score when there is no scorer (`preempt api --model`). */
  model?: StreamModel | undefined
  /** Writes the kill switch to the state topic (every scorer reads it). */
  bus?: Bus | undefined
  stateTopic: string
  /** Readiness checks beyond the model: name → passing. */
  readiness?: () => Promise<Record<string, boolean>>
  /** Called after a model folder was activated. */
  onActivated?: (name: string, dir: string) => void
  version: string
}

const STATUS_OF: Partial<Record<ErrorCode, number>> = {
  PREEMPT_ERR_API_INPUT: 400,
  PREEMPT_ERR_API_UNAUTHORIZED: 401,
  PREEMPT_ERR_API_FORBIDDEN: 403,
  PREEMPT_ERR_API_NOT_FOUND: 404,
  PREEMPT_ERR_API_READ_ONLY: 409,
  PREEMPT_ERR_API_TOO_LARGE: 413,
  PREEMPT_ERR_MODEL_ARTIFACT: 422,
  PREEMPT_ERR_MODEL_DATA: 422,
  PREEMPT_ERR_API_RATE_LIMITED: 429,
  PREEMPT_ERR_BUS_CONNECT: 503,
  PREEMPT_ERR_BUS_PRODUCE: 503,
  PREEMPT_ERR_BUS_ADMIN: 503,
}

/** fastify's own 4xx errors mapped to catalogue codes by status. */
function codeOfStatus(status: number): ErrorCode {
  if (status === 401) return 'PREEMPT_ERR_API_UNAUTHORIZED'
  if (status === 403) return 'PREEMPT_ERR_API_FORBIDDEN'
  if (status === 404) return 'PREEMPT_ERR_API_NOT_FOUND'
  if (status === 413) return 'PREEMPT_ERR_API_TOO_LARGE'
  if (status === 429) return 'PREEMPT_ERR_API_RATE_LIMITED'
  return 'PREEMPT_ERR_API_INPUT'
}

const digest = (s: string) => createHash('sha256').update(s).digest()

function policyWire(h: HostPolicy) {
  return {
    state: h.state,
    zone: h.zone,
    rack: h.rack,
    service: h.service ?? null,
    episode: h.episode,
    last_score: h.lastScore,
    last_ts: h.lastTs,
    since: h.since,
    cordoned: h.cordoned,
    blocked_by: h.blockedBy,
    command: h.command
      ? {
          id: h.command.id,
          action: h.command.action,
          issued_at: h.command.issuedAt,
          expires_at: h.command.expiresAt,
          status: h.command.status,
        }
      : null,
  }
}

function decisionWire(d: GuardDecision) {
  return {
    ts: d.ts,
    host: d.host,
    action: d.action,
    outcome: d.outcome,
    guard: d.guard,
    detail: d.detail,
    command_id: d.commandId,
  }
}

export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  const { view, config } = deps
  const log = deps.log.child({ module: 'api' })
  const app = Fastify({
    loggerInstance: log as unknown as FastifyBaseLogger,
    // One line per 4xx/5xx from the error handler; none per request (10k req/s would drown the log).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    // Room for the longest host (256) and command id (128); longer answers 414 below.
    routerOptions: { maxParamLength: 300 },
    // Malformed HTTP (headers over Node's 16 KiB, a broken request line) never reaches
    // fastify's handlers: answered on the socket, still in the one error shape.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket) => {
      if (err.code === 'ECONNRESET' || !socket.writable) return
      const tooLarge = err.code === 'HPE_HEADER_OVERFLOW'
      const status = tooLarge ? 431 : 400
      const body = JSON.stringify({
        error: {
          code: 'PREEMPT_ERR_API_INPUT',
          message: tooLarge
            ? 'the request line and headers are over 16 KiB; send a shorter URL (cursor, filters)'
            : 'malformed HTTP request',
        },
      })
      socket.end(
        `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      )
    },
    // Errors raised before routing (a bad URL, a path parameter over the limit): same shape.
    frameworkErrors: (err, req, reply) => {
      const status = typeof err.statusCode === 'number' ? err.statusCode : 400
      req.log.info({ status, url: req.url, fst: err.code }, err.message)
      void (reply as FastifyReply).code(status).send({
        error: {
          code: codeOfStatus(status),
          message: status === 414 ? 'a path parameter is longer than any host, command id or model name' : err.message,
          field: 'params',
        },
      })
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: false } },
  })

  // ---- errors: one shape, catalogue codes, no stack traces -------------------------------
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (err.validation) {
      const first = err.validation[0]
      const ctx = err.validationContext ?? 'request'
      const missing = (first?.params as { missingProperty?: string } | undefined)?.missingProperty
      const extra = (first?.params as { additionalProperty?: string } | undefined)?.additionalProperty
      const field = `${ctx}${first?.instancePath ?? ''}${missing ? `/${missing}` : extra ? `/${extra}` : ''}`
      const what = missing
        ? 'is required'
        : extra
          ? 'is not a known field (remove it)'
          : (first?.message ?? 'is invalid')
      req.log.info({ field, url: req.url }, 'bad request')
      return reply
        .code(400)
        .send({ error: { code: 'PREEMPT_ERR_API_INPUT', message: `${field} ${what}; /docs has the schema`, field } })
    }
    if (isPreemptError(err)) {
      const status = STATUS_OF[err.code] ?? 500
      if (status >= 500) req.log.error({ err }, 'request failed')
      else req.log.info({ code: err.code, url: req.url }, err.message)
      const field = err.details?.['field']
      return reply.code(status).send({
        error: { code: err.code, message: err.message, ...(typeof field === 'string' ? { field } : {}) },
      })
    }
    const status = typeof err.statusCode === 'number' ? err.statusCode : 500
    if (status >= 400 && status < 500) {
      req.log.info({ status, url: req.url, fst: err.code }, err.message)
      const message =
        status === 413
          ? `the body is larger than ${config.bodyLimitBytes} bytes (api.bodyLimitBytes)`
          : status === 415
            ? `${err.message}; send application/json`
            : err.message
      return reply
        .code(status)
        .send({ error: { code: codeOfStatus(status), message, ...(status !== 429 ? { field: 'body' } : {}) } })
    }
    req.log.error({ err, url: req.url }, 'request failed')
    return reply.code(500).send({
      error: {
        code: 'PREEMPT_ERR_API_INTERNAL',
        message: `internal error (request ${req.id}); the server log has the cause`,
      },
    })
  })
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({
      error: {
        code: 'PREEMPT_ERR_API_NOT_FOUND',
        message: `no route ${req.method} ${req.url.split('?')[0]}; /docs lists the routes`,
      },
    })
  })

  if (config.corsOrigins.length) await app.register(cors, { origin: config.corsOrigins })
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_req, ctx) =>
      new PreemptError(
        'PREEMPT_ERR_API_RATE_LIMITED',
        `more than ${ctx.max} requests in ${ctx.after}; retry after ${Math.ceil(ctx.ttl / 1000)} s`,
      ),
  })
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'preempt',
        version: deps.version,
        description:
          'Predictions, hosts, commands, models and the safety budget of preempt. Records are in their Kafka wire form (docs/streaming.md). Mutating routes need `Authorization: Bearer <api.token>`.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
        schemas: { MetricSampleV1: S.Sample },
      },
    },
  })
  await app.register(swaggerUi, { routePrefix: '/docs' })

  // ---- auth ------------------------------------------------------------------------------
  const token = config.token ? digest(config.token) : undefined
  async function requireToken(req: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const h = req.headers.authorization
    if (!token)
      throw new PreemptError(
        'PREEMPT_ERR_API_UNAUTHORIZED',
        'this API has no token configured (api.token, env PREEMPT_API_TOKEN): mutating routes are off',
      )
    if (!h || !/^Bearer\s+\S+$/i.test(h))
      throw new PreemptError('PREEMPT_ERR_API_UNAUTHORIZED', 'send Authorization: Bearer <api.token>')
    if (!timingSafeEqual(digest(h.replace(/^Bearer\s+/i, '')), token))
      throw new PreemptError('PREEMPT_ERR_API_FORBIDDEN', 'wrong bearer token')
  }
  /** A route's answers: the 200 schema and the error statuses it can give, in the form the serializer is fastest with. */
  const errorBody = S.serializable(S.ErrorBody)
  const answers = (ok: unknown, ...codes: number[]) => ({
    200: S.serializable(ok),
    ...Object.fromEntries(codes.map((c) => [c, errorBody])),
  })
  const secured = { security: [{ bearer: [] }] }

  const activeModel = () => deps.scorer?.model ?? deps.model
  const needScorer = (what: string): Scorer => {
    if (!deps.scorer)
      throw new PreemptError(
        'PREEMPT_ERR_API_READ_ONLY',
        `${what} needs the scorer; this instance runs the API alone (preempt api). Call an instance started with preempt serve --api-port.`,
      )
    return deps.scorer
  }
  const decisionsOf = (pred: (d: GuardDecision) => boolean) =>
    deps.scorer
      ? { source: 'local' as const, items: deps.scorer.policy.decisions.filter(pred).slice(-50).map(decisionWire) }
      : { source: 'unavailable' as const, items: [] }

  // ---- predictions and hosts -------------------------------------------------------------
  const pageCache = { version: -1, pages: new Map<string, string>() }
  app.get(
    '/v1/predictions',
    {
      schema: {
        summary: 'Latest prediction per host',
        description:
          'Filter by risk band, service, zone; sorted by score (highest first) or host; cursor pagination. Lists may lag the newest predictions by up to a second.',
        querystring: S.PredictionsQuery,
        response: answers(S.PredictionsPage, 400, 431),
      },
    },
    async (req, reply) => {
      const q = req.query as {
        risk?: 'ok' | 'watch' | 'act'
        service?: string
        zone?: string
        sort?: SortKey
        limit: number
        cursor?: string
      }
      if (q.cursor !== undefined && !decodeCursor(q.sort ?? 'score', q.cursor))
        throw new PreemptError(
          'PREEMPT_ERR_API_INPUT',
          "querystring/cursor is not a cursor of this listing (pass a page's `next` with the same sort)",
          { details: { field: 'querystring/cursor' } },
        )
      // A page is the same for the same query on the same snapshot: served from its JSON.
      const version = view.listVersion()
      if (version !== pageCache.version) {
        pageCache.pages.clear()
        pageCache.version = version
      }
      const key = `${q.risk}|${q.service}|${q.zone}|${q.sort}|${q.limit}|${q.cursor}`
      const hit = pageCache.pages.get(key)
      if (hit) return reply.type('application/json; charset=utf-8').send(hit)
      const page = view.list(q)
      const items = page.items.map(({ prediction, policy }) => {
        const w = predictionWire(prediction) as ReturnType<typeof predictionWire> & Record<string, unknown>
        w['state'] = policy?.state ?? null
        w['zone'] = policy?.zone ?? null
        w['service'] = policy?.service ?? null
        return w
      })
      const body = JSON.stringify({ items, next: page.next, total: page.total })
      if (pageCache.pages.size < 1024) pageCache.pages.set(key, body)
      return reply.type('application/json; charset=utf-8').send(body)
    },
  )

  app.get(
    '/v1/hosts/:host',
    {
      schema: {
        summary:
          'A host: latest prediction, its newest explanation (top features), policy state, recent commands and statuses',
        params: S.HostParams,
        response: answers(S.HostDetail, 400, 404, 414),
      },
    },
    async (req) => {
      const { host } = req.params as { host: string }
      const h = view.host(host)
      if (!h) throw new PreemptError('PREEMPT_ERR_API_NOT_FOUND', `host ${host} is not known (yet)`)
      return {
        host,
        prediction: h.prediction ? predictionWire(h.prediction) : null,
        explanation: h.explained ?? null,
        policy: h.policy ? policyWire(h.policy) : null,
        commands: h.commands.map((c) => ({ command: commandWire(c.command), statuses: c.statuses.map(statusWire) })),
        failures: h.failures.map(failureWire),
        decisions: decisionsOf((d) => d.host === host),
      }
    },
  )

  app.get(
    '/v1/hosts/:host/history',
    {
      schema: {
        summary: "A host's scores over a range",
        description:
          'Bounded retention: the last api.historyPoints scores of the host (default 120), none older than api.historyMs (default 6 h) behind its newest.',
        params: S.HostParams,
        querystring: S.HistoryQuery,
        response: answers(S.History, 400, 404, 414),
      },
    },
    async (req) => {
      const { host } = req.params as { host: string }
      const { from, to } = req.query as { from?: number; to?: number }
      if (from !== undefined && to !== undefined && from > to)
        throw new PreemptError('PREEMPT_ERR_API_INPUT', `querystring/from (${from}) is after querystring/to (${to})`, {
          details: { field: 'querystring/from' },
        })
      const points = view.history(host, from ?? 0, to ?? Number.MAX_SAFE_INTEGER)
      if (!points) throw new PreemptError('PREEMPT_ERR_API_NOT_FOUND', `host ${host} is not known (yet)`)
      return { host, retention: { points: config.historyPoints, ms: config.historyMs }, points }
    },
  )

  // ---- commands --------------------------------------------------------------------------
  app.get(
    '/v1/commands',
    {
      schema: {
        summary: 'Commands, newest first, with their statuses',
        querystring: S.CommandsQuery,
        response: answers(S.CommandList, 400, 431),
      },
    },
    async (req) => {
      const q = req.query as { host?: string; action?: string; limit: number }
      return {
        items: view
          .listCommands(q)
          .map((c) => ({ command: commandWire(c.command), statuses: c.statuses.map(statusWire) })),
      }
    },
  )

  app.get(
    '/v1/commands/:id',
    {
      schema: {
        summary: 'A command, its statuses, and the guard decisions about its host around it',
        params: S.CommandParams,
        response: answers(S.CommandDetail, 400, 404, 414),
      },
    },
    async (req) => {
      const { id } = req.params as { id: string }
      const c = view.command(id)
      if (!c) throw new PreemptError('PREEMPT_ERR_API_NOT_FOUND', `no command ${id} (yet)`)
      const cmd = c.command
      return {
        command: commandWire(cmd),
        statuses: c.statuses.map(statusWire),
        guards: {
          passed: cmd.action === 'alert' || cmd.action === 'uncordon' ? [] : [...Guards],
          decisions: decisionsOf(
            (d) =>
              d.commandId === id ||
              (d.host === cmd.host && d.ts >= cmd.issuedAt - 6 * 3_600_000 && d.ts <= cmd.expiresAt),
          ),
        },
      }
    },
  )

  // ---- scoring and models ----------------------------------------------------------------
  app.post(
    '/v1/score',
    {
      config: { rateLimit: { max: config.scoreRatePerMinute, timeWindow: '1 minute' } },
      schema: {
        summary: "Score a host's recent samples (stateless) with the active model",
        description:
          'The samples fill a fresh feature engine in event-time order; the newest vector is scored and explained. Body at most api.bodyLimitBytes; rate-limited per client address (api.scoreRatePerMinute).',
        body: S.ScoreBody,
        response: answers(S.ScoreResult, 400, 409, 413, 415, 429),
      },
    },
    async (req) => {
      const model = activeModel()
      if (!model)
        throw new PreemptError(
          'PREEMPT_ERR_API_READ_ONLY',
          'no model is loaded here: start preempt api with --model, or call a preempt serve --api-port instance',
        )
      return scoreSamples(model, (req.body as { samples: unknown[] }).samples)
    },
  )

  app.get(
    '/v1/models',
    {
      schema: {
        summary: 'The models of api.modelsDir (and the active one): metadata and held-out evaluation figures',
        response: answers(S.ModelList),
      },
    },
    async () => {
      const active = activeModel()
      const items = await deps.models.list()
      return {
        active: active ? { name: active.name, version: active.version } : null,
        items: items.map((m) => ({ ...m, active: m.dir === deps.models.activeDir })),
      }
    },
  )

  app.get(
    '/v1/models/:name',
    {
      schema: {
        summary: "One model's metadata and evaluation figures",
        params: S.ModelParams,
        response: answers(S.ModelInfo, 400, 404, 414),
      },
    },
    async (req) => {
      const { name } = req.params as { name: string }
      const dir = await deps.models.dirOf(name)
      const info = (await deps.models.list()).find((m) => m.dir === dir || m.name === name)
      if (!info) throw new PreemptError('PREEMPT_ERR_API_NOT_FOUND', `no model "${name}"`)
      return { ...info, active: info.dir === deps.models.activeDir }
    },
  )

  app.post(
    '/v1/models/:name/activate',
    {
      preHandler: requireToken,
      schema: {
        summary: 'Hot-swap the scoring model without a restart',
        description:
          'Loads and validates the model folder, then swaps it in between batches (windows are rebuilt when its features differ).',
        params: S.ModelParams,
        response: answers(S.Activated, 400, 401, 403, 404, 409, 414, 422),
        ...secured,
      },
    },
    async (req) => {
      const scorer = needScorer('activating a model')
      const { name } = req.params as { name: string }
      const dir = await deps.models.dirOf(name)
      const next = streamModelOf(await loadModel(dir))
      const prev = scorer.model
      await scorer.activate(next)
      deps.onActivated?.(name, dir)
      req.log.warn({ from: `${prev.name}@${prev.version}`, to: `${next.name}@${next.version}` }, 'model activated')
      return {
        active: { name: next.name, version: next.version },
        previous: { name: prev.name, version: prev.version },
      }
    },
  )

  // ---- policy ----------------------------------------------------------------------------
  app.get(
    '/v1/policy',
    {
      schema: {
        summary: "The safety budget's state: guards, kill switch, hosts by state",
        response: answers(S.PolicyView),
      },
    },
    async () => {
      const byState: Record<string, number> = {}
      let known = 0
      const states = deps.scorer ? deps.scorer.policy.states() : view.policies()
      for (const s of states) {
        byState[s.state] = (byState[s.state] ?? 0) + 1
        known++
      }
      if (deps.scorer) {
        const o = deps.scorer.policy.options
        return {
          source: 'scorer' as const,
          kill_switch: o.killSwitch,
          dry_run: o.dryRun,
          thresholds: { high: o.thresholdHigh, low: o.thresholdLow, consecutive: o.consecutive },
          guards: o.guards,
          share: o.share,
          storm_active: deps.scorer.policy.stormActive,
          hosts: { known, by_state: byState },
          counters: deps.scorer.policy.counters,
        }
      }
      return {
        source: 'state-topic' as const,
        kill_switch: view.killSwitch ?? deps.policyConfig.killSwitch,
        dry_run: null,
        thresholds: null,
        guards: deps.policyConfig.guards,
        share: null,
        storm_active: null,
        hosts: { known, by_state: byState },
        counters: null,
      }
    },
  )

  app.post(
    '/v1/policy/kill-switch',
    {
      preHandler: requireToken,
      schema: {
        summary: 'Stop (on: true) or resume (on: false) every action, on every scorer',
        description: 'Written to the state topic, which every scorer reads; this instance applies it at once.',
        body: S.KillSwitchBody,
        response: answers(S.KillSwitchResult, 400, 401, 403, 409, 415, 503),
        ...secured,
      },
    },
    async (req) => {
      const { on } = req.body as { on: boolean }
      if (!deps.bus && !deps.scorer) needScorer('the kill switch')
      if (deps.bus) await setKillSwitch(deps.bus, deps.stateTopic, on)
      deps.scorer?.setKillSwitch(on)
      view.killSwitch = on
      req.log.warn({ on }, 'kill switch set through the API')
      return { kill_switch: on }
    },
  )

  // ---- stats, health, metrics ------------------------------------------------------------
  app.get(
    '/v1/stats',
    {
      schema: {
        summary: 'Live fleet figures: MTBF, MTTR, availability, self-healing time, alert precision/recall, lead times',
        description: 'Definitions in docs/api.md. Computed from what this instance has materialised.',
        response: answers(S.Stats),
      },
    },
    async () => {
      const s = deps.scorer?.stats()
      return {
        ...fleetStats(view),
        scorer: s
          ? {
              records: s.records,
              predictions: s.predictions,
              commands: s.commands,
              dead_letters: s.deadLetters,
              batches: s.batches,
              assigned: s.assigned,
              restores: s.restores,
            }
          : null,
      }
    },
  )

  app.get('/healthz', { schema: { summary: 'The process is alive', response: answers(S.Health) } }, async () => ({
    status: 'ok' as const,
  }))

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Ready: broker reachable, partitions restored, read model caught up, model loaded (503 otherwise)',
        response: { 200: S.serializable(S.Ready), 503: S.serializable(S.Ready) },
      },
    },
    async (_req, reply) => {
      const checks: Record<string, boolean> = { ...(await deps.readiness?.()), model_loaded: !!activeModel() }
      if (deps.scorer) {
        const st = deps.scorer.stats()
        checks['scorer_started'] = st.started
        checks['partitions_restored'] = st.started && st.restoring === 0
      }
      const ready = Object.values(checks).every(Boolean) || (!deps.scorer && !deps.model && allButModel(checks))
      return reply.code(ready ? 200 : 503).send({ ready, checks })
    },
  )

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', hide: false } }, async (_req, reply) => {
    const text = await deps.metrics.registry.metrics()
    return reply.type(deps.metrics.registry.contentType).send(text)
  })

  return app
}

/** `preempt api` without --model is ready with no model (POST /v1/score answers 409). */
function allButModel(checks: Record<string, boolean>): boolean {
  return Object.entries(checks).every(([k, v]) => v || k === 'model_loaded')
}
