import { type Static, Type } from '@sinclair/typebox'
import {
  badTime,
  createDecoder,
  HostSchema,
  keyMismatch,
  ModelRefSchema,
  TimestampSchema,
  TopSchema,
  toEpochMs,
} from './common.js'

export const RiskLevels = ['ok', 'watch', 'act'] as const
export type RiskLevel = (typeof RiskLevels)[number]

/**
 * PredictionV1 on `preempt.predictions.v1` (compacted), Kafka key = host.
 *
 *   {"v":1,"host":"web-042","ts":1764237600000,"scored_at":1764237600120,"score":0.83,
 *    "risk":"act","model":{"name":"fleet","version":"3"},"horizon_ms":1800000,
 *    "top":[{"feature":"mem_used.slope.15m","contribution":0.41}]}
 *
 * ts is the event time of the sample scored; score is a calibrated probability in [0, 1]
 * of a failure within horizon_ms.
 *
 * `ttf` (optional, added within v1; present when the model has a time-to-failure head and the
 * score is one the policy may act on, ≥ its low threshold): the median time to failure and an
 * 80 % interval, ms after `ts`; null where the failure is expected later than `max_ms`, the
 * head's reach; `if_fails_ms`, the median given a failure within the reach — when, if the
 * score is right (what the policy times its actions by):
 *
 *   "ttf":{"median_ms":null,"low_ms":420000,"high_ms":null,"if_fails_ms":1260000,"max_ms":7200000}
 *
 * Contract rule for such a change: a new field is optional, and readers are upgraded before
 * writers (a v1 reader from before the field refuses records with it to the dead-letter
 * topic rather than misread them).
 */
export const PredictionV1Schema = Type.Object(
  {
    v: Type.Literal(1),
    host: HostSchema,
    ts: TimestampSchema,
    scored_at: TimestampSchema,
    score: Type.Number({ minimum: 0, maximum: 1 }),
    risk: Type.Union(RiskLevels.map((r) => Type.Literal(r))),
    model: ModelRefSchema,
    horizon_ms: Type.Integer({ minimum: 1 }),
    top: TopSchema,
    ttf: Type.Optional(
      Type.Object(
        {
          median_ms: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
          low_ms: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
          high_ms: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
          if_fails_ms: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
          max_ms: Type.Integer({ minimum: 1 }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, $id: 'PredictionV1' },
)
export type PredictionV1 = Static<typeof PredictionV1Schema>

export interface Prediction {
  host: string
  ts: number
  scoredAt: number
  score: number
  risk: RiskLevel
  model: { name: string; version: string }
  horizonMs: number
  top: { feature: string; contribution: number }[]
  /** Time to failure, ms after ts (null: later than maxMs); absent without a hazard head. */
  ttf?: TtfEstimate | undefined
}

export interface TtfEstimate {
  medianMs: number | null
  lowMs: number | null
  highMs: number | null
  /** The median given a failure within the reach. */
  ifFailsMs: number | null
  maxMs: number
}

export const decodePrediction = createDecoder({
  contract: 'PredictionV1',
  schema: PredictionV1Schema,
  refine: (w, ctx) => {
    const bad = keyMismatch(w.host, ctx)
    if (bad) return bad
    const ts = toEpochMs(w.ts)
    if (ts === undefined) return badTime('/ts')
    const scoredAt = toEpochMs(w.scored_at)
    if (scoredAt === undefined) return badTime('/scored_at')
    return {
      value: {
        host: w.host,
        ts,
        scoredAt,
        score: w.score,
        risk: w.risk,
        model: w.model,
        horizonMs: w.horizon_ms,
        top: w.top,
        ...(w.ttf && {
          ttf: {
            medianMs: w.ttf.median_ms,
            lowMs: w.ttf.low_ms,
            highMs: w.ttf.high_ms,
            ifFailsMs: w.ttf.if_fails_ms,
            maxMs: w.ttf.max_ms,
          },
        }),
      } satisfies Prediction,
    }
  },
})

/** The wire form of a prediction (the API's answers; the topic's bytes come from encodePrediction). */
export function predictionWire(p: Prediction): PredictionV1 {
  return {
    v: 1,
    host: p.host,
    ts: p.ts,
    scored_at: p.scoredAt,
    score: p.score,
    risk: p.risk,
    model: p.model,
    horizon_ms: p.horizonMs,
    top: p.top,
    ...(p.ttf && { ttf: ttfWire(p.ttf) }),
  }
}

/** A time-to-failure estimate as the wire (and the API) carries it. */
export function ttfWire(t: TtfEstimate): NonNullable<PredictionV1['ttf']> {
  return { median_ms: t.medianMs, low_ms: t.lowMs, high_ms: t.highMs, if_fails_ms: t.ifFailsMs, max_ms: t.maxMs }
}

/**
 * Hand-written: one prediction per scored sample makes this the scorer's hottest encoder
 * (JSON.stringify of the object cost ~10 % of a batch). The output is byte-identical to
 * JSON.stringify of the PredictionV1 object (a test checks it).
 */
export function encodePrediction(p: Prediction): Buffer {
  return Buffer.from(
    `{"v":1,"host":${JSON.stringify(p.host)},"ts":${p.ts},"scored_at":${p.scoredAt},"score":${p.score},"risk":"${p.risk}","model":{"name":${JSON.stringify(p.model.name)},"version":${JSON.stringify(p.model.version)}},"horizon_ms":${p.horizonMs},"top":${p.top.length ? JSON.stringify(p.top.map((t) => ({ feature: t.feature, contribution: t.contribution }))) : '[]'}${p.ttf ? `,"ttf":{"median_ms":${p.ttf.medianMs},"low_ms":${p.ttf.lowMs},"high_ms":${p.ttf.highMs},"if_fails_ms":${p.ttf.ifFailsMs},"max_ms":${p.ttf.maxMs}}` : ''}}`,
    'utf8',
  )
}
