import { describe, expect, it } from 'vitest'
import type { BusMessage, TopicPartition } from '../../src/bus/index.js'
import { createTestKafkaBus, eventually, uniqueName } from '../helpers/bus.js'
import { busConformance } from './conformance.js'

describe('bus conformance: real Kafka broker', () => {
  busConformance((ctx) => createTestKafkaBus(ctx))
})

describe('kafka consumer: crashes kafkajs does not restart', () => {
  it('revokes the partitions, rejoins the group and hands the unresolved batch again', async (ctx) => {
    const bus = createTestKafkaBus(ctx)
    const topic = uniqueName('crash')
    bus.ownTopics.push(topic)
    const admin = await bus.admin()
    await admin.createTopics([{ topic, partitions: 2 }])
    const producer = await bus.producer()
    await producer.send(Array.from({ length: 20 }, (_, i) => ({ topic, key: `h${i}`, value: String(i) })))
    const seen: BusMessage[] = []
    const assigned: TopicPartition[][] = []
    const revoked: TopicPartition[][] = []
    let thrown = 0
    const crashes: string[] = []
    const consumer = await bus.consumer({
      groupId: uniqueName('crash'),
      topics: [topic],
      fromBeginning: true,
      onPartitionsAssigned: (tps) => void assigned.push(tps),
      onPartitionsRevoked: (tps) => void revoked.push(tps),
      onCrash: ({ error, rejoin }) => void crashes.push(`${rejoin}: ${(error as Error).message}`),
    })
    ctx.onTestFinished(() => consumer.close())
    await consumer.run(async (batch) => {
      if (thrown === 0) {
        thrown++
        // kafkajs crashes the consumer without a restart on an error marked not retriable,
        // as it does on UNKNOWN_MEMBER_ID from a JoinGroup while the group rebalances.
        throw Object.assign(new Error('injected: not retriable'), { retriable: false })
      }
      seen.push(...batch.messages)
    })
    await eventually(
      () => new Set(seen.map((m) => m.value!.toString())).size === 20,
      'all 20 records after the crash',
      60_000,
    )
    expect(thrown).toBe(1)
    // A broker that has just started may also crash it with retriable errors (no group
    // coordinator yet), which kafkajs restarts itself ('client'): those are not counted here.
    expect(
      crashes.filter((c) => c.startsWith('bus:')),
      crashes.join('; '),
    ).toEqual(['bus: injected: not retriable'])
    expect(new Set(revoked.flat().map((t) => t.partition))).toEqual(new Set([0, 1]))
    expect(assigned.length).toBeGreaterThanOrEqual(2)
    expect(
      assigned
        .at(-1)!
        .map((t) => t.partition)
        .sort(),
    ).toEqual([0, 1])
    expect(consumer.assignment()).toHaveLength(2)
  })
})
