import { Partitioners, type PartitionMetadata } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { cachedPartitioner } from '../../src/bus/kafka.js'

const meta = (n: number): PartitionMetadata[] =>
  Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 1, partitionErrorCode: 0, replicas: [1], isr: [1] }))

describe('cachedPartitioner', () => {
  it("answers kafkajs's default partitioner for every key, as the partition count changes", () => {
    const cached = cachedPartitioner()
    for (const n of [4, 4, 12, 3]) {
      const plain = Partitioners.DefaultPartitioner()
      const partitionMetadata = meta(n)
      const seen = new Set<number>()
      for (let i = 0; i < 500; i++) {
        const message = { key: `host-${i}`, value: 'x' }
        const p = cached({ topic: 't', partitionMetadata, message })
        expect(p).toBe(plain({ topic: 't', partitionMetadata, message }))
        seen.add(p)
      }
      expect(seen.size).toBe(n)
    }
  })

  it('keeps an explicit partition and hands keyless records to the default', () => {
    const cached = cachedPartitioner()
    const partitionMetadata = meta(4)
    expect(cached({ topic: 't', partitionMetadata, message: { key: 'host-1', value: 'x', partition: 3 } })).toBe(3)
    const p = cached({ topic: 't', partitionMetadata, message: { value: 'x' } })
    expect(p).toBeGreaterThanOrEqual(0)
    expect(p).toBeLessThan(4)
  })
})
