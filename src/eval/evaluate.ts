/**
 * Honest evaluation of scored vectors against failures: vector-level PR/ROC, event-level
 * recall, alert precision, lead times, false alarms per host-day, the availability effect of
 * the cost model, and the naive static-threshold baseline on the same rows.
 */
import { type FailureTable, Label } from '../data/labels.js'
import { type CurvePoint, curves } from '../math/curves.js'
import type { ScoredRow } from '../pipelines/score-csv.js'
import type { AlertRule } from '../policy/alert.js'
import type { CostModel } from '../policy/cost.js'
import {
  EventIndex,
  type EventMetrics,
  type FailurePoint,
  median,
  ruleRuns,
  type ScoredPoint,
  type StaticBaseline,
  staticRuleMetrics,
  staticThresholdBaseline,
} from './events.js'

export interface AvailabilityEffect {
  /** Unplanned downtime without the model, with it (time unit of the data). */
  downtimeWithout: number
  downtimeWith: number
  availabilityWithout: number
  availabilityWith: number
}

export interface EvaluationReport {
  vectors: number
  positives: number
  negatives: number
  dropped: number
  prAuc: number
  rocAuc: number
  /** The page rule: threshold… */
  threshold: number
  /** …and vectors in a row at or above it before a page… */
  consecutive: number
  /** …and, for a rule gated on the time to failure, the gate (data's time axis). */
  within?: number
  /** The `alert` column's vector threshold the confusion table and F1 use (null: the page rule's vectors). */
  alertThreshold: number | null
  /** Event figures under the page rule. */
  atThreshold: EventMetrics
  /** Confusion table of vectors under the alert (or, without one, the page rule). */
  confusion: { tp: number; fp: number; fn: number; tn: number }
  f1: number
  availability: AvailabilityEffect
  baseline: {
    rule: string
    /** 'validation': chosen there, judged here; 'these rows': chosen on the rows it is judged on (optimistic). */
    chosenOn: 'validation' | 'these rows'
    precision: number | null
    eventRecall: number | null
    predictableRecall: number | null
    medianLeadTime: number | null
    falseAlarmsPerHostDay: number | null
    recallAtPrecision90: number
  } | null
  /** Down-sampled curve for plots. */
  curve: CurvePoint[]
  /** Score histograms (20 bins over [0, 1]) of positive and negative vectors. */
  histogram: { positive: number[]; negative: number[] }
  /** Other alert rules on the same rows, for a person choosing one (see `operatingPoints`). */
  operatingPoints: OperatingPoint[]
  /** The hazard head's median time to failure against the truth (rows with a failure after them). */
  timeToFailure?: TtfAccuracy | undefined
}

/** What one alert rule gives on the evaluated rows. */
export interface OperatingPoint {
  threshold: number
  consecutive: number
  predictableRecall: number | null
  precision: number | null
  coveringPrecision: number | null
  pages: number
  falsePages: number
  /** False pages that fired over a horizon early and stayed open until their host failed. */
  earlyPages: number
  medianLeadTime: number | null
  falseAlarmsPerHostDay: number | null
}

/** Thresholds of the operating-point table. */
export const OPERATING_THRESHOLDS = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95] as const

/** How vectors meet failures: horizon, lead, the length of a "day", and which failures were predictable. */
export interface EventWindowOptions {
  horizon: number
  lead: number
  dayLength: number
  /** Which failures were predictable (simulator ground truth); default: all. */
  predictable?: ((entity: string, ts: number) => boolean) | undefined
  /** Each failure's mode (simulator ground truth), for recall per mode. */
  mode?: ((entity: string, ts: number) => string | undefined) | undefined
}

export interface EvaluateOptions extends EventWindowOptions {
  /** The page rule (event figures). */
  rule: AlertRule
  /** The `alert` column's vector threshold (the confusion table and F1); absent: the page rule's vectors. */
  alertThreshold?: number | undefined
  costModel: CostModel
  /** Metric names of ScoredRow.values, for the static baseline (none: no baseline). */
  metrics?: string[]
  /** The hazard head's reach: rows' `ttf` and their truth are capped at it for the errors. */
  ttfCap?: number | undefined
  /** The baseline chosen on validation; absent: chosen on these rows (and said so). */
  baselineRule?: StaticRule | undefined
}

/**
 * How far the median time to failure is from the truth, both capped at the head's reach (past
 * it the head says "later"): at each entity's last row (remaining life at the end of its data,
 * as run-to-failure test sets are cut) and over every row.
 */
export interface TtfAccuracy {
  cap: number
  lastRow: { entities: number; rmse: number; mae: number } | null
  everyRow: { vectors: number; rmse: number; mae: number } | null
}

export function ttfAccuracy(rows: readonly ScoredRow[], failures: FailureTable, cap: number): TtfAccuracy | undefined {
  if (!rows.some((r) => r.ttf !== undefined)) return undefined
  const errOf = (r: ScoredRow): number | undefined => {
    const f = failures.next(r.entity, r.ts)
    if (f === undefined || r.ttf === undefined) return undefined
    const pred = Number.isNaN(r.ttf) ? cap : Math.min(cap, r.ttf)
    return pred - Math.min(cap, f - r.ts)
  }
  const last = new Map<string, ScoredRow>()
  for (const r of rows) if (!(r.ts <= (last.get(r.entity)?.ts ?? Number.NEGATIVE_INFINITY))) last.set(r.entity, r)
  const summary = (errs: number[]) => {
    if (!errs.length) return null
    let se = 0
    let ae = 0
    for (const e of errs) {
      se += e * e
      ae += Math.abs(e)
    }
    return { n: errs.length, rmse: Math.sqrt(se / errs.length), mae: ae / errs.length }
  }
  const lastErrs = [...last.values()].map(errOf).filter((e): e is number => e !== undefined)
  const allErrs = rows.map(errOf).filter((e): e is number => e !== undefined)
  const l = summary(lastErrs)
  const a = summary(allErrs)
  return {
    cap,
    lastRow: l && { entities: l.n, rmse: l.rmse, mae: l.mae },
    everyRow: a && { vectors: a.n, rmse: a.rmse, mae: a.mae },
  }
}

/** The naive baseline's rule: one raw metric above or below one value. */
export interface StaticRule {
  metric: string
  direction: 'above' | 'below'
  threshold: number
}

const describeStatic = (b: StaticRule) =>
  `${b.metric} ${b.direction === 'above' ? '>' : '<'} ${+b.threshold.toPrecision(5)}`

/** Each metric's raw values over the rows, in the event index's order (for the static baseline). */
function metricColumns(
  rows: readonly ScoredRow[],
  order: readonly number[],
  metrics: readonly string[],
): Float64Array[] {
  return metrics.map((_, m) => Float64Array.from(order, (i) => rows[i]!.values![m]!))
}

/** The naive baseline chosen on these (validation) rows: undefined without metric values. */
export function chooseBaseline(
  rows: ScoredRow[],
  failures: FailureTable,
  o: EventWindowOptions & { metrics: string[] },
): StaticRule | undefined {
  if (!o.metrics.length || !rows[0]?.values) return undefined
  const { index, order } = eventIndexOf(rows, failures, o)
  const b = staticThresholdBaseline(index, o.metrics, metricColumns(rows, order, o.metrics))[0]
  return b && { metric: b.metric, direction: b.direction, threshold: b.threshold }
}

function downsample<T>(xs: T[], n: number): T[] {
  if (xs.length <= n) return xs
  const out: T[] = []
  for (let i = 0; i < n; i++) out.push(xs[Math.floor((i * (xs.length - 1)) / (n - 1))]!)
  return out
}

/** Rows grouped by entity in time order, as an EventIndex over their failures. */
export function eventIndexOf(
  rows: ScoredRow[],
  failures: FailureTable,
  o: EventWindowOptions,
): { index: EventIndex; order: number[]; points: ScoredPoint[]; failurePoints: FailurePoint[] } {
  // Event-level work wants rows grouped by entity, in time order.
  const entities = new Map<string, number>()
  const order = rows.map((_, i) => i)
  for (const r of rows) if (!entities.has(r.entity)) entities.set(r.entity, entities.size)
  order.sort((a, b) => entities.get(rows[a]!.entity)! - entities.get(rows[b]!.entity)! || rows[a]!.ts - rows[b]!.ts)
  const points: ScoredPoint[] = order.map((i) => ({
    host: entities.get(rows[i]!.entity)!,
    ts: rows[i]!.ts,
    score: rows[i]!.score,
    ...(rows[i]!.ttf !== undefined && { ttf: rows[i]!.ttf }),
  }))
  // Only the failures these rows can speak to (a time split's test rows are not charged
  // with the training period's failures).
  const fps: FailurePoint[] = []
  for (const [entity, list] of failures.seenBy(rows, o.horizon))
    for (const ts of list)
      fps.push({
        host: entities.get(entity)!,
        ts,
        predictable: o.predictable ? o.predictable(entity, ts) : true,
        mode: o.mode?.(entity, ts),
      })
  const index = new EventIndex(points, fps, { horizon: o.horizon, lead: o.lead, dayLength: o.dayLength })
  return { index, order, points, failurePoints: fps }
}

/** Run lengths tried by `pageRule`: one vector, then runs up to a sixth of the horizon. */
export const CONSECUTIVE_CANDIDATES = [1, 2, 3, 6, 12, 24, 48] as const

/** The run lengths worth trying: 1, and runs no longer than a sixth of the horizon at the median sample spacing. */
export function runLengths(
  points: readonly ScoredPoint[],
  horizon: number,
  candidates: readonly number[] = CONSECUTIVE_CANDIDATES,
): number[] {
  const gaps: number[] = []
  for (let i = 1; i < points.length && gaps.length < 100_000; i++)
    if (points[i]!.host === points[i - 1]!.host) gaps.push(points[i]!.ts - points[i - 1]!.ts)
  const spacing = median(gaps) ?? horizon
  return candidates.filter((k) => k === 1 || k * spacing <= horizon / 6)
}

export interface ChosenRule extends AlertRule {
  /** Page precision judged by the first alert (the one the rule must reach). */
  precision: number
  /**
   * Page precision judged by what the pages covered, for the record. Never a criterion: a rule
   * that alerts always would reach 1 on data where every entity fails (run-to-failure).
   */
  coveringPrecision: number
  recall: number
  medianLeadTime: number | null
  /** Failures paged for in the actionable window. */
  detected: number
  /** Pages whose first alert was false or premature. */
  falsePages: number
  /** The actions those pages would cost (once per horizon they stay on). */
  falseActions: number
  /** Net saving under the cost model (0 when chosen without one). */
  saving: number
}

/**
 * The alert rule from event-level validation: over score thresholds (quantiles of the scores)
 * and run lengths k, the rules whose page precision (judged by first alert) reaches `target`; of those the one with
 * most recall of predictable failures, then the longest median lead, then the smallest k,
 * then the highest threshold.
 * Runs longer than a sixth of the horizon (at the median sample spacing) are not tried: they
 * eat the lead time. Undefined when no rule reaches the target.
 */
export function pageRule(
  rows: ScoredRow[],
  failures: FailureTable,
  o: EventWindowOptions & { target: number; consecutive?: readonly number[]; gates?: readonly number[] },
): ChosenRule | undefined {
  const better = (a: ChosenRule, b: ChosenRule) =>
    a.recall !== b.recall
      ? a.recall > b.recall
      : (a.medianLeadTime ?? 0) !== (b.medianLeadTime ?? 0)
        ? (a.medianLeadTime ?? 0) > (b.medianLeadTime ?? 0)
        : a.consecutive !== b.consecutive
          ? a.consecutive < b.consecutive
          : a.threshold > b.threshold
  return chooseRules(rows, failures, o, (c) => c.precision >= o.target, better)[0]
}

/**
 * What a page rule causes, in the cost model's time unit: every failure it pages for in the
 * actionable window is acted on (a success turns an unplanned outage into planned
 * downtime); every false page (the first alert of its episode before the window or on a
 * host that does not fail — a premature drain is an unneeded one) costs a false alarm, once
 * per horizon its alerts go on (a policy acts again when an action's horizon has passed: an
 * always-on rule costs an action per host per horizon, not one).
 */
export function netSaving(m: { detected: number; falseActions: number }, cost: CostModel): number {
  return m.detected * cost.success * (cost.unplanned - cost.planned) - m.falseActions * cost.falseAlarm
}

/**
 * The page rule chosen by what it causes (the issue of "decisions chosen by outcome"): over
 * the same thresholds and run lengths as `pageRule`, the one with the largest net saving
 * under the cost model on these (validation) rows; ties → fewer false pages, then the longer
 * median lead, then the smaller k, then the higher threshold (the same pages on validation
 * with fewer vectors high — and, under a gate, fewer for the time-to-failure head to read). Undefined when no rule saves anything (acting never pays on this data).
 */
export function pageRuleByOutcome(
  rows: ScoredRow[],
  failures: FailureTable,
  o: EventWindowOptions & { cost: CostModel; consecutive?: readonly number[]; gates?: readonly number[] },
): ChosenRule | undefined {
  return chooseRules(rows, failures, o, (c) => c.saving > 0, betterSaving)[0]
}

/**
 * Candidates for a closed-loop choice: per run length (and gate on the time to failure) the
 * rule that saves most under the cost model on these rows, the `n` best of those (best first) — rules that differ in how long they
 * wait, not neighbouring thresholds of one.
 */
export function pageRulesByOutcome(
  rows: ScoredRow[],
  failures: FailureTable,
  o: EventWindowOptions & { cost: CostModel; consecutive?: readonly number[]; gates?: readonly number[] },
  n: number,
): ChosenRule[] {
  const perK = new Map<string, ChosenRule>()
  for (const c of chooseRules(rows, failures, o, (c) => c.saving > 0, betterSaving)) {
    const key = `${c.consecutive}/${c.within ?? ''}`
    if (!perK.has(key)) perK.set(key, c)
  }
  return [...perK.values()].slice(0, n)
}

const betterSaving = (a: ChosenRule, b: ChosenRule) =>
  a.saving !== b.saving
    ? a.saving > b.saving
    : a.falseActions !== b.falseActions
      ? a.falseActions < b.falseActions
      : (a.medianLeadTime ?? 0) !== (b.medianLeadTime ?? 0)
        ? (a.medianLeadTime ?? 0) > (b.medianLeadTime ?? 0)
        : a.consecutive !== b.consecutive
          ? a.consecutive < b.consecutive
          : a.threshold > b.threshold

/**
 * Every rule of thresholds (quantiles of the scores, finer near the top) × run lengths,
 * judged on these rows; those `admit` keeps, best first by `better`.
 */
function chooseRules(
  rows: ScoredRow[],
  failures: FailureTable,
  o: EventWindowOptions & { cost?: CostModel; consecutive?: readonly number[]; gates?: readonly number[] },
  admit: (c: ChosenRule) => boolean,
  better: (a: ChosenRule, b: ChosenRule) => boolean,
): ChosenRule[] {
  if (!rows.length) return []
  const { index, points } = eventIndexOf(rows, failures, o)
  const sorted = Float64Array.from(rows, (r) => r.score).sort()
  const candidates = new Set<number>()
  for (let q = 0; q < 120; q++)
    candidates.add(sorted[Math.floor(sorted.length * (1 - 0.5 ** (q / 8)))] ?? sorted.at(-1)!)
  const ks = runLengths(points, o.horizon, o.consecutive)
  // Gates on the time-to-failure head, when these rows carry its estimates: none first.
  const gates = [undefined, ...(points[0]?.ttf !== undefined ? (o.gates ?? []) : [])]
  const kept: ChosenRule[] = []
  for (const within of gates)
    for (const k of ks)
      for (const threshold of [...candidates].sort((a, b) => a - b)) {
        const m = index.evaluateRule({ threshold, consecutive: k, within })
        if (m.precision === null) continue
        const c: ChosenRule = {
          threshold,
          consecutive: k,
          ...(within !== undefined && { within }),
          precision: m.precision,
          coveringPrecision: m.coveringPrecision ?? 0,
          recall: m.predictableRecall ?? 0,
          medianLeadTime: m.medianLeadTime,
          detected: m.detected,
          falsePages: m.falseAlarmEpisodes,
          falseActions: m.falseActions,
          saving: o.cost ? netSaving(m, o.cost) : 0,
        }
        if (admit(c)) kept.push(c)
      }
  return kept.sort((a, b) => (better(a, b) ? -1 : better(b, a) ? 1 : 0))
}

export function evaluateScores(rows: ScoredRow[], failures: FailureTable, o: EvaluateOptions): EvaluationReport {
  const { index, order, points, failurePoints: fps } = eventIndexOf(rows, failures, o)
  const runs = ruleRuns(points, o.rule)

  const scores: number[] = []
  const labels: number[] = []
  let dropped = 0
  const confusion = { tp: 0, fp: 0, fn: 0, tn: 0 }
  points.forEach((p, i) => {
    const l = index.label(p)
    if (l === Label.drop) {
      dropped++
      return
    }
    scores.push(p.score)
    labels.push(l)
    const alert = o.alertThreshold !== undefined ? p.score >= o.alertThreshold : runs[i]! >= o.rule.consecutive
    if (l === 1) alert ? confusion.tp++ : confusion.fn++
    else alert ? confusion.fp++ : confusion.tn++
  })
  const c = curves(scores, labels)
  const atThreshold = index.evaluateRule(o.rule)
  const histogram = { positive: new Array(20).fill(0), negative: new Array(20).fill(0) }
  for (let i = 0; i < scores.length; i++) {
    const bin = Math.min(19, Math.floor(scores[i]! * 20))
    ;(labels[i] ? histogram.positive : histogram.negative)[bin]++
  }
  const cm = o.costModel
  const span = index.hostDays * o.dayLength
  const detected = atThreshold.detected
  const downtimeWithout = fps.length * cm.unplanned
  const downtimeWith =
    detected * (cm.success * cm.planned + (1 - cm.success) * cm.unplanned) +
    (fps.length - detected) * cm.unplanned +
    atThreshold.falseAlarmEpisodes * cm.falseAlarm
  let baseline: EvaluationReport['baseline'] = null
  if (o.metrics?.length && rows[0]?.values) {
    const values = metricColumns(rows, order, o.metrics)
    const fixed = o.baselineRule ? o.metrics.indexOf(o.baselineRule.metric) : -1
    let b: StaticBaseline | undefined
    if (o.baselineRule && fixed >= 0) {
      // Judged as chosen on validation: its own figures, no search over thresholds here.
      const best = staticRuleMetrics(index, values[fixed]!, o.baselineRule)
      const at90 = (best.precision ?? 0) >= 0.9 ? (best.predictableRecall ?? 0) : 0
      b = { ...o.baselineRule, best, recallAtPrecision90: at90 }
    } else b = staticThresholdBaseline(index, o.metrics, values)[0]
    if (b)
      baseline = {
        rule: describeStatic(b),
        chosenOn: fixed >= 0 ? 'validation' : 'these rows',
        precision: b.best.precision,
        eventRecall: b.best.eventRecall,
        predictableRecall: b.best.predictableRecall,
        medianLeadTime: b.best.medianLeadTime,
        falseAlarmsPerHostDay: b.best.falseAlarmsPerHostDay,
        recallAtPrecision90: b.recallAtPrecision90,
      }
  }
  const operatingPoints: OperatingPoint[] = []
  for (const k of runLengths(points, o.horizon))
    for (const threshold of OPERATING_THRESHOLDS) {
      const m = index.evaluateRule({ threshold, consecutive: k })
      operatingPoints.push({
        threshold,
        consecutive: k,
        predictableRecall: m.predictableRecall,
        precision: m.precision,
        coveringPrecision: m.coveringPrecision,
        pages: m.trueEpisodes + m.falseAlarmEpisodes,
        falsePages: m.falseAlarmEpisodes,
        earlyPages: m.earlyEpisodes,
        medianLeadTime: m.medianLeadTime,
        falseAlarmsPerHostDay: m.falseAlarmsPerHostDay,
      })
    }
  const p = confusion.tp + confusion.fp ? confusion.tp / (confusion.tp + confusion.fp) : 0
  const r = confusion.tp + confusion.fn ? confusion.tp / (confusion.tp + confusion.fn) : 0
  return {
    vectors: points.length,
    positives: labels.filter((l) => l === 1).length,
    negatives: labels.filter((l) => l === 0).length,
    dropped,
    prAuc: c.prAuc,
    rocAuc: c.rocAuc,
    threshold: o.rule.threshold,
    consecutive: o.rule.consecutive,
    ...(o.rule.within !== undefined && { within: o.rule.within }),
    alertThreshold: o.alertThreshold ?? null,
    atThreshold,
    confusion,
    f1: p + r ? (2 * p * r) / (p + r) : 0,
    availability: {
      downtimeWithout,
      downtimeWith,
      availabilityWithout: span > 0 ? 1 - downtimeWithout / span : 1,
      availabilityWith: span > 0 ? 1 - downtimeWith / span : 1,
    },
    baseline,
    curve: downsample(c.points, 200),
    histogram,
    operatingPoints,
    ...(o.ttfCap !== undefined && { timeToFailure: ttfAccuracy(rows, failures, o.ttfCap) }),
  }
}

/**
 * What a person must be told about an evaluation before trusting the model, in words: worse
 * than chance (ROC-AUC below 0.5: it ranks failing hosts below healthy ones), or beaten by
 * the naive static threshold (fewer failures found at no better precision).
 */
export function verdicts(e: EvaluationReport): string[] {
  const out: string[] = []
  if (e.rocAuc < 0.5)
    out.push(
      `worse than chance (ROC-AUC ${e.rocAuc.toFixed(3)} < 0.5): its scores rank failing hosts below healthy ones. Do not deploy it; check the labels and the time unit.`,
    )
  const b = e.baseline
  const a = e.atThreshold
  if (
    b &&
    b.eventRecall !== null &&
    a.eventRecall !== null &&
    a.eventRecall < b.eventRecall &&
    (a.precision ?? 0) <= (b.precision ?? 0)
  )
    out.push(
      `the naive baseline (${b.rule}) does better: it finds ${fmtShare(b.eventRecall)} of the failures at ${fmtShare(b.precision)} precision, the model ${fmtShare(a.eventRecall)} at ${fmtShare(a.precision)}. Use the baseline, or more data.`,
    )
  return out
}

const fmtShare = (x: number | null) => (x === null ? '–' : `${(x * 100).toFixed(0)} %`)
