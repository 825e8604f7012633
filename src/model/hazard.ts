/**
 * Time to failure: a discrete-time hazard over bins of the time ahead, up to several horizons
 * (edges ¼, ½, 1, 2, 4 × horizon by default). Bin k's hazard λ_k is the chance of failing in
 * (e_{k−1}, e_k] having survived to e_{k−1}; then P(fail by e_k) = 1 − Π_{j≤k} (1 − λ_j), and
 * the median and an interval of the time to failure are read off that curve.
 *
 * Censoring is handled as survival analysis does: a vector whose entity's data ends before
 * a bin ends, with no failure seen, is censored there — not a negative. A vector that fails
 * in an earlier bin is not at risk in the later ones. Each row thus gives per bin a target
 * 1 (fails in it), 0 (survives it, seen) or none; the likelihood is the product over bins of
 * λ or 1 − λ (`hazardNll`). One gradient-boosted tree model per bin (logistic loss on the rows
 * at risk, the sample's own weights, no class balancing) maximises each bin's term: the bins'
 * terms share no parameter.
 *
 * The score of a model stays its own classifier's (calibrated on validation); this head adds
 * when. Trees hold no tensors.
 */

import { Rng } from '../math/random.js'
import { constantGbdt, GbdtModel, type GbdtModelJson, type GbdtOptions, gbdtJsonProblem, trainGbdt } from './gbdt.js'
import type { LabelledRows } from './mlp.js'

/** Bin edges as multiples of the horizon. */
export const HAZARD_MULTIPLES = [0.25, 0.5, 1, 2, 4] as const

/** Quantiles of the time to failure reported: the median and an 80 % interval. */
export const TTF_QUANTILES = { low: 0.1, median: 0.5, high: 0.9 } as const

export const Target = { none: -1, survived: 0, failed: 1 } as const

/**
 * Per-bin targets of one vector: `untilFailure` is the time to its entity's next failure
 * (undefined: none known), `observedFor` how long its entity's data goes on after it.
 */
export function hazardTargets(
  untilFailure: number | undefined,
  observedFor: number,
  edges: readonly number[],
  out = new Int8Array(edges.length),
): Int8Array {
  let start = 0
  for (let k = 0; k < edges.length; k++) {
    const end = edges[k]!
    if (untilFailure !== undefined) out[k] = untilFailure <= start ? Target.none : untilFailure <= end ? 1 : 0
    else out[k] = observedFor >= end ? Target.survived : Target.none
    start = end
  }
  return out
}

/** Negative log-likelihood of one vector's targets under hazards λ (natural log). */
export function hazardNll(hazards: ArrayLike<number>, targets: ArrayLike<number>): number {
  let nll = 0
  const eps = 1e-12
  for (let k = 0; k < targets.length; k++) {
    const t = targets[k]!
    const h = hazards[k]!
    if (t === 1) nll -= Math.log(Math.max(eps, h))
    else if (t === 0) nll -= Math.log(Math.max(eps, 1 - h))
  }
  return nll
}

/** P(failed by edge k) from hazards. */
export function cdfOf(hazards: ArrayLike<number>, out = new Float64Array(hazards.length)): Float64Array {
  let survive = 1
  for (let k = 0; k < hazards.length; k++) {
    survive *= 1 - hazards[k]!
    out[k] = 1 - survive
  }
  return out
}

/** The time by which the failure chance reaches q (linear within a bin); NaN past the last edge. */
export function quantileTime(cdf: ArrayLike<number>, edges: readonly number[], q: number): number {
  let t0 = 0
  let f0 = 0
  for (let k = 0; k < edges.length; k++) {
    const f1 = cdf[k]!
    const t1 = edges[k]!
    if (f1 >= q) return f1 > f0 ? t0 + ((q - f0) / (f1 - f0)) * (t1 - t0) : t0
    t0 = t1
    f0 = f1
  }
  return Number.NaN
}

export interface HazardJson {
  v: 1
  kind: 'hazard'
  /** Bin ends, on the data's time axis. */
  edges: number[]
  /** One model per bin (its hazard's log-odds). */
  bins: GbdtModelJson[]
}

export interface TimeToFailure {
  /** Median time to failure per row; NaN: later than the last edge (or no failure expected). */
  median: Float64Array
  /** The interval's ends (10 % and 90 % quantiles); NaN past the last edge. */
  low: Float64Array
  high: Float64Array
  /** P(failed by the horizon) per row, from the hazards. */
  withinHorizon: Float64Array
  /**
   * The median time to failure _given_ a failure within the head's reach (the curve divided by
   * P(failed by the last edge)): when, if the score is right. What the policy times actions by:
   * whether to act is the score's question. NaN when no failure is expected at all.
   */
  ifFails: Float64Array
}

export class HazardModel {
  constructor(
    readonly edges: readonly number[],
    readonly bins: readonly GbdtModel[],
    /** Which edge is the horizon (P(failed by it) is reported). */
    readonly horizonBin = Math.max(0, edges.length - 1),
  ) {
    if (bins.length !== edges.length) throw new Error(`${bins.length} bin models for ${edges.length} edges`)
  }

  static fromJSON(j: HazardJson, horizon: number): HazardModel {
    const k = j.edges.indexOf(horizon)
    return new HazardModel(
      j.edges,
      j.bins.map((b) => new GbdtModel(b)),
      k >= 0 ? k : j.edges.length - 1,
    )
  }

  toJSON(): HazardJson {
    return { v: 1, kind: 'hazard', edges: [...this.edges], bins: this.bins.map((b) => b.toJSON()) }
  }

  /** Hazards per row and bin, row-major (rows × bins). */
  hazards(x: ArrayLike<number>, rows: number): Float64Array {
    const K = this.edges.length
    const out = new Float64Array(rows * K)
    for (let k = 0; k < K; k++) {
      const p = this.bins[k]!.predict(x, rows)
      for (let i = 0; i < rows; i++) out[i * K + k] = p[i]!
    }
    return out
  }

  predict(x: ArrayLike<number>, rows: number): TimeToFailure {
    const K = this.edges.length
    const h = this.hazards(x, rows)
    const r: TimeToFailure = {
      median: new Float64Array(rows),
      low: new Float64Array(rows),
      high: new Float64Array(rows),
      withinHorizon: new Float64Array(rows),
      ifFails: new Float64Array(rows),
    }
    const cdf = new Float64Array(K)
    const given = new Float64Array(K)
    for (let i = 0; i < rows; i++) {
      cdfOf(h.subarray(i * K, i * K + K), cdf)
      r.median[i] = quantileTime(cdf, this.edges, TTF_QUANTILES.median)
      r.low[i] = quantileTime(cdf, this.edges, TTF_QUANTILES.low)
      r.high[i] = quantileTime(cdf, this.edges, TTF_QUANTILES.high)
      r.withinHorizon[i] = cdf[this.horizonBin]!
      const reach = cdf[K - 1]!
      if (reach > 1e-9) {
        for (let k = 0; k < K; k++) given[k] = cdf[k]! / reach
        r.ifFails[i] = quantileTime(given, this.edges, TTF_QUANTILES.median)
      } else r.ifFails[i] = Number.NaN
    }
    return r
  }
}

/** What `hazard.json` must hold (a message for a person, or undefined). */
export function hazardJsonProblem(j: unknown, features: number): string | undefined {
  const h = j as Partial<HazardJson> | null
  if (typeof h !== 'object' || h === null || h.kind !== 'hazard' || h.v !== 1) return 'not a v1 hazard model'
  if (!Array.isArray(h.edges) || !h.edges.length || h.edges.some((e, k) => !(e > (k ? h.edges![k - 1]! : 0))))
    return 'edges must be increasing positive numbers'
  if (!Array.isArray(h.bins) || h.bins.length !== h.edges.length) return 'one bin model per edge is needed'
  for (let k = 0; k < h.bins.length; k++) {
    const p = gbdtJsonProblem(h.bins[k], features)
    if (p) return `bin ${k}: ${p}`
  }
  return undefined
}

/** Rows with what survival needs: per row the time to its entity's next failure and how long it was seen after. */
export interface SurvivalRows extends LabelledRows {
  /** NaN: no failure known after the row. */
  readonly untilFailure: Float64Array
  readonly observedFor: Float64Array
}

export interface HazardTrainOptions {
  edges: readonly number[]
  /** Which edge is the horizon. */
  horizonBin: number
  /** Rows per bin at most (a uniform sample beyond, weights scaled). Default 100 000. */
  maxRows?: number
  gbdt?: GbdtOptions
  seed?: number
  onProgress?: (bin: number, detail: string) => void
}

export interface HazardBinReport {
  edge: number
  trainRows: number
  trainEvents: number
  valRows: number
  valEvents: number
  trees: number
  valPrAuc: number
}

/** The rows at risk in bin k, with their target as the label (a fresh LabelledRows). */
function atRisk(set: SurvivalRows, edges: readonly number[], k: number, maxRows: number, seed: number): LabelledRows {
  const F = set.width
  const w = set.weights()
  const targets = new Int8Array(edges.length)
  const idx: number[] = []
  const failed = new Uint8Array(set.size)
  for (let i = 0; i < set.size; i++) {
    const u = set.untilFailure[i]!
    hazardTargets(Number.isNaN(u) ? undefined : u, set.observedFor[i]!, edges, targets)
    if (targets[k]! < 0) continue
    idx.push(i)
    failed[i] = targets[k]!
  }
  // A seeded uniform sample past the cap: each kept row stands for more.
  let scale = 1
  if (idx.length > maxRows) {
    const rng = new Rng(seed)
    for (let i = idx.length - 1; i > 0; i--) {
      const j = rng.int(0, i + 1)
      const t = idx[i]!
      idx[i] = idx[j]!
      idx[j] = t
    }
    scale = idx.length / maxRows
    idx.length = maxRows
    idx.sort((a, b) => a - b)
  }
  const n = idx.length
  const x = new Float32Array(n * F)
  const y = new Uint8Array(n)
  const wt = new Float32Array(n)
  let positives = 0
  for (let r = 0; r < n; r++) {
    const i = idx[r]!
    x.set(set.x.subarray(i * F, i * F + F), r * F)
    y[r] = failed[i]!
    positives += y[r]!
    wt[r] = w[i]! * scale
  }
  return { width: F, size: n, x, y, positives, negatives: n - positives, weights: () => wt }
}

export function trainHazard(
  train: SurvivalRows,
  val: SurvivalRows,
  o: HazardTrainOptions,
): { model: HazardModel; bins: HazardBinReport[] } {
  const maxRows = o.maxRows ?? 100_000
  const models: GbdtModel[] = []
  const bins: HazardBinReport[] = []
  for (let k = 0; k < o.edges.length; k++) {
    const tr = atRisk(train, o.edges, k, maxRows, (o.seed ?? 1) + k)
    const va = atRisk(val, o.edges, k, maxRows, (o.seed ?? 1) + 100 + k)
    // Nothing to learn in a bin of one class: a constant hazard at its weighted base rate.
    const r =
      tr.positives && tr.negatives
        ? trainGbdt(tr, va.positives && va.negatives ? va : tr, {
            trees: 150,
            ...o.gbdt,
            classWeight: 'none',
            seed: (o.seed ?? 1) + k,
          })
        : { model: constantGbdt(train.width, baseRate(tr)), bestTrees: 0, valPrAuc: Number.NaN }
    models.push(r.model)
    bins.push({
      edge: o.edges[k]!,
      trainRows: tr.size,
      trainEvents: tr.positives,
      valRows: va.size,
      valEvents: va.positives,
      trees: r.bestTrees,
      valPrAuc: r.valPrAuc,
    })
    o.onProgress?.(k, `bin ≤ ${o.edges[k]}: ${r.bestTrees} trees, validation PR-AUC ${r.valPrAuc.toFixed(4)}`)
  }
  return { model: new HazardModel(o.edges, models, o.horizonBin), bins }
}

/** The weighted share of positives of a set. */
function baseRate(set: LabelledRows): number {
  const w = set.weights()
  let wp = 0
  let wa = 0
  for (let i = 0; i < set.size; i++) {
    wa += w[i]!
    if (set.y[i]) wp += w[i]!
  }
  return wa > 0 ? wp / wa : 0
}
