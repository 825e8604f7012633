import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'

/**
 * patches/kafkajs+2.2.4.patch makes kafkajs's wire path cheaper without changing a byte:
 * uncompressed produce requests without headers are encoded in one buffer, the record
 * decoder reads offset and timestamp deltas as numbers, and CRC-32C runs 8 bytes a step.
 * These tests hold the fast paths to kafkajs's own general code (still in the tree) and to
 * independent arithmetic (BigInt, a bitwise CRC).
 */
const require = createRequire(import.meta.url)
const K = 'kafkajs/src/'
type Enc = { buffer: Buffer; size(): number }
const produceRequest = require(`${K}protocol/requests/produce/v3/request.js`) as (a: object) => {
  encode(): Promise<Enc>
}
const Long = require(`${K}utils/long`) as { fromInt(n: number): unknown }
const Encoder = require(`${K}protocol/encoder`) as new () => {
  writeInt32(n: number): ReturnType<typeof Object>
  buffer: Buffer
}
const Record = require(`${K}protocol/recordBatch/record/v0`) as (r: object) => Enc
const { RecordBatch } = require(`${K}protocol/recordBatch/v0`) as { RecordBatch: (a: object) => Promise<Enc> }
const decodeBatch = require(`${K}protocol/recordBatch/v0/decoder.js`) as (d: unknown) => Promise<{
  records: { offset: string; timestamp: string; key: Buffer | null; value: Buffer | null }[]
}>
const Decoder = require(`${K}protocol/decoder.js`) as new (b: Buffer) => unknown
const crc32C = require(`${K}protocol/recordBatch/crc32C`) as (b: Buffer) => number

interface Msg {
  key: string | null
  value: Buffer | string | null
  timestamp?: string | undefined
  headers?: Record<string, string>
}

/** Keys, values and timestamps of every shape the encoder meets (null, strings, UTF-8, none, out of order). */
function messages(n: number, spread: number): Msg[] {
  const out: Msg[] = []
  for (let i = 0; i < n; i++)
    out.push({
      key: i % 7 === 0 ? null : `host-${i % 13}`,
      value:
        i % 11 === 0 ? null : i % 17 === 0 ? `text ${i}` : Buffer.from(JSON.stringify({ i, x: 'é'.repeat(i % 40) })),
      timestamp: i % 5 === 0 ? undefined : String(1_764_547_200_000 + Math.round(Math.sin(i) * spread)),
    })
  return out
}

/** What kafkajs's general path writes for one partition (its Record and RecordBatch encoders). */
async function generalRequest(transactionalId: string | null, ms: Msg[], now: number): Promise<Buffer> {
  const ts = ms.filter((m) => m.timestamp != null).map((m) => Number(m.timestamp))
  const first = Math.min(...ts)
  const records = ms.map((m, i) => Record({ ...m, offsetDelta: i, timestampDelta: Number(m.timestamp ?? now) - first }))
  const rb = await RecordBatch({
    records,
    firstTimestamp: first,
    maxTimestamp: Math.max(...ts),
    producerId: Long.fromInt(42),
    producerEpoch: 3,
    firstSequence: 17,
    transactional: !!transactionalId,
    lastOffsetDelta: records.length - 1,
  })
  // biome-ignore lint/suspicious/noExplicitAny: kafkajs's Encoder is untyped
  const E = Encoder as any
  const part = new E().writeInt32(2).writeInt32(rb.size()).writeEncoder(rb)
  return new E()
    .writeString(transactionalId)
    .writeInt16(-1)
    .writeInt32(30_000)
    .writeArray([new E().writeString('t').writeArray([part])]).buffer
}

async function patchedRequest(transactionalId: string | null, ms: Msg[]): Promise<Buffer> {
  const req = produceRequest({
    acks: -1,
    timeout: 30_000,
    transactionalId,
    producerId: Long.fromInt(42),
    producerEpoch: 3,
    topicData: [{ topic: 't', partitions: [{ partition: 2, firstSequence: 17, messages: ms }] }],
  })
  return (await req.encode()).buffer
}

describe('kafkajs patch: produce encoding', () => {
  it('writes the same bytes as the general path, transactional or not, for any timestamp spread', async () => {
    const now = Date.now
    Date.now = () => 1_764_547_300_000
    try {
      for (const tx of [null, 'preempt-scorer-fleet.metrics.v1-3'])
        for (const spread of [0, 70_000, 2 ** 40]) {
          const ms = messages(400, spread)
          const fast = await patchedRequest(tx, ms)
          expect(fast.length).toBeGreaterThan(400 * 10)
          expect(fast.equals(await generalRequest(tx, ms, 1_764_547_300_000))).toBe(true)
        }
    } finally {
      Date.now = now
    }
  })

  it('leaves records with headers to the general path (which still works)', async () => {
    const ms = messages(20, 1000).map((m, i) => (i === 3 ? { ...m, headers: { trace: 'abc' } } : m))
    const buf = await patchedRequest('tx', ms)
    expect(buf.includes(Buffer.from('trace'))).toBe(true)
  })
})

describe('kafkajs patch: record decoding', () => {
  it('answers the offsets and timestamps BigInt arithmetic gives, past 2^48 deltas and 2^40 offsets', async () => {
    for (const spread of [0, 1000, 2 ** 50]) {
      const ms = messages(300, spread).map((m) => ({ ...m, timestamp: m.timestamp ?? '1764547200000' }))
      const req = await patchedRequest('x', ms)
      // The record batch starts after the request and partition headers: 28 bytes with
      // transactional id 'x' (string 3, acks 2, timeout 4, array 4, topic 3, array 4, partition 4, size 4).
      const batch = Buffer.from(req.subarray(28))
      const firstOffset = 2n ** 40n + 12_345n
      batch.writeBigInt64BE(firstOffset, 0)
      const { records } = await decodeBatch(new Decoder(batch))
      expect(records).toHaveLength(300)
      for (let i = 0; i < records.length; i++) {
        expect(records[i]!.offset).toBe(String(firstOffset + BigInt(i)))
        expect(records[i]!.timestamp).toBe(String(BigInt(ms[i]!.timestamp!)))
        const v = ms[i]!.value
        expect(records[i]!.value === null ? null : records[i]!.value!.toString()).toBe(v === null ? null : String(v))
      }
    }
  })
})

describe('kafkajs patch: CRC-32C', () => {
  /** Bitwise CRC-32C (Castagnoli, reflected 0x82F63B78): slow, obviously right. */
  const reference = (b: Buffer) => {
    let c = 0xffffffff
    for (const byte of b) {
      c ^= byte
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
    }
    return (c ^ 0xffffffff) >>> 0
  }

  it('matches the standard check value and a bitwise reference on every length around the 8-byte steps', () => {
    expect(crc32C(Buffer.from('123456789'))).toBe(0xe3069283)
    let seed = 7
    const rnd = () => {
      seed = (seed * 1_103_515_245 + 12_345) >>> 0
      return seed >>> 24
    }
    for (const n of [0, 1, 7, 8, 63, 64, 65, 71, 72, 73, 1000, 4099]) {
      const b = Buffer.from(Array.from({ length: n }, rnd))
      expect(crc32C(b)).toBe(reference(b))
    }
  })
})
