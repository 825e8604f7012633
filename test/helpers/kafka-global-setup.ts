import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import kafkajs from 'kafkajs'

/**
 * Integration tests need a real broker. In order: KAFKA_BROKERS; a broker already on
 * 127.0.0.1:9092 (`npm run kafka:up`); else the bundled one is provisioned and started here
 * (watching this process, so a crashed run leaves nothing behind) and stopped at teardown.
 */
const SCRIPT = fileURLToPath(new URL('../../scripts/kafka/kafka.sh', import.meta.url))

async function reachable(brokers: string[]): Promise<string | undefined> {
  const kafka = new kafkajs.Kafka({
    clientId: 'preempt-test-setup',
    brokers,
    logLevel: kafkajs.logLevel.NOTHING,
    retry: { retries: 1 },
    connectionTimeout: 1500,
  })
  const admin = kafka.admin()
  try {
    await admin.connect()
    await admin.listTopics()
    return undefined
  } catch (err) {
    return (err as Error).message
  } finally {
    await admin.disconnect().catch(() => {})
  }
}

export default async function setup(): Promise<(() => void) | undefined> {
  const explicit = process.env['KAFKA_BROKERS']
  const brokers = (explicit ?? '127.0.0.1:9092').split(',')
  process.env['KAFKA_BROKERS'] = brokers.join(',')
  const why = await reachable(brokers)
  if (why === undefined) return undefined
  if (explicit) throw new Error(`integration tests: Kafka at KAFKA_BROKERS=${explicit} is not reachable (${why}).`)
  process.stderr.write('integration tests: no broker on 127.0.0.1:9092, starting the bundled one\n')
  const up = spawnSync('bash', [SCRIPT, 'up', '--watch-pid', String(process.pid)], { stdio: 'inherit' })
  if (up.status !== 0)
    throw new Error('integration tests: could not start the bundled broker (output above); or set KAFKA_BROKERS.')
  return () => {
    spawnSync('bash', [SCRIPT, 'down'], { stdio: 'inherit' })
  }
}
