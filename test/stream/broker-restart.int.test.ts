import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createKafkaBus } from '../../src/bus/index.js'
import { createLogger } from '../../src/log.js'
import { createScorer } from '../../src/stream/scorer.js'
import { eventually, uniqueName } from '../helpers/bus.js'
import { fakeModel, fleetRecords, outputs, topicsFor } from './helpers.js'

// A broker of this test's own (another port, its own data), so restarting it leaves the
// suite's broker alone. Below Linux's ephemeral range (32768+), where a client's local port
// could already hold it.
const port = 29_292
const runDir = mkdtempSync(join(tmpdir(), 'preempt-broker-'))
const env = {
  ...process.env,
  KAFKA_BROKERS: '',
  PREEMPT_KAFKA_PORT: String(port),
  PREEMPT_KAFKA_RUN_DIR: runDir,
  PREEMPT_KAFKA_HEAP: '512m',
}
const kafka = (...args: string[]) =>
  execFileSync('bash', ['scripts/kafka/kafka.sh', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })

beforeAll(() => {
  kafka('up', '--watch-pid', String(process.pid))
}, 180_000)

afterAll(() => {
  try {
    kafka('down')
  } finally {
    rmSync(runDir, { recursive: true, force: true })
  }
}, 60_000)

describe('broker restart', () => {
  it('the scorer rides out a broker restart mid-stream: complete output, nothing doubled', async () => {
    const log = createLogger({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' })
    const bus = createKafkaBus({
      brokers: [`127.0.0.1:${port}`],
      logger: log,
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 1000,
    })
    const topics = topicsFor('restart')
    const group = uniqueName('g')
    const admin = await bus.admin()
    await admin.createTopics([
      { topic: topics.metrics, partitions: 2, configs: { 'retention.ms': '-1' } },
      { topic: topics.predictions, partitions: 2, configs: { 'retention.ms': '-1' } },
    ])
    await admin.close()
    const recs = fleetRecords(topics.metrics, { hosts: 20, steps: 400, failing: [2, 9] })
    const producer = await bus.producer()
    const half = recs.length / 2
    await producer.send(recs.slice(0, half))
    const scorer = createScorer({
      bus,
      model: fakeModel(),
      log,
      config: {
        topics,
        groupId: group,
        fromBeginning: true,
        partitions: 2,
        policy: { guards: { maxConcurrentFraction: 0.5 }, softwareMetrics: ['mem'] },
      },
    })
    await scorer.start()
    await eventually(() => scorer.stats().records >= half / 2, 'the scorer to be mid-stream', 60_000)
    kafka('restart')
    await producer.send(recs.slice(half))
    await producer.close()
    // Done when every input offset is committed (records processed twice after a failed
    // transaction count twice in the scorer's stats).
    const a2 = await bus.admin()
    const deadline = Date.now() + 120_000
    let committed = 0
    while (committed < recs.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200))
      committed = (await a2.committedOffsets(group, topics.metrics)).reduce((s, o) => s + Number(o.offset ?? 0), 0)
    }
    await a2.close()
    expect(committed).toBe(recs.length)
    await scorer.close(20_000)
    const { preds, cmds, dlq } = await outputs(bus, topics)
    await bus.close()
    expect(dlq).toHaveLength(0)
    const keys = preds.map((p) => `${p.host}@${p.ts}`)
    expect(new Set(keys).size).toBe(keys.length)
    expect(keys.length).toBe(20 * (400 - 2))
    expect(cmds.map((c) => c.host).sort()).toEqual(['host-002', 'host-009'])
  }, 300_000)
})
