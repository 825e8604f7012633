import { describe, expect, it } from 'vitest'
import { type Bus, createMemoryBus, MemoryCluster } from '../../src/bus/index.js'
import type { BatchHandler, ConsumerBatch } from '../../src/bus/types.js'
import { decodeDeadLetter, type TtfEstimate } from '../../src/contracts/index.js'
import { PreemptError } from '../../src/errors.js'
import { createLogger } from '../../src/log.js'
import type { StreamModel } from '../../src/stream/model.js'
import { createScorer, type ScorerConfig } from '../../src/stream/scorer.js'
import { eventually } from '../helpers/bus.js'
import { fakeModel, fleetRecords, outputs, T0, topicsFor } from './helpers.js'

const log = createLogger({ level: 'silent' })
const policy: ScorerConfig['policy'] = { guards: { maxConcurrentFraction: 0.5 }, softwareMetrics: ['mem'] }

async function runScorer(
  cluster: MemoryCluster,
  config: ScorerConfig,
  until: (records: number) => boolean,
  model = fakeModel(),
) {
  const bus = createMemoryBus(cluster)
  const scorer = createScorer({ bus, model, config, log })
  await scorer.start()
  await eventually(() => until(scorer.stats().records), 'scorer to consume the stream', 20_000)
  await scorer.close(5000)
  await bus.close()
  return scorer
}

/** The same predictions (score to 1e-9, risk) and command ids as the reference run; at least 3 commands. */
function expectSameOutputs(a: Awaited<ReturnType<typeof outputs>>, b: Awaited<ReturnType<typeof outputs>>) {
  const key = (p: { host: string; ts: number; score: number; risk: string }) =>
    `${p.host}@${p.ts}=${p.score.toFixed(9)}/${p.risk}`
  expect(b.preds.length).toBe(a.preds.length)
  expect(b.preds.map(key).sort()).toEqual(a.preds.map(key).sort())
  expect(a.cmds.length).toBeGreaterThanOrEqual(3)
  expect(b.cmds.map((c) => c.id).sort()).toEqual(a.cmds.map((c) => c.id).sort())
}

/**
 * A 12-host fleet scored once on a clean cluster (the reference), and the same records on a
 * second cluster for a run with injected faults; `committedAll`: that run committed them all.
 */
async function cleanRunAndFaultyFleet() {
  const recs = (t: string) => fleetRecords(t, { hosts: 12, steps: 150, failing: [1, 5, 9], rampSteps: 60 })
  const clean = new MemoryCluster({ maxBatchSize: 97, defaultPartitions: 3 })
  const tc = topicsFor()
  const all = recs(tc.metrics)
  await (await createMemoryBus(clean).producer()).send(all)
  await runScorer(clean, { topics: tc, fromBeginning: true, partitions: 3, policy }, (n) => n >= all.length)
  const faulty = new MemoryCluster({ maxBatchSize: 97, defaultPartitions: 3 })
  const tf = topicsFor()
  const base = createMemoryBus(faulty)
  await (await base.producer()).send(recs(tf.metrics))
  const committedAll = () => {
    const g = faulty.groups.get('preempt-scorer')
    return [...(g?.committed.values() ?? [])].reduce((s, o) => s + Number(o), 0) >= all.length
  }
  return { clean, tc, faulty, tf, base, committedAll }
}

/**
 * `base` with its consumers' batches passed through `batches` (it hands them on to the
 * scorer's handler, changed or not) and every transaction's commit through `commit` (it
 * commits, or not); the rest as it is: the faults the tests below inject.
 */
function faultyBus(
  base: Bus,
  o: {
    batches?: (b: ConsumerBatch, handle: BatchHandler) => Promise<void>
    commit?: (commit: () => Promise<void>, transactionalId: string) => Promise<void>
  },
): Bus {
  return {
    kind: base.kind,
    readPartition: (t, p, r, f) => base.readPartition(t, p, r, f),
    producer: () => base.producer(),
    admin: () => base.admin(),
    close: () => base.close(),
    async consumer(opts) {
      const c = await base.consumer(opts)
      const batches = o.batches
      return {
        run: (h) => c.run(batches ? (b) => batches(b, h) : h),
        commit: (offs) => c.commit(offs),
        seek: (t) => c.seek(t),
        assignment: () => c.assignment(),
        close: () => c.close(),
      }
    },
    async transactionalProducer(opts) {
      const p = await base.transactionalProducer(opts)
      const commit = o.commit
      if (!commit) return p
      return {
        close: () => p.close(),
        async begin() {
          const tx = await p.begin()
          return {
            send: (m) => tx.send(m),
            sendOffsets: (g, off) => tx.sendOffsets(g, off),
            abort: () => tx.abort(),
            commit: () => commit(() => tx.commit(), opts.transactionalId),
          }
        },
      }
    },
  }
}

/** A scorer on `bus` until `done`; its stats at that point. */
async function runUntil(bus: Bus, topics: ReturnType<typeof topicsFor>, done: () => boolean) {
  const scorer = createScorer({
    bus,
    model: fakeModel(),
    config: { topics, fromBeginning: true, partitions: 3, policy },
    log,
  })
  await scorer.start()
  await eventually(done, 'the run with faults to commit the whole stream')
  const st = scorer.stats()
  await scorer.close(5000)
  return st
}

describe('stream scorer on the in-memory bus', () => {
  it('scores every vector, acts on the failing hosts only, with deterministic ids', async () => {
    const cluster = new MemoryCluster({ defaultPartitions: 3 })
    const topics = topicsFor()
    const bus = createMemoryBus(cluster)
    const admin = await bus.admin()
    await admin.createTopics([{ topic: topics.metrics, partitions: 3 }])
    const recs = fleetRecords(topics.metrics, { hosts: 20, steps: 120, failing: [3, 7], leaking: [11] })
    await (await bus.producer()).send(recs)
    const config: ScorerConfig = { topics, fromBeginning: true, partitions: 3, policy }
    const scorer = await runScorer(cluster, config, (n) => n >= recs.length)
    const { preds, cmds, dlq } = await outputs(bus, topics)
    // minHistory 3: every sample from a host's third on is a vector.
    expect(preds).toHaveLength(20 * (120 - 2))
    expect(dlq).toHaveLength(0)
    const actions = cmds.map((c) => `${c.host}:${c.action}`).sort()
    expect(actions).toEqual(['host-003:drain', 'host-007:drain', 'host-011:restart'])
    for (const c of cmds) {
      expect(c.reason.score).toBeGreaterThanOrEqual(0.5)
      expect(c.expiresAt - c.issuedAt).toBe(600_000)
      expect(c.reason.top.length).toBeGreaterThan(0)
    }
    // The prediction risk is the k-in-a-row rule.
    const h3 = preds.filter((p) => p.host === 'host-003').sort((a, b) => a.ts - b.ts)
    const firstAct = h3.findIndex((p) => p.risk === 'act')
    expect(h3.slice(firstAct - 3, firstAct).map((p) => p.score >= 0.5)).toEqual([false, true, true])
    expect(scorer.stats().commands).toEqual({ drain: 2, restart: 1 })
    // Policy state went to the compacted state topic, with a checkpoint per partition.
    expect(cluster.topics.get(topics.state)!.partitions.every((p) => p.length > 0)).toBe(true)
  })

  it('explains the first vector of a hot run and every explainEvery-th after it, and every vector the policy acts on', async () => {
    const run = async (explainEvery: number) => {
      const cluster = new MemoryCluster({ defaultPartitions: 3 })
      const topics = topicsFor()
      const bus = createMemoryBus(cluster)
      const recs = fleetRecords(topics.metrics, { hosts: 20, steps: 120, failing: [3, 7], leaking: [11] })
      await (await bus.producer()).send(recs)
      const model = fakeModel()
      let explained = 0
      const explain = model.explain
      model.explain = (x, rows, k) => {
        explained += rows
        return explain(x, rows, k)
      }
      const config: ScorerConfig = { topics, fromBeginning: true, partitions: 3, policy, explainEvery }
      await runScorer(cluster, config, (n) => n >= recs.length, model)
      return { ...(await outputs(bus, topics)), explained }
    }
    const every = await run(1)
    const some = await run(4)
    // The same scores, risks and commands, down to their explanations.
    const key = (p: { host: string; ts: number; score: number; risk: string }) =>
      `${p.host}@${p.ts}=${p.score}/${p.risk}`
    expect(some.preds.map(key).sort()).toEqual(every.preds.map(key).sort())
    const cmd = (c: { id: string; reason: { top: unknown[] } }) => JSON.stringify([c.id, c.reason.top])
    expect(some.cmds.map(cmd).sort()).toEqual(every.cmds.map(cmd).sort())
    expect(some.cmds.length).toBe(3)
    const lo = 0.5 * 0.75
    const acted = new Set(some.cmds.map((c) => `${c.host}@${c.reason.predictionTs}`))
    let hot = 0
    let withTop = 0
    for (const host of new Set(some.preds.map((p) => p.host))) {
      const mine = some.preds.filter((p) => p.host === host).sort((a, b) => a.ts - b.ts)
      let runLength = 0
      for (const p of mine) {
        if (p.score < lo) {
          runLength = 0
          expect(p.top).toEqual([])
          continue
        }
        hot++
        const want = runLength % 4 === 0 || acted.has(`${p.host}@${p.ts}`)
        expect(p.top.length > 0, `${host} at ${p.ts}, ${runLength} in the run`).toBe(want)
        if (want) withTop++
        runLength++
      }
    }
    expect(hot).toBeGreaterThan(40)
    // Every hot vector explained with 1; a quarter of them (and the acted-on ones) with 4.
    expect(every.explained).toBe(hot)
    expect(some.explained).toBe(withTop)
    expect(withTop).toBeLessThan(hot / 2)
  })

  it('sends malformed, late and non-finite records to the DLQ with reasons; good output unchanged', async () => {
    const clean = new MemoryCluster()
    const dirty = new MemoryCluster()
    const tc = topicsFor()
    const td = topicsFor()
    const recs = fleetRecords('x', { hosts: 10, steps: 80, failing: [2] })
    await (await createMemoryBus(clean).producer()).send(recs.map((r) => ({ ...r, topic: tc.metrics })))
    const mixed = []
    const bad = [
      { key: 'host-001', value: 'not json' },
      { key: 'host-001', value: JSON.stringify({ v: 1, host: 'host-002', ts: T0, metrics: {} }) }, // key ≠ host
      { key: 'host-004', value: '{"v":1,"host":"host-004","ts":1764547200000,"metrics":{"err":1e400}}' },
      { key: 'host-005', value: JSON.stringify({ v: 1, host: 'host-005', ts: T0 - 3_600_000, metrics: { err: 0 } }) }, // late
      { key: 'host-006', value: JSON.stringify({ v: 2, host: 'host-006', ts: T0, metrics: {} }) },
    ]
    let nBad = 0
    let nLate = 0
    for (let i = 0; i < recs.length; i++) {
      mixed.push({ ...recs[i]!, topic: td.metrics })
      // After each host has history (so the late record is late), a bad record every 3rd.
      if (i > 100 && i % 3 === 0) {
        if (nBad % bad.length === 3) nLate++
        const b = bad[nBad++ % bad.length]!
        mixed.push({ topic: td.metrics, key: b.key, value: b.value })
      }
    }
    await (await createMemoryBus(dirty).producer()).send(mixed)
    const cfg = (topics: typeof tc): ScorerConfig => ({ topics, fromBeginning: true, policy })
    await runScorer(clean, cfg(tc), (n) => n >= recs.length)
    await runScorer(dirty, cfg(td), (n) => n >= mixed.length)
    const a = await outputs(createMemoryBus(clean), tc)
    const b = await outputs(createMemoryBus(dirty), td)
    expect(b.dlq).toHaveLength(nBad)
    const reasons = b.dlq.map((m) => {
      const d = decodeDeadLetter(m.value!)
      if (!d.ok) throw new Error('bad dead letter')
      return d.value.error.code
    })
    // 1e400 parses to Infinity, which the contract refuses (metrics are finite numbers or null).
    expect(new Set(reasons)).toEqual(new Set(['PREEMPT_ERR_CONTRACT_INVALID', 'PREEMPT_ERR_STREAM_LATE']))
    expect(reasons.filter((r) => r === 'PREEMPT_ERR_STREAM_LATE').length).toBe(nLate)
    const key = (p: { host: string; ts: number; score: number }) => `${p.host}@${p.ts}=${p.score}`
    expect(b.preds.map(key).sort()).toEqual(a.preds.map(key).sort())
    expect(b.cmds.map((c) => c.id).sort()).toEqual(a.cmds.map((c) => c.id).sort())
  })

  it('restarts mid-stream with the same predictions and commands as an uninterrupted run', async () => {
    const recs = (t: string) => fleetRecords(t, { hosts: 12, steps: 150, failing: [1, 5, 9], rampSteps: 60 })
    const whole = new MemoryCluster({ maxBatchSize: 97 })
    const tw = topicsFor()
    const all = recs(tw.metrics)
    await (await createMemoryBus(whole).producer()).send(all)
    await runScorer(whole, { topics: tw, fromBeginning: true, policy }, (n) => n >= all.length)

    const split = new MemoryCluster({ maxBatchSize: 97 })
    const ts = topicsFor()
    const parts = recs(ts.metrics)
    const producer = await createMemoryBus(split).producer()
    // Five stops at arbitrary points; each new scorer restores from the changelog and replay.
    const cuts = [300, 611, 900, 1333, 1500]
    let sent = 0
    for (const cut of [...cuts, parts.length]) {
      await producer.send(parts.slice(sent, cut))
      sent = cut
      await runScorer(split, { topics: ts, fromBeginning: true, policy }, () => {
        const g = split.groups.get('preempt-scorer')
        const committed = [...(g?.committed.values() ?? [])].reduce((s, o) => s + Number(o), 0)
        return committed >= cut
      })
    }
    expectSameOutputs(await outputs(createMemoryBus(whole), tw), await outputs(createMemoryBus(split), ts))
  })

  it('a transaction that fails for good restarts its partition from the committed offset: the same output as a clean run', async () => {
    const { clean, tc, faulty, tf, base, committedAll } = await cleanRunAndFaultyFleet()
    // Commits 4 and 9 fail as a fenced producer's would (not retriable: the partition
    // restarts); commit 15 with a retriable error (the transaction is retried).
    let commits = 0
    const fatal = new Set([4, 9])
    const stale = new Set<number>()
    let staleHanded = 0
    const bus = faultyBus(base, {
      // After a fatal failure, the partition's next batch is replaced by a stale one (the
      // records after it, as a fetch issued before the restart's seek could bring).
      async batches(b, h) {
        if (b.topic === tf.metrics && stale.has(b.partition)) {
          stale.delete(b.partition)
          const later = faulty.read(b.topic, b.partition, Number(b.messages.at(-1)!.offset) + 1, true, 97)
          if (later.length) {
            staleHanded++
            return h({ ...b, messages: later })
          }
        }
        return h(b)
      },
      async commit(commit, transactionalId) {
        const n = ++commits
        // Commits take a while, as a broker's do: the next batch computes meanwhile.
        await new Promise((r) => setTimeout(r, n % 3))
        if (fatal.has(n)) {
          stale.add(Number(transactionalId.split('-').at(-1)))
          throw Object.assign(new Error('injected: producer fenced'), { retriable: false })
        }
        if (n === 15) throw new PreemptError('PREEMPT_ERR_BUS_TRANSACTION', 'injected: coordinator moved')
        await commit()
      },
    })
    const st = await runUntil(bus, tf, committedAll)
    expect(st.partitionRestarts).toBe(2)
    expect(staleHanded).toBeGreaterThanOrEqual(1)
    expect(st.transactionsAborted).toBe(3)
    expectSameOutputs(await outputs(createMemoryBus(clean), tc), await outputs(base, tf))
  })

  it('records delivered again while their transaction still commits (a rebalance) are not taken twice', async () => {
    const { clean, tc, faulty, tf, base, committedAll } = await cleanRunAndFaultyFleet()
    // kafkajs, after a rebalance, fetches each partition again from the group's committed
    // offset — behind the batch whose transaction is still committing. Batches 3, 8 and 13 are
    // handed over again at once: the same records, then 20 more (partly taken, partly new).
    let batches = 0
    let again = 0
    const bus = faultyBus(base, {
      async batches(b, h) {
        await h(b)
        if (b.topic !== tf.metrics || ![3, 8, 13].includes(++batches)) return
        again++
        const first = Number(b.messages[0]!.offset)
        await h({ ...b, messages: faulty.read(b.topic, b.partition, first, true, b.messages.length + 20) })
      },
      async commit(commit) {
        // Slow commits: the batch is handed over again while its transaction is open.
        await new Promise((r) => setTimeout(r, 5))
        await commit()
      },
    })
    const st = await runUntil(bus, tf, committedAll)
    expect(again).toBe(3)
    expect(st.redelivered).toBeGreaterThanOrEqual(3 * 20)
    expect(st.deadLetters['PREEMPT_ERR_STREAM_LATE'] ?? 0).toBe(0)
    expectSameOutputs(await outputs(createMemoryBus(clean), tc), await outputs(base, tf))
  })

  it('a restored partition skips records below its committed offset that a stale fetch delivers (another owner committed meanwhile)', async () => {
    const { clean, tc, faulty, tf, base, committedAll } = await cleanRunAndFaultyFleet()
    // A first scorer takes part of every partition and stops: it is handed nothing past
    // offset 200 (however fast it runs, each partition keeps records for the next owner).
    const committed = () => [...(faulty.groups.get('preempt-scorer')?.committed.values() ?? [])].map(Number)
    const partial = faultyBus(base, {
      async batches(b, h) {
        if (b.topic === tf.metrics && Number(b.messages[0]!.offset) >= 200) return
        return h(b)
      },
    })
    await runUntil(partial, tf, () => committed().length === 3 && Math.min(...committed()) >= 60)
    // The next owner's consumer fetched its start before that owner's last transactions
    // committed: each partition's first batch begins 30 records before the committed offset.
    const first = new Set<number>()
    let stale = 0
    const bus = faultyBus(base, {
      async batches(b, h) {
        if (b.topic !== tf.metrics || first.has(b.partition)) return h(b)
        first.add(b.partition)
        const from = Math.max(0, Number(b.messages[0]!.offset) - 30)
        stale += Number(b.messages[0]!.offset) - from
        return h({ ...b, messages: faulty.read(b.topic, b.partition, from, true, b.messages.length + 30) })
      },
    })
    const st = await runUntil(bus, tf, committedAll)
    // 30 for each partition with records left for the second scorer: two of the three
    // (partition 0 holds one host, 150 records, all taken by the first scorer).
    expect(committed()).toContain(150)
    expect(stale).toBe(60)
    expect(st.redelivered).toBe(stale)
    expect(st.deadLetters['PREEMPT_ERR_STREAM_LATE'] ?? 0).toBe(0)
    expectSameOutputs(await outputs(createMemoryBus(clean), tc), await outputs(base, tf))
  })

  it('a restore that fails (the coordinator moving) is retried with the next batch, not left broken', async () => {
    const { clean, tc, tf, base, committedAll } = await cleanRunAndFaultyFleet()
    // The first two reads of committed offsets (each lane's restore) fail as under a rebalance.
    let failures = 2
    const bus: Bus = {
      kind: base.kind,
      readPartition: (t, p, r, f) => base.readPartition(t, p, r, f),
      producer: () => base.producer(),
      consumer: (o) => base.consumer(o),
      transactionalProducer: (o) => base.transactionalProducer(o),
      close: () => base.close(),
      async admin() {
        const a = await base.admin()
        return new Proxy(a, {
          get(target, key) {
            if (key === 'committedOffsets' && failures > 0)
              return async () => {
                failures--
                throw new PreemptError('PREEMPT_ERR_BUS_ADMIN', 'injected: this is not the correct coordinator')
              }
            const v = Reflect.get(target, key)
            return typeof v === 'function' ? v.bind(target) : v
          },
        })
      },
    }
    await runUntil(bus, tf, committedAll)
    expect(failures).toBe(0)
    expectSameOutputs(await outputs(createMemoryBus(clean), tc), await outputs(base, tf))
  })

  /** Ten hosts, host 3 failing, scored by `model` with the head answering `estimate` for every vector. */
  const runWithEstimate = async (model: StreamModel, estimate: TtfEstimate) => {
    const cluster = new MemoryCluster({ defaultPartitions: 3 })
    const topics = topicsFor()
    const bus = createMemoryBus(cluster)
    await (await bus.admin()).createTopics([{ topic: topics.metrics, partitions: 3 }])
    const recs = fleetRecords(topics.metrics, { hosts: 10, steps: 120, failing: [3] })
    await (await bus.producer()).send(recs)
    const withHead: StreamModel = { ...model, ttf: (_x, rows) => Array.from({ length: rows }, () => estimate) }
    const config: ScorerConfig = { topics, fromBeginning: true, partitions: 3, policy }
    const scorer = await runScorer(cluster, config, (n) => n >= recs.length, withHead)
    return { scorer, ...(await outputs(bus, topics)) }
  }

  it('carries the time to failure on predictions the policy may act on, and holds actions while the failure is not yet due', async () => {
    const run = (medianMs: number) =>
      runWithEstimate(fakeModel(), {
        medianMs,
        lowMs: medianMs / 2,
        highMs: null,
        ifFailsMs: medianMs,
        maxMs: 120 * 60_000,
      })
    // Due in 3 h, later than the horizon (30 min, the default actWithinMs): held.
    const later = await run(180 * 60_000)
    expect(later.cmds).toEqual([])
    expect(later.scorer.policy.counters.blocked['not_yet']).toBeGreaterThan(0)
    const hot = later.preds.filter((p) => p.score >= 0.375)
    expect(hot.length).toBeGreaterThan(0)
    for (const p of hot)
      expect(p.ttf).toEqual({
        medianMs: 180 * 60_000,
        lowMs: 90 * 60_000,
        highMs: null,
        ifFailsMs: 180 * 60_000,
        maxMs: 120 * 60_000,
      })
    expect(later.preds.filter((p) => p.score < 0.375).every((p) => p.ttf === undefined)).toBe(true)
    // Due in 10 min: acts as before.
    const soon = await run(10 * 60_000)
    expect(soon.cmds.map((c) => `${c.host}:${c.action}`)).toEqual(['host-003:drain'])
  })

  it('pages by a rule gated on the time to failure: a high score whose failure the head puts past the gate is no page', async () => {
    const base = fakeModel()
    const run = (medianMs: number | null) =>
      runWithEstimate(
        { ...base, rule: { ...base.rule, within: 60 * 60_000 } },
        { medianMs, lowMs: null, highMs: null, ifFailsMs: 10 * 60_000, maxMs: 120 * 60_000 },
      )
    // The failure is 3 h away, or past the head's reach: high scores, but no page — no command, nothing held.
    for (const medianMs of [180 * 60_000, null]) {
      const r = await run(medianMs)
      expect(r.preds.some((p) => p.score >= 0.5)).toBe(true)
      expect(r.cmds).toEqual([])
      expect(r.scorer.policy.options.pageWithinMs).toBe(60 * 60_000)
      expect(r.scorer.policy.counters.blocked['not_yet'] ?? 0).toBe(0)
    }
    // Within the hour: the same scores page and act.
    const soon = await run(30 * 60_000)
    expect(soon.cmds.map((c) => `${c.host}:${c.action}`)).toEqual(['host-003:drain'])
  })

  it('storm: a fleet-wide rise gives one alert and no drain', async () => {
    const cluster = new MemoryCluster()
    const topics = topicsFor()
    const failing = Array.from({ length: 12 }, (_, i) => i)
    const recs = fleetRecords(topics.metrics, { hosts: 20, steps: 80, failing })
    await (await createMemoryBus(cluster).producer()).send(recs)
    await runScorer(cluster, { topics, fromBeginning: true }, (n) => n >= recs.length)
    const { cmds } = await outputs(createMemoryBus(cluster), topics)
    expect(cmds.map((c) => `${c.host}:${c.action}`)).toEqual(['fleet:alert'])
  })

  it('kill switch and dry run', async () => {
    const cluster = new MemoryCluster()
    const topics = topicsFor()
    const recs = fleetRecords(topics.metrics, { hosts: 10, steps: 80, failing: [4] })
    await (await createMemoryBus(cluster).producer()).send(recs)
    await runScorer(
      cluster,
      { topics, fromBeginning: true, policy: { ...policy, killSwitch: true } },
      (n) => n >= recs.length,
    )
    expect((await outputs(createMemoryBus(cluster), topics)).cmds).toEqual([])
    const c2 = new MemoryCluster()
    const t2 = topicsFor()
    await (await createMemoryBus(c2).producer()).send(recs.map((r) => ({ ...r, topic: t2.metrics })))
    await runScorer(
      c2,
      { topics: t2, fromBeginning: true, policy: { ...policy, dryRun: true } },
      (n) => n >= recs.length,
    )
    const { cmds } = await outputs(createMemoryBus(c2), t2)
    expect(cmds.map((c) => [c.host, c.action, c.dryRun])).toEqual([['host-004', 'drain', true]])
  })
})

describe('model hot swap', () => {
  it('activates another model between batches; a different feature spec rebuilds the windows from the log', async () => {
    const cluster = new MemoryCluster({ maxBatchSize: 50 })
    const topics = topicsFor()
    const recs = fleetRecords(topics.metrics, { hosts: 5, steps: 60, failing: [] })
    const producer = await createMemoryBus(cluster).producer()
    await producer.send(recs.slice(0, 150))
    const bus = createMemoryBus(cluster)
    const scorer = createScorer({ bus, model: fakeModel(), log, config: { topics, fromBeginning: true, policy } })
    await scorer.start()
    await eventually(() => scorer.stats().records >= 150, 'first half')
    // Same features, another rule: only the policy changes.
    await scorer.activate(fakeModel({ name: 'v2', threshold: 0.9, consecutive: 5 }))
    expect(scorer.model.name).toBe('v2')
    expect(scorer.policy.options).toMatchObject({ thresholdHigh: 0.9, consecutive: 5, model: { name: 'v2' } })
    expect(scorer.stats().restores).toBe(0)
    // Other windows: the engine is rebuilt by replaying each partition to its committed offset.
    const other = fakeModel({ name: 'v3' })
    other.spec = { ...other.spec, windows: [2 * 60_000, 15 * 60_000] }
    await scorer.activate(other)
    expect(scorer.stats().restores).toBe(1)
    await producer.send(recs.slice(150))
    await eventually(() => scorer.stats().records >= recs.length, 'second half')
    await scorer.close(5000)
    const { preds } = await outputs(bus, topics)
    expect(preds.filter((p) => p.model.name === 'fake')).toHaveLength(150 - 5 * 2)
    // No warm-up gap after the swap: the rebuilt windows carry the history.
    expect(preds.filter((p) => p.model.name === 'v3')).toHaveLength(recs.length - 150)
  })
})
