import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'

/** Largest record a decoder accepts, in bytes; larger payloads are rejected unread. */
export const MAX_RECORD_BYTES = 1024 * 1024

/** Host names: 1–256 chars of [A-Za-z0-9._:-]. */
export const HostSchema = Type.String({ minLength: 1, maxLength: 256, pattern: '^[A-Za-z0-9._:-]+$' })

/** Epoch milliseconds (a non-negative safe integer) or an ISO-8601 string. */
export const TimestampSchema = Type.Union([
  Type.Integer({ minimum: 0, maximum: 8.64e15 }),
  Type.String({ minLength: 10, maxLength: 40 }),
])

export const ModelRefSchema = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 256 }), version: Type.String({ minLength: 1, maxLength: 128 }) },
  { additionalProperties: false },
)

export const ContributionSchema = Type.Object(
  { feature: Type.String({ minLength: 1, maxLength: 512 }), contribution: Type.Number() },
  { additionalProperties: false },
)
export const TopSchema = Type.Array(ContributionSchema, { maxItems: 64 })

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/

/**
 * Parses an ISO-8601 date or date-time to epoch ms. A date-time without a zone is read as
 * UTC (never the machine's local zone: the same file must give the same times everywhere).
 * Returns undefined when the text is not ISO-8601 or names an impossible date.
 */
export function parseIsoTime(text: string): number | undefined {
  const m = ISO_RE.exec(text)
  if (!m) return undefined
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone = 'Z'] = m
  const month = Number(mo)
  const day = Number(d)
  if (month < 1 || month > 12 || day < 1 || day > 31 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 60)
    return undefined
  const ms = frac ? `.${frac.slice(0, 3).padEnd(3, '0')}` : ''
  const z = zone === 'Z' ? 'Z' : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone
  const t = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}${ms}${z}`)
  if (!Number.isFinite(t)) return undefined
  // Date.parse rolls 2026-02-31 over to March; refuse it instead.
  if (new Date(Date.UTC(Number(y), month - 1, day)).getUTCDate() !== day) return undefined
  return t
}

/** Normalises a wire timestamp to epoch ms, or undefined when it is not a valid time. */
export function toEpochMs(ts: number | string): number | undefined {
  if (typeof ts === 'number') return Number.isSafeInteger(ts) && ts >= 0 ? ts : undefined
  const t = parseIsoTime(ts)
  return t !== undefined && t >= 0 ? t : undefined
}

/** Why a record was refused: stable code, JSON pointer to the offending field, reason. */
export interface ContractError {
  code: 'PREEMPT_ERR_CONTRACT_INVALID'
  /** JSON pointer of the field at fault ('' for the whole record). */
  path: string
  message: string
  contract: string
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: ContractError }

export interface DecodeContext {
  /** The Kafka key of the record, when there is one; must equal the record's host. */
  key?: string | null | undefined
}

export type DecodeInput = Uint8Array | string | unknown

interface DecoderSpec<S extends TSchema, T> {
  contract: string
  schema: S
  /** Checks beyond the schema and conversion to the runtime type. */
  refine: (wire: Static<S>, ctx: DecodeContext) => { value: T } | { path: string; message: string }
}

export type Decoder<T> = (input: DecodeInput, ctx?: DecodeContext) => Decoded<T>

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Builds a decoder that never throws: bytes/strings are size-checked, UTF-8 and JSON
 * parsed, checked against the contract's JSON Schema, then refined to the runtime type.
 */
export function createDecoder<S extends TSchema, T>(spec: DecoderSpec<S, T>): Decoder<T> {
  const check = TypeCompiler.Compile(spec.schema)
  const fail = (path: string, message: string): Decoded<T> => ({
    ok: false,
    error: { code: 'PREEMPT_ERR_CONTRACT_INVALID', path, message, contract: spec.contract },
  })
  return (input, ctx = {}) => {
    let value: unknown = input
    if (typeof input === 'string' || input instanceof Uint8Array) {
      const size = typeof input === 'string' ? input.length : input.byteLength
      if (size > MAX_RECORD_BYTES)
        return fail('', `record is ${size} bytes; ${spec.contract} records are at most ${MAX_RECORD_BYTES}`)
      let text: string
      try {
        text = typeof input === 'string' ? input : utf8.decode(input)
      } catch {
        return fail('', 'record is not valid UTF-8')
      }
      try {
        value = JSON.parse(text)
      } catch (err) {
        return fail('', `record is not JSON: ${(err as Error).message}`)
      }
    }
    if (!check.Check(value)) {
      const first = check.Errors(value).First()
      const path = first?.path ?? ''
      return fail(path, first ? `${path || 'record'}: ${first.message}` : 'does not match the contract')
    }
    const refined = spec.refine(value as Static<S>, ctx)
    if ('path' in refined) return fail(refined.path, refined.message)
    return { ok: true, value: refined.value }
  }
}

/** Checks the Kafka key against the record's host (a mismatch would route state wrongly). */
export function keyMismatch(host: string, ctx: DecodeContext): { path: string; message: string } | undefined {
  if (ctx.key !== undefined && ctx.key !== null && ctx.key !== host)
    return { path: '/host', message: `host "${host}" does not equal the Kafka key "${ctx.key.slice(0, 300)}"` }
  return undefined
}

export function badTime(path: string): { path: string; message: string } {
  return { path, message: `${path}: not epoch milliseconds or an ISO-8601 date-time` }
}

export function encodeJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8')
}
