import { type Static, Type } from '@sinclair/typebox'
import { badTime, createDecoder, encodeJson, TimestampSchema, toEpochMs } from './common.js'

/**
 * DeadLetterV1 on `preempt.dlq.v1`: a record that could not be processed, with the reason.
 *
 *   {"v":1,"source":{"topic":"fleet.metrics.v1","partition":3,"offset":"1207","key":"web-042"},
 *    "error":{"code":"PREEMPT_ERR_CONTRACT_INVALID","message":"…","path":"/metrics/cpu"},
 *    "payload_b64":"eyJ2Ijox…","ts":1764237600000}
 *
 * offset is a decimal string (Kafka offsets are 64-bit); key and path may be null.
 */
export const DeadLetterV1Schema = Type.Object(
  {
    v: Type.Literal(1),
    source: Type.Object(
      {
        topic: Type.String({ minLength: 1, maxLength: 249 }),
        partition: Type.Integer({ minimum: 0 }),
        offset: Type.String({ pattern: '^[0-9]{1,19}$' }),
        key: Type.Union([Type.String({ maxLength: 4096 }), Type.Null()]),
      },
      { additionalProperties: false },
    ),
    error: Type.Object(
      {
        code: Type.String({ minLength: 1, maxLength: 128 }),
        message: Type.String({ maxLength: 8192 }),
        path: Type.Union([Type.String({ maxLength: 1024 }), Type.Null()]),
      },
      { additionalProperties: false },
    ),
    payload_b64: Type.String({ pattern: '^[A-Za-z0-9+/]*={0,2}$' }),
    ts: TimestampSchema,
  },
  { additionalProperties: false, $id: 'DeadLetterV1' },
)
export type DeadLetterV1 = Static<typeof DeadLetterV1Schema>

export interface DeadLetter {
  source: { topic: string; partition: number; offset: string; key: string | null }
  error: { code: string; message: string; path: string | null }
  payload: Buffer
  ts: number
}

export const decodeDeadLetter = createDecoder({
  contract: 'DeadLetterV1',
  schema: DeadLetterV1Schema,
  refine: (w) => {
    const ts = toEpochMs(w.ts)
    if (ts === undefined) return badTime('/ts')
    if (w.payload_b64.length % 4 !== 0)
      return { path: '/payload_b64', message: '/payload_b64: base64 length must be a multiple of 4' }
    return {
      value: {
        source: w.source,
        error: w.error,
        payload: Buffer.from(w.payload_b64, 'base64'),
        ts,
      } satisfies DeadLetter,
    }
  },
})

export function encodeDeadLetter(d: DeadLetter): Buffer {
  return encodeJson({
    v: 1,
    source: d.source,
    error: { code: d.error.code, message: d.error.message.slice(0, 8192), path: d.error.path },
    payload_b64: d.payload.toString('base64'),
    ts: d.ts,
  } satisfies DeadLetterV1)
}
