import { describe, expect, it } from 'vitest'
import { createMemoryBus, MemoryCluster } from '../../src/bus/index.js'
import { createLogger } from '../../src/log.js'
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
