import { Label, labelFor } from '../data/labels.js'
import { median } from '../math/stats.js'
import { type AlertRule, isHigh, nextRun } from '../policy/alert.js'

/**
 * Event-level evaluation of alerts against failures (DESIGN.md section 6).
 *
 * For a failure of host h at f, with horizon H and lead L:
 * - an alert of h at t is *useful* for it when f − H ≤ t ≤ f − L (early enough to act);
 * - the failure is *detected* when at least one useful alert exists; its lead time is
 *   f − (first useful alert);
 * - an alert vector is a true positive when h fails in (t + L, t + H]; alerts in (f − L, f]
 *   are too late to act and count neither way (they are dropped from training too);
 * - alerts of one host with gaps < H form an *episode* (what pages a person once). An episode
 *   is judged by its first alert, when the page goes out: true when the host fails in
 *   (start + L, start + H], ignored when that is too late to act, false otherwise (also when
 *   it fires earlier than H before a failure: acting then would be premature). Alert
 *   precision is over episodes (was the page right?); the vector figure is kept beside it.
 *   A false episode that stayed open until its host failed (one of its later alerts was a
 *   true positive) is counted again as *early*: right about the host, wrong about when.
 *   The *covering* precision counts early episodes as right: the range-based reading (a page
 *   is right when it covers a failure's action window), and the one that matters for acting —
 *   a host drained hours before it fails was still drained before it failed;
 * - false alarms per host-day count false episodes per host-day observed.
 */

export interface ScoredPoint {
  /** Host (entity) index into a host table, for speed. */
  host: number
  ts: number
  score: number
  /** The hazard head's median time to failure (NaN: later than it can tell), when it was asked. */
  ttf?: number | undefined
}

export interface FailurePoint {
  host: number
  ts: number
  /** Whether a model could have seen it coming (simulator ground truth); default true. */
  predictable?: boolean
  /** Its failure mode (simulator ground truth), when known. */
  mode?: string | undefined
}

export interface EventMetrics {
  threshold: number
  /**
   * Actions the false pages would cost a policy that acts at most once per horizon: a false
   * page whose alerts go on for longer counts once per horizon they span.
   */
  falseActions: number
  /** Failures and those paged for in time, per failure mode (when modes are known). */
  byMode?: { mode: string; failures: number; detected: number; predictable: boolean }[]
  /** Vectors in a row at or above the threshold before an alert (1 for a plain threshold). */
  consecutive: number
  /** Alert vectors. */
  alerts: number
  truePositiveAlerts: number
  falsePositiveAlerts: number
  /** Alert episodes: true, false, and too late. */
  episodes: number
  trueEpisodes: number
  /** False episodes that were still open when their host failed (fired more than a horizon early). */
  earlyEpisodes: number
  /** Precision of alert episodes judged by their first alert: true / (true + false); null when there was none. */
  precision: number | null
  /**
   * Precision of alert episodes judged by what they cover: a page is right when its host
   * failed while it was open, inside the failure's action window — (true + early) / (true + false).
   */
  coveringPrecision: number | null
  /** Precision of alert vectors: TP / (TP + FP). */
  vectorPrecision: number | null
  failures: number
  detected: number
  /** detected / failures (null when there is no failure). */
  eventRecall: number | null
  /** Recall over the failures marked predictable. */
  predictableFailures: number
  predictableDetected: number
  predictableRecall: number | null
  /** Lead time of each detected failure, in the time unit of ts. */
  leadTimes: number[]
  medianLeadTime: number | null
  falseAlarmEpisodes: number
  hostDays: number
  falseAlarmsPerHostDay: number | null
}

export interface EventEvalOptions {
  horizon: number
  lead: number
  /** Length of a "day" in the time unit of ts (86 400 000 for ms; e.g. 1 for cycles). */
  dayLength: number
}

export { median }

/**
 * Per host, the failure times (sorted) and the observed span. `points` must be sorted by
 * (host, ts); `failures` in any order.
 */
export class EventIndex {
  readonly failuresByHost = new Map<number, FailurePoint[]>()
  readonly hostDays: number

  constructor(
    readonly points: readonly ScoredPoint[],
    readonly failures: readonly FailurePoint[],
    readonly opts: EventEvalOptions,
  ) {
    for (const f of failures) {
      const list = this.failuresByHost.get(f.host) ?? []
      list.push(f)
      this.failuresByHost.set(f.host, list)
    }
    for (const list of this.failuresByHost.values()) list.sort((a, b) => a.ts - b.ts)
    let span = 0
    let i = 0
    while (i < points.length) {
      const h = points[i]!.host
      const first = points[i]!.ts
      let last = first
      while (i < points.length && points[i]!.host === h) last = points[i++]!.ts
      span += last - first
    }
    this.hostDays = span / opts.dayLength
  }

  /**
   * Label of a point: 1 positive (fails within (t + lead, t + horizon]), 0 negative, -1 too
   * late to act (in (f − lead, f]).
   */
  label(p: ScoredPoint): Label {
    const f = this.nextFailure(p)
    return labelFor(f && f.ts - p.ts, this.opts.horizon, this.opts.lead)
  }

  /** The host's first failure at or after the point's time. */
  private nextFailure(p: ScoredPoint): FailurePoint | undefined {
    const list = this.failuresByHost.get(p.host)
    if (list) for (const f of list) if (f.ts >= p.ts) return f
    return undefined
  }

  /** Metrics under an alert rule: alerts are the vectors that end a run of `consecutive` high scores. */
  evaluateRule(rule: AlertRule): EventMetrics {
    const runs = ruleRuns(this.points, rule)
    return {
      ...this.evaluate(rule.consecutive, (_, i) => runs[i]!),
      threshold: rule.threshold,
      consecutive: rule.consecutive,
    }
  }

  evaluate(threshold: number, scoreOf: (p: ScoredPoint, i: number) => number = (p) => p.score): EventMetrics {
    const { horizon, lead } = this.opts
    let tp = 0
    let fp = 0
    let trueEpisodes = 0
    let falseEpisodes = 0
    let earlyEpisodes = 0
    let episodes = 0
    // The open episode: its host, last alert time, the verdict of its first alert, and whether
    // any of its alerts was a true positive.
    let epHost = -1
    let epFirst = Number.NEGATIVE_INFINITY
    let epLast = Number.NEGATIVE_INFINITY
    let falseActions = 0
    let epVerdict: Label = Label.negative
    let epHit = false
    const closeEpisode = () => {
      if (epHost < 0) return
      episodes++
      if (epVerdict === 1) trueEpisodes++
      else if (epVerdict === 0) {
        falseEpisodes++
        if (epHit) earlyEpisodes++
        // A policy acts again once an action's horizon has passed with the alert still on.
        falseActions += 1 + Math.floor((epLast - epFirst) / horizon)
      }
    }
    const firstUseful = new Map<FailurePoint, number>()
    for (let i = 0; i < this.points.length; i++) {
      const p = this.points[i]!
      if (!(scoreOf(p, i) >= threshold)) continue
      const f = this.nextFailure(p)
      const verdict = labelFor(f && f.ts - p.ts, horizon, lead)
      if (verdict === Label.positive && f && !firstUseful.has(f)) firstUseful.set(f, p.ts)
      if (p.host !== epHost || p.ts - epLast >= horizon) {
        closeEpisode()
        epHost = p.host
        epFirst = p.ts
        epVerdict = verdict
        epHit = false
      }
      epLast = p.ts
      if (verdict === Label.positive) epHit = true
      if (verdict === 1) tp++
      else if (verdict === 0) fp++
    }
    closeEpisode()
    const leadTimes: number[] = []
    let predictable = 0
    let predictableDetected = 0
    for (const f of this.failures) {
      const first = firstUseful.get(f)
      if (first !== undefined) leadTimes.push(f.ts - first)
      if (f.predictable !== false) {
        predictable++
        if (first !== undefined) predictableDetected++
      }
    }
    const modes = new Map<string, { mode: string; failures: number; detected: number; predictable: boolean }>()
    for (const f of this.failures) {
      if (f.mode === undefined) continue
      const m = modes.get(f.mode) ?? { mode: f.mode, failures: 0, detected: 0, predictable: f.predictable !== false }
      m.failures++
      if (firstUseful.has(f)) m.detected++
      modes.set(f.mode, m)
    }
    return {
      threshold,
      consecutive: 1,
      ...(modes.size && { byMode: [...modes.values()].sort((a, b) => a.mode.localeCompare(b.mode)) }),
      alerts: tp + fp,
      truePositiveAlerts: tp,
      falsePositiveAlerts: fp,
      episodes,
      trueEpisodes,
      earlyEpisodes,
      precision: trueEpisodes + falseEpisodes ? trueEpisodes / (trueEpisodes + falseEpisodes) : null,
      coveringPrecision:
        trueEpisodes + falseEpisodes ? (trueEpisodes + earlyEpisodes) / (trueEpisodes + falseEpisodes) : null,
      vectorPrecision: tp + fp ? tp / (tp + fp) : null,
      failures: this.failures.length,
      detected: leadTimes.length,
      eventRecall: this.failures.length ? leadTimes.length / this.failures.length : null,
      predictableFailures: predictable,
      predictableDetected,
      predictableRecall: predictable ? predictableDetected / predictable : null,
      leadTimes,
      medianLeadTime: median(leadTimes),
      falseAlarmEpisodes: falseEpisodes,
      falseActions,
      hostDays: this.hostDays,
      falseAlarmsPerHostDay: this.hostDays > 0 ? falseEpisodes / this.hostDays : null,
    }
  }
}

/**
 * Per point (grouped by host, in time order), how many consecutive points of its host ending
 * at it have a score at or above the threshold.
 */
export function consecutiveRuns(
  points: readonly ScoredPoint[],
  threshold: number,
  scoreOf: (p: ScoredPoint, i: number) => number = (p) => p.score,
): Float64Array {
  const runs = new Float64Array(points.length)
  for (let i = 0; i < points.length; i++) {
    const p = points[i]!
    runs[i] = nextRun(i > 0 && points[i - 1]!.host === p.host ? runs[i - 1]! : 0, scoreOf(p, i), threshold)
  }
  return runs
}

/** Per point, the run of vectors high under the rule (its score and, with `within`, its time to failure) ending at it. */
export function ruleRuns(points: readonly ScoredPoint[], rule: AlertRule): Float64Array {
  if (rule.within === undefined) return consecutiveRuns(points, rule.threshold)
  return consecutiveRuns(points, 0.5, (p) => (isHigh(rule, p.score, p.ttf) ? 1 : 0))
}

const f1 = (p: number | null, r: number | null) => (p && r ? (2 * p * r) / (p + r) : 0)

export interface StaticBaseline {
  metric: string
  direction: 'above' | 'below'
  threshold: number
  best: EventMetrics
  /** Highest predictable recall among thresholds whose alert precision is ≥ 0.9 (0 if none). */
  recallAtPrecision90: number
}

/** Event figures of one static rule (`values[i]`: the metric at point i; NaN never alerts). */
export function staticRuleMetrics(
  index: EventIndex,
  values: Float64Array,
  rule: { direction: 'above' | 'below'; threshold: number },
): EventMetrics {
  const sign = rule.direction === 'above' ? 1 : -1
  return index.evaluate(sign * rule.threshold, (_, i) => {
    const v = values[i]!
    return Number.isNaN(v) ? Number.NEGATIVE_INFINITY : sign * v
  })
}

/**
 * The naive baseline: one static threshold on one raw metric ("alert when disk_err_rate >
 * x"), the best per metric over a grid of quantiles and both directions, chosen by F1 of
 * alert precision and predictable event recall. `values[m][i]` is metric m of point i
 * (NaN = missing).
 */
export function staticThresholdBaseline(
  index: EventIndex,
  metrics: readonly string[],
  values: readonly Float64Array[],
  quantiles: readonly number[] = [0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 0.9999],
): StaticBaseline[] {
  const out: StaticBaseline[] = []
  metrics.forEach((metric, m) => {
    const col = values[m]!
    const finite = Float64Array.from(col.filter((v) => Number.isFinite(v))).sort()
    if (!finite.length) return
    let best: StaticBaseline | undefined
    for (const direction of ['above', 'below'] as const)
      for (const q of quantiles) {
        const k = Math.min(finite.length - 1, Math.floor((direction === 'above' ? q : 1 - q) * finite.length))
        const thr = finite[k]!
        const r = staticRuleMetrics(index, col, { direction, threshold: thr })
        const score = f1(r.precision, r.predictableRecall)
        const at90 = (r.precision ?? 0) >= 0.9 ? (r.predictableRecall ?? 0) : 0
        if (!best || score > f1(best.best.precision, best.best.predictableRecall))
          best = {
            metric,
            direction,
            threshold: thr,
            best: r,
            recallAtPrecision90: Math.max(at90, best?.recallAtPrecision90 ?? 0),
          }
        else best.recallAtPrecision90 = Math.max(best.recallAtPrecision90, at90)
      }
    if (best) out.push(best)
  })
  return out.sort(
    (a, b) => f1(b.best.precision, b.best.predictableRecall) - f1(a.best.precision, a.best.predictableRecall),
  )
}
