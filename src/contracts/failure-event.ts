import { type Static, Type } from '@sinclair/typebox'
import { badTime, createDecoder, encodeJson, HostSchema, keyMismatch, TimestampSchema, toEpochMs } from './common.js'

export const FailureKinds = ['crash', 'disk', 'memory', 'thermal', 'network', 'other'] as const
export type FailureKind = (typeof FailureKinds)[number]

/**
 * FailureEventV1 on `fleet.failures.v1` (ground truth), Kafka key = host.
 *
 *   {"v":1,"host":"web-042","ts":1764237600000,"kind":"disk","recovered_ts":1764241200000}
 *
 * recovered_ts is optional and, when present, not before ts.
 */
export const FailureEventV1Schema = Type.Object(
  {
    v: Type.Literal(1),
    host: HostSchema,
    ts: TimestampSchema,
    kind: Type.Union(FailureKinds.map((k) => Type.Literal(k))),
    recovered_ts: Type.Optional(TimestampSchema),
  },
  { additionalProperties: false, $id: 'FailureEventV1' },
)
export type FailureEventV1 = Static<typeof FailureEventV1Schema>

export interface FailureEvent {
  host: string
  ts: number
  kind: FailureKind
  recoveredTs?: number
}

export const decodeFailureEvent = createDecoder({
  contract: 'FailureEventV1',
  schema: FailureEventV1Schema,
  refine: (w, ctx) => {
    const bad = keyMismatch(w.host, ctx)
    if (bad) return bad
    const ts = toEpochMs(w.ts)
    if (ts === undefined) return badTime('/ts')
    const value: FailureEvent = { host: w.host, ts, kind: w.kind }
    if (w.recovered_ts !== undefined) {
      const r = toEpochMs(w.recovered_ts)
      if (r === undefined) return badTime('/recovered_ts')
      if (r < ts) return { path: '/recovered_ts', message: '/recovered_ts: before the failure ts' }
      value.recoveredTs = r
    }
    return { value }
  },
})

/** The wire form of a failure. */
export function failureEventWire(e: FailureEvent): FailureEventV1 {
  const wire: FailureEventV1 = { v: 1, host: e.host, ts: e.ts, kind: e.kind }
  if (e.recoveredTs !== undefined) wire.recovered_ts = e.recoveredTs
  return wire
}

export function encodeFailureEvent(e: FailureEvent): Buffer {
  return encodeJson(failureEventWire(e))
}
