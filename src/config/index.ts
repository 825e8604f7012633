import { readFileSync } from 'node:fs'
import { type Static, Type } from '@sinclair/typebox'
import { TypeCompiler, ValueErrorType } from '@sinclair/typebox/compiler'
import { Value } from '@sinclair/typebox/value'
import { DefaultTopics } from '../contracts/index.js'
import { PreemptError } from '../errors.js'
import { DEFAULT_GUARDS, DEFAULT_SOFTWARE_METRICS } from '../policy/engine.js'

const LogLevel = Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)))
const TopicName = Type.String({ minLength: 1, maxLength: 249, pattern: '^[A-Za-z0-9._-]+$' })

/**
 * The one configuration schema. Sources, later ones winning: defaults, the JSON file
 * (--config or PREEMPT_CONFIG), environment (table ENV_KEYS), command-line flags.
 */
export const ConfigSchema = Type.Object(
  {
    kafka: Type.Object(
      {
        /** Bootstrap brokers, host:port. Default ['127.0.0.1:9092']; env KAFKA_BROKERS (comma list). */
        brokers: Type.Array(Type.String({ minLength: 3, pattern: '^[^\\s,]+:[0-9]{1,5}$' }), { minItems: 1 }),
        /** Client id sent to the brokers. Default 'preempt'. */
        clientId: Type.String({ minLength: 1, maxLength: 128 }),
        /** TCP connect timeout, ms. Default 3000. */
        connectionTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000 }),
        /** Consumer group session timeout, ms. Default 30000. */
        sessionTimeoutMs: Type.Integer({ minimum: 1000, maximum: 3_600_000 }),
        /** Consumer heartbeat interval, ms; must be lower than sessionTimeoutMs. Default 3000. */
        heartbeatIntervalMs: Type.Integer({ minimum: 100, maximum: 3_600_000 }),
      },
      { additionalProperties: false },
    ),
    topics: Type.Object(
      {
        metrics: TopicName,
        failures: TopicName,
        predictions: TopicName,
        commands: TopicName,
        commandStatus: TopicName,
        deadLetter: TopicName,
        state: TopicName,
      },
      { additionalProperties: false },
    ),
    /** The healing policy's options (src/policy/engine.ts); flags of `preempt serve` win. */
    policy: Type.Object(
      {
        /** Send commands marked dry_run. Default false. */
        dryRun: Type.Boolean(),
        /** Start with every action stopped. Default false. */
        killSwitch: Type.Boolean(),
        /** Act at or above this score. Default: the model's page-rule threshold. */
        thresholdHigh: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
        /** Leave at_risk below this score. Default 0.75 × thresholdHigh. */
        thresholdLow: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
        /** Scores in a row before acting. Default: the model's. */
        consecutive: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
        /**
         * With a time-to-failure head: act only when the failure is expected within this long, ms
         * (null: never hold). Default: the model's horizon.
         */
        actWithinMs: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
        /** A command is void after this long, ms. Default 600000. */
        commandTtlMs: Type.Integer({ minimum: 1000 }),
        /** Time in recovering/escalated before healthy again, ms. Default 7200000. */
        recoveryMs: Type.Integer({ minimum: 0 }),
        /** This long after a restart, a host still at k in a row is drained, ms (null: never). Default 1800000. */
        ladderAfterMs: Type.Optional(Type.Union([Type.Integer({ minimum: 0 }), Type.Null()])),
        /** Metrics whose precursors restart clears (others drain). */
        softwareMetrics: Type.Array(Type.String({ minLength: 1 })),
        guards: Type.Object(
          {
            maxConcurrent: Type.Integer({ minimum: 1 }),
            maxConcurrentFraction: Type.Number({ exclusiveMinimum: 0, maximum: 1 }),
            maxPerZone: Type.Integer({ minimum: 1 }),
            maxPerRack: Type.Integer({ minimum: 1 }),
            ratePerHour: Type.Number({ exclusiveMinimum: 0 }),
            burst: Type.Number({ minimum: 1 }),
            cooldownMs: Type.Integer({ minimum: 0 }),
            maxActionsPerHostPerDay: Type.Integer({ minimum: 1 }),
            stormFraction: Type.Number({ exclusiveMinimum: 0, maximum: 1 }),
            stormMinHosts: Type.Integer({ minimum: 1 }),
            stormWindowMs: Type.Integer({ minimum: 1000 }),
          },
          { additionalProperties: false },
        ),
      },
      { additionalProperties: false },
    ),
    /** The streaming scorer (src/stream/scorer.ts): `preempt serve`. */
    serve: Type.Object(
      {
        /** Top feature contributions an explained prediction carries. Default 5; 0: none. */
        explainTop: Type.Integer({ minimum: 0, maximum: 50 }),
        /**
         * Of a host's vectors at or above the policy's low threshold, the first of a run and every
         * explainEvery-th after it are explained (and every one the policy acts on). Default 6; 1:
         * all of them.
         */
        explainEvery: Type.Integer({ minimum: 1, maximum: 100_000 }),
      },
      { additionalProperties: false },
    ),
    /** The REST API (src/api/): `preempt serve --api-port`, `preempt api`. */
    api: Type.Object(
      {
        /** Interface the API listens on. Default '127.0.0.1'. */
        host: Type.String({ minLength: 1, maxLength: 255 }),
        /** Bearer token the mutating routes require; env PREEMPT_API_TOKEN. Unset: they answer 401. */
        token: Type.Optional(Type.String({ minLength: 16, maxLength: 512 })),
        /** Origins allowed by CORS. Default [] (CORS off). */
        corsOrigins: Type.Array(Type.String({ minLength: 1 })),
        /** Largest request body, bytes. Default 1048576. */
        bodyLimitBytes: Type.Integer({ minimum: 1024, maximum: 64 * 1024 * 1024 }),
        /** POST /v1/score requests per minute per client address. Default 600. */
        scoreRatePerMinute: Type.Integer({ minimum: 1 }),
        /** Scores kept per host for /v1/hosts/:host/history. Default 120. */
        historyPoints: Type.Integer({ minimum: 1, maximum: 100_000 }),
        /** …and none older than this behind the host's newest, ms. Default 21600000 (6 h). */
        historyMs: Type.Integer({ minimum: 1000 }),
        /** Commands kept (oldest forgotten first). Default 100000. */
        maxCommands: Type.Integer({ minimum: 1 }),
        /** Folder of model folders that GET /v1/models lists and activate loads. Default 'models'. */
        modelsDir: Type.String({ minLength: 1 }),
      },
      { additionalProperties: false },
    ),
    log: Type.Object(
      {
        /** pino level. Default 'info'; env PREEMPT_LOG_LEVEL. */
        level: LogLevel,
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
)
export type Config = Static<typeof ConfigSchema>

export const DEFAULT_CONFIG: Config = {
  kafka: {
    brokers: ['127.0.0.1:9092'],
    clientId: 'preempt',
    connectionTimeoutMs: 3000,
    sessionTimeoutMs: 30_000,
    heartbeatIntervalMs: 3000,
  },
  topics: { ...DefaultTopics },
  policy: {
    dryRun: false,
    killSwitch: false,
    commandTtlMs: 600_000,
    recoveryMs: 7_200_000,
    softwareMetrics: [...DEFAULT_SOFTWARE_METRICS],
    guards: { ...DEFAULT_GUARDS },
  },
  serve: { explainTop: 5, explainEvery: 6 },
  api: {
    host: '127.0.0.1',
    corsOrigins: [],
    bodyLimitBytes: 1_048_576,
    scoreRatePerMinute: 600,
    historyPoints: 120,
    historyMs: 21_600_000,
    maxCommands: 100_000,
    modelsDir: 'models',
  },
  log: { level: 'info' },
}

/** Environment variables read at boot, and the config key each sets. */
export const ENV_KEYS = {
  KAFKA_BROKERS: 'kafka.brokers',
  PREEMPT_KAFKA_CLIENT_ID: 'kafka.clientId',
  PREEMPT_LOG_LEVEL: 'log.level',
  PREEMPT_API_TOKEN: 'api.token',
} as const

type DeepPartial<T> = {
  [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : DeepPartial<T[K]>) : T[K]
}
export type ConfigOverrides = DeepPartial<Config>

export interface LoadConfigOptions {
  /** Path of a JSON config file; PREEMPT_CONFIG in env names one too. */
  file?: string | undefined
  /** The environment to read (main passes process.env; modules never read it). */
  env?: Record<string, string | undefined>
  /** Values from command-line flags: highest precedence. */
  overrides?: ConfigOverrides
}

const compiled = TypeCompiler.Compile(ConfigSchema)

function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split('.')
  let cur = target
  for (const p of parts.slice(0, -1)) {
    if (typeof cur[p] !== 'object' || cur[p] === null) cur[p] = {}
    cur = cur[p] as Record<string, unknown>
  }
  cur[parts.at(-1)!] = value
}

function merge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base
  if (typeof base !== 'object' || base === null || Array.isArray(base)) return over
  if (typeof over !== 'object' || over === null || Array.isArray(over)) return over
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) }
  for (const [k, v] of Object.entries(over)) out[k] = merge(out[k], v)
  return out
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null) {
    for (const v of Object.values(o)) deepFreeze(v)
    Object.freeze(o)
  }
  return o
}

/**
 * Loads, validates and freezes the configuration once, at boot. Errors name the key, the
 * source and the fix, e.g. `config kafka.heartbeatIntervalMs (3000) must be lower than
 * kafka.sessionTimeoutMs (2000)`.
 */
export function loadConfig(opts: LoadConfigOptions = {}): Readonly<Config> {
  const env = opts.env ?? {}
  let merged: unknown = structuredClone(DEFAULT_CONFIG)
  const file = opts.file ?? env['PREEMPT_CONFIG']
  if (file) {
    let parsed: unknown
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'))
    } catch (err) {
      throw new PreemptError(
        'PREEMPT_ERR_CONFIG_FILE',
        `config file ${file}: ${(err as Error).message}. Fix the file or point --config elsewhere.`,
        { cause: err, details: { file } },
      )
    }
    merged = merge(merged, parsed)
  }
  const fromEnv: Record<string, unknown> = {}
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const raw = env[name]
    if (raw === undefined || raw === '') continue
    setPath(fromEnv, key, key === 'kafka.brokers' ? raw.split(',').map((s) => s.trim()) : raw)
  }
  merged = merge(merged, fromEnv)
  merged = merge(merged, opts.overrides ?? {})

  if (!compiled.Check(merged)) {
    const first = compiled.Errors(merged).First()!
    const key = first.path.replace(/^\//, '').replaceAll('/', '.') || '(root)'
    const envName = Object.entries(ENV_KEYS).find(([, k]) => key.startsWith(k))?.[0]
    const hint =
      first.type === ValueErrorType.ObjectAdditionalProperties
        ? `remove it; known keys are listed in docs/configuration.md`
        : `set a valid value${envName ? ` (env ${envName})` : ''}; see docs/configuration.md`
    throw new PreemptError(
      'PREEMPT_ERR_CONFIG_INVALID',
      `config ${key}: ${first.message} (got ${JSON.stringify(first.value)?.slice(0, 100)}). Fix: ${hint}.`,
      { details: { key, value: first.value } },
    )
  }
  const cfg = Value.Clone(merged) as Config
  if (cfg.kafka.heartbeatIntervalMs >= cfg.kafka.sessionTimeoutMs)
    throw new PreemptError(
      'PREEMPT_ERR_CONFIG_INVALID',
      `config kafka.heartbeatIntervalMs (${cfg.kafka.heartbeatIntervalMs}) must be lower than kafka.sessionTimeoutMs (${cfg.kafka.sessionTimeoutMs}); a third of it is usual.`,
      { details: { key: 'kafka.heartbeatIntervalMs' } },
    )
  return deepFreeze(cfg)
}
