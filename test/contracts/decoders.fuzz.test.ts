import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  type Decoder,
  decodeCommandStatus,
  decodeDeadLetter,
  decodeFailureEvent,
  decodeHealingCommand,
  decodeMetricSample,
  decodePrediction,
  MAX_METRICS,
  parseIsoTime,
} from '../../src/contracts/index.js'

/**
 * Property tests: thousands of random and mutated payloads. A decoder must never throw, and
 * must accept a record exactly when an independent, hand-written oracle says it is valid.
 */

const HOST_RE = /^[A-Za-z0-9._:-]{1,256}$/
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const validTs = (v: unknown) =>
  (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= 8.64e15) ||
  (typeof v === 'string' && v.length >= 10 && v.length <= 40 && (parseIsoTime(v) ?? -1) >= 0)

/** Oracle for MetricSampleV1, written from DESIGN.md section 3 without the decoder's code. */
function oracleMetricSample(v: unknown, key?: string | null): boolean {
  if (!isObj(v)) return false
  const allowed = new Set(['v', 'host', 'ts', 'metrics', 'labels'])
  if (Object.keys(v).some((k) => !allowed.has(k))) return false
  if (v['v'] !== 1) return false
  if (typeof v['host'] !== 'string' || !HOST_RE.test(v['host'])) return false
  if (key != null && key !== v['host']) return false
  if (!validTs(v['ts'])) return false
  const m = v['metrics']
  if (!isObj(m) || Object.keys(m).length > MAX_METRICS) return false
  for (const [name, x] of Object.entries(m)) {
    if (name.length < 1 || name.length > 256) return false
    if (!(x === null || (typeof x === 'number' && Number.isFinite(x)))) return false
  }
  if (v['labels'] !== undefined) {
    const l = v['labels']
    if (!isObj(l) || Object.keys(l).length > 64) return false
    for (const [k, x] of Object.entries(l))
      if (k.length < 1 || k.length > 128 || typeof x !== 'string' || x.length > 1024) return false
  }
  return true
}

const hostArb = fc.stringMatching(/^[A-Za-z0-9._:-]{1,40}$/)
const metricName = fc.stringMatching(/^[a-z][a-z0-9_]{0,30}$/)
const validSampleArb = fc.record(
  {
    v: fc.constant(1),
    host: hostArb,
    ts: fc.oneof(
      fc.integer({ min: 0, max: 4_102_444_800_000 }),
      fc.date({ min: new Date(0), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString()),
    ),
    metrics: fc.dictionary(
      metricName,
      fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constant(null)),
      {
        maxKeys: 20,
      },
    ),
    labels: fc.dictionary(fc.constantFrom('zone', 'rack', 'service'), fc.string({ maxLength: 20 })),
  },
  { requiredKeys: ['v', 'host', 'ts', 'metrics'] },
)

const nasty = fc.oneof(
  fc.constant(Number.NaN),
  fc.constant(Number.POSITIVE_INFINITY),
  fc.constant(Number.NEGATIVE_INFINITY),
  fc.constant(-0),
  fc.constant(1.5),
  fc.constant(-1),
  fc.constant(2 ** 60),
  fc.constant(null),
  fc.constant(undefined),
  fc.constant(''),
  fc.constant('x'.repeat(5000)),
  fc.constant('2026-02-31T00:00:00Z'),
  fc.constant('not a date at all'),
  fc.constant({}),
  fc.constant([]),
  fc.constant(true),
  fc.string(),
  fc.anything(),
)

/** Values no top-level field of any contract accepts. */
const alwaysInvalid = fc.oneof(
  fc.constant(Number.NaN),
  fc.constant(Number.POSITIVE_INFINITY),
  fc.constant(Number.NEGATIVE_INFINITY),
  fc.constant(null),
  fc.constant('not base64! '.repeat(500)),
  fc.constant([1, [2]]),
  fc.integer({ min: 1, max: 2000 }).map((d) => deepNest(d)),
)

function deepNest(depth: number): unknown {
  let v: unknown = 1
  for (let i = 0; i < depth; i++) v = { a: v }
  return v
}

/** A structural mutation of a valid record: one field replaced, removed or added. */
function mutate(base: Record<string, unknown>, path: readonly string[], value: unknown, op: 'set' | 'delete' | 'add') {
  const copy = structuredClone(base) as Record<string, unknown>
  let cur: Record<string, unknown> = copy
  for (const p of path.slice(0, -1)) {
    if (!isObj(cur[p])) return copy
    cur = cur[p] as Record<string, unknown>
  }
  const last = path.at(-1)!
  if (op === 'delete') delete cur[last]
  else if (op === 'add') cur[`extra_${last}`] = value
  else cur[last] = value
  return copy
}

const noThrow = <T>(decode: Decoder<T>, input: unknown, key?: string | null) => {
  let result: ReturnType<Decoder<T>> | undefined
  expect(() => {
    result = decode(input, { key })
  }).not.toThrow()
  return result!
}

describe('MetricSampleV1 decoder', () => {
  it('accepts every valid sample, normalises ts to ms and round-trips', () => {
    fc.assert(
      fc.property(validSampleArb, (s) => {
        const r = decodeMetricSample(Buffer.from(JSON.stringify(s)), { key: s.host })
        expect(r.ok).toBe(true)
        if (!r.ok) return
        expect(r.value.ts).toBe(typeof s.ts === 'number' ? s.ts : Date.parse(s.ts))
        expect(r.value.metrics).toEqual(JSON.parse(JSON.stringify(s.metrics)))
      }),
      { numRuns: 2000 },
    )
  })

  it('never throws on random values and accepts exactly what the oracle accepts', () => {
    fc.assert(
      fc.property(fc.anything({ withNullPrototype: true, withBigInt: true, withMap: true }), (v) => {
        const r = noThrow(decodeMetricSample, v)
        expect(r.ok).toBe(oracleMetricSample(v))
      }),
      { numRuns: 3000 },
    )
  })

  it('never throws on random bytes and text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.string(), fc.json()), (input) => {
        const r = noThrow(decodeMetricSample, input)
        let parsed: unknown
        try {
          parsed = JSON.parse(
            typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: true }).decode(input),
          )
        } catch {
          expect(r.ok).toBe(false)
          return
        }
        expect(r.ok).toBe(oracleMetricSample(parsed))
      }),
      { numRuns: 3000 },
    )
  })

  it('rejects mutated samples exactly when the oracle does (NaN, Infinity, huge, deep, wrong key …)', () => {
    const paths = fc.constantFrom(
      ['v'],
      ['host'],
      ['ts'],
      ['metrics'],
      ['metrics', 'cpu_util'],
      ['labels'],
      ['labels', 'zone'],
      ['other'],
    )
    fc.assert(
      fc.property(
        validSampleArb,
        paths,
        fc.oneof(nasty, fc.integer({ min: 1, max: 3000 }).map(deepNest)),
        fc.constantFrom('set', 'delete', 'add') as fc.Arbitrary<'set' | 'delete' | 'add'>,
        fc.oneof(fc.constant(undefined), fc.constant(null), hostArb),
        (s, path, value, op, key) => {
          const base = { ...s, metrics: { ...s.metrics, cpu_util: 0.5 }, labels: { zone: 'z1' } }
          const m = mutate(base, path, value, op)
          const asObject = noThrow(decodeMetricSample, m, key)
          expect(asObject.ok).toBe(oracleMetricSample(m, key))
          let text: string | undefined
          try {
            text = JSON.stringify(m)
          } catch {
            return // BigInt etc.: not expressible on the wire
          }
          const asBytes = noThrow(decodeMetricSample, Buffer.from(text ?? ''), key)
          expect(asBytes.ok).toBe(text !== undefined && oracleMetricSample(JSON.parse(text), key))
          if (!asBytes.ok) {
            expect(asBytes.error.code).toBe('PREEMPT_ERR_CONTRACT_INVALID')
            expect(typeof asBytes.error.path).toBe('string')
          }
        },
      ),
      { numRuns: 4000 },
    )
  })

  it('names the field at fault and the reason', () => {
    const r = decodeMetricSample('{"v":1,"host":"h1","ts":5,"metrics":{"cpu":"high"}}')
    expect(r).toMatchObject({ ok: false, error: { path: '/metrics/cpu', contract: 'MetricSampleV1' } })
    const k = decodeMetricSample('{"v":1,"host":"h1","ts":5,"metrics":{}}', { key: 'h2' })
    expect(k).toMatchObject({ ok: false, error: { path: '/host' } })
    if (!k.ok) expect(k.error.message).toContain('Kafka key')
    const big = decodeMetricSample(Buffer.alloc(2 * 1024 * 1024, 0x20))
    expect(big).toMatchObject({ ok: false, error: { path: '' } })
    const deep = decodeMetricSample(`${'['.repeat(100_000)}${']'.repeat(100_000)}`)
    expect(deep.ok).toBe(false)
    // Key lengths (a JSON Schema record does not check them; found by the mutation property).
    const emptyLabel = decodeMetricSample('{"v":1,"host":"a","ts":0,"metrics":{},"labels":{"":""}}')
    expect(emptyLabel).toMatchObject({ ok: false, error: { path: '/labels' } })
    const emptyMetric = decodeMetricSample('{"v":1,"host":"a","ts":0,"metrics":{"":1}}')
    expect(emptyMetric).toMatchObject({ ok: false, error: { path: '/metrics' } })
    const longLabel = decodeMetricSample(`{"v":1,"host":"a","ts":0,"metrics":{},"labels":{"${'k'.repeat(129)}":"x"}}`)
    expect(longLabel.ok).toBe(false)
    expect(decodeMetricSample(`{"v":1,"host":"a","ts":0,"metrics":{"${'m'.repeat(256)}":1}}`).ok).toBe(true)
  })

  it('reads ISO times without a zone as UTC and refuses impossible dates', () => {
    expect(parseIsoTime('2026-11-27T10:00:00')).toBe(Date.UTC(2026, 10, 27, 10))
    expect(parseIsoTime('2026-11-27T10:00:00+01:00')).toBe(Date.UTC(2026, 10, 27, 9))
    expect(parseIsoTime('2026-11-27 10:00:00.250Z')).toBe(Date.UTC(2026, 10, 27, 10, 0, 0, 250))
    expect(parseIsoTime('2026-02-31')).toBeUndefined()
    expect(parseIsoTime('27/11/2026')).toBeUndefined()
  })
})

describe('other contracts', () => {
  const now = 1_764_237_600_000
  const valid = {
    FailureEventV1: [decodeFailureEvent, { v: 1, host: 'h1', ts: now, kind: 'disk', recovered_ts: now + 1 }],
    PredictionV1: [
      decodePrediction,
      {
        v: 1,
        host: 'h1',
        ts: now,
        scored_at: now + 5,
        score: 0.8,
        risk: 'act',
        model: { name: 'm', version: '1' },
        horizon_ms: 1_800_000,
        top: [{ feature: 'cpu.mean.5m', contribution: 0.3 }],
      },
    ],
    HealingCommandV1: [
      decodeHealingCommand,
      {
        v: 1,
        id: 'c-1',
        host: 'h1',
        action: 'drain',
        issued_at: now,
        expires_at: now + 600_000,
        dry_run: false,
        episode: 2,
        reason: { score: 0.9, threshold: 0.7, model: { name: 'm', version: '1' }, prediction_ts: now, top: [] },
      },
    ],
    CommandStatusV1: [decodeCommandStatus, { v: 1, command_id: 'c-1', host: 'h1', status: 'succeeded', ts: now }],
    DeadLetterV1: [
      decodeDeadLetter,
      {
        v: 1,
        source: { topic: 'fleet.metrics.v1', partition: 0, offset: '12', key: 'h1' },
        error: { code: 'PREEMPT_ERR_CONTRACT_INVALID', message: 'bad', path: '/ts' },
        payload_b64: Buffer.from('{oops').toString('base64'),
        ts: now,
      },
    ],
  } as const satisfies Record<string, [Decoder<unknown>, Record<string, unknown>]>

  for (const [name, [decodeAny, record]] of Object.entries(valid)) {
    const decode = decodeAny as Decoder<unknown>
    describe(name, () => {
      it('accepts the example', () => {
        expect(decode(JSON.stringify(record), { key: 'h1' }).ok).toBe(true)
      })
      it('never throws on random values and rejects every type-breaking mutation', () => {
        const optional = new Set(['recovered_ts', 'detail'])
        fc.assert(
          fc.property(fc.constantFrom(...Object.keys(record)), alwaysInvalid, fc.anything(), (field, bad, junk) => {
            noThrow(decode, junk)
            expect(noThrow(decode, { ...record, [field]: bad }).ok).toBe(false)
            const without: Record<string, unknown> = { ...record }
            delete without[field]
            expect(noThrow(decode, without).ok).toBe(optional.has(field))
          }),
          { numRuns: 1500 },
        )
      })
      it('refuses unknown fields and a wrong key', () => {
        expect(decode({ ...record, surprise: 1 }).ok).toBe(false)
        if ('host' in record) expect(decode(record, { key: 'someone-else' }).ok).toBe(false)
      })
    })
  }

  it('refuses a command that expires before it is issued, and a failure recovered before it happened', () => {
    const cmd = valid.HealingCommandV1[1]
    expect(decodeHealingCommand({ ...cmd, expires_at: cmd.issued_at - 1 }).ok).toBe(false)
    const f = valid.FailureEventV1[1]
    expect(decodeFailureEvent({ ...f, recovered_ts: f.ts - 1 }).ok).toBe(false)
  })
})
