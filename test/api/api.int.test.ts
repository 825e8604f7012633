import { describe, expect, it } from 'vitest'
import { type ApiService, createApiService } from '../../src/api/index.js'
import { loadConfig } from '../../src/config/index.js'
import { createLogger } from '../../src/log.js'
import { createScorer, type Scorer } from '../../src/stream/scorer.js'
import { createTestKafkaBus, eventually, uniqueName } from '../helpers/bus.js'
import { fakeModel, fleetRecords, topicsFor } from '../stream/helpers.js'

const log = createLogger({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' })

describe('REST API against the real broker', () => {
  it('two serve instances split the partitions, and each answers for every host', async (ctx) => {
    const topics = topicsFor('api-int')
    const group = uniqueName('api-int')
    const seed = createTestKafkaBus(ctx)
    seed.ownTopics.push(...Object.values(topics))
    const admin = await seed.admin()
    await admin.createTopics([{ topic: topics.metrics, partitions: 4 }])
    await admin.close()
    const recs = fleetRecords(topics.metrics, { hosts: 24, steps: 60, failing: [5], rampSteps: 30 })
    await (await seed.producer()).send(recs)

    const config = loadConfig({ overrides: { topics, api: { token: 'integration-token-0123' } } })
    const instances: { scorer: Scorer; api: ApiService }[] = []
    for (let i = 0; i < 2; i++) {
      const bus = createTestKafkaBus(ctx)
      const scorer = createScorer({
        bus,
        model: fakeModel(),
        log,
        config: {
          topics,
          groupId: group,
          fromBeginning: true,
          partitions: 4,
          policy: { guards: { maxConcurrentFraction: 0.5 } },
        },
      })
      await scorer.start()
      const api = await createApiService({
        bus,
        config,
        log,
        version: 'test',
        scorer,
        scorerGroup: group,
        snapshotMs: 0,
      })
      await api.start()
      instances.push({ scorer, api })
      ctx.onTestFinished(async () => {
        await api.close()
        await scorer.close(10_000)
      })
    }
    await eventually(
      () => instances.reduce((n, i) => n + i.scorer.stats().records, 0) >= recs.length,
      'both scorers to consume the stream',
      90_000,
    )
    // The group split the partitions: neither scored the whole fleet…
    const owned = instances.map((i) => i.scorer.stats().assigned.length)
    expect(owned.every((n) => n > 0)).toBe(true)
    expect(owned.reduce((a, b) => a + b, 0)).toBe(4)
    // …yet each API knows every host.
    await eventually(
      () => instances.every((i) => i.api.view.hostCount === 24 && i.api.view.commandCount >= 1),
      'both APIs to materialise every host',
      60_000,
    )
    const pages = []
    for (const { api } of instances) {
      const res = await api.app.inject({ method: 'GET', url: '/v1/predictions?sort=host&limit=1000' })
      expect(res.statusCode).toBe(200)
      pages.push(res.json())
    }
    expect(pages[0].total).toBe(24)
    // Same latest prediction per host from both (the newest sample of each host is the same).
    const latest = (p: { items: { host: string; ts: number; score: number }[] }) =>
      p.items.map((i) => `${i.host}@${i.ts}:${i.score}`)
    expect(latest(pages[0])).toEqual(latest(pages[1]))
    for (const { api } of instances)
      for (let h = 0; h < 24; h++) {
        const host = `host-${String(h).padStart(3, '0')}`
        const res = await api.app.inject({ method: 'GET', url: `/v1/hosts/${host}` })
        expect(res.statusCode, host).toBe(200)
        expect(res.json().prediction.host).toBe(host)
      }
    // The failing host's drain is visible from both, whichever scorer sent it.
    for (const { api } of instances) {
      const c = (await api.app.inject({ method: 'GET', url: '/v1/commands?host=host-005' })).json()
      expect(c.items.map((x: { command: { action: string } }) => x.command.action)).toEqual(['drain'])
    }
    // Ready on both: broker reachable, partitions restored, read model caught up.
    for (const { api } of instances) {
      await eventually(() => api.materializer.ready(), 'read model caught up', 10_000)
      const r = await api.app.inject({ method: 'GET', url: '/readyz' })
      expect(r.json().checks).toMatchObject({ broker_reachable: true, partitions_restored: true })
      expect(r.statusCode).toBe(200)
    }
    // The kill switch set through one instance reaches the other scorer through the state topic.
    const on = await instances[0]!.api.app.inject({
      method: 'POST',
      url: '/v1/policy/kill-switch',
      payload: { on: true },
      headers: { authorization: 'Bearer integration-token-0123' },
    })
    expect(on.statusCode).toBe(200)
    await eventually(
      () => instances[1]!.scorer.policy.options.killSwitch,
      'the other scorer to see the kill switch',
      20_000,
    )
  })
})
