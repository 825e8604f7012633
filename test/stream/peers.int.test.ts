import { describe, expect, it } from 'vitest'
import { createKafkaBus } from '../../src/bus/index.js'
import { createLogger } from '../../src/log.js'
import { createScorer, type ScorerConfig } from '../../src/stream/scorer.js'
import { createTestKafkaBus, eventually, kafkaBrokers, uniqueName } from '../helpers/bus.js'
import { expectOffline, fleetRecords, offlineScores, outputs, peerModel, topicsFor } from './helpers.js'

const log = createLogger({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' })
const policy: ScorerConfig['policy'] = { guards: { maxConcurrentFraction: 0.5 } }
const PARTITIONS = 3

/**
 * Peer features against the broker: hosts of one service spread over 3 partitions, their
 * bucket means crossing partitions (and instances) through the state topic in each batch's
 * transaction. The bound of stream/peers.ts: with no stall and no amendment, the stream's
 * scores are the offline ones.
 */
describe('peer features across partitions, real broker', () => {
  async function setup(ctx: Parameters<typeof createTestKafkaBus>[0], prefix: string) {
    const bus = createTestKafkaBus(ctx)
    const topics = topicsFor(prefix)
    bus.ownTopics.push(...Object.values(topics))
    // Event times are weeks old: keep everything the test counts.
    const admin = await bus.admin()
    await admin.createTopics(
      [topics.metrics, topics.predictions, topics.commands].map((topic) => ({
        topic,
        partitions: PARTITIONS,
        configs: { 'retention.ms': '-1' },
      })),
    )
    await admin.close()
    const recs = fleetRecords(topics.metrics, { hosts: 16, steps: 240, failing: [5] })
    return { bus, topics, recs, want: offlineScores(peerModel(), recs) }
  }

  it('one scorer: the same scores as offline, the lone riser drained, no stall', async (ctx) => {
    const { bus, topics, recs, want } = await setup(ctx, 'peers1')
    await (await bus.producer()).send(recs)
    const scorer = createScorer({
      bus,
      model: peerModel(),
      log,
      config: { topics, groupId: uniqueName('g'), fromBeginning: true, partitions: PARTITIONS, policy },
    })
    await scorer.start()
    await eventually(() => scorer.stats().records >= recs.length, 'scorer to consume', 120_000)
    await scorer.close(20_000)
    const { preds, cmds } = await outputs(bus, topics)
    expectOffline(preds, want)
    expect(cmds.map((c) => `${c.host}:${c.action}`)).toEqual(['host-005:drain'])
    const st = scorer.stats().peers!
    expect(st.timeouts).toBe(0)
    expect(st.amended).toBe(0)
  }, 180_000)

  it('two scorers in one group: peers of the other instance arrive through the state topic; same scores', async (ctx) => {
    const { bus, topics, recs, want } = await setup(ctx, 'peers2')
    const group = uniqueName('g')
    const mk = () =>
      createKafkaBus({ brokers: kafkaBrokers(), logger: log, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1000 })
    const buses = [mk(), mk()]
    const cfg: ScorerConfig = { topics, groupId: group, fromBeginning: true, partitions: PARTITIONS, policy }
    const scorers = buses.map((b) => createScorer({ bus: b, model: peerModel(), log, config: cfg }))
    for (const s of scorers) await s.start()
    await eventually(() => scorers.every((s) => s.stats().assigned.length > 0), 'both to own partitions', 60_000)
    await (await bus.producer()).send(recs)
    await eventually(
      () => scorers.reduce((n, s) => n + s.stats().records, 0) >= recs.length,
      'the two to consume everything',
      120_000,
    )
    for (const s of scorers) await s.close(20_000)
    for (const b of buses) await b.close()
    const { preds } = await outputs(bus, topics)
    expectOffline(preds, want)
    for (const s of scorers) {
      expect(s.stats().peers!.timeouts).toBe(0)
      expect(s.stats().peers!.amended).toBe(0)
    }
    // Each instance waited for the other's buckets at least once: the exchange was exercised.
    expect(scorers.every((s) => s.stats().peers!.waits > 0)).toBe(true)
  }, 180_000)
})
