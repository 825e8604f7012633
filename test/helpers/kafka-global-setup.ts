import kafkajs from 'kafkajs'

/**
 * Integration tests need a broker: KAFKA_BROKERS, or the bundled one (`npm run kafka:up`).
 * Fails fast, with the fix, instead of letting every test time out.
 */
export default async function setup(): Promise<void> {
  const brokers = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',')
  process.env['KAFKA_BROKERS'] = brokers.join(',')
  const kafka = new kafkajs.Kafka({
    clientId: 'preempt-test-setup',
    brokers,
    logLevel: kafkajs.logLevel.NOTHING,
    retry: { retries: 2 },
    connectionTimeout: 2000,
  })
  const admin = kafka.admin()
  try {
    await admin.connect()
    await admin.listTopics()
  } catch (err) {
    throw new Error(
      `integration tests need Kafka at ${brokers.join(',')} (${(err as Error).message}). Run \`npm run kafka:up\` first, or set KAFKA_BROKERS.`,
    )
  } finally {
    await admin.disconnect().catch(() => {})
  }
}
