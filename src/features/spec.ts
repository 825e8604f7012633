/**
 * The feature spec: saved with every model, it alone determines the vector layout, so the
 * offline path (CSV → train/score) and the online path (Kafka → serve) compute the same
 * vector from the same samples.
 */
import type { TimeUnit } from '../time.js'
import type { PeerSpecV1 } from './peers.js'
import type { RegimeSpecV1 } from './regimes.js'

export const Aggregates = ['mean', 'std', 'min', 'max', 'last', 'slope', 'count'] as const
export type Aggregate = (typeof Aggregates)[number]

export interface FeatureSpecV1 {
  v: 1
  /** Metrics, in vector order. */
  metrics: string[]
  /** Window lengths on the time axis (ms, or steps for step data), ascending. */
  windows: number[]
  aggregates: Aggregate[]
  /** Per-metric EWMA (time constant = longest window) and delta over the longest window. */
  ewma: boolean
  /**
   * Per metric and window shorter than the longest: z = (mean_w − mean_longest) / std_longest,
   * how far the recent level sits from the host's own recent normal (comparable across hosts).
   * Absent in older specs: false.
   */
  relative?: boolean
  /**
   * Per metric, with two windows or more: `m.trend` = the slope over the second-longest
   * window minus the slope over the rest of the longest (the older part): still rising (≈ 0
   * while the slope holds) or levelled off (< 0) over the longest window. NaN until the older
   * part holds two samples. Absent in older specs: false.
   */
  trend?: boolean
  /** Per-host: time since the previous sample, and fraction of metrics missing. */
  hostFeatures: boolean
  /**
   * For sequence models: the longest window cut into this many buckets of equal event time
   * (aligned to multiples of the bucket width, the newest one partial); per bucket and metric,
   * the mean of its samples and that mean minus the metric's mean over the buckets (NaN when
   * a bucket is empty). Appended after every other feature, oldest bucket first. Absent: none.
   */
  sequence?: number
  /**
   * Deviation from the host's peer group (features/peers.ts): per peer metric `m.peer.dev`
   * (own bucket mean − the group's median) and `m.peer.z` (that over the group's robust
   * spread), then `peer.count` (hosts in the group's bucket). After the host features, before
   * any sequence. Absent: none.
   */
  peers?: PeerSpecV1
  /**
   * Operating regimes (features/regimes.ts): every metric but the settings is read as
   * (x − its regime's mean) / its regime's std before anything else, the regime being the
   * nearest center of the settings' values. Absent: metrics as they come.
   */
  regimes?: RegimeSpecV1
  /** Vectors are emitted once a host has this many samples in its current life. */
  minHistory: number
  /** Emit a vector every `stride` accepted samples of a host. */
  stride: number
  /** Samples up to this much older than the host's newest are inserted in order; older ones are late. */
  lateness: number
  timeUnit: TimeUnit
}

/** Time axis units per slope unit: slopes are per second (ms data) or per step. */
export function slopeScale(unit: TimeUnit): number {
  return unit === 'step' ? 1 : 1000
}

function windowLabel(w: number, unit: TimeUnit): string {
  if (unit === 'step') return `${w}`
  if (w % 86_400_000 === 0) return `${w / 86_400_000}d`
  if (w % 3_600_000 === 0) return `${w / 3_600_000}h`
  if (w % 60_000 === 0) return `${w / 60_000}m`
  if (w % 1000 === 0) return `${w / 1000}s`
  return `${w}ms`
}

/** Feature names in vector order, e.g. `mem_used.slope.30m`, `mem_used.ewma`, `host.since_prev`. */
export function featureNames(spec: FeatureSpecV1): string[] {
  const names: string[] = []
  for (const m of spec.metrics) {
    for (const w of spec.windows)
      for (const a of spec.aggregates) names.push(`${m}.${a}.${windowLabel(w, spec.timeUnit)}`)
    if (spec.ewma) names.push(`${m}.ewma`, `${m}.delta`)
    if (spec.relative) for (const w of spec.windows.slice(0, -1)) names.push(`${m}.z.${windowLabel(w, spec.timeUnit)}`)
    if (hasTrend(spec)) names.push(`${m}.trend`)
  }
  if (spec.hostFeatures) names.push('host.since_prev', 'host.missing_frac')
  if (spec.peers) {
    for (const m of spec.peers.metrics) names.push(`${m}.peer.dev`, `${m}.peer.z`)
    names.push('peer.count')
  }
  const n = spec.sequence ?? 0
  for (let b = 0; b < n; b++) {
    const age = b === n - 1 ? 'now' : `now-${n - 1 - b}`
    for (const m of spec.metrics) names.push(`${m}.seq.${age}`)
    for (const m of spec.metrics) names.push(`${m}.seqdev.${age}`)
  }
  return names
}

export function featureCount(spec: FeatureSpecV1): number {
  return (
    spec.metrics.length *
      (spec.windows.length * spec.aggregates.length +
        (spec.ewma ? 2 : 0) +
        (spec.relative ? Math.max(0, spec.windows.length - 1) : 0) +
        (hasTrend(spec) ? 1 : 0)) +
    (spec.hostFeatures ? 2 : 0) +
    (spec.peers ? 2 * spec.peers.metrics.length + 1 : 0) +
    (spec.sequence ?? 0) * 2 * spec.metrics.length
  )
}

/** The spec has trend features (asked for, and two windows to compare). */
export function hasTrend(spec: FeatureSpecV1): boolean {
  return spec.trend === true && spec.windows.length >= 2
}

/** The metric a feature is computed from ('host' for per-host features). */
export function featureMetric(name: string): string {
  return name.slice(0, name.indexOf('.'))
}

/** Default windows from the horizon: a sixth, a half, and twice the horizon. */
export function defaultWindows(horizon: number, unit: TimeUnit): number[] {
  const round = (x: number) =>
    unit === 'step' ? Math.max(1, Math.round(x)) : Math.max(1000, Math.round(x / 1000) * 1000)
  return [...new Set([round(horizon / 6), round(horizon / 2), round(horizon * 2)])].sort((a, b) => a - b)
}

export function createFeatureSpec(p: {
  metrics: string[]
  horizon: number
  timeUnit: TimeUnit
  windows?: number[]
  aggregates?: Aggregate[]
  minHistory?: number
  stride?: number
  lateness?: number
  relative?: boolean
  /** Trend features (FeatureSpecV1.trend). Default false. */
  trend?: boolean
  /** Sequence models: only the bucketed sequence over the longest window (see FeatureSpecV1.sequence). */
  sequence?: number
  /** Peer features by this label (e.g. 'service'); the rest of PeerSpecV1 defaults (peerSpecOf). */
  peers?: (Partial<PeerSpecV1> & { by: string }) | undefined
  /** Operating regimes fitted on training rows, per metric in `metrics` order (see FeatureSpecV1.regimes). */
  regimes?: RegimeSpecV1 | undefined
}): FeatureSpecV1 {
  const windows = [...(p.windows ?? defaultWindows(p.horizon, p.timeUnit))].sort((a, b) => a - b)
  if (p.sequence)
    return {
      v: 1,
      metrics: [...p.metrics],
      windows: windows.slice(-1),
      aggregates: [],
      ewma: false,
      relative: false,
      hostFeatures: false,
      sequence: p.sequence,
      ...(p.regimes ? { regimes: p.regimes } : {}),
      minHistory: p.minHistory ?? 3,
      stride: p.stride ?? 1,
      lateness: p.lateness ?? (p.timeUnit === 'step' ? 0 : 60_000),
      timeUnit: p.timeUnit,
    }
  return {
    v: 1,
    metrics: [...p.metrics],
    windows,
    aggregates: [...(p.aggregates ?? Aggregates)],
    ewma: true,
    relative: p.relative ?? true,
    ...(p.trend ? { trend: true } : {}),
    hostFeatures: true,
    ...(p.peers ? { peers: peerSpecOf(p.peers, p.metrics, p.timeUnit) } : {}),
    ...(p.regimes ? { regimes: p.regimes } : {}),
    minHistory: p.minHistory ?? 3,
    stride: p.stride ?? 1,
    lateness: p.lateness ?? (p.timeUnit === 'step' ? 0 : 60_000),
    timeUnit: p.timeUnit,
  }
}

/**
 * A peer spec with its defaults: every metric, buckets of a minute (one step for step data),
 * a grace of one bucket, at least 3 peers.
 */
export function peerSpecOf(
  p: Partial<PeerSpecV1> & { by: string },
  metrics: readonly string[],
  unit: TimeUnit,
): PeerSpecV1 {
  const bucketMs = p.bucketMs ?? (unit === 'step' ? 1 : 60_000)
  return {
    by: p.by,
    bucketMs,
    graceMs: p.graceMs ?? bucketMs,
    metrics: [...(p.metrics ?? metrics)],
    minPeers: p.minPeers ?? 3,
  }
}
