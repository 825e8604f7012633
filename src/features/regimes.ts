/**
 * Operating regimes: when a few setting columns (altitude, throttle, load profile…) jump
 * between a handful of values and move every other metric with them, a metric's raw level
 * says more about the setting than about the machine's health. Training finds such columns
 * (or takes them by name), names each combination of their values a regime, and records each
 * metric's mean and spread per regime; the feature engine then reads every other metric as
 * "how far from normal for this regime" ((x − mean) / std) before windowing. The transform is
 * per sample and saved in the feature spec, so training, `score` and `serve` apply the same.
 *
 * Pure: no I/O. Fitting works on a sample of training rows (values in metric order).
 */
import { projectValues } from './vectorize.js'

export interface RegimeSpecV1 {
  /** The setting columns (among the spec's metrics) whose joint value names the regime. */
  by: string[]
  /** Per regime: its center, in `by` order (the mean of its training rows' settings). */
  centers: number[][]
  /** Per `by` column: the distance scale (its range in training). */
  scale: number[]
  /** Per regime, per metric of the spec (its order): the mean in that regime (0 for `by` columns). */
  mean: number[][]
  /** Same layout: the standard deviation (1 for `by` columns; floored, never 0). */
  std: number[][]
}

/** Fitting limits (defaults in FIT_DEFAULTS). */
export interface RegimeFitOptions {
  /** A gap wider than this fraction of a column's range separates two of its values. */
  gap: number
  /** Each value group of a setting column spans at most this fraction of the range. */
  width: number
  /** Each value group, and each regime kept, holds at least this fraction of the rows. */
  minShare: number
  /** Most value groups per setting column. */
  maxGroups: number
  /** Most regimes. */
  maxRegimes: number
  /** Auto-detection keeps regimes only when they explain at least this much of the other metrics' variance (median R²). */
  minR2: number
  /** Auto-detection adds a second (third…) setting column only when it raises that median R² by this much. */
  minGain: number
}

export const FIT_DEFAULTS: RegimeFitOptions = {
  gap: 0.05,
  width: 0.02,
  minShare: 0.01,
  maxGroups: 12,
  maxRegimes: 30,
  minR2: 0.5,
  minGain: 0.05,
}

export interface RegimeFit {
  /** The regimes found (undefined: none, `reason` says why). */
  regimes?: RegimeSpecV1
  /** Why there are none, or what was found, in a sentence for the training log. */
  reason: string
  /** Metrics that never vary within a regime (they only echo the setting): drop them. */
  constantWithin: string[]
  /** Median share of the other metrics' variance the regimes explain (NaN when not measured). */
  r2: number
}

/** Groups of a column's values separated by gaps (ascending): their upper bounds, or undefined when not setting-like. */
function valueGroups(values: number[], o: RegimeFitOptions): number[] | undefined {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b)
  if (v.length < 2) return undefined
  const lo = v[0]!
  const range = v[v.length - 1]! - lo
  if (!(range > 0)) return undefined
  const bounds: number[] = []
  let start = 0
  const groups: [number, number][] = []
  for (let i = 1; i <= v.length; i++) {
    if (i === v.length || v[i]! - v[i - 1]! > o.gap * range) {
      groups.push([start, i])
      if (i < v.length) bounds.push((v[i]! + v[i - 1]!) / 2)
      start = i
    }
  }
  if (groups.length < 2 || groups.length > o.maxGroups) return undefined
  for (const [a, b] of groups) {
    if ((b - a) / v.length < o.minShare) return undefined
    if (v[b - 1]! - v[a]! > o.width * range) return undefined
  }
  return bounds
}

function groupOf(bounds: number[], x: number): number {
  let g = 0
  while (g < bounds.length && x > bounds[g]!) g++
  return g
}

/**
 * Median over `judged` metrics of the share of variance the joint value groups of `byIdx`
 * explain (R²); −∞ when they make more than `maxRegimes` groups.
 */
function partitionR2(
  rows: readonly ArrayLike<number>[],
  byIdx: readonly number[],
  bounds: readonly number[][],
  judged: readonly number[],
  maxRegimes: number,
): number {
  const J = judged.length
  const groups = new Map<string, { n: Float64Array; mu: Float64Array; m2: Float64Array }>()
  const all = { n: new Float64Array(J), mu: new Float64Array(J), m2: new Float64Array(J) }
  const add = (s: { n: Float64Array; mu: Float64Array; m2: Float64Array }, j: number, x: number) => {
    s.n[j]!++
    const d = x - s.mu[j]!
    s.mu[j]! += d / s.n[j]!
    s.m2[j]! += d * (x - s.mu[j]!)
  }
  for (const r of rows) {
    let key = ''
    let ok = true
    for (let j = 0; j < byIdx.length; j++) {
      const x = r[byIdx[j]!]!
      if (!Number.isFinite(x)) ok = false
      key += `${groupOf(bounds[j]!, x)},`
    }
    if (!ok) continue
    let g = groups.get(key)
    if (!g) {
      if (groups.size >= 4 * maxRegimes) return Number.NEGATIVE_INFINITY
      g = { n: new Float64Array(J), mu: new Float64Array(J), m2: new Float64Array(J) }
      groups.set(key, g)
    }
    for (let j = 0; j < J; j++) {
      const x = r[judged[j]!]!
      if (!Number.isFinite(x)) continue
      add(g, j, x)
      add(all, j, x)
    }
  }
  const r2s: number[] = []
  for (let j = 0; j < J; j++) {
    if (!(all.m2[j]! > 0)) continue
    let within = 0
    for (const g of groups.values()) within += g.m2[j]!
    r2s.push(1 - within / all.m2[j]!)
  }
  r2s.sort((a, b) => a - b)
  return r2s.length ? r2s[Math.floor((r2s.length - 1) / 2)]! : Number.NEGATIVE_INFINITY
}

/**
 * A sample whose settings sit farther than this from every regime's center (scaled distance:
 * each setting over its training range) is off the regimes seen in training: the same bound
 * that separates two groups of a setting's values (FIT_DEFAULTS.gap).
 */
export const OFF_REGIME = FIT_DEFAULTS.gap

/** Index of the nearest regime center, or −1 when a setting is missing; `dist[0]`: its scaled squared distance. */
export function regimeIndex(
  r: RegimeSpecV1,
  byIdx: readonly number[],
  values: ArrayLike<number>,
  dist?: Float64Array,
): number {
  let best = -1
  let bestD = Number.POSITIVE_INFINITY
  for (let k = 0; k < r.centers.length; k++) {
    const c = r.centers[k]!
    let d = 0
    for (let j = 0; j < byIdx.length; j++) {
      const z = (values[byIdx[j]!]! - c[j]!) / r.scale[j]!
      d += z * z
    }
    if (!(d >= 0)) return -1
    if (d < bestD) {
      bestD = d
      best = k
    }
  }
  if (dist) dist[0] = bestD
  return best
}

/**
 * Finds the operating regimes of a sample of rows (`rows[i]` in `metrics` order, NaN missing).
 * `by`: the setting columns by name (no R² test: asked for), or undefined to detect them:
 * among the columns that take 2–12 tight groups of values, each on ≥ 1 % of the rows, the one
 * whose groups explain most of the other metrics' variance (median R²), then more only while
 * each adds 0.05 to it. Their joint groups are the regimes (those on ≥ 1 % of the rows; the rest
 * join the nearest); kept only when they explain at least half of that variance.
 */
export function fitRegimes(
  rows: readonly ArrayLike<number>[],
  metrics: readonly string[],
  by?: readonly string[],
  options: Partial<RegimeFitOptions> = {},
): RegimeFit {
  const o = { ...FIT_DEFAULTS, ...options }
  const none = (reason: string, r2 = Number.NaN): RegimeFit => ({ reason, constantWithin: [], r2 })
  const M = metrics.length
  const column = (m: number) => rows.map((r) => r[m]!)
  let byIdx: number[]
  const bounds: number[][] = []
  if (by) {
    byIdx = by.map((b) => metrics.indexOf(b))
    for (let j = 0; j < by.length; j++) {
      if (byIdx[j]! < 0) throw new RangeError(`regimes: "${by[j]}" is not among the metrics`)
      const g = valueGroups(column(byIdx[j]!), o)
      if (!g)
        throw new RangeError(
          `regimes: "${by[j]}" does not take a few separate values (${o.maxGroups} groups at most, each on at least ${o.minShare * 100} % of the rows)`,
        )
      bounds.push(g)
    }
  } else {
    const cand: number[] = []
    const candBounds: number[][] = []
    for (let m = 0; m < M; m++) {
      const col = column(m)
      if (col.filter(Number.isFinite).length < 0.99 * rows.length) continue
      const g = valueGroups(col, o)
      if (g) {
        cand.push(m)
        candBounds.push(g)
      }
    }
    if (!cand.length) return none('no column takes a few separate values (operating settings)')
    // Forward selection: the setting that explains most of the other metrics, then another
    // only while it explains clearly more (a sensor that only echoes the setting, or toggles
    // between two readings, is read per regime instead of splitting it).
    const judged = [...Array(M).keys()].filter((m) => !cand.includes(m))
    if (!judged.length) return none('every metric looks like a setting: nothing left to read per regime')
    byIdx = []
    let best = Number.NEGATIVE_INFINITY
    for (;;) {
      let pick = -1
      let pickR2 = best
      for (let c = 0; c < cand.length; c++) {
        if (byIdx.includes(cand[c]!)) continue
        const r2 = partitionR2(rows, [...byIdx, cand[c]!], [...bounds, candBounds[c]!], judged, o.maxRegimes)
        if (r2 > pickR2 + (byIdx.length ? o.minGain : 0)) {
          pick = c
          pickR2 = r2
        }
      }
      if (pick < 0) break
      byIdx.push(cand[pick]!)
      bounds.push(candBounds[pick]!)
      best = pickR2
    }
    if (!byIdx.length) return none('no setting-like column splits the rows into few enough regimes')
  }
  if (byIdx.length === M) return none('every metric looks like a setting: nothing left to read per regime')
  const names = byIdx.map((m) => metrics[m]!)
  // Regimes: joint groups on enough of the rows.
  const tally = new Map<string, { n: number; sum: number[] }>()
  let counted = 0
  for (const r of rows) {
    const key: number[] = []
    let ok = true
    for (let j = 0; j < byIdx.length; j++) {
      const x = r[byIdx[j]!]!
      if (!Number.isFinite(x)) ok = false
      key.push(groupOf(bounds[j]!, x))
    }
    if (!ok) continue
    counted++
    const k = key.join(',')
    let t = tally.get(k)
    if (!t) {
      t = { n: 0, sum: new Array<number>(byIdx.length).fill(0) }
      tally.set(k, t)
    }
    t.n++
    for (let j = 0; j < byIdx.length; j++) t.sum[j]! += r[byIdx[j]!]!
  }
  const kept = [...tally.entries()].filter(([, t]) => t.n >= o.minShare * counted).sort(([a], [b]) => (a < b ? -1 : 1))
  if (kept.length < 2) return none(`${names.join(', ')} take${names.length > 1 ? '' : 's'} one common value only`)
  if (kept.length > o.maxRegimes)
    return none(
      `${names.join(', ')} make${names.length > 1 ? '' : 's'} ${kept.length} regimes (at most ${o.maxRegimes})`,
    )
  const lo = byIdx.map(() => Number.POSITIVE_INFINITY)
  const hi = byIdx.map(() => Number.NEGATIVE_INFINITY)
  for (const r of rows)
    for (let j = 0; j < byIdx.length; j++) {
      const x = r[byIdx[j]!]!
      if (x < lo[j]!) lo[j] = x
      if (x > hi[j]!) hi[j] = x
    }
  const spec: RegimeSpecV1 = {
    by: names,
    centers: kept.map(([, t]) => t.sum.map((s) => s / t.n)),
    scale: byIdx.map((_, j) => hi[j]! - lo[j]!),
    mean: [],
    std: [],
  }
  // Per regime and metric: mean and variance (Welford), every row to its nearest regime.
  const K = kept.length
  const n = new Float64Array(K * M)
  const mu = new Float64Array(K * M)
  const m2 = new Float64Array(K * M)
  const all = { n: new Float64Array(M), mu: new Float64Array(M), m2: new Float64Array(M) }
  for (const r of rows) {
    const k = regimeIndex(spec, byIdx, r)
    if (k < 0) continue
    for (let m = 0; m < M; m++) {
      const x = r[m]!
      if (!Number.isFinite(x)) continue
      const i = k * M + m
      n[i]!++
      const d = x - mu[i]!
      mu[i]! += d / n[i]!
      m2[i]! += d * (x - mu[i]!)
      all.n[m]!++
      const e = x - all.mu[m]!
      all.mu[m]! += e / all.n[m]!
      all.m2[m]! += e * (x - all.mu[m]!)
    }
  }
  const isBy = new Set(byIdx)
  const r2s: number[] = []
  const constantWithin: string[] = []
  for (let m = 0; m < M; m++) {
    if (isBy.has(m)) continue
    let within = 0
    for (let k = 0; k < K; k++) within += m2[k * M + m]!
    const total = all.m2[m]!
    if (total > 0) r2s.push(1 - within / total)
    if (!(within > 1e-18 * Math.max(1, total))) constantWithin.push(metrics[m]!)
  }
  r2s.sort((a, b) => a - b)
  const r2 = r2s.length ? r2s[Math.floor((r2s.length - 1) / 2)]! : Number.NaN
  if (!by && !(r2 >= o.minR2))
    return none(
      `${names.join(', ')} make${names.length > 1 ? '' : 's'} ${K} regimes, but they explain only ${(r2 * 100).toFixed(0)} % of the other metrics' variance (median; at least ${o.minR2 * 100} % to use them)`,
      r2,
    )
  for (let k = 0; k < K; k++) {
    const mean: number[] = []
    const std: number[] = []
    for (let m = 0; m < M; m++) {
      if (isBy.has(m)) {
        mean.push(0)
        std.push(1)
        continue
      }
      const i = k * M + m
      // A regime too rare for this metric falls back to the metric's overall figures.
      const pooled = all.n[m]! > 1 ? Math.sqrt(all.m2[m]! / (all.n[m]! - 1)) : 1
      const ok = n[i]! > 1
      const mk = ok ? mu[i]! : all.mu[m]!
      const sk = ok ? Math.sqrt(m2[i]! / (n[i]! - 1)) : pooled
      mean.push(mk)
      // Floored: a metric flat in one regime but not in others must not blow up there.
      std.push(Math.max(sk, 1e-3 * pooled, 1e-9 * Math.max(1, Math.abs(mk))))
    }
    spec.mean.push(mean)
    spec.std.push(std)
  }
  return {
    regimes: spec,
    reason: `${names.join(', ')} make${names.length > 1 ? '' : 's'} ${K} regimes explaining ${(r2 * 100).toFixed(0)} % of the other metrics' variance (median)`,
    constantWithin,
    r2,
  }
}

/** `fitRegimes` over `metrics` of rows read with `columns` (each row projected, as the vectorizer does). */
export function fitRegimesOver(
  rows: readonly ArrayLike<number>[],
  columns: readonly string[],
  metrics: readonly string[],
  by?: readonly string[],
): RegimeFit {
  const project = projectValues(columns, metrics)
  return fitRegimes(
    rows.map((r) => {
      const v = new Float64Array(metrics.length)
      project(r, v)
      return v
    }),
    metrics,
    by,
  )
}

/** Keeps only `keep` (a subset of `metrics`, any order) in a regime spec's per-metric tables. */
export function projectRegimes(r: RegimeSpecV1, metrics: readonly string[], keep: readonly string[]): RegimeSpecV1 {
  const idx = keep.map((m) => metrics.indexOf(m))
  if (idx.some((i) => i < 0)) throw new RangeError('regimes: a kept metric is not among the fitted ones')
  return {
    ...r,
    mean: r.mean.map((row) => idx.map((i) => row[i]!)),
    std: r.std.map((row) => idx.map((i) => row[i]!)),
  }
}

/** The engine's per-sample transform for a spec's regimes. */
export class RegimeNormalizer {
  private readonly byIdx: number[]
  private readonly isBy: Uint8Array

  constructor(
    private readonly r: RegimeSpecV1,
    metrics: readonly string[],
  ) {
    this.byIdx = r.by.map((b) => metrics.indexOf(b))
    if (this.byIdx.some((i) => i < 0)) throw new RangeError('feature spec: a regime setting is not among the metrics')
    if (r.mean.length !== r.centers.length || r.std.length !== r.centers.length)
      throw new RangeError('feature spec: regimes need a mean and std row per center')
    this.isBy = new Uint8Array(metrics.length)
    for (const i of this.byIdx) this.isBy[i] = 1
  }

  /** Samples whose settings were off every regime seen in training (read relative to the nearest anyway). */
  offRegime = 0
  private readonly dist = new Float64Array(1)

  /** Writes `values` read relative to their regime into `dst`; settings pass as they are, the rest is NaN when a setting is missing. */
  apply(values: ArrayLike<number>, dst: Float64Array): void {
    const k = regimeIndex(this.r, this.byIdx, values, this.dist)
    if (k >= 0 && this.dist[0]! > OFF_REGIME * OFF_REGIME) this.offRegime++
    const mean = k < 0 ? undefined : this.r.mean[k]!
    const std = k < 0 ? undefined : this.r.std[k]!
    for (let m = 0; m < dst.length; m++) {
      const x = values[m]!
      if (this.isBy[m]) dst[m] = x
      else dst[m] = mean ? (x - mean[m]!) / std![m]! : Number.NaN
    }
  }
}
