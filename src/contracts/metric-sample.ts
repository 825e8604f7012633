import { type Static, Type } from '@sinclair/typebox'
import { badTime, createDecoder, encodeJson, HostSchema, keyMismatch, TimestampSchema, toEpochMs } from './common.js'

/** At most this many metrics in one sample. */
export const MAX_METRICS = 512

/**
 * MetricSampleV1 on `fleet.metrics.v1`, Kafka key = host.
 *
 *   {"v":1,"host":"web-042","ts":1764237600000,
 *    "metrics":{"cpu_util":0.71,"mem_used":0.83,"temp_c":null},
 *    "labels":{"zone":"eu-1a","rack":"r12","service":"web"}}
 *
 * - host: 1–256 chars of [A-Za-z0-9._:-]; equals the key when a key is present.
 * - ts: epoch ms (integer) or ISO-8601 (a date-time without zone is UTC); normalised to ms.
 * - metrics: finite numbers or null (missing); at most 512; names 1–256 chars.
 * - labels: optional string map (zone, rack, service …), at most 64 entries.
 * Unknown top-level fields are refused: a new field means a new `v`.
 */
export const MetricSampleV1Schema = Type.Object(
  {
    v: Type.Literal(1),
    host: HostSchema,
    ts: TimestampSchema,
    metrics: Type.Record(Type.String({ minLength: 1, maxLength: 256 }), Type.Union([Type.Number(), Type.Null()]), {
      maxProperties: MAX_METRICS,
    }),
    labels: Type.Optional(
      Type.Record(Type.String({ minLength: 1, maxLength: 128 }), Type.String({ maxLength: 1024 }), {
        maxProperties: 64,
      }),
    ),
  },
  { additionalProperties: false, $id: 'MetricSampleV1' },
)
export type MetricSampleV1 = Static<typeof MetricSampleV1Schema>

/** Runtime form: ts in epoch ms, labels always present. */
export interface MetricSample {
  host: string
  ts: number
  metrics: Record<string, number | null>
  labels: Record<string, string>
}

export const decodeMetricSample = createDecoder({
  contract: 'MetricSampleV1',
  schema: MetricSampleV1Schema,
  refine: (w, ctx) => {
    const bad = keyMismatch(w.host, ctx)
    if (bad) return bad
    const ts = toEpochMs(w.ts)
    if (ts === undefined) return badTime('/ts')
    // The schema's key lengths are not checked by a JSON Schema record (patternProperties).
    for (const k in w.metrics)
      if (k.length < 1 || k.length > 256)
        return { path: '/metrics', message: `/metrics: a metric name must be 1–256 characters (one has ${k.length})` }
    if (w.labels)
      for (const k in w.labels)
        if (k.length < 1 || k.length > 128)
          return { path: '/labels', message: `/labels: a label name must be 1–128 characters (one has ${k.length})` }
    return { value: { host: w.host, ts, metrics: w.metrics, labels: w.labels ?? {} } satisfies MetricSample }
  },
})

export function encodeMetricSample(s: MetricSample): Buffer {
  const wire: MetricSampleV1 = { v: 1, host: s.host, ts: s.ts, metrics: s.metrics }
  if (Object.keys(s.labels).length > 0) wire.labels = s.labels
  return encodeJson(wire)
}
