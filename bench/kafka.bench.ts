import { randomUUID } from 'node:crypto'
import { createKafkaBus } from '../src/bus/index.js'
import { encodeMetricSample } from '../src/contracts/index.js'
import { createLogger } from '../src/log.js'
import { type Bench, timed } from './harness.js'

/**
 * The baseline the other benches compare to: what kafkajs moves through the local broker,
 * with MetricSampleV1-sized records (~300 bytes, 16 metrics), acks=all, idempotent.
 */
const bench: Bench = {
  name: 'kafka',
  description: 'kafkajs produce / consume / transactional throughput against the local broker',
  order: 0,
  async run(ctx) {
    const n = Math.round(200_000 * ctx.scale)
    const batch = 1000
    const bus = createKafkaBus({ brokers: ctx.brokers, logger: createLogger({ level: 'silent' }) })
    const topic = `bench-kafka-${randomUUID().slice(0, 8)}`
    const admin = await bus.admin()
    await admin.createTopics([{ topic, partitions: 4 }])
    try {
      const metrics: Record<string, number> = {}
      for (let i = 0; i < 16; i++) metrics[`metric_${i}`] = Math.random()
      const values = Array.from({ length: 200 }, (_, h) =>
        encodeMetricSample({ host: `host-${h}`, ts: Date.now(), metrics, labels: { zone: 'z1', service: 'web' } }),
      )
      const bytes = values.reduce((s, v) => s + v.length, 0) / values.length
      const producer = await bus.producer()
      const [, produceS] = await timed(async () => {
        for (let i = 0; i < n; i += batch) {
          const msgs = []
          for (let j = i; j < Math.min(n, i + batch); j++)
            msgs.push({ topic, key: `host-${j % 200}`, value: values[j % 200]! })
          await producer.send(msgs)
        }
      })
      ctx.log(`produced ${n} records in ${produceS.toFixed(2)} s`)

      let seen = 0
      const consumer = await bus.consumer({ groupId: `bench-${randomUUID()}`, topics: [topic], fromBeginning: true })
      const [, consumeS] = await timed(async () => {
        await new Promise<void>((resolve) => {
          void consumer.run(async (b) => {
            seen += b.messages.length
            if (seen >= n) resolve()
          })
        })
      })
      await consumer.close()
      ctx.log(`consumed ${seen} records in ${consumeS.toFixed(2)} s (incl. group join)`)

      const txN = Math.round(n / 4)
      const tp = await bus.transactionalProducer({ transactionalId: `bench-tx-${randomUUID()}` })
      const [, txS] = await timed(async () => {
        for (let i = 0; i < txN; i += 500) {
          const tx = await tp.begin()
          const msgs = []
          for (let j = i; j < Math.min(txN, i + 500); j++)
            msgs.push({ topic, key: `host-${j % 200}`, value: values[j % 200]! })
          await tx.send(msgs)
          await tx.commit()
        }
      })
      return {
        produce_msgs_per_s: {
          value: n / produceS,
          unit: 'msg/s',
          better: 'higher',
          note: `${n} × ${bytes.toFixed(0)} B, batches of ${batch}`,
        },
        produce_mb_per_s: { value: (n * bytes) / produceS / 1e6, unit: 'MB/s', better: 'higher' },
        consume_msgs_per_s: {
          value: seen / consumeS,
          unit: 'msg/s',
          better: 'higher',
          note: 'read_committed, incl. group join',
        },
        tx_produce_msgs_per_s: {
          value: txN / txS,
          unit: 'msg/s',
          better: 'higher',
          baseline: 'kafka.produce_msgs_per_s',
          note: '500 records per transaction',
        },
      }
    } finally {
      await admin.deleteTopics([topic]).catch(() => {})
      await bus.close()
    }
  },
}
export default bench
