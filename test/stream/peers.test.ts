import { describe, expect, it } from 'vitest'
import { createMemoryBus, MemoryCluster } from '../../src/bus/index.js'
import { PeerAccumulator, PeerTable } from '../../src/features/peers.js'
import { createFeatureSpec } from '../../src/features/spec.js'
import { createLogger } from '../../src/log.js'
import { PeerExchange } from '../../src/stream/peers.js'
import { createScorer, type ScorerConfig } from '../../src/stream/scorer.js'
import { eventually } from '../helpers/bus.js'
import { expectOffline, fleetRecords, offlineScores, outputs, peerModel, topicsFor } from './helpers.js'

const log = createLogger({ level: 'silent' })
const policy: ScorerConfig['policy'] = { guards: { maxConcurrentFraction: 0.5 } }

async function serve(cluster: MemoryCluster, config: ScorerConfig, records: number, model = peerModel()) {
  const bus = createMemoryBus(cluster)
  const scorer = createScorer({ bus, model, config, log })
  await scorer.start()
  await eventually(() => scorer.stats().records >= records, 'scorer to consume the stream', 20_000)
  await scorer.close(5000)
  const out = await outputs(bus, config.topics)
  await bus.close()
  return { scorer, ...out }
}

/** 12 hosts over 3 partitions in batches of 97 records, one failing; and the group's committed total. */
async function smallBatches(prefix: string) {
  const cluster = new MemoryCluster({ maxBatchSize: 97 })
  const topics = topicsFor(prefix)
  const bus = createMemoryBus(cluster)
  await (await bus.admin()).createTopics([{ topic: topics.metrics, partitions: 3 }])
  const recs = fleetRecords(topics.metrics, { hosts: 12, steps: 150, failing: [5], rampSteps: 60 })
  const cfg: ScorerConfig = { topics, fromBeginning: true, partitions: 3, policy, peerPollMs: 0 }
  const committed = () =>
    [...(cluster.groups.get('preempt-scorer')?.committed.values() ?? [])].reduce((s, o) => s + Number(o), 0)
  return { cluster, topics, bus, recs, producer: await bus.producer(), cfg, committed }
}

describe('peer features in the stream', () => {
  it('across 3 partitions: the same scores as offline, a host that rises alone is drained, no waits run out', async () => {
    const cluster = new MemoryCluster()
    const topics = topicsFor('peers')
    const bus = createMemoryBus(cluster)
    await (await bus.admin()).createTopics([{ topic: topics.metrics, partitions: 3 }])
    const recs = fleetRecords(topics.metrics, { hosts: 12, steps: 120, failing: [4] })
    await (await bus.producer()).send(recs)
    const { scorer, preds, cmds } = await serve(
      cluster,
      { topics, fromBeginning: true, partitions: 3, policy, peerPollMs: 0 },
      recs.length,
    )
    const want = offlineScores(peerModel(), recs)
    expectOffline(preds, want)
    expect(Math.max(...preds.filter((p) => p.host === 'host-004').map((p) => p.score))).toBe(1)
    expect(cmds.map((c) => `${c.host}:${c.action}`)).toEqual(['host-004:drain'])
    const st = scorer.stats().peers!
    expect(st.timeouts).toBe(0)
    expect(st.amended).toBe(0)
    expect(st.stalled).toEqual([])
  })

  it('restarts mid-stream (five stops) with the scores of offline: peers restored from the state topic', async () => {
    const { cluster, topics, bus, recs, producer, cfg, committed } = await smallBatches('peers-restart')
    let sent = 0
    const stalls: number[] = []
    for (const cut of [300, 611, 900, 1333, 1500, recs.length]) {
      await producer.send(recs.slice(sent, cut))
      sent = cut
      const scorer = createScorer({ bus: createMemoryBus(cluster), model: peerModel(), config: cfg, log })
      await scorer.start()
      await eventually(() => committed() >= cut, `committed ${cut}`, 20_000)
      await scorer.close(5000)
      stalls.push(scorer.stats().peers!.timeouts)
    }
    const { preds, cmds } = await outputs(bus, topics)
    const want = offlineScores(peerModel(), recs)
    expectOffline(preds, want)
    expect(stalls).toEqual([0, 0, 0, 0, 0, 0])
    expect(cmds.map((c) => `${c.host}:${c.action}`)).toEqual(['host-005:drain'])
  })

  it('a second instance joins mid-stream: the partitions it takes over read the first one’s peers from the state topic', async () => {
    const { cluster, topics, bus, recs, producer, cfg, committed } = await smallBatches('peers-join')
    const a = createScorer({ bus: createMemoryBus(cluster), model: peerModel(), config: cfg, log })
    await producer.send(recs.slice(0, 900))
    await a.start()
    await eventually(() => committed() >= 900, 'A to commit the first part', 20_000)
    const b = createScorer({ bus: createMemoryBus(cluster), model: peerModel(), config: cfg, log })
    await b.start()
    await eventually(
      () => b.stats().assigned.length > 0 && a.stats().assigned.length < 3,
      'B to take partitions over',
      20_000,
    )
    await producer.send(recs.slice(900))
    await eventually(() => committed() >= recs.length, 'both to commit the rest', 20_000)
    await a.close(5000)
    await b.close(5000)
    const { preds } = await outputs(bus, topics)
    const want = offlineScores(peerModel(), recs)
    expectOffline(preds, want)
    expect(a.stats().peers!.timeouts + b.stats().peers!.timeouts).toBe(0)
  })

  it('a whole service rising together is nobody’s fault: no command', async () => {
    const cluster = new MemoryCluster()
    const topics = topicsFor('peers-storm')
    const bus = createMemoryBus(cluster)
    await (await bus.admin()).createTopics([{ topic: topics.metrics, partitions: 3 }])
    const recs = fleetRecords(topics.metrics, { hosts: 12, steps: 120, failing: [...Array(12).keys()] })
    await (await bus.producer()).send(recs)
    const { preds, cmds } = await serve(
      cluster,
      { topics, fromBeginning: true, partitions: 3, policy, peerPollMs: 0 },
      recs.length,
    )
    expect(preds.length).toBeGreaterThan(1000)
    expect(Math.max(...preds.map((p) => p.score))).toBeLessThan(0.2)
    expect(cmds).toHaveLength(0)
  })

  it('a partition with no data stalls after peerWaitMs: the others go on without it, and say so', async () => {
    const cluster = new MemoryCluster()
    const topics = topicsFor('peers-idle')
    const bus = createMemoryBus(cluster)
    await (await bus.admin()).createTopics([{ topic: topics.metrics, partitions: 3 }])
    // Every record on partitions 0 and 1; partition 2 stays empty.
    const recs = fleetRecords(topics.metrics, { hosts: 12, steps: 60, failing: [] }).map((r, i) => ({
      ...r,
      partition: i % 2,
    }))
    await (await bus.producer()).send(recs)
    const { scorer, preds } = await serve(
      cluster,
      { topics, fromBeginning: true, partitions: 3, policy, peerWaitMs: 300, peerPollMs: 0 },
      recs.length,
    )
    expect(preds).toHaveLength(12 * 58)
    const st = scorer.stats().peers!
    expect(st.timeouts).toBe(1)
    expect(st.stalled).toEqual([2])
    expect(st.incomplete).toBeGreaterThan(0)
  })
})

describe('peer exchange', () => {
  const spec = createFeatureSpec({
    metrics: ['cpu', 'err', 'mem'],
    horizon: 30 * 60_000,
    timeUnit: 'ms',
    windows: [5 * 60_000, 15 * 60_000],
    peers: { by: 'service' },
  })
  const T = Date.UTC(2026, 10, 1)

  it('a sample into a bucket its partition already closed re-publishes it: the table converges to the offline one', () => {
    const x = new PeerExchange(spec, 5000)
    x.partitions = 1
    const table = new PeerTable(spec.peers!)
    const acc = new PeerAccumulator(spec.peers!, spec.lateness)
    const feed = (host: string, ts: number, v: number) => {
      const values = [v, v, v]
      const out = x.close(0, ts, true, 'state')
      x.count(0, host, 'web', ts, values, true)
      if (acc.add(host, 'web', ts, values) !== undefined)
        acc.takeFinal(host, (b, g, m) => table.add('csv', b, host, g, m))
      return out
    }
    // h0–h2 report every 10 s for 8 minutes; h3 goes silent after 1:50 …
    for (let t = 0; t < 480_000; t += 10_000) {
      for (const h of ['h0', 'h1', 'h2']) feed(h, T + t, 1 + Number(h[1]))
      if (t < 110_000) feed('h3', T + t, 9)
    }
    const b = Math.floor((T + 60_000) / 60_000) // the bucket 1:00–2:00, closed at 4:00
    expect(x.table.stats('web', b)!.count).toBe(4)
    // … and a sample of its own at 1:55 arrives now: within its lateness, after the partition closed 1:00–2:00.
    feed('h3', T + 115_000, 100)
    const out = x.close(0, T + 480_000, true, 'state')
    expect(x.stats.amended).toBe(1)
    expect(out.map((m) => m.key)).toContain(`__peers__:${b % 64}`)
    acc.takeAll((host, bb, g, m) => table.add('csv', bb, host, g, m))
    expect(Array.from(x.table.stats('web', b)!.own('h3')!)).toEqual(Array.from(table.stats('web', b)!.own('h3')!))
    expect(x.table.stats('web', b)!.own('h3')![0]).toBeGreaterThan(9)
  })

  it('is ready for a bucket only when every partition not stalled has closed it', () => {
    const x = new PeerExchange(spec, 5000)
    x.partitions = 2
    x.close(0, T + 600_000, true, 'state')
    const need = x.bucketFor(T + 600_000)
    expect(x.ready(need)).toBe(false)
    expect(x.lagging(need)).toEqual([1])
    x.stall([1])
    expect(x.ready(need)).toBe(true)
    // Partition 1 publishes again: it counts again.
    x.applyThrough(1, need - 1, spec.peers!.bucketMs)
    expect(x.stats.stalled).toEqual([])
    expect(x.ready(need)).toBe(false)
    x.applyThrough(1, need, spec.peers!.bucketMs)
    expect(x.ready(need)).toBe(true)
  })
})

describe('peer exchange memory', () => {
  it('an instance that owns no partition keeps only the recent buckets it hears of', () => {
    const spec = createFeatureSpec({ metrics: ['cpu'], horizon: 1_800_000, timeUnit: 'ms', peers: { by: 'service' } })
    const x = new PeerExchange(spec, 5000)
    x.partitions = 1
    for (let b = 0; b < 1000; b++) {
      x.apply(0, { bucket: b, bucketMs: 60_000, hosts: [{ host: 'h', group: 'g', values: Float32Array.of(1) }] })
      x.applyThrough(0, b, 60_000)
    }
    expect(x.table.bucketCount).toBeLessThanOrEqual(129)
    expect(x.table.sources(999)).toEqual(['0'])
  })
})
