import { expect, it, type TestContext } from 'vitest'
import type { Bus, BusMessage, Consumer, ConsumerOptions } from '../../src/bus/index.js'
import { eventually, uniqueName } from '../helpers/bus.js'

/**
 * One behaviour contract for every Bus: run by test/bus/memory.test.ts against the twin and
 * by test/bus/kafka.int.test.ts against the real broker.
 *
 * makeBus gets the test context and must register its own cleanup; `own` records topics
 * the bus should delete when the test ends.
 */
export function busConformance(makeBus: (ctx: TestContext) => Bus & { ownTopics?: string[] }): void {
  async function setup(ctx: TestContext, partitions = 1, compacted = false) {
    const bus = makeBus(ctx)
    const topic = uniqueName('conf')
    bus.ownTopics?.push(topic)
    const admin = await bus.admin()
    await admin.createTopics([{ topic, partitions, compacted }])
    return { bus, admin, topic }
  }

  async function consume(
    bus: Bus,
    opts: Omit<ConsumerOptions, 'topics'> & { topic: string },
    until: (seen: BusMessage[]) => boolean,
    what: string,
  ): Promise<{ consumer: Consumer; seen: BusMessage[] }> {
    const seen: BusMessage[] = []
    const consumer = await bus.consumer({ ...opts, topics: [opts.topic] })
    await consumer.run(async (batch) => {
      seen.push(...batch.messages)
    })
    await eventually(() => until(seen), what)
    return { consumer, seen }
  }

  it('keeps per-key order and the same partition for a key', async (ctx) => {
    const { bus, topic } = await setup(ctx, 3)
    const producer = await bus.producer()
    const keys = ['web-1', 'web-2', 'db-1', 'db-2', 'cache-9']
    const perKey = 40
    const msgs = []
    for (let i = 0; i < perKey; i++)
      for (const key of keys) msgs.push({ topic, key, value: JSON.stringify({ key, seq: i }) })
    await producer.send(msgs)
    const { consumer, seen } = await consume(
      bus,
      { topic, groupId: uniqueName('g'), fromBeginning: true },
      (s) => s.length >= keys.length * perKey,
      'all records',
    )
    await consumer.close()
    expect(seen).toHaveLength(keys.length * perKey)
    for (const key of keys) {
      const mine = seen.filter((m) => m.key === key)
      expect(mine.map((m) => JSON.parse(m.value!.toString()).seq)).toEqual([...Array(perKey).keys()])
      expect(new Set(mine.map((m) => m.partition)).size).toBe(1)
    }
  })

  it('shows a committed transaction (records and offsets) to read_committed, never an aborted one', async (ctx) => {
    const { bus, admin, topic } = await setup(ctx)
    const input = uniqueName('conf-in')
    bus.ownTopics?.push(input)
    await admin.createTopics([{ topic: input }])
    const group = uniqueName('g-tx')
    const tp = await bus.transactionalProducer({ transactionalId: uniqueName('tx') })

    const t1 = await tp.begin()
    await t1.send([{ topic, key: 'h', value: 'committed-1' }])
    await t1.sendOffsets(group, [{ topic: input, partition: 0, offset: '7' }])
    await t1.commit()
    const t2 = await tp.begin()
    await t2.send([{ topic, key: 'h', value: 'aborted' }])
    await t2.sendOffsets(group, [{ topic: input, partition: 0, offset: '99' }])
    await t2.abort()
    const t3 = await tp.begin()
    await t3.send([{ topic, key: 'h', value: 'committed-2' }])
    await t3.commit()

    const { consumer, seen } = await consume(
      bus,
      { topic, groupId: uniqueName('g'), fromBeginning: true },
      (s) => s.some((m) => m.value?.toString() === 'committed-2'),
      'the second committed record',
    )
    await consumer.close()
    expect(seen.map((m) => m.value?.toString())).toEqual(['committed-1', 'committed-2'])
    // Markers take offsets: the committed records are not adjacent.
    expect(Number(seen[1]!.offset)).toBeGreaterThan(Number(seen[0]!.offset) + 1)
    expect(await admin.committedOffsets(group, input)).toEqual([{ partition: 0, offset: '7' }])

    const uncommitted = await consume(
      bus,
      { topic, groupId: uniqueName('g'), fromBeginning: true, isolation: 'read_uncommitted' },
      (s) => s.length >= 3,
      'all three records read_uncommitted',
    )
    await uncommitted.consumer.close()
    expect(uncommitted.seen.map((m) => m.value?.toString())).toEqual(['committed-1', 'aborted', 'committed-2'])
  })

  it('resumes a restarted consumer from its committed offsets', async (ctx) => {
    const { bus, topic } = await setup(ctx)
    const producer = await bus.producer()
    await producer.send(Array.from({ length: 10 }, (_, i) => ({ topic, key: 'h', value: `m${i}` })))
    const groupId = uniqueName('g-resume')
    const first = await consume(bus, { topic, groupId, fromBeginning: true }, (s) => s.length >= 10, '10 records')
    // Commit after the 6th record only: m6.. must come again.
    await first.consumer.commit([{ topic, partition: 0, offset: String(Number(first.seen[5]!.offset) + 1) }])
    await first.consumer.close()
    await producer.send([{ topic, key: 'h', value: 'm10' }])
    const second = await consume(
      bus,
      { topic, groupId, fromBeginning: true },
      (s) => s.some((m) => m.value?.toString() === 'm10'),
      'resumed records',
    )
    await second.consumer.close()
    expect(second.seen.map((m) => m.value?.toString())).toEqual(['m6', 'm7', 'm8', 'm9', 'm10'])
  })

  it('hands the rest of a batch again when the handler seeks back into it (even to where it began)', async (ctx) => {
    const { bus, topic } = await setup(ctx)
    const producer = await bus.producer()
    await producer.send(Array.from({ length: 10 }, (_, i) => ({ topic, key: 'h', value: `m${i}` })))
    const seen: string[] = []
    let seeks = 0
    const consumer = await bus.consumer({ topics: [topic], groupId: uniqueName('g-seek'), fromBeginning: true })
    await consumer.run(async (batch) => {
      // Take one record per batch the first times (as the scorer stops on a peer bucket), seeking back.
      const first = batch.messages[0]!
      if (seeks < 3 && batch.messages.length > 1) {
        seen.push(first.value!.toString())
        seeks++
        consumer.seek({ topic, partition: 0, offset: String(Number(first.offset) + 1) })
        return
      }
      if (seeks === 3) {
        // Seek to where this very batch began: all of it must come again.
        seeks++
        consumer.seek({ topic, partition: 0, offset: first.offset })
        return
      }
      seen.push(...batch.messages.map((m) => m.value!.toString()))
    })
    await eventually(() => seen.length >= 10, 'all records once')
    await consumer.close()
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`))
  })

  it('finds offsets by timestamp and reports end offsets', async (ctx) => {
    const { bus, admin, topic } = await setup(ctx)
    const producer = await bus.producer()
    const t0 = Date.now() - 60_000
    await producer.send(
      Array.from({ length: 10 }, (_, i) => ({ topic, key: 'h', value: `m${i}`, timestamp: t0 + i * 1000 })),
    )
    expect(await admin.offsetsForTimes(topic, t0 + 4500)).toEqual([{ partition: 0, offset: '5' }])
    expect(await admin.offsetsForTimes(topic, t0 - 1)).toEqual([{ partition: 0, offset: '0' }])
    expect(await admin.offsetsForTimes(topic, Date.now() + 3_600_000)).toEqual([{ partition: 0, offset: '10' }])
    expect(await admin.endOffsets(topic)).toEqual([{ partition: 0, low: '0', high: '10' }])
  })

  it('creates compacted topics, and createTopics is idempotent', async (ctx) => {
    const { bus, admin, topic } = await setup(ctx, 2, true)
    await admin.createTopics([{ topic, partitions: 2, compacted: true }])
    expect(await admin.listTopics()).toContain(topic)
    expect((await admin.endOffsets(topic)).map((p) => p.partition)).toEqual([0, 1])
    await bus.close()
  })

  it('splits partitions between the members of a group and moves them when one leaves', async (ctx) => {
    const { bus, topic } = await setup(ctx, 4)
    const groupId = uniqueName('g-scale')
    const revokedFromA: number[] = []
    const a = await bus.consumer({
      groupId,
      topics: [topic],
      fromBeginning: true,
      onPartitionsRevoked: (tps) => {
        revokedFromA.push(...tps.map((tp) => tp.partition))
      },
    })
    await a.run(async () => {})
    await eventually(() => a.assignment().length === 4, 'a owns all 4 partitions')
    const b = await bus.consumer({ groupId, topics: [topic], fromBeginning: true })
    await b.run(async () => {})
    await eventually(() => a.assignment().length === 2 && b.assignment().length === 2, 'two partitions each', 60_000)
    const owned = [...a.assignment(), ...b.assignment()].map((tp) => tp.partition).sort()
    expect(owned).toEqual([0, 1, 2, 3])
    await eventually(() => revokedFromA.length === 2, 'a told of the 2 partitions it lost')
    expect(revokedFromA.sort()).toEqual(
      b
        .assignment()
        .map((tp) => tp.partition)
        .sort(),
    )
    await b.close()
    await eventually(() => a.assignment().length === 4, 'a owns all 4 again', 60_000)
    expect(revokedFromA).toHaveLength(2)
    await a.close()
  })

  it('fences a zombie transactional producer', async (ctx) => {
    const { bus, topic } = await setup(ctx)
    const id = uniqueName('tx-fence')
    const zombie = await bus.transactionalProducer({ transactionalId: id })
    const tx = await zombie.begin()
    await tx.send([{ topic, key: 'h', value: 'zombie' }])
    const fresh = await bus.transactionalProducer({ transactionalId: id })
    await expect(tx.commit()).rejects.toMatchObject({ code: 'PREEMPT_ERR_BUS_TRANSACTION' })
    const t = await fresh.begin()
    await t.send([{ topic, key: 'h', value: 'fresh' }])
    await t.commit()
    const { consumer, seen } = await consume(
      bus,
      { topic, groupId: uniqueName('g'), fromBeginning: true },
      (s) => s.some((m) => m.value?.toString() === 'fresh'),
      'the fresh record',
    )
    await consumer.close()
    expect(seen.map((m) => m.value?.toString())).toEqual(['fresh'])
  })

  it('sends more than a broker request may hold (1 MiB) in one call, plain and in a transaction', async (ctx) => {
    const { bus, topic } = await setup(ctx, 2)
    const big = 'x'.repeat(400)
    const msgs = Array.from({ length: 4000 }, (_, i) => ({ topic, key: `h${i % 50}`, value: `${i}:${big}` }))
    const producer = await bus.producer()
    await producer.send(msgs)
    const tp = await bus.transactionalProducer({ transactionalId: uniqueName('tx') })
    const tx = await tp.begin()
    await tx.send(msgs)
    await tx.commit()
    const { consumer, seen } = await consume(
      bus,
      { topic, groupId: uniqueName('g'), fromBeginning: true },
      (s) => s.length >= 8000,
      'both sends',
    )
    await consumer.close()
    await producer.close()
    await tp.close()
    expect(seen).toHaveLength(8000)
  })
}
