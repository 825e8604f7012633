import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CsvOptions } from '../../src/data/csv.js'
import { createLogger } from '../../src/log.js'
import { Rng } from '../../src/math/random.js'
import { loadModel } from '../../src/model/artifact.js'
import { initBackend } from '../../src/model/backend.js'
import { replayCsv } from '../../src/pipelines/replay.js'
import { scoreCsv } from '../../src/pipelines/score-csv.js'
import { trainFromCsv } from '../../src/pipelines/train.js'
import { streamModelOf } from '../../src/stream/model.js'
import { createScorer } from '../../src/stream/scorer.js'
import { createTestKafkaBus, eventually, uniqueName } from '../helpers/bus.js'
import { outputs, topicsFor } from './helpers.js'

/**
 * A model that reads its metrics per operating regime, served from Kafka: the scorer's
 * scores are `preempt score`'s on the same rows. 24 machines sampled each minute until they
 * fail (run to failure), flying at one of three settings that change every few samples and
 * move both sensors far more than wear does.
 */
const log = createLogger({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' })
const dir = mkdtempSync(join(tmpdir(), 'preempt-regimes-'))
const file = join(dir, 'metrics.csv')
const csv: CsvOptions = { files: [file], format: 'wide', timeCol: 'timestamp', entityCol: 'host', timeUnit: 'ms' }
const T0 = Date.UTC(2026, 10, 1)
let offline: Map<string, number>
let rows = 0

beforeAll(async () => {
  await initBackend()
  const rng = new Rng(21)
  const lines = ['timestamp,host,alt,temp,press']
  for (let h = 0; h < 24; h++) {
    const life = 150 + rng.int(0, 100)
    let alt = 0
    for (let t = 0; t < life; t++) {
      if (t % 7 === 0) alt = [0, 20, 40][rng.int(0, 3)]!
      const wear = Math.max(0, t - (life - 40)) * 0.3
      lines.push(
        `${T0 + t * 60_000},m${h},${alt},${(600 - 4 * alt + rng.normal() + wear).toFixed(3)},${(30 - alt / 2 + 0.2 * rng.normal() - 0.05 * wear).toFixed(3)}`,
      )
      rows++
    }
  }
  writeFileSync(file, `${lines.join('\n')}\n`)
  await trainFromCsv({
    csv,
    labels: { runToFailure: true },
    horizon: 30 * 60_000,
    lead: 0,
    out: join(dir, 'model'),
    name: 'regimes-it',
    kind: 'gbdt',
    classWeight: 'none',
    split: 'entity',
    seed: 5,
    targetPrecision: 0.9,
    costModel: { unplanned: 4 * 3_600_000, planned: 600_000, falseAlarm: 1_800_000, success: 0.9 },
    logger: log,
  })
  const loaded = await loadModel(join(dir, 'model'))
  offline = new Map()
  await scoreCsv(loaded, { csv }, (rs) => {
    for (const r of rs) offline.set(`${r.entity}@${r.ts}`, r.score)
  })
}, 300_000)

afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('operating regimes in the stream', () => {
  it('a CSV replayed through Kafka into the scorer gives preempt score’s scores (1e-9)', async (ctx) => {
    const meta = JSON.parse(readFileSync(join(dir, 'model', 'preempt.json'), 'utf8'))
    expect(meta.featureSpec.regimes.by).toEqual(['alt'])
    const bus = createTestKafkaBus(ctx)
    const topics = topicsFor('regimes')
    bus.ownTopics.push(...Object.values(topics))
    const r = await replayCsv({ bus, csv, topics, partitions: 2 })
    expect(r.rows).toBe(rows)
    const scorer = createScorer({
      bus,
      model: streamModelOf(await loadModel(join(dir, 'model'))),
      log,
      config: { topics, groupId: uniqueName('g'), fromBeginning: true, partitions: 2 },
    })
    await scorer.start()
    await eventually(() => scorer.stats().records >= rows, 'scorer to consume the replay', 120_000)
    await scorer.close(20_000)
    const { preds, dlq } = await outputs(bus, topics)
    expect(dlq).toHaveLength(0)
    expect(scorer.stats().offRegime).toBe(0)
    expect(preds).toHaveLength(offline.size)
    let maxDiff = 0
    for (const p of preds) {
      const want = offline.get(`${p.host}@${p.ts}`)
      expect(want, `${p.host}@${p.ts}`).toBeDefined()
      maxDiff = Math.max(maxDiff, Math.abs(want! - p.score))
    }
    expect(maxDiff).toBeLessThanOrEqual(1e-9)
    // The regimes matter to these scores: the same rows read raw would score otherwise.
    expect(new Set(preds.map((p) => p.score.toFixed(6))).size).toBeGreaterThan(20)
  }, 180_000)
})
