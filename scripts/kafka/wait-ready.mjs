// Waits until the cluster at argv[2] accepts a topic creation (the broker is not just
// listening but has a working controller), or fails after argv[3] seconds.
import kafkajs from 'kafkajs'

const [brokers = '127.0.0.1:9092', timeoutS = '120'] = process.argv.slice(2)
const deadline = Date.now() + Number(timeoutS) * 1000
const kafka = new kafkajs.Kafka({
  clientId: 'preempt-wait-ready',
  brokers: brokers.split(','),
  logLevel: kafkajs.logLevel.NOTHING,
  retry: { retries: 0 },
  connectionTimeout: 1000,
})
let lastError = 'no attempt'
while (Date.now() < deadline) {
  const admin = kafka.admin()
  try {
    await admin.connect()
    await admin.createTopics({
      topics: [{ topic: '__preempt_ready', numPartitions: 1 }],
      waitForLeaders: true,
      timeout: 5000,
    })
    const meta = await admin.fetchTopicMetadata({ topics: ['__preempt_ready'] })
    if (meta.topics[0]?.partitions.every((p) => p.leader >= 0)) {
      await admin.disconnect()
      process.exit(0)
    }
    lastError = 'topic has no leader yet'
  } catch (err) {
    lastError = err instanceof Error ? err.message : String(err)
  }
  await admin.disconnect().catch(() => {})
  await new Promise((r) => setTimeout(r, 500))
}
console.error(`kafka: not ready after ${timeoutS}s at ${brokers}: ${lastError}`)
process.exit(1)
