import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CsvOptions } from '../../src/data/csv.js'
import { createLogger } from '../../src/log.js'
import { loadModel } from '../../src/model/artifact.js'
import { initBackend } from '../../src/model/backend.js'
import { GbdtModel } from '../../src/model/gbdt.js'
import { Scorer } from '../../src/model/scorer.js'
import { type ScoredRow, scoreCsv } from '../../src/pipelines/score-csv.js'
import { chooseCandidate, type TrainConfig, trainFromCsv } from '../../src/pipelines/train.js'
import { runSimulationToCsv, simulatedCsv } from '../../src/sim/csv.js'
import { DEFAULT_SIM_PARAMS } from '../../src/sim/model.js'

const HOUR = 3_600_000
const dir = mkdtempSync(join(tmpdir(), 'preempt-kinds-'))
const fleet = join(dir, 'fleet')
const csv: CsvOptions = simulatedCsv(fleet)
const base = (out: string): TrainConfig => ({
  csv,
  labels: { failuresFile: join(fleet, 'failures.csv') },
  horizon: HOUR,
  lead: 2 * 60_000,
  out,
  name: 'kinds',
  split: 'entity',
  seed: 3,
  epochs: 2,
  gbdt: { trees: 60, leaves: 7 },
  targetPrecision: 0.9,
  costModel: { unplanned: 4 * HOUR, planned: 600_000, falseAlarm: 1_800_000, success: 0.9 },
  logger: createLogger({ level: 'silent' }),
})

beforeAll(async () => {
  await initBackend()
  await runSimulationToCsv(
    { ...DEFAULT_SIM_PARAMS, hosts: 16, durationMs: 36 * HOUR, intervalMs: 60_000, mtbfMs: 12 * HOUR, seed: 4 },
    fleet,
  )
}, 120_000)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function scoreAll(m: string): Promise<ScoredRow[]> {
  const loaded = await loadModel(m)
  const rows: ScoredRow[] = []
  await scoreCsv(loaded, { csv: { ...csv, metrics: loaded.meta.csv.metrics } }, (r) => {
    rows.push(...r)
  })
  return rows
}

describe('model kinds', () => {
  it('chooses by validation PR-AUC; within 0.001, the simpler kind and no class weighting', () => {
    const c = (kind: 'gbdt' | 'mlp', classWeight: 'none' | 'balanced', valPrAuc: number) => ({
      kind,
      classWeight,
      valPrAuc,
    })
    expect(chooseCandidate([c('gbdt', 'none', 0.3), c('mlp', 'balanced', 0.4)])).toEqual(c('mlp', 'balanced', 0.4))
    expect(chooseCandidate([c('mlp', 'none', 0.4), c('gbdt', 'balanced', 0.3995)])).toEqual(
      c('gbdt', 'balanced', 0.3995),
    )
    expect(chooseCandidate([c('gbdt', 'balanced', 0.5), c('gbdt', 'none', 0.4995)])).toEqual(c('gbdt', 'none', 0.4995))
  })

  it('one standard error: a simpler candidate within the standard error of its gap to the best is kept', () => {
    const c = (kind: 'gbdt' | 'mlp', classWeight: 'none' | 'balanced', valPrAuc: number) => ({
      kind,
      classWeight,
      valPrAuc,
    })
    const cs = [c('gbdt', 'none', 0.9804), c('gbdt', 'balanced', 0.9817), c('mlp', 'none', 0.99)]
    // The network is best; the trees are 0.0086–0.0096 below it.
    expect(chooseCandidate(cs)).toEqual(cs[2])
    expect(chooseCandidate(cs, [0.005, 0.005, 0])).toEqual(cs[2])
    // Within noise of the best: the simplest of those within their own standard error.
    expect(chooseCandidate(cs, [0.012, 0.012, 0])).toEqual(cs[0])
    expect(chooseCandidate(cs, [0.009, 0.012, 0])).toEqual(cs[1])
  })

  it('auto trains trees and the network, both weightings, records every candidate and keeps the best', async () => {
    const out = join(dir, 'auto')
    const res = await trainFromCsv(base(out))
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'))
    const cands = metrics.candidates as {
      kind: string
      classWeight: string
      valPrAuc: number
      gapSe: number
      chosen: boolean
    }[]
    expect(cands.map((c) => `${c.kind}/${c.classWeight}`)).toEqual([
      'gbdt/none',
      'gbdt/balanced',
      'mlp/none',
      'mlp/balanced',
    ])
    const chosen = cands.filter((c) => c.chosen)
    expect(chosen).toHaveLength(1)
    // Each gap's standard error is recorded (0 for the best) and the choice follows it.
    const best = cands.reduce((b, c) => (c.valPrAuc > b.valPrAuc ? c : b))
    expect(best.gapSe).toBe(0)
    for (const c of cands) if (c !== best) expect(c.gapSe).toBeGreaterThan(0)
    expect(chosen[0]).toMatchObject(
      chooseCandidate(
        cands as never,
        cands.map((c) => c.gapSe),
      ),
    )
    expect(res.meta.kind).toBe(chosen[0]!.kind)
    expect(res.meta.training['classWeight']).toBe(chosen[0]!.classWeight)
    // The artifact holds the chosen kind only.
    expect(existsSync(join(out, 'trees.json'))).toBe(res.meta.kind === 'gbdt')
    expect(existsSync(join(out, 'model.json'))).toBe(res.meta.kind !== 'gbdt')
    expect(res.test?.prAuc).toBeGreaterThan(0)
  }, 300_000)

  it('gbdt: a trees.json artifact that scores the same after loading, with TreeSHAP explanations', async () => {
    const out = join(dir, 'gbdt')
    const res = await trainFromCsv({ ...base(out), kind: 'gbdt', classWeight: 'none' })
    expect(res.meta.kind).toBe('gbdt')
    expect(existsSync(join(out, 'trees.json'))).toBe(true)
    const report = readFileSync(join(out, 'report.html'), 'utf8')
    expect(report).toContain('gradient-boosted trees')
    const a = await scoreAll(out)
    const b = await scoreAll(out)
    expect(a.length).toBeGreaterThan(1000)
    expect(b.map((r) => r.score)).toEqual(a.map((r) => r.score))
    // Held-out ranking is real: failures score above the rest on average.
    expect(res.test!.rocAuc).toBeGreaterThan(0.6)
    const loaded = await loadModel(out)
    expect(loaded.model).toBeInstanceOf(GbdtModel)
    const scorer = new Scorer(loaded)
    const F = loaded.meta.featureNames.length
    // Any vector: all missing, all zero, the training means.
    const x = new Float64Array(F * 3)
    x.fill(Number.NaN, 0, F)
    x.set(loaded.meta.normalization.mean, 2 * F)
    const top = scorer.explain(x, 3, 4)
    const trees = loaded.model as GbdtModel
    for (let i = 0; i < 3; i++) {
      const phi = trees.shap(x, i * F)
      expect(phi.reduce((s, v) => s + v, 0) + trees.expected).toBeCloseTo(trees.margin(x.subarray(i * F), 1)[0]!, 6)
    }
    expect(top).toHaveLength(3)
    for (const row of top) {
      expect(row).toHaveLength(4)
      for (const c of row) expect(loaded.meta.featureNames).toContain(c.feature)
    }
    // The stored per-split figures are the chosen kind's.
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'))
    expect(metrics.kind).toBe('gbdt')
    expect(metrics.candidates).toHaveLength(1)
  }, 300_000)
})
