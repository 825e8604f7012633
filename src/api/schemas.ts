/**
 * The REST API's request and response schemas (TypeBox, i.e. JSON Schema): fastify validates
 * requests and serialises responses with them, and @fastify/swagger publishes them as
 * OpenAPI at /docs. Records are shown in their wire form, the same JSON as on Kafka
 * (src/contracts): a PredictionV1 from the API is byte-for-byte a PredictionV1 on the topic.
 */
import { type TObject, type TProperties, Type } from '@sinclair/typebox'
import {
  CommandStatusV1Schema,
  FailureEventV1Schema,
  HealingActions,
  HealingCommandV1Schema,
  HostSchema,
  MetricSampleV1Schema,
  PredictionV1Schema,
  RiskLevels,
} from '../contracts/index.js'
import { Guards, HostStates } from '../policy/engine.js'
import { MODEL_NAME_PATTERN } from './models.js'

/** A contract's schema without its $id (fastify would register each use as a shared schema). */
function inline<T extends TObject>(s: T): TObject<T['properties']> {
  const { $id: _id, ...rest } = s
  return rest as unknown as TObject<T['properties']>
}

/**
 * A response schema as fast-json-stringify serialises fastest: a union of string literals
 * becomes one `enum`, and `X | null` becomes X with `nullable: true` (OpenAPI 3.0). An
 * `anyOf` makes the serializer validate each value with ajv to pick a branch, which cost 30×
 * on a page of 100 predictions. Same JSON, same documented shape.
 */
export function serializable(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(serializable)
  if (typeof schema !== 'object' || schema === null) return schema
  const o = schema as Record<string, unknown>
  const any = o['anyOf'] as Record<string, unknown>[] | undefined
  const { anyOf: _a, ...rest } = o
  if (any?.every((b) => typeof b['const'] === 'string'))
    return { ...rest, type: 'string', enum: any.map((b) => b['const']) }
  if (any?.length === 2 && any.some((b) => b['type'] === 'null')) {
    const other = serializable(any.find((b) => b['type'] !== 'null')) as Record<string, unknown>
    if (!('anyOf' in other)) return { ...rest, ...other, nullable: true }
  }
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) out[k] = serializable(v)
  return out
}

const Nullable = <T extends import('@sinclair/typebox').TSchema>(t: T) => Type.Union([t, Type.Null()])
const Num = Type.Number()
const NullNum = Nullable(Num)

export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Catalogue code (docs/errors.md)' }),
      message: Type.String(),
      field: Type.Optional(Type.String({ description: 'The request part and JSON path at fault' })),
    }),
  },
  { description: 'Every 4xx and 5xx answer' },
)

export const Prediction = inline(PredictionV1Schema)
export const Command = inline(HealingCommandV1Schema)
export const Status = inline(CommandStatusV1Schema)
export const Failure = inline(FailureEventV1Schema)
export const Sample = inline(MetricSampleV1Schema)

const withProps = (base: TObject, extra: TProperties) =>
  Type.Object({ ...base.properties, ...extra }, { additionalProperties: false })

export const PredictionItem = withProps(Prediction, {
  state: Nullable(Type.Union(HostStates.map((s) => Type.Literal(s)))),
  zone: Nullable(Type.String()),
  service: Nullable(Type.String()),
})

export const PredictionsQuery = Type.Object(
  {
    risk: Type.Optional(
      Type.Union(
        RiskLevels.map((r) => Type.Literal(r)),
        { description: 'Risk band' },
      ),
    ),
    service: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    zone: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    sort: Type.Optional(
      Type.Union([Type.Literal('score'), Type.Literal('host')], {
        description: 'score: highest first (default); host: by name',
      }),
    ),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
    cursor: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 1024,
        pattern: '^[A-Za-z0-9_-]+$',
        description: "The previous page's `next`",
      }),
    ),
  },
  { additionalProperties: false },
)

export const PredictionsPage = Type.Object({
  items: Type.Array(PredictionItem),
  next: Nullable(Type.String({ description: 'Cursor of the next page; null on the last' })),
  total: Type.Integer({ description: 'Hosts matching the filters' }),
})

export const HostParams = Type.Object({ host: HostSchema }, { additionalProperties: false })

export const Decision = Type.Object({
  ts: Num,
  host: Type.String(),
  action: Type.Union(HealingActions.map((a) => Type.Literal(a))),
  outcome: Type.Union(['issued', 'blocked', 'cancelled', 'escalated', 'storm'].map((o) => Type.Literal(o))),
  guard: Nullable(Type.Union(Guards.map((g) => Type.Literal(g)))),
  detail: Type.String(),
  command_id: Nullable(Type.String()),
})

const Decisions = Type.Object({
  source: Type.Union([Type.Literal('local'), Type.Literal('unavailable')], {
    description:
      "Guard decisions live in the scorer that made them: 'local' when this instance runs it, else 'unavailable'",
  }),
  items: Type.Array(Decision),
})

export const PolicyState = Type.Object({
  state: Type.String(),
  zone: Nullable(Type.String()),
  rack: Nullable(Type.String()),
  service: Nullable(Type.String()),
  episode: Type.Integer(),
  last_score: Num,
  last_ts: Num,
  since: Num,
  cordoned: Type.Boolean(),
  blocked_by: Nullable(Type.String()),
  command: Nullable(
    Type.Object({
      id: Type.String(),
      action: Type.String(),
      issued_at: Num,
      expires_at: Num,
      status: Type.String(),
    }),
  ),
})

export const CommandEntry = Type.Object({
  command: Command,
  statuses: Type.Array(Status),
})

export const CommandList = Type.Object({ items: Type.Array(CommandEntry) })

export const CommandDetail = Type.Object({
  command: Command,
  statuses: Type.Array(Status),
  guards: Type.Object({
    passed: Type.Array(Type.String(), { description: 'Every guard a sent command passed' }),
    decisions: Decisions,
  }),
})

export const HostDetail = Type.Object({
  host: Type.String(),
  prediction: Nullable(Prediction),
  explanation: Nullable(
    Type.Pick(Prediction, ['ts', 'score', 'risk', 'top'], {
      description:
        "The newest of the host's predictions that carried top features: the scorer explains the first of a run of vectors at or above the policy's low threshold, every sixth after it (serve.explainEvery) and every one the policy acts on, so the latest prediction may carry none.",
    }),
  ),
  policy: Nullable(PolicyState),
  commands: Type.Array(CommandEntry),
  failures: Type.Array(Failure),
  decisions: Decisions,
})

export const HistoryQuery = Type.Object(
  {
    from: Type.Optional(Type.Integer({ minimum: 0, description: 'Epoch ms, inclusive' })),
    to: Type.Optional(Type.Integer({ minimum: 0, description: 'Epoch ms, inclusive' })),
  },
  { additionalProperties: false },
)

export const History = Type.Object({
  host: Type.String(),
  retention: Type.Object({ points: Type.Integer(), ms: Type.Integer() }),
  points: Type.Array(Type.Object({ ts: Num, score: Num })),
})

export const CommandsQuery = Type.Object(
  {
    host: Type.Optional(HostSchema),
    action: Type.Optional(Type.Union(HealingActions.map((a) => Type.Literal(a)))),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
  },
  { additionalProperties: false },
)

export const CommandParams = Type.Object(
  { id: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:-]+$' }) },
  { additionalProperties: false },
)

export const ScoreBody = Type.Object(
  {
    samples: Type.Array(Type.Unknown({ description: 'MetricSampleV1 (see components)' }), {
      minItems: 1,
      maxItems: 10_000,
      description: "One host's recent MetricSampleV1 records, any order",
    }),
  },
  { additionalProperties: false },
)

export const ScoreResult = Type.Object({
  host: Type.String(),
  ts: Num,
  score: Num,
  alert: Type.Boolean({ description: "The model's page rule over the scored vectors (what the policy would act on)" }),
  rule: Type.Object({
    threshold: Num,
    consecutive: Type.Integer(),
    within_ms: Type.Optional(
      Type.Number({ description: 'Only vectors whose median time to failure is at most this count toward the rule' }),
    ),
  }),
  model: Type.Object({ name: Type.String(), version: Type.String() }),
  horizon_ms: Num,
  samples: Type.Integer(),
  scored: Type.Integer(),
  top: Type.Array(Type.Object({ feature: Type.String(), contribution: Num })),
  peers: Type.Optional(
    Type.Literal('missing', {
      description:
        "A model with peer features: one host's samples say nothing of its peers, so those features are missing here (the streaming scorer has them)",
    }),
  ),
  ttf: Type.Optional(
    Type.Object({
      median_ms: NullNum,
      low_ms: NullNum,
      high_ms: NullNum,
      if_fails_ms: NullNum,
      max_ms: Num,
    }),
  ),
})

export const ModelParams = Type.Object(
  { name: Type.String({ pattern: MODEL_NAME_PATTERN }) },
  { additionalProperties: false },
)

export const ModelInfo = Type.Object({
  name: Type.String(),
  dir: Type.String(),
  version: Nullable(Type.String()),
  kind: Nullable(Type.String()),
  createdAt: Nullable(Type.String()),
  horizon_ms: NullNum,
  features: Nullable(Type.Integer()),
  alert: Nullable(Type.Object({ threshold: Num, consecutive: Type.Integer() })),
  page: Nullable(
    Type.Object({
      threshold: Num,
      consecutive: Type.Integer(),
      within: Type.Optional(
        Type.Number({
          description:
            "Only vectors whose median time to failure is at most this (the data's time axis) count toward the rule",
        }),
      ),
    }),
  ),
  metrics: Nullable(Type.Object({}, { additionalProperties: true })),
  active: Type.Boolean(),
})

const ModelRef = Type.Object({ name: Type.String(), version: Type.String() })

export const ModelList = Type.Object({ active: Nullable(ModelRef), items: Type.Array(ModelInfo) })
export const Activated = Type.Object({ active: ModelRef, previous: Nullable(ModelRef) })

export const PolicyView = Type.Object({
  source: Type.Union([Type.Literal('scorer'), Type.Literal('state-topic')]),
  kill_switch: Type.Boolean(),
  dry_run: Nullable(Type.Boolean()),
  thresholds: Nullable(Type.Object({ high: Num, low: Num, consecutive: Type.Integer() })),
  guards: Type.Object({}, { additionalProperties: true }),
  share: NullNum,
  storm_active: Nullable(Type.Boolean()),
  hosts: Type.Object({ known: Type.Integer(), by_state: Type.Object({}, { additionalProperties: Type.Integer() }) }),
  counters: Nullable(Type.Object({}, { additionalProperties: true })),
})

export const KillSwitchBody = Type.Object({ on: Type.Boolean() }, { additionalProperties: false })
export const KillSwitchResult = Type.Object({ kill_switch: Type.Boolean() })

const Summary = Type.Object({ mean: NullNum, median: NullNum })
export const Stats = Type.Object({
  span: Type.Object({ fromTs: NullNum, toTs: NullNum, hosts: Type.Integer(), hostHours: Num }),
  failures: Type.Integer(),
  downtimeMs: Num,
  mtbfMs: NullNum,
  mttrMs: NullNum,
  availability: NullNum,
  faultToleranceRate: NullNum,
  commands: Type.Object({
    total: Type.Integer(),
    byAction: Type.Object({}, { additionalProperties: Type.Integer() }),
    byStatus: Type.Object({}, { additionalProperties: Type.Integer() }),
    dryRun: Type.Integer(),
  }),
  selfHealing: Type.Object({
    incidents: Type.Integer(),
    detectUnknown: Type.Integer(),
    detectMs: Summary,
    diagnoseMs: Summary,
    recoverMs: Summary,
    selfHealingMs: Summary,
  }),
  alerts: Type.Object({
    total: Type.Integer(),
    followedByFailure: Type.Integer(),
    actedOn: Type.Integer(),
    precision: NullNum,
    recall: NullNum,
    failuresAlerted: Type.Integer(),
    leadTimeMs: Type.Object({ mean: NullNum, median: NullNum, min: NullNum }),
  }),
  scorer: Nullable(Type.Object({}, { additionalProperties: true })),
})

export const Health = Type.Object({ status: Type.Literal('ok') })
export const Ready = Type.Object({
  ready: Type.Boolean(),
  checks: Type.Object({}, { additionalProperties: Type.Boolean() }),
})
