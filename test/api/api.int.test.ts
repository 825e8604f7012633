import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type ApiService, createApiService } from '../../src/api/index.js'
import type { OutgoingMessage } from '../../src/bus/index.js'
import { loadConfig } from '../../src/config/index.js'
import { createLogger } from '../../src/log.js'
import { FleetSim } from '../../src/sim/engine.js'
import { busSink } from '../../src/sim/kafka-mode.js'
import { DEFAULT_ACTUATOR_PARAMS, DEFAULT_SIM_PARAMS } from '../../src/sim/model.js'
import { createScorer, type Scorer } from '../../src/stream/scorer.js'
import { createTestKafkaBus, eventually, kafkaBrokers, uniqueName } from '../helpers/bus.js'
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
    // Same latest prediction per host from both, once both have read to the end.
    const latest = (p: { items: { host: string; ts: number; score: number }[] }) =>
      p.items.map((i) => `${i.host}@${i.ts}:${i.score}`)
    for (let i = 0; i < 60 && latest(pages[0]).join() !== latest(pages[1]).join(); i++) {
      await new Promise((r) => setTimeout(r, 500))
      for (const [k, { api }] of instances.entries())
        pages[k] = (await api.app.inject({ method: 'GET', url: '/v1/predictions?sort=host&limit=1000' })).json()
    }
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
      // A rebalance (a heartbeat missed on a loaded machine) restores partitions again for a
      // while, and /readyz says so: wait it out.
      let r = await api.app.inject({ method: 'GET', url: '/readyz' })
      for (let i = 0; i < 60 && r.statusCode !== 200; i++) {
        await new Promise((res) => setTimeout(res, 500))
        r = await api.app.inject({ method: 'GET', url: '/readyz' })
      }
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

  it('two `preempt serve --api-port` processes (the CLI, models/demo): both answer for every host, both stop on SIGTERM', async (ctx) => {
    const topics = topicsFor('api-cli')
    const group = uniqueName('api-cli')
    const seed = createTestKafkaBus(ctx)
    seed.ownTopics.push(...Object.values(topics))
    const admin = await seed.admin()
    await admin.createTopics([{ topic: topics.metrics, partitions: 4 }])
    await admin.close()
    // 12 simulated hosts, 2 hours at 10 s: the metrics the demo model reads.
    const out: OutgoingMessage[] = []
    const sink = busSink(topics, (m) => out.push(m))
    new FleetSim(
      { ...DEFAULT_SIM_PARAMS, hosts: 12, durationMs: 2 * 3_600_000, intervalMs: 10_000, seed: 4 },
      sink,
      DEFAULT_ACTUATOR_PARAMS,
    ).runToEnd()
    await (await seed.producer()).send(out)
    const dir = mkdtempSync(join(tmpdir(), 'preempt-api-cli-'))
    ctx.onTestFinished(() => rmSync(dir, { recursive: true, force: true }))
    const cfgFile = join(dir, 'config.json')
    writeFileSync(
      cfgFile,
      JSON.stringify({ topics, log: { level: 'warn' }, kafka: { sessionTimeoutMs: 6000, heartbeatIntervalMs: 1000 } }),
    )
    const children: ChildProcess[] = []
    ctx.onTestFinished(() => {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
    })
    const urls: string[] = []
    const errs: string[] = []
    for (let i = 0; i < 2; i++) {
      const child = spawn(
        process.execPath,
        [
          'bin/preempt.js',
          '--config',
          cfgFile,
          'serve',
          '--model',
          'models/demo',
          '--group',
          group,
          '--from-beginning',
          '--partitions',
          '4',
          '--api-port',
          '0',
          '--no-progress',
        ],
        { env: { ...process.env, KAFKA_BROKERS: kafkaBrokers().join(',') }, stdio: ['ignore', 'ignore', 'pipe'] },
      )
      children.push(child)
      let err = ''
      child.stderr!.on('data', (d) => {
        err += d
        errs[i] = err
      })
      await eventually(() => /REST API on (http\S+)/.test(err), `serve ${i} to say where its API is:\n${err}`, 90_000)
      urls.push(/REST API on (http\S+)/.exec(err)![1]!)
    }
    // biome-ignore lint/suspicious/noExplicitAny: JSON answers, checked by the assertions
    const get = async (url: string): Promise<any> => (await fetch(url)).json()
    // Both APIs reach every host (each process scores only its partitions).
    let pages: { total: number; items: { host: string; ts: number; score: number }[] }[] = []
    const deadline = Date.now() + 120_000
    for (;;) {
      pages = await Promise.all(urls.map((u) => get(`${u}/v1/predictions?sort=host&limit=1000`)))
      const newest = pages.map((p) => p.items.map((i) => `${i.host}@${i.ts}`).join())
      if (pages.every((p) => p.total === 12) && newest[0] === newest[1]) {
        const stats = await Promise.all(urls.map((u) => get(`${u}/v1/stats`)))
        if (stats.reduce((n, st) => n + st.scorer.records, 0) >= sink.samples) break
      }
      if (Date.now() > deadline)
        throw new Error(
          `APIs never agreed: ${JSON.stringify(pages.map((p) => p.total))}; stderr of the two:\n${errs.map((e) => e.slice(-4000)).join('\n---\n')}`,
        )
      await new Promise((r) => setTimeout(r, 500))
    }
    expect(pages[0]!.items.map((i) => i.host)).toEqual(pages[1]!.items.map((i) => i.host))
    const owned = await Promise.all(urls.map(async (u) => (await get(`${u}/v1/stats`)).scorer.assigned.length))
    expect(owned.reduce((a, b) => a + b, 0)).toBe(4)
    for (const u of urls) {
      const host = (await get(`${u}/v1/hosts/${pages[0]!.items[0]!.host}`)) as { prediction: { host: string } }
      expect(host.prediction.host).toBe(pages[0]!.items[0]!.host)
      let ready = await fetch(`${u}/readyz`)
      for (let i = 0; i < 40 && ready.status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 500))
        ready = await fetch(`${u}/readyz`)
      }
      expect(ready.status, JSON.stringify(await ready.json())).toBe(200)
      expect(await (await fetch(`${u}/metrics`)).text()).toMatch(/^preempt_model_info\{name="demo"/m)
    }
    // SIGTERM: each finishes its batch and exits 0.
    const codes = await Promise.all(
      children.map(
        (c) =>
          new Promise<number | null>((resolve) => {
            c.once('exit', (code) => resolve(code))
            c.kill('SIGTERM')
          }),
      ),
    )
    expect(codes).toEqual([0, 0])
  }, 300_000)
})
