import { type ChildProcess, spawn } from 'node:child_process'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest'
import { type Bus, createKafkaBus } from '../../src/bus/index.js'
import { decodeDeadLetter, type Prediction } from '../../src/contracts/index.js'
import { isRetriable } from '../../src/errors.js'
import { createLogger } from '../../src/log.js'
import { loadModel } from '../../src/model/artifact.js'
import { replayCsv } from '../../src/pipelines/replay.js'
import { scoreCsv } from '../../src/pipelines/score-csv.js'
import { AlertTracker, pageRuleOf } from '../../src/policy/alert.js'
import { streamModelOf } from '../../src/stream/model.js'
import { createScorer, type ScorerConfig, type ScorerTopics } from '../../src/stream/scorer.js'
import { createTestKafkaBus, eventually, kafkaBrokers, uniqueName } from '../helpers/bus.js'
import { type TrainedFixture, trainedFixture } from './fixture.js'
import { outputs, topicsFor } from './helpers.js'

const log = createLogger({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' })
// Guards that never bind with 16 hosts: decisions then depend on each host's own stream
// only, so runs with different batch boundaries and partition interleavings must agree.
const policy: ScorerConfig['policy'] = {
  guards: {
    maxConcurrent: 1000,
    maxConcurrentFraction: 1,
    maxPerZone: 1000,
    maxPerRack: 1000,
    ratePerHour: 1e6,
    burst: 1e6,
    stormMinHosts: 1e6,
  },
}
const PARTITIONS = 3

let fx: TrainedFixture
/** `preempt score` on the fixture: (host@ts) → score, and whether the model's page rule fires (the stream's risk `act`). */
let offline: Map<string, { score: number; alert: boolean }>
/** Samples `preempt score` refused as late (the scorer dead-letters them). */
let offlineLate = 0

beforeAll(async () => {
  fx = await trainedFixture()
  const loaded = await loadModel(fx.modelDir)
  const alerts = new AlertTracker(pageRuleOf(loaded.meta.thresholds))
  offline = new Map()
  const summary = await scoreCsv(loaded, { csv: fx.csv }, (rows) => {
    for (const r of rows)
      offline.set(`${r.entity}@${r.ts}`, { score: r.score, alert: alerts.observe(r.entity, r.score) })
  })
  offlineLate = summary.late
  expect(offlineLate).toBeGreaterThan(0) // the fixture does exercise late samples
}, 300_000)

afterAll(() => {
  if (fx) rmSync(fx.dir, { recursive: true, force: true })
})

function owned(ctx: TestContext, bus: Bus & { ownTopics: string[] }, prefix: string): ScorerTopics {
  const t = topicsFor(prefix)
  bus.ownTopics.push(...Object.values(t))
  void ctx
  return t
}

/**
 * The fixture's event times are weeks old: on a compacted predictions topic the broker rolls
 * segments at once and compacts them to the latest per host. These tests count every
 * prediction, so the topics they read keep everything. Call it before any scorer starts
 * (a scorer creates a missing predictions topic compacted).
 */
async function keepEverything(bus: Bus, topics: ScorerTopics) {
  const admin = await bus.admin()
  await admin.createTopics([
    { topic: topics.predictions, partitions: PARTITIONS, configs: { 'retention.ms': '-1' } },
    { topic: topics.commands, partitions: PARTITIONS, configs: { 'retention.ms': '-1' } },
    { topic: topics.deadLetter, partitions: PARTITIONS, configs: { 'retention.ms': '-1' } },
  ])
  await admin.close()
}

async function replay(bus: Bus, topics: ScorerTopics) {
  await keepEverything(bus, topics)
  return replayCsv({
    bus,
    csv: fx.csv,
    topics,
    partitions: PARTITIONS,
    hostsFile: join(fx.fleet, 'hosts.csv'),
  })
}

/** Sum of the group's committed offsets; a retriable broker error (e.g. the group's coordinator moving under load) is asked again. */
async function committedTotal(bus: Bus, group: string, topic: string): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const admin = await bus.admin()
    try {
      const c = await admin.committedOffsets(group, topic)
      return c.reduce((s, o) => s + (o.offset === null ? 0 : Number(o.offset)), 0)
    } catch (err) {
      if (attempt >= 10 || !isRetriable(err)) throw err
      await new Promise((r) => setTimeout(r, 100 * attempt))
    } finally {
      await admin.close()
    }
  }
}

function decodeDeadLetterCode(v: Buffer): string {
  const d = decodeDeadLetter(v)
  return d.ok ? d.value.error.code : 'undecodable dead letter'
}

function expectParity(preds: Prediction[]) {
  const seen = new Set<string>()
  let maxDiff = 0
  let alertMismatch = 0
  for (const p of preds) {
    const k = `${p.host}@${p.ts}`
    expect(seen.has(k), `duplicate prediction ${k}`).toBe(false)
    seen.add(k)
    const o = offline.get(k)
    expect(o, `prediction ${k} not in preempt score's output`).toBeDefined()
    maxDiff = Math.max(maxDiff, Math.abs(o!.score - p.score))
    if (o!.alert !== (p.risk === 'act')) alertMismatch++
  }
  if (preds.length !== offline.size) {
    const missing = [...offline.keys()].filter((k) => !seen.has(k))
    const byHost = new Map<string, number[]>()
    for (const k of missing) {
      const [h, t] = k.split('@')
      byHost.set(h!, [...(byHost.get(h!) ?? []), Number(t)])
    }
    const summary = [...byHost].map(
      ([h, ts]) =>
        `${h}: ${ts.length} from ${new Date(Math.min(...ts)).toISOString()} to ${new Date(Math.max(...ts)).toISOString()}`,
    )
    expect.fail(`${missing.length} predictions missing:\n${summary.join('\n')}`)
  }
  expect(maxDiff).toBeLessThanOrEqual(1e-6)
  expect(alertMismatch).toBe(0)
}

async function serveInProcess(bus: Bus, topics: ScorerTopics, groupId: string, records: number) {
  const model = streamModelOf(await loadModel(fx.modelDir))
  const scorer = createScorer({
    bus,
    model,
    log,
    config: { topics, groupId, fromBeginning: true, partitions: PARTITIONS, policy },
  })
  await scorer.start()
  await eventually(() => scorer.stats().records >= records, 'scorer to consume the replay', 120_000)
  await scorer.close(20_000)
  return scorer
}

describe('streaming scorer against the real broker', () => {
  it("parity: a CSV replayed through Kafka into the scorer gives preempt score's scores (1e-6) and alerts", async (ctx) => {
    const bus = createTestKafkaBus(ctx)
    const topics = owned(ctx, bus, 'parity')
    const r = await replay(bus, topics)
    expect(r.rows).toBe(fx.rows)
    const scorer = await serveInProcess(bus, topics, uniqueName('g'), r.rows)
    const { preds, dlq } = await outputs(bus, topics)
    // The simulator delivers a few samples out of order, beyond the lateness: late, both ways.
    expect(dlq).toHaveLength(offlineLate)
    for (const m of dlq) expect(decodeDeadLetterCode(m.value!)).toBe('PREEMPT_ERR_STREAM_LATE')
    expectParity(preds)
    expect(scorer.stats().transactionsAborted).toBe(0)
  })

  it('bad data: 10 000 malformed records all land in the DLQ with reasons; good output unchanged', async (ctx) => {
    const bus = createTestKafkaBus(ctx)
    const topics = owned(ctx, bus, 'bad')
    const r = await replay(bus, topics)
    const producer = await bus.producer()
    const kinds = [
      (i: number) => ({ key: `web-${i}`, value: `{"v":1,"host":"web-${i}"` }), // truncated JSON
      (i: number) => ({ key: 'x', value: JSON.stringify({ v: 1, host: `db-${i}`, ts: 1, metrics: {} }) }), // key ≠ host
      (i: number) => ({ key: `h${i}`, value: JSON.stringify({ v: 1, host: `h${i}`, ts: 'yesterday', metrics: {} }) }),
      (i: number) => ({ key: `h${i}`, value: Buffer.from([0xff, 0xfe, i & 0xff]) }), // not UTF-8
      (i: number) => ({
        key: `h${i}`,
        value: JSON.stringify({ v: 1, host: `h${i}`, ts: 5, metrics: { cpu_util: 'high' } }),
      }),
    ]
    const bad = Array.from({ length: 10_000 }, (_, i) => ({ topic: topics.metrics, ...kinds[i % kinds.length]!(i) }))
    for (let i = 0; i < bad.length; i += 2000) await producer.send(bad.slice(i, i + 2000))
    await producer.close()
    await serveInProcess(bus, topics, uniqueName('g'), r.rows + bad.length)
    const { preds, dlq } = await outputs(bus, topics)
    expect(dlq).toHaveLength(10_000 + offlineLate)
    for (const m of dlq.filter((d) => decodeDeadLetterCode(d.value!) !== 'PREEMPT_ERR_STREAM_LATE')) {
      const d = decodeDeadLetter(m.value!)
      expect(d.ok).toBe(true)
      if (d.ok) {
        expect(d.value.error.code).toBe('PREEMPT_ERR_CONTRACT_INVALID')
        expect(d.value.error.message.length).toBeGreaterThan(0)
        expect(d.value.source.topic).toBe(topics.metrics)
      }
    }
    expectParity(preds)
  })

  it('crash: kill -9 five times mid-stream, restart each time: no lost or doubled output, the same commands', async (ctx) => {
    const bus = createTestKafkaBus(ctx)
    const ref = owned(ctx, bus, 'crashref')
    const topics = owned(ctx, bus, 'crash')
    const r = await replay(bus, ref)
    await replay(bus, topics)
    await serveInProcess(bus, ref, uniqueName('g'), r.rows)
    const group = uniqueName('g')
    const cfgFile = join(fx.dir, `${group}.json`)
    // The reference run's guards, through the config file (the CLI's defaults would bind on 16 hosts).
    writeFileSync(
      cfgFile,
      JSON.stringify({
        topics,
        log: { level: 'warn' },
        kafka: { sessionTimeoutMs: 6000, heartbeatIntervalMs: 1000 },
        policy: { guards: policy!.guards },
      }),
    )
    const start = (idleExit: boolean): ChildProcess =>
      spawn(
        process.execPath,
        [
          'bin/preempt.js',
          'serve',
          '--model',
          fx.modelDir,
          '--config',
          cfgFile,
          '--group',
          group,
          '--from-beginning',
          '--partitions',
          String(PARTITIONS),
          '--no-progress',
          ...(idleExit ? ['--idle-exit', '4s'] : []),
        ],
        { env: { ...process.env, KAFKA_BROKERS: kafkaBrokers().join(',') }, stdio: ['ignore', 'ignore', 'pipe'] },
      )
    const kills: number[] = []
    const children: ChildProcess[] = []
    ctx.onTestFinished(() => {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
    })
    for (let k = 1; k <= 5; k++) {
      const child = start(false)
      children.push(child)
      let err = ''
      child.stderr!.on('data', (d) => {
        err += d
      })
      // Kill at a random point past the last one: somewhere in the next sixth of the stream.
      const target = Math.floor((r.rows * (k - 1 + Math.random())) / 6)
      const deadline = Date.now() + 120_000
      let committed = 0
      while (child.exitCode === null && committed < target && Date.now() < deadline) {
        await new Promise((res) => setTimeout(res, 25))
        committed = await committedTotal(bus, group, topics.metrics)
      }
      if (child.exitCode === null) {
        child.kill('SIGKILL')
        await new Promise((res) => child.once('exit', res))
      }
      expect(
        committed,
        `serve #${k} reached ${committed} of ${target} (stderr: ${err.slice(-1000)})`,
      ).toBeGreaterThanOrEqual(target)
      kills.push(committed)
      if (process.env['PREEMPT_TEST_KEEP_LOGS']) writeFileSync(`/tmp/crash-${k}.log`, err)
    }
    const last = start(true)
    children.push(last)
    let lastErr = ''
    last.stderr!.on('data', (d) => {
      lastErr += d
    })
    const code = await new Promise<number | null>((res) => last.once('exit', res))
    expect(code, lastErr.slice(-2000)).toBe(0)
    expect(await committedTotal(bus, group, topics.metrics)).toBe(r.rows)
    const a = await outputs(bus, ref)
    const b = await outputs(bus, topics)
    expectParity(b.preds)
    const ids = b.cmds.map((c) => c.id)
    expect(new Set(ids).size).toBe(ids.length)
    expect(ids.sort()).toEqual(a.cmds.map((c) => c.id).sort())
    expect(kills.length).toBe(5)
  }, 600_000)

  it('rebalance: two scorers in one group, one stops mid-stream, the other restores and finishes', async (ctx) => {
    const bus = createTestKafkaBus(ctx)
    const ref = owned(ctx, bus, 'rebref')
    const topics = owned(ctx, bus, 'reb')
    const r = await replay(bus, ref)
    await serveInProcess(bus, ref, uniqueName('g'), r.rows)
    // Both members join before the input arrives, so both have work when it does. The output
    // topics exist first: the scorers would create the predictions topic compacted (a flake
    // seen in CI: early predictions compacted away before the test read them).
    await keepEverything(bus, topics)
    const pre = await bus.admin()
    await pre.createTopics([{ topic: topics.metrics, partitions: PARTITIONS, configs: { 'retention.ms': '-1' } }])
    await pre.close()
    const group = uniqueName('g')
    const model = streamModelOf(await loadModel(fx.modelDir))
    const mk = () =>
      createKafkaBus({ brokers: kafkaBrokers(), logger: log, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1000 })
    const busA = mk()
    const busB = mk()
    const cfg = { topics, groupId: group, fromBeginning: true, partitions: PARTITIONS, policy }
    const a = createScorer({ bus: busA, model, log, config: cfg })
    const b = createScorer({ bus: busB, model, log, config: cfg })
    await a.start()
    await b.start()
    await eventually(
      () => a.stats().assigned.length > 0 && b.stats().assigned.length > 0,
      'both to own partitions',
      60_000,
    )
    await replay(bus, topics)
    await eventually(() => b.stats().records > 0, 'B to process something', 60_000)
    await b.close(20_000)
    await busB.close()
    let total = 0
    for (let i = 0; i < 600 && total < r.rows; i++) {
      total = await committedTotal(bus, group, topics.metrics)
      if (total < r.rows) await new Promise((res) => setTimeout(res, 200))
    }
    expect(total).toBe(r.rows)
    expect(a.stats().assigned).toEqual([0, 1, 2])
    expect(a.stats().restores).toBeGreaterThan(0)
    await a.close(20_000)
    await busA.close()
    const want = await outputs(bus, ref)
    const got = await outputs(bus, topics)
    expectParity(got.preds)
    expect(got.cmds.map((c) => c.id).sort()).toEqual(want.cmds.map((c) => c.id).sort())
  }, 300_000)
})
