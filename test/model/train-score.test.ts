import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CsvOptions } from '../../src/data/csv.js'
import { loadFailuresCsv } from '../../src/data/labels.js'
import { createLogger } from '../../src/log.js'
import { loadModel, metadataVersion } from '../../src/model/artifact.js'
import { initBackend, tf } from '../../src/model/backend.js'
import { denseStackOf, logitGradient, Scorer, top } from '../../src/model/scorer.js'
import { type ScoredRow, scoreCsv } from '../../src/pipelines/score-csv.js'
import { type TrainOutcome, trainFromCsv } from '../../src/pipelines/train.js'
import { tunePageRule, tunePageRuleByBacktest } from '../../src/pipelines/tune.js'
import { costModelOf } from '../../src/policy/cost.js'
import { runSimulationToCsv, simulatedCsv } from '../../src/sim/csv.js'
import { DEFAULT_SIM_PARAMS } from '../../src/sim/model.js'

const HOUR = 3_600_000

/** Scores `rows` rows (and explains a few every tenth round) many times: the tensor count must not grow. */
function expectNoLeak(scorer: Scorer, x: Float64Array, o: { rows: number; explained: number; rounds: number }): void {
  scorer.score(x, o.rows)
  scorer.explain(x, o.explained)
  const before = tf.memory().numTensors
  for (let i = 0; i < o.rounds; i++) {
    scorer.score(x, o.rows)
    if (i % 10 === 0) scorer.explain(x, o.explained)
  }
  expect(tf.memory().numTensors).toBe(before)
}
const dir = mkdtempSync(join(tmpdir(), 'preempt-train-'))
const fleet = join(dir, 'fleet')
const modelDir = join(dir, 'model')
let trained: TrainOutcome
const fleetCsv: CsvOptions = simulatedCsv(fleet)
const fleetFailures = () =>
  loadFailuresCsv(join(fleet, 'failures.csv'), { timeCol: 'timestamp', entityCol: 'host', timeUnit: 'ms' })

beforeAll(async () => {
  await initBackend()
  await runSimulationToCsv(
    { ...DEFAULT_SIM_PARAMS, hosts: 16, durationMs: 36 * HOUR, intervalMs: 60_000, mtbfMs: 12 * HOUR, seed: 4 },
    fleet,
  )
  trained = await trainFromCsv({
    csv: fleetCsv,
    labels: { failuresFile: join(fleet, 'failures.csv') },
    horizon: HOUR,
    lead: 2 * 60_000,
    out: modelDir,
    name: 'unit',
    kind: 'mlp',
    classWeight: 'balanced',
    split: 'entity',
    seed: 3,
    epochs: 3,
    targetPrecision: 0.9,
    costModel: { unplanned: 4 * HOUR, planned: 600_000, falseAlarm: 1_800_000, success: 0.9 },
    logger: createLogger({ level: 'silent' }),
  })
}, 120_000)

afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function scoreAll(m = modelDir): Promise<ScoredRow[]> {
  const loaded = await loadModel(m)
  const rows: ScoredRow[] = []
  await scoreCsv(
    loaded,
    {
      csv: fleetCsv,
    },
    (r) => {
      rows.push(...r)
    },
  )
  loaded.model.dispose()
  return rows
}

describe('train → save → load → score', () => {
  it('writes a complete artifact with versioned metadata, metrics and a report', () => {
    const meta = JSON.parse(readFileSync(join(modelDir, 'preempt.json'), 'utf8'))
    expect(meta).toMatchObject({ v: 1, kind: 'mlp', name: 'unit', horizon: HOUR, lead: 120_000, timeUnit: 'ms' })
    expect(meta.featureNames).toHaveLength(meta.normalization.mean.length)
    expect(meta.featureSpec.metrics.length).toBeGreaterThan(10)
    expect(meta.thresholds.alert).toBeGreaterThan(0)
    expect(meta.thresholds.alert).toBeLessThanOrEqual(1)
    expect(meta.calibration.method).toBe('platt')
    expect(['wasm', 'cpu', 'tensorflow']).toContain(meta.backend)
    const html = readFileSync(join(modelDir, 'report.html'), 'utf8')
    for (const s of [
      'Precision–recall',
      'ROC',
      'Score distribution',
      'Feature importance',
      'Confusion table',
      'static threshold',
    ])
      expect(html).toContain(s)
    expect(JSON.parse(readFileSync(join(modelDir, 'metrics.json'), 'utf8')).test.prAuc).toBeGreaterThan(0)
  })

  it('gives identical scores after a save → load round trip, every time', async () => {
    const a = await scoreAll()
    const b = await scoreAll()
    expect(a.length).toBeGreaterThan(1000)
    expect(b.map((r) => r.score)).toEqual(a.map((r) => r.score))
    for (const r of a) {
      expect(r.score).toBeGreaterThanOrEqual(0)
      expect(r.score).toBeLessThanOrEqual(1)
    }
  })

  it('leaks no tensor across many scoring and explanation batches', async () => {
    const loaded = await loadModel(modelDir)
    const scorer = new Scorer(loaded)
    const x = Float64Array.from({ length: 64 * scorer.width }, (_, i) => Math.sin(i))
    expectNoLeak(scorer, x, { rows: 64, explained: 8, rounds: 200 })
    const top = scorer.explain(x, 2, 3)
    expect(top).toHaveLength(2)
    expect(top[0]).toHaveLength(3)
    expect(loaded.meta.featureNames).toContain(top[0]![0]!.feature)
    loaded.model.dispose()
  })

  it('explains the network by hand as the TensorFlow.js gradient of the logit does', async () => {
    const loaded = await loadModel(modelDir)
    const net = loaded.model as tf.LayersModel
    const layers = denseStackOf(net)
    expect(layers?.map((l) => [l.units, l.activation])).toEqual([
      [32, 'relu'],
      [16, 'relu'],
      [1, 'sigmoid'],
    ])
    const scorer = new Scorer(loaded)
    const F = scorer.width
    const rows = 12
    const { mean, std } = loaded.meta.normalization
    const x = Float64Array.from({ length: rows * F }, (_, i) => mean[i % F]! + std[i % F]! * 2 * Math.sin(i * 0.37))
    const z = new Float32Array(rows * F)
    for (let i = 0; i < z.length; i++) z[i] = Math.min(10, Math.max(-10, (x[i]! - mean[i % F]!) / std[i % F]!))
    // The reference: TensorFlow.js's own gradient of log(p / (1 − p)), times the input.
    const ref = tf.tidy(() => {
      const t = tf.tensor2d(z, [rows, F])
      const g = tf.grad((input: tf.Tensor) => {
        const p = (net.apply(input, { training: false }) as tf.Tensor).clipByValue(1e-7, 1 - 1e-7)
        return tf.log(p.div(tf.sub(1, p))).sum()
      })(t)
      return g.mul(t).dataSync() as Float32Array
    })
    const g = new Float64Array(F)
    let largest = 0
    for (let i = 0; i < rows; i++) {
      logitGradient(layers!, z.subarray(i * F, (i + 1) * F), g)
      for (let f = 0; f < F; f++) {
        const mine = g[f]! * z[i * F + f]!
        largest = Math.max(largest, Math.abs(mine))
        expect(Math.abs(mine - ref[i * F + f]!)).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref[i * F + f]!)))
      }
    }
    expect(largest).toBeGreaterThan(0.01)
    // The scorer's explanations are those contributions' top k.
    const explained = scorer.explain(x, rows, 3)
    for (let i = 0; i < rows; i++) {
      const want = top(ref.subarray(i * F, (i + 1) * F), 3, loaded.meta.featureNames)
      expect(explained[i]!.map((c) => c.feature)).toEqual(want.map((c) => c.feature))
    }
    loaded.model.dispose()
  })

  it('top: the k largest by magnitude, largest first, ties to the lower index', () => {
    const names = ['a', 'b', 'c', 'd', 'e', 'f']
    expect(top([0.1, -0.5, 0.3, 0.5, 0, -0.2], 3, names)).toEqual([
      { feature: 'b', contribution: -0.5 },
      { feature: 'd', contribution: 0.5 },
      { feature: 'c', contribution: 0.3 },
    ])
    expect(top([1, 2], 5, names).map((c) => c.feature)).toEqual(['b', 'a'])
    expect(top([1, 2], 0, names)).toEqual([])
    // As a full sort would answer, on many random vectors with ties.
    for (let r = 0; r < 50; r++) {
      const c = Array.from({ length: 40 }, (_, i) => Math.round(Math.sin(r * 7 + i * 13) * 4) / 4)
      const byName = Array.from({ length: 40 }, (_, i) => `f${i}`)
      const sorted = byName.map((_, i) => i).sort((a, b) => Math.abs(c[b]!) - Math.abs(c[a]!))
      expect(top(c, 5, byName).map((t) => t.feature)).toEqual(sorted.slice(0, 5).map((i) => byName[i]))
    }
  })

  it("tune on the model's own validation split chooses the page rule training chose", async () => {
    const loaded = await loadModel(modelDir)
    const failures = await fleetFailures()
    const window = { horizon: HOUR, lead: 120_000, dayLength: 86_400_000 }
    const cost = costModelOf(trained.meta.thresholds.costModel)
    const res = await tunePageRule(loaded, {
      csv: fleetCsv,
      failures,
      window,
      by: 'outcome',
      target: 0.9,
      cost,
      split: 'val',
    })
    loaded.model.dispose()
    expect(res.vectors).toBeGreaterThan(100)
    const page = trained.meta.thresholds.page!
    if (res.chosen) {
      expect(page.chosenBy).toBe('outcome')
      expect(res.chosen.page.threshold).toBe(page.threshold)
      expect(res.chosen.page.consecutive).toBe(page.consecutive)
      expect(res.chosen.figures.saving).toBeGreaterThan(0)
    } else expect(page.chosenBy).toBe('vector')
    // By page precision: a stricter target can only keep or lose recall.
    const at = async (target: number) =>
      (
        await tunePageRule(await loadModel(modelDir), {
          csv: fleetCsv,
          failures,
          window,
          by: 'precision',
          target,
          cost,
          split: 'val',
        })
      ).chosen?.figures.recall ?? 0
    expect(await at(1)).toBeLessThanOrEqual(await at(0.9))
  })

  it('tune --by backtest: offline candidates run in the closed loop on a validation fleet, the best saving kept', async () => {
    const loaded = await loadModel(modelDir)
    const failures = await fleetFailures()
    const cost = costModelOf(trained.meta.thresholds.costModel)
    const tuning = {
      csv: fleetCsv,
      failures,
      window: { horizon: HOUR, lead: 120_000, dayLength: 86_400_000 },
      by: 'outcome' as const,
      target: 0.9,
      cost,
      split: 'all' as const,
    }
    const fleetParams = {
      ...DEFAULT_SIM_PARAMS,
      hosts: 16,
      durationMs: 12 * HOUR,
      intervalMs: 60_000,
      mtbfMs: 8 * HOUR,
      seed: 21,
    }
    const log = createLogger({ level: 'silent' })
    const res = await tunePageRuleByBacktest(loaded, tuning, { fleet: fleetParams, candidates: 2, log })
    const offline = await tunePageRule(loaded, tuning)
    // The first candidate is the offline choice; at most one per run length (+ the precision rule).
    expect(res.candidates.length).toBeGreaterThan(0)
    expect(res.candidates[0]!.offline.threshold).toBe(offline.chosen!.page.threshold)
    expect(res.candidates[0]!.offline.consecutive).toBe(offline.chosen!.page.consecutive)
    const ofOutcome = res.candidates.filter((c) => c.proposedBy === 'outcome')
    expect(ofOutcome.length).toBeLessThanOrEqual(2)
    expect(new Set(ofOutcome.map((c) => c.offline.consecutive)).size).toBe(ofOutcome.length)
    for (const c of res.candidates) {
      expect(c.loop.predictable).toBeGreaterThan(0)
      expect(c.saving).toBe(
        c.loop.avertedPredictable * (cost.unplanned - cost.planned) - c.loop.unneededActions * cost.falseAlarm,
      )
    }
    const best = Math.max(...res.candidates.map((c) => c.saving))
    expect(res.chosen!.candidate.saving).toBe(best)
    expect(res.chosen!.page).toMatchObject({
      chosenBy: 'backtest',
      threshold: res.chosen!.candidate.offline.threshold,
      consecutive: res.chosen!.candidate.offline.consecutive,
    })
    expect(res.chosen!.page.rule).toMatch(/closed-loop backtest on a validation fleet \(seed 21, 16 hosts × 0.5 d\)/)
    // A model of other data cannot be judged in the simulator's fleet.
    await expect(
      tunePageRuleByBacktest({ ...loaded, meta: { ...loaded.meta, timeUnit: 'step' } }, tuning, {
        fleet: fleetParams,
        candidates: 2,
        log,
      }),
    ).rejects.toThrow(/--by backtest runs the model in the simulator's fleet/)
    loaded.model.dispose()
  }, 120_000)

  it('keeps the alert column (one vector, by validation F1) apart from the page rule', () => {
    const th = trained.meta.thresholds
    expect(th.alertConsecutive).toBeUndefined()
    expect(th.alertRule).toMatch(/best validation F1/)
    expect(th.page).toBeDefined()
    expect(trained.test!.alertThreshold).toBe(th.alert)
    expect(trained.test!.threshold).toBe(th.page!.threshold)
    expect(trained.test!.consecutive).toBe(th.page!.consecutive)
  })

  it('reports an honest test split: held-out entities only', () => {
    expect(trained.test).not.toBeNull()
    const t = trained.test!
    expect(t.vectors).toBeGreaterThan(0)
    expect(t.prAuc).toBeGreaterThanOrEqual(0)
    expect(t.prAuc).toBeLessThanOrEqual(1)
    expect(t.positives + t.negatives + t.dropped).toBe(t.vectors)
  })
})

describe('sequence model (gru) beside the mlp', () => {
  const gruDir = join(dir, 'gru')
  let gru: TrainOutcome
  beforeAll(async () => {
    gru = await trainFromCsv({
      csv: fleetCsv,
      labels: { failuresFile: join(fleet, 'failures.csv') },
      horizon: HOUR,
      lead: 2 * 60_000,
      out: gruDir,
      name: 'unit-gru',
      split: 'entity',
      seed: 3,
      epochs: 2,
      kind: 'gru',
      sequenceLength: 8,
      compare: modelDir,
      targetPrecision: 0.9,
      costModel: { unplanned: 4 * HOUR, planned: 600_000, falseAlarm: 1_800_000, success: 0.9 },
      logger: createLogger({ level: 'silent' }),
    })
  }, 180_000)

  it('saves a gru over 8 buckets × 2 channels per metric, and scores identically after a reload', async () => {
    expect(gru.meta.kind).toBe('gru')
    expect(gru.meta.featureSpec).toMatchObject({ sequence: 8, aggregates: [], windows: [2 * HOUR] })
    expect(gru.meta.featureNames).toHaveLength(8 * 2 * gru.meta.featureSpec.metrics.length)
    const a = await scoreAll(gruDir)
    const b = await scoreAll(gruDir)
    expect(a.length).toBeGreaterThan(1000)
    expect(b.map((r) => r.score)).toEqual(a.map((r) => r.score))
    expect(new Set(a.map((r) => r.score.toFixed(4))).size).toBeGreaterThan(50)
  })

  it('compares against the mlp on the same test rows, in metrics.json and the report', () => {
    expect(gru.comparison).toBeDefined()
    const c = gru.comparison!
    expect(c).toMatchObject({ name: 'unit', kind: 'mlp' })
    // The same rows and failures: vector and failure counts agree with this model's test split.
    expect(c.evaluation.vectors).toBe(gru.test!.vectors)
    expect(c.evaluation.atThreshold.failures).toBe(gru.test!.atThreshold.failures)
    // And the mlp's figures there are its own test figures (same split, seed and data).
    expect(c.evaluation.prAuc).toBeCloseTo(trained.test!.prAuc, 12)
    const metrics = JSON.parse(readFileSync(join(gruDir, 'metrics.json'), 'utf8'))
    expect(metrics.kind).toBe('gru')
    expect(metrics.compare.name).toBe('unit')
    const html = readFileSync(join(gruDir, 'report.html'), 'utf8')
    expect(html).toContain('unit (mlp)')
    expect(html).toContain('Models vs naive baseline')
  })

  it('leaks no tensor while scoring and explaining the gru', async () => {
    const loaded = await loadModel(gruDir)
    const scorer = new Scorer(loaded)
    const x = Float64Array.from({ length: 16 * scorer.width }, (_, i) => Math.cos(i))
    expectNoLeak(scorer, x, { rows: 16, explained: 4, rounds: 50 })
    loaded.model.dispose()
  })
})

describe('a damaged model folder is refused before anything is built from it', () => {
  const damaged = (name: string, file: string, change: (b: Buffer) => Buffer | string) => {
    const d = join(dir, `damaged-${name}`)
    cpSync(modelDir, d, { recursive: true })
    writeFileSync(join(d, file), change(readFileSync(join(d, file))))
    return d
  }
  const cases: [string, string, (b: Buffer) => Buffer | string, RegExp][] = [
    ['meta-truncated', 'preempt.json', (b) => b.subarray(0, b.length / 2), /preempt\.json: not JSON/],
    ['meta-newer', 'preempt.json', (b) => b.toString().replace('"v": 1', '"v": 4'), /newer preempt \(metadata v4/],
    [
      'meta-names',
      'preempt.json',
      (b) => JSON.stringify({ ...JSON.parse(b.toString()), featureNames: ['a'] }),
      /featureNames has 1 names/,
    ],
    [
      'meta-regimes',
      'preempt.json',
      (b) => {
        const m = JSON.parse(b.toString())
        const M = m.featureSpec.metrics.length
        const row = (x: number) => new Array(M).fill(x)
        const by = [m.featureSpec.metrics[0]]
        // Two regimes, but a zero spread for the second: refused (it would divide by zero).
        m.featureSpec.regimes = { by, centers: [[0], [1]], scale: [1], mean: [row(0), row(0)], std: [row(1), row(0)] }
        m.v = 2
        return JSON.stringify(m)
      },
      /featureSpec\.regimes must name settings among the metrics/,
    ],
    [
      'meta-regimes-v1',
      'preempt.json',
      (b) => {
        // Regimes in a v1 file: a preempt before regimes would have scored it on raw metrics.
        const m = JSON.parse(b.toString())
        const row = () => new Array(m.featureSpec.metrics.length).fill(1)
        const by = [m.featureSpec.metrics[0]]
        m.featureSpec.regimes = { by, centers: [[0], [1]], scale: [1], mean: [row(), row()], std: [row(), row()] }
        return JSON.stringify(m)
      },
      /featureSpec\.regimes needs metadata v2/,
    ],
    [
      'meta-within-v1',
      'preempt.json',
      (b) => {
        // A page rule gated on the time to failure in a v1 file: an older preempt would page without the gate.
        const m = JSON.parse(b.toString())
        m.thresholds.page = { threshold: 0.5, consecutive: 1, within: 60_000, chosenBy: 'outcome', rule: 'r' }
        return JSON.stringify(m)
      },
      /thresholds\.page\.within needs metadata v3/,
    ],
    [
      'meta-within-no-head',
      'preempt.json',
      (b) => {
        const m = JSON.parse(b.toString())
        m.thresholds.page = { threshold: 0.5, consecutive: 1, within: 60_000, chosenBy: 'outcome', rule: 'r' }
        m.v = 3
        delete m.hazard
        return JSON.stringify(m)
      },
      /gates the page rule on the time-to-failure head, and the model has none/,
    ],
    ['model-truncated', 'model.json', (b) => b.subarray(0, 100), /model\.json is not JSON/],
    ['weights-truncated', 'weights.bin', (b) => b.subarray(0, b.length - 8), /do not match/],
  ]
  for (const [name, file, change, message] of cases)
    it(`${name}: PREEMPT_ERR_MODEL_ARTIFACT`, async () => {
      const err = await loadModel(damaged(name, file, change)).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'PREEMPT_ERR_MODEL_ARTIFACT' })
      expect((err as Error).message).toMatch(message)
    })
})

describe('metadata version', () => {
  it('is the oldest that reads the model as written: 2 with regimes, 3 with a gated page rule', () => {
    const spec = { regimes: undefined } as never
    const page = { threshold: 0.5, consecutive: 1, chosenBy: 'outcome' as const, rule: 'r' }
    const th = (p?: object) =>
      ({ alert: 0.5, alertRule: '', targetPrecision: 0.9, action: 0.1, ...(p && { page: p }) }) as never
    expect(metadataVersion({ featureSpec: spec, thresholds: th(page) })).toBe(1)
    expect(metadataVersion({ featureSpec: { regimes: {} } as never, thresholds: th(page) })).toBe(2)
    expect(metadataVersion({ featureSpec: { regimes: {} } as never, thresholds: th({ ...page, within: 1 }) })).toBe(3)
  })
})
