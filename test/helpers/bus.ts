import { randomUUID } from 'node:crypto'
import type { TestContext } from 'vitest'
import { type Bus, createKafkaBus } from '../../src/bus/index.js'
import { createLogger } from '../../src/log.js'

/** Unique topic or group name for one test. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`
}

export function kafkaBrokers(): string[] {
  return (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',')
}

/** A bus on the real broker that closes itself and deletes the topics it was told about. */
export function createTestKafkaBus(ctx: TestContext): Bus & { ownTopics: string[] } {
  const bus = createKafkaBus({
    brokers: kafkaBrokers(),
    clientId: 'preempt-test',
    logger: createLogger({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' }),
    sessionTimeoutMs: 10_000,
    heartbeatIntervalMs: 1000,
  })
  const ownTopics: string[] = []
  ctx.onTestFinished(async () => {
    await bus.close()
    if (ownTopics.length) {
      const cleanup = createKafkaBus({ brokers: kafkaBrokers(), logger: createLogger({ level: 'silent' }) })
      const admin = await cleanup.admin()
      await admin.deleteTopics(ownTopics).catch(() => {})
      await cleanup.close()
    }
  })
  return Object.assign(bus, { ownTopics })
}

/** Polls `cond` until it holds, or fails with `what` after `timeoutMs`. */
export async function eventually(cond: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
