/**
 * `preempt inspect`: a profile of a metrics history before any model is trained, through
 * the same CSV reader and labels as `train`. Two streaming passes, memory bounded (per host
 * a few numbers; per metric a 5 000-value reservoir):
 *
 * 1. rows, hosts, time span, sampling interval per host (and the hosts that stray from the
 *    fleet's), per metric count / missing / mean / std / min / max / quantiles, constant and
 *    near-constant metrics;
 * 2. with labels: failures per host and over time, class balance at the horizon (as `train`
 *    labels vectors: a failure within (lead, horizon] ahead), failures each split would get,
 *    and each metric averaged by time before a failure, against its mean over all rows.
 */
import { type CsvOptions, type CsvStats, discoverMetrics, readRows } from '../data/csv.js'
import { type SplitPlan, splitOf } from '../data/dataset.js'
import { type FailureTable, Label } from '../data/labels.js'
import { fitRegimesOver } from '../features/regimes.js'
import { defaultWindows } from '../features/spec.js'
import { Rng } from '../math/random.js'
import { median } from '../math/stats.js'

export interface MetricProfile {
  name: string
  count: number
  missing: number
  mean: number | null
  std: number | null
  min: number | null
  max: number | null
  p01: number | null
  p50: number | null
  p99: number | null
  /** Share of the sampled values equal to the most common one. */
  modeShare: number | null
  constant: boolean
  nearConstant: boolean
  /** Sampled values (for the distribution plot). */
  sample: number[]
}

export interface InspectReport {
  files: string[]
  timeUnit: string
  rows: number
  badRows: number
  hosts: number
  span: { from: number; to: number }
  interval: {
    median: number | null
    perHost: { host: string; median: number }[]
    strays: { host: string; median: number }[]
  }
  metrics: MetricProfile[]
  labels: null | {
    failures: number
    hostsWithFailures: number
    perHost: { host: string; failures: number }[]
    overTime: { from: number; to: number; failures: number }[]
    horizon: number
    lead: number
    balance: { positive: number; negative: number; dropped: number; positiveShare: number }
    splits: { by: 'entity' | 'time'; train: number; val: number; test: number }[]
    /** Per metric: mean z-score by time before a failure (bucket i covers (i, i+1]·horizon/buckets before). */
    aroundFailures: { name: string; buckets: (number | null)[]; deviation: number }[]
  }
  suggestedWindows: number[] | null
  /** Operating regimes, as `train --regimes auto` would find them in these rows (all of them, no split). */
  regimes: { by: string[]; count: number; r2: number | null; echoes: string[]; reason: string }
}

const RESERVOIR = 5000
/** Whole rows kept for the regime check (at most 4 M values). */
const ROW_RESERVOIR = 50_000
const BUCKETS = 20

function quantile(sorted: number[], q: number): number | null {
  if (!sorted.length) return null
  return sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1) + 0.5))]!
}

export interface InspectOptions {
  csv: CsvOptions
  /** Failures (any label source, resolved by the caller); none: no label section. */
  failures?: FailureTable | undefined
  horizon?: number | undefined
  lead?: number | undefined
  seed?: number
  onProgress?: (phase: string, rows: number) => void
}

export async function inspectCsv(o: InspectOptions): Promise<InspectReport> {
  const metrics = await discoverMetrics(o.csv)
  const M = metrics.length
  const n = new Float64Array(M)
  const miss = new Float64Array(M)
  const mean = new Float64Array(M)
  const m2 = new Float64Array(M)
  const min = new Float64Array(M).fill(Number.POSITIVE_INFINITY)
  const max = new Float64Array(M).fill(Number.NEGATIVE_INFINITY)
  const reservoir: number[][] = metrics.map(() => [])
  const rng = new Rng(o.seed ?? 1)
  const lastTs = new Map<string, number>()
  const gaps = new Map<string, number[]>()
  const stats: CsvStats = { rows: 0, badRows: 0, badExamples: [] }
  let rows = 0
  let from = Number.POSITIVE_INFINITY
  let to = Number.NEGATIVE_INFINITY
  const keepRows = Math.min(ROW_RESERVOIR, Math.floor(4_000_000 / Math.max(1, M)))
  const rowSample: Float64Array[] = []
  for await (const row of readRows({ ...o.csv, metrics }, metrics, stats)) {
    rows++
    const slot = rowSample.length < keepRows ? rowSample.length : rng.int(0, rows)
    if (slot < keepRows) rowSample[slot] = Float64Array.from(row.values)
    if (rows % 100_000 === 0) o.onProgress?.('profile', rows)
    if (row.ts < from) from = row.ts
    if (row.ts > to) to = row.ts
    const prev = lastTs.get(row.entity)
    if (prev !== undefined && row.ts > prev) {
      const g = gaps.get(row.entity) ?? []
      if (!g.length) gaps.set(row.entity, g)
      if (g.length < 500) g.push(row.ts - prev)
    }
    if (prev === undefined || row.ts > prev) lastTs.set(row.entity, row.ts)
    for (let m = 0; m < M; m++) {
      const v = row.values[m]!
      if (Number.isNaN(v)) {
        miss[m]!++
        continue
      }
      const k = ++n[m]!
      const d = v - mean[m]!
      mean[m]! += d / k
      m2[m]! += d * (v - mean[m]!)
      if (v < min[m]!) min[m] = v
      if (v > max[m]!) max[m] = v
      const r = reservoir[m]!
      if (r.length < RESERVOIR) r.push(v)
      else {
        const j = Math.floor(rng.next() * k)
        if (j < RESERVOIR) r[j] = v
      }
    }
  }
  const perHost = [...gaps].map(([host, g]) => ({ host, median: median(g)! })).sort((a, b) => a.median - b.median)
  const fleetInterval = median(perHost.map((h) => h.median))
  const strays = fleetInterval
    ? perHost.filter((h) => h.median > 1.5 * fleetInterval || h.median < fleetInterval / 1.5)
    : []
  const profiles: MetricProfile[] = metrics.map((name, m) => {
    const s = [...reservoir[m]!].sort((a, b) => a - b)
    const count = n[m]!
    const std = count > 1 ? Math.sqrt(m2[m]! / (count - 1)) : count === 1 ? 0 : null
    const counts = new Map<number, number>()
    for (const v of s) counts.set(v, (counts.get(v) ?? 0) + 1)
    const modeShare = s.length ? Math.max(...counts.values()) / s.length : null
    const constant = count > 0 && min[m] === max[m]
    return {
      name,
      count,
      missing: miss[m]!,
      mean: count ? mean[m]! : null,
      std,
      min: count ? min[m]! : null,
      max: count ? max[m]! : null,
      p01: quantile(s, 0.01),
      p50: quantile(s, 0.5),
      p99: quantile(s, 0.99),
      modeShare,
      constant,
      nearConstant: !constant && modeShare !== null && modeShare >= 0.99,
      sample: s.length > 1000 ? s.filter((_, i) => i % Math.ceil(s.length / 1000) === 0) : s,
    }
  })
  const varying = metrics.filter((_, m) => !profiles[m]!.constant)
  const fit = fitRegimesOver(rowSample, metrics, varying)
  const report: InspectReport = {
    files: o.csv.files,
    timeUnit: o.csv.timeUnit,
    rows,
    badRows: stats.badRows,
    hosts: lastTs.size,
    span: { from, to },
    interval: { median: fleetInterval, perHost, strays },
    metrics: profiles,
    labels: null,
    suggestedWindows: null,
    regimes: {
      by: fit.regimes?.by ?? [],
      count: fit.regimes?.centers.length ?? 0,
      r2: Number.isFinite(fit.r2) ? fit.r2 : null,
      echoes: fit.constantWithin,
      reason: fit.reason,
    },
  }
  const horizon = o.horizon
  if (!o.failures || !horizon) return report

  // Pass 2: labels, balance, splits, metrics aligned on failures.
  const failures = o.failures
  const lead = o.lead ?? 0
  const balance = { positive: 0, negative: 0, dropped: 0, positiveShare: 0 }
  const sum = metrics.map(() => new Float64Array(BUCKETS))
  const cnt = metrics.map(() => new Float64Array(BUCKETS))
  const width = horizon / BUCKETS
  rows = 0
  for await (const row of readRows({ ...o.csv, metrics }, metrics, { rows: 0, badRows: 0, badExamples: [] })) {
    if (++rows % 100_000 === 0) o.onProgress?.('labels', rows)
    const l = failures.label(row.entity, row.ts, horizon, lead)
    if (l === Label.positive) balance.positive++
    else if (l === Label.negative) balance.negative++
    else balance.dropped++
    const next = failures.next(row.entity, row.ts)
    if (next === undefined || next - row.ts > horizon) continue
    const b = Math.min(BUCKETS - 1, Math.floor((next - row.ts) / width))
    for (let m = 0; m < M; m++) {
      const v = row.values[m]!
      const sd = profiles[m]!.std
      if (Number.isNaN(v) || !sd) continue
      sum[m]![b]! += (v - profiles[m]!.mean!) / sd
      cnt[m]![b]!++
    }
  }
  balance.positiveShare = balance.positive / Math.max(1, balance.positive + balance.negative)
  const entities = failures.entities()
  const all = entities.flatMap((e) => failures.of(e).map((ts) => ({ e, ts })))
  const inData = all.filter((f) => lastTs.has(f.e))
  const splits = (['entity', 'time'] as const).map((by) => {
    const plan: SplitPlan = { by, train: 0.6, val: 0.2, seed: o.seed ?? 1, tMin: from, tMax: to, horizon }
    const c = { by, train: 0, val: 0, test: 0 }
    for (const f of inData) {
      const sp = splitOf(plan, f.e, f.ts)
      if (sp) c[sp]++
    }
    return c
  })
  const overBuckets = 24
  const step = (to - from) / overBuckets || 1
  const overTime = Array.from({ length: overBuckets }, (_, i) => ({
    from: from + i * step,
    to: from + (i + 1) * step,
    failures: 0,
  }))
  for (const f of inData) overTime[Math.min(overBuckets - 1, Math.max(0, Math.floor((f.ts - from) / step)))]!.failures++
  const around = metrics
    .map((name, m) => {
      const buckets = Array.from({ length: BUCKETS }, (_, b) => (cnt[m]![b]! ? sum[m]![b]! / cnt[m]![b]! : null))
      const deviation = Math.max(0, ...buckets.map((v) => Math.abs(v ?? 0)))
      return { name, buckets, deviation }
    })
    .sort((a, b) => b.deviation - a.deviation)
  report.labels = {
    failures: inData.length,
    hostsWithFailures: new Set(inData.map((f) => f.e)).size,
    perHost: [...inData.reduce((m, f) => m.set(f.e, (m.get(f.e) ?? 0) + 1), new Map<string, number>())]
      .map(([host, k]) => ({ host, failures: k }))
      .sort((a, b) => b.failures - a.failures || (a.host < b.host ? -1 : 1)),
    overTime,
    horizon,
    lead,
    balance,
    splits,
    aroundFailures: around,
  }
  // train's default windows, none holding fewer than 3 samples at this sampling interval.
  const floor = 3 * (fleetInterval ?? 0)
  report.suggestedWindows = [...new Set(defaultWindows(horizon, o.csv.timeUnit).map((w) => Math.max(w, floor)))]
  return report
}
