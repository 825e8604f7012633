import { describe, expect, it } from 'vitest'
import { Rng } from '../../src/math/random.js'
import {
  cdfOf,
  HazardModel,
  hazardJsonProblem,
  hazardNll,
  hazardTargets,
  quantileTime,
  type SurvivalRows,
  Target,
  trainHazard,
} from '../../src/model/hazard.js'

const edges = [10, 20, 40, 80]

describe('hazard targets and likelihood, censoring by hand', () => {
  it('a failure in bin 2: survived bins 0–1, failed in 2, not at risk after', () => {
    expect([...hazardTargets(25, 1000, edges)]).toEqual([0, 0, 1, Target.none])
  })

  it('a failure exactly on an edge belongs to the bin it ends', () => {
    expect([...hazardTargets(20, 0, edges)]).toEqual([0, 1, Target.none, Target.none])
  })

  it('censored: data ends at 30 with no failure — bins 0–1 survived, 2 and 3 unknown (not negative)', () => {
    expect([...hazardTargets(undefined, 30, edges)]).toEqual([0, 0, Target.none, Target.none])
  })

  it('a failure known after the data ends still tells survival through the earlier bins', () => {
    expect([...hazardTargets(70, 5, edges)]).toEqual([0, 0, 0, 1])
  })

  it('no failure and seen long enough: negative in every bin', () => {
    expect([...hazardTargets(undefined, 500, edges)]).toEqual([0, 0, 0, 0])
  })

  it('the negative log-likelihood sums log λ for the event bin and log(1 − λ) for bins survived', () => {
    const h = [0.1, 0.2, 0.5, 0.9]
    // Failed in bin 2: −[log 0.9 + log 0.8 + log 0.5].
    expect(hazardNll(h, hazardTargets(25, 1000, edges))).toBeCloseTo(
      -(Math.log(0.9) + Math.log(0.8) + Math.log(0.5)),
      12,
    )
    // Censored at 30: −[log 0.9 + log 0.8]; bins 2 and 3 contribute nothing.
    expect(hazardNll(h, hazardTargets(undefined, 30, edges))).toBeCloseTo(-(Math.log(0.9) + Math.log(0.8)), 12)
    // Treating the censored row as a negative would add −log(0.5) − log(0.1): more loss, a biased fit.
    expect(hazardNll(h, [0, 0, 0, 0])).toBeGreaterThan(hazardNll(h, hazardTargets(undefined, 30, edges)))
  })

  it('cdf and quantiles: P(by e_k) = 1 − Π(1 − λ), linear within a bin, NaN past the last edge', () => {
    const cdf = cdfOf([0.2, 0.25, 0.5, 0.5])
    expect([...cdf].map((v) => +v.toFixed(6))).toEqual([0.2, 0.4, 0.7, 0.85])
    expect(quantileTime(cdf, edges, 0.5)).toBeCloseTo(20 + (0.1 / 0.3) * 20, 9)
    expect(quantileTime(cdf, edges, 0.1)).toBeCloseTo(5, 9)
    expect(quantileTime(cdf, edges, 0.9)).toBeNaN()
  })
})

/**
 * Entities that fail when a precursor reaches 1: x0 = 1 − life left / 100 (plus noise), so the
 * time to failure falls as the precursor grows. Half the entities' data end before they fail
 * (censored).
 */
function survivalSet(entities: number, seed: number): SurvivalRows {
  const rng = new Rng(seed)
  const F = 3
  const xs: number[] = []
  const until: number[] = []
  const seen: number[] = []
  for (let e = 0; e < entities; e++) {
    const life = 60 + Math.floor(rng.next() * 80)
    const censoredAt = e % 2 ? Math.floor(life * (0.3 + 0.6 * rng.next())) : life
    for (let t = 0; t < Math.min(life, censoredAt + 1); t++) {
      const left = life - t
      xs.push(1 - left / 100 + 0.02 * (rng.next() - 0.5), rng.next(), rng.next() < 0.1 ? Number.NaN : rng.next())
      until.push(e % 2 ? Number.NaN : left)
      seen.push((e % 2 ? censoredAt : life) - t)
    }
  }
  const n = until.length
  const w = new Float32Array(n).fill(1)
  return {
    width: F,
    size: n,
    x: Float32Array.from(xs),
    y: new Uint8Array(n),
    positives: 0,
    negatives: n,
    weights: () => w,
    untilFailure: Float64Array.from(until),
    observedFor: Float64Array.from(seen),
  }
}

describe('trained hazard head', () => {
  const train = survivalSet(160, 1)
  const val = survivalSet(60, 2)
  const { model, bins } = trainHazard(train, val, {
    edges,
    horizonBin: 1,
    gbdt: { trees: 60, leaves: 7, minLeaf: 10, patience: 1000 },
  })

  it('reports every bin, learnt on the rows at risk only', () => {
    expect(bins.map((b) => b.edge)).toEqual(edges)
    for (const b of bins) {
      expect(b.trainEvents).toBeGreaterThan(0)
      expect(b.trainRows).toBeLessThan(train.size)
    }
    // Bins later than most lives left hold fewer rows at risk.
    expect(bins[3]!.trainRows).toBeLessThan(bins[0]!.trainRows)
  })

  it('ttf falls as the precursor grows, and the interval holds the median', () => {
    const steps = 12
    const x = new Float64Array(steps * 3)
    for (let i = 0; i < steps; i++) x.set([0.05 + (0.93 * i) / (steps - 1), 0.5, 0.5], i * 3)
    const t = model.predict(x, steps)
    const medians = [...t.median].map((m) => (Number.isNaN(m) ? Number.POSITIVE_INFINITY : m))
    for (let i = 1; i < steps; i++) expect(medians[i]!).toBeLessThanOrEqual(medians[i - 1]! + 1e-9)
    // Far from failure (95 left): later than the last edge; at the end: within the first bins.
    expect(medians[0]).toBe(Number.POSITIVE_INFINITY)
    // 45 left: the median falls in the bin that holds the truth, (40, 80].
    const mid = model.predict(Float64Array.of(0.55, 0.5, 0.5), 1).median[0]!
    expect(mid).toBeGreaterThan(40)
    expect(mid).toBeLessThanOrEqual(80)
    expect(medians[steps - 1]!).toBeLessThan(edges[1]!)
    for (let i = 0; i < steps; i++)
      if (!Number.isNaN(t.high[i]!)) {
        expect(t.low[i]!).toBeLessThanOrEqual(t.median[i]!)
        expect(t.median[i]!).toBeLessThanOrEqual(t.high[i]!)
      }
    // Given a failure within the reach, it is never later than the plain median; near the end both agree.
    for (let i = 0; i < steps; i++)
      if (!Number.isNaN(t.median[i]!)) expect(t.ifFails[i]!).toBeLessThanOrEqual(t.median[i]! + 1e-9)
    expect(t.ifFails[steps - 1]!).toBeLessThan(edges[1]!)
    // P(by the horizon bin) grows with the precursor too.
    expect(t.withinHorizon[steps - 1]!).toBeGreaterThan(t.withinHorizon[0]!)
  })

  it('a bin with nothing to learn gets a constant hazard at its base rate', () => {
    const far = trainHazard(survivalSet(20, 3), survivalSet(10, 4), {
      edges: [...edges, 1000, 2000],
      horizonBin: 1,
      gbdt: { trees: 10, leaves: 4, minLeaf: 5, patience: 1000 },
    })
    expect(far.bins.at(-1)).toMatchObject({ trainRows: 0, trainEvents: 0, trees: 0 })
    expect(far.model.bins.at(-1)!.trees).toBe(0)
    const h = far.model.hazards(Float64Array.of(0.9, 0.5, 0.5), 1)
    expect(h.at(-1)).toBeCloseTo(1e-6, 9)
  })

  it('round-trips through JSON with identical predictions, and refuses a corrupt file', () => {
    const again = HazardModel.fromJSON(JSON.parse(JSON.stringify(model.toJSON())), 20)
    const x = Float64Array.from({ length: 30 }, (_, i) => (i % 3 === 0 ? i / 30 : 0.5))
    expect([...again.predict(x, 10).median]).toEqual([...model.predict(x, 10).median])
    expect(hazardJsonProblem(model.toJSON(), 3)).toBeUndefined()
    expect(hazardJsonProblem({ ...model.toJSON(), edges: [10, 5, 40, 80] }, 3)).toMatch(/increasing/)
    expect(hazardJsonProblem({ ...model.toJSON(), bins: [] }, 3)).toMatch(/one bin model per edge/)
    expect(hazardJsonProblem(model.toJSON(), 4)).toMatch(/bin 0: made for 3 features/)
  })
})
