/**
 * Threshold curves over weighted examples: precision–recall (average precision), ROC (AUC by
 * trapezoids). Weights let a negative sample stand for the negatives it replaced.
 */
import { Rng } from './random.js'

export interface CurvePoint {
  threshold: number
  precision: number
  recall: number
  fpr: number
}

export interface Curves {
  points: CurvePoint[]
  /** Average precision (area under the PR curve, step-wise). */
  prAuc: number
  rocAuc: number
  positives: number
  negatives: number
}

export function curves(scores: ArrayLike<number>, labels: ArrayLike<number>, weights?: ArrayLike<number>): Curves {
  const n = scores.length
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!)
  let P = 0
  let N = 0
  for (let i = 0; i < n; i++) {
    const w = weights ? weights[i]! : 1
    if (labels[i]) P += w
    else N += w
  }
  const points: CurvePoint[] = []
  let tp = 0
  let fp = 0
  let ap = 0
  let auc = 0
  let prevRecall = 0
  let prevFpr = 0
  for (let k = 0; k < n; ) {
    const thr = scores[order[k]!]!
    // Ties share one threshold.
    while (k < n && scores[order[k]!]! === thr) {
      const i = order[k++]!
      const w = weights ? weights[i]! : 1
      if (labels[i]) tp += w
      else fp += w
    }
    const recall = P ? tp / P : 0
    const precision = tp + fp ? tp / (tp + fp) : 1
    const fpr = N ? fp / N : 0
    ap += (recall - prevRecall) * precision
    auc += ((fpr - prevFpr) * (recall + prevRecall)) / 2
    prevRecall = recall
    prevFpr = fpr
    points.push({ threshold: thr, precision, recall, fpr })
  }
  // The curve ends at (1, 1): every example above the lowest threshold.
  return { points, prAuc: ap, rocAuc: auc, positives: P, negatives: N }
}

/** The lowest threshold whose precision is at least `target` (most recall), or undefined. */
export function thresholdForPrecision(c: Curves, target: number): CurvePoint | undefined {
  let best: CurvePoint | undefined
  for (const p of c.points) if (p.precision >= target && (!best || p.recall > best.recall)) best = p
  return best
}

/** The threshold of best F1. */
export function bestF1(c: Curves): CurvePoint & { f1: number } {
  let best = { ...c.points[0]!, f1: 0 }
  for (const p of c.points) {
    const f1 = p.precision + p.recall ? (2 * p.precision * p.recall) / (p.precision + p.recall) : 0
    if (f1 > best.f1) best = { ...p, f1 }
  }
  return best
}

/**
 * `curves(...).prAuc` without building the curve: the step-wise average precision of
 * `scores` over rows weighted by `weights`, the rows taken in `order` (descending score; ties
 * share one threshold). 0 when no positive weighs anything.
 */
export function averagePrecision(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  weights: ArrayLike<number>,
  order: ArrayLike<number> = Int32Array.from({ length: scores.length }, (_, i) => i).sort(
    (a, b) => scores[b]! - scores[a]!,
  ),
): number {
  const n = order.length
  let P = 0
  for (let i = 0; i < n; i++) if (labels[i]) P += weights[i]!
  if (P === 0) return 0
  let tp = 0
  let fp = 0
  let ap = 0
  let prevRecall = 0
  for (let k = 0; k < n; ) {
    const thr = scores[order[k]!]!
    while (k < n && scores[order[k]!]! === thr) {
      const i = order[k++]!
      if (labels[i]) tp += weights[i]!
      else fp += weights[i]!
    }
    const recall = tp / P
    ap += (recall - prevRecall) * (tp + fp ? tp / (tp + fp) : 1)
    prevRecall = recall
  }
  return ap
}

/**
 * How much of the gap between several scorings' PR-AUC on the same rows is noise: the rows
 * are resampled by entity (whole entities drawn with replacement, `reps` times, seeded: the
 * rows of one host or unit are not independent) and every scoring's PR-AUC
 * (`averagePrecision`) recomputed on each replicate. Answers, per scoring, the standard error
 * of its gap to scoring `ref` (0 for `ref` itself): paired, so what the scorings share
 * (which entities are easy) cancels out.
 */
export function prAucGapSe(
  scorings: readonly ArrayLike<number>[],
  labels: ArrayLike<number>,
  weights: ArrayLike<number>,
  entity: readonly string[],
  ref: number,
  opts: { reps?: number; seed?: number } = {},
): number[] {
  const n = labels.length
  const ids = new Map<string, number>()
  const eid = new Int32Array(n)
  for (let i = 0; i < n; i++) {
    const e = entity[i]!
    let k = ids.get(e)
    if (k === undefined) {
      k = ids.size
      ids.set(e, k)
    }
    eid[i] = k
  }
  const E = ids.size
  const orders = scorings.map((s) => Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => s[b]! - s[a]!))
  const rng = new Rng(opts.seed ?? 1)
  const reps = opts.reps ?? 200
  const draws = new Float64Array(E)
  const mult = new Float64Array(n)
  const gaps: number[][] = scorings.map(() => [])
  for (let r = 0; r < reps; r++) {
    draws.fill(0)
    for (let k = 0; k < E; k++) draws[rng.int(0, E)]!++
    let P = 0
    for (let i = 0; i < n; i++) {
      mult[i] = draws[eid[i]!]! * weights[i]!
      if (labels[i]) P += mult[i]!
    }
    if (P === 0) continue
    const ap = scorings.map((s, c) => averagePrecision(s, labels, mult, orders[c]))
    for (let c = 0; c < scorings.length; c++) gaps[c]!.push(ap[ref]! - ap[c]!)
  }
  return gaps.map((g) => {
    if (g.length < 2) return 0
    const mean = g.reduce((a, b) => a + b, 0) / g.length
    return Math.sqrt(g.reduce((a, b) => a + (b - mean) ** 2, 0) / (g.length - 1))
  })
}
