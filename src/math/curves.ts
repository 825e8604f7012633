/**
 * Threshold curves over weighted examples: precision–recall (average precision), ROC (AUC by
 * trapezoids). Weights let a negative sample stand for the negatives it replaced.
 */
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
