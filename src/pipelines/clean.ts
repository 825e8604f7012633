/**
 * Label cleaning: training failures the metrics cannot support.
 *
 * A failure labels every vector within a horizon before it positive. When it struck without
 * warning (a power cut, a kernel panic), those positives look like any healthy host's, and
 * with class weighting they pull the network towards scoring normal operation high: false
 * pages, and true pages later than they could be. Which failures were sudden is not in the
 * data, so it is estimated from it, honestly, by cross-fitting:
 *
 *   the training entities are cut in two halves; a network trained on each half scores the
 *   other half; a failure is *supported* when at least `minShare` of its positive vectors
 *   score above the `quantile` of that half's negative vectors (what the other half learnt
 *   to call unusual). Positives of unsupported failures are dropped from training.
 *
 * No model ever scores rows it was trained on, so a failure is kept only when what other
 * hosts' failures looked like is visible before it too. Validation, calibration and every
 * evaluation keep all failures: the cleaning changes what the network learns, never what it
 * is judged on.
 */
import { hash32, type SampleSet } from '../data/dataset.js'
import type { FailureTable } from '../data/labels.js'
import { predictRaw, standardize, trainNetwork } from '../model/mlp.js'

export interface CleaningOptions {
  seed: number
  /** Share of a failure's positives that must look unusual to keep it. Default 0.1. */
  minShare?: number
  /** Quantile of the other half's negative scores a positive must exceed. Default 0.99. */
  quantile?: number
  /** Epochs of each half's network. Default 3. */
  epochs?: number
  /**
   * Fewest training failures to clean at all. Default 40: each half must hold a few failures of
   * every kind for the other half's to look familiar; with fewer, real precursors of a kind
   * seen once would be dropped as "nothing unusual".
   */
  minFailures?: number
  /**
   * Most of the training failures cleaning may drop. Default 0.5: sudden failures are a
   * minority wherever we have measured (27 of 99, 41 of 177 on the simulator, none on wear
   * data); when the cross-fitted networks find nothing before most failures, they are what
   * failed (e.g. metrics that move with an operating setting hide the wear), so all are kept.
   */
  maxDropShare?: number
  onProgress?: (detail: string) => void
}

export interface DroppedFailure {
  entity: string
  ts: number
  /** Share of its positive vectors above the reference score. */
  share: number
  positives: number
}

export interface CleaningReport {
  /** Training failures that had positive vectors. */
  failures: number
  kept: number
  dropped: DroppedFailure[]
  positivesDropped: number
  minShare: number
  quantile: number
  /** Why nothing was cleaned, when nothing was tried. */
  skipped?: string
}

/** Quantile of a list (a sorted copy). */
function quantileOf(xs: Float32Array, q: number): number {
  if (!xs.length) return Number.POSITIVE_INFINITY
  const s = Float32Array.from(xs).sort()
  return s[Math.min(s.length - 1, Math.max(0, Math.floor(q * s.length)))]!
}

/**
 * Finds the unsupported failures of a training set and returns the set without their
 * positives, with a report. With fewer than `minFailures` failures, or entities that cannot be
 * cut into two halves holding failures, the set is returned unchanged and the report says why.
 */
export async function dropUnsupportedFailures(
  train: SampleSet,
  failures: FailureTable,
  o: CleaningOptions,
): Promise<{ set: SampleSet; report: CleaningReport }> {
  const minShare = o.minShare ?? 0.1
  const quantile = o.quantile ?? 0.99
  const n = train.size
  // Each positive row's failure (the entity's next one), as a key; undefined for negatives.
  const failureKey = new Array<string | undefined>(n)
  const tally = new Map<string, { entity: string; ts: number; pos: number; above: number }>()
  for (let i = 0; i < n; i++) {
    if (!train.y[i]) continue
    const entity = train.entity[i]!
    const ts = failures.next(entity, train.ts[i]!)
    if (ts === undefined) continue
    const key = `${entity}\u0000${ts}`
    failureKey[i] = key
    if (!tally.has(key)) tally.set(key, { entity, ts, pos: 0, above: 0 })
  }
  const halves: number[][] = [[], []]
  for (let i = 0; i < n; i++) halves[hash32(train.entity[i]!, o.seed + 7) & 1]!.push(i)
  const positivesIn = (r: number[]) => r.reduce((s, i) => s + (train.y[i] ? 1 : 0), 0)
  const minFailures = o.minFailures ?? 40
  const skip = (why: string) => ({
    set: train,
    report: {
      failures: tally.size,
      kept: tally.size,
      dropped: [],
      positivesDropped: 0,
      minShare,
      quantile,
      skipped: why,
    },
  })
  if (tally.size < minFailures)
    return skip(`too few training failures (${tally.size}) to tell sudden ones apart: cleaning needs ${minFailures}`)
  if (halves.some((r) => positivesIn(r) === 0 || positivesIn(r) === r.length))
    return skip('the training entities cannot be cut into two halves that both hold failures and healthy rows')
  for (const h of [0, 1]) {
    o.onProgress?.(`half ${h + 1} of 2: training on the other half`)
    const fit = train.select(halves[1 - h]!)
    const held = train.select(halves[h]!)
    const net = await trainNetwork(fit, held, { kind: 'mlp', seed: o.seed + h, epochs: o.epochs ?? 3, patience: 99 })
    const raw = predictRaw(net.model, standardize(held.x, held.size, net.normalization), held.size)
    net.model.dispose()
    const neg: number[] = []
    for (let k = 0; k < held.size; k++) if (!held.y[k]) neg.push(raw[k]!)
    const ref = quantileOf(Float32Array.from(neg), quantile)
    halves[h]!.forEach((i, k) => {
      const t = tally.get(failureKey[i] ?? '')
      if (!t) return
      t.pos++
      if (raw[k]! > ref) t.above++
    })
  }
  const dropKeys = new Set<string>()
  const dropped: DroppedFailure[] = []
  for (const [key, t] of tally) {
    const share = t.above / t.pos
    if (share < minShare) {
      dropKeys.add(key)
      dropped.push({ entity: t.entity, ts: t.ts, share, positives: t.pos })
    }
  }
  const maxDrop = o.maxDropShare ?? 0.5
  if (dropped.length > maxDrop * tally.size)
    return skip(
      `it would drop ${dropped.length} of ${tally.size} training failures, more than ${Math.round(maxDrop * 100)} %: when most failures look unsupported the check, not the failures, is suspect`,
    )
  const keep: number[] = []
  let positivesDropped = 0
  for (let i = 0; i < n; i++) {
    if (dropKeys.has(failureKey[i] ?? '')) positivesDropped++
    else keep.push(i)
  }
  dropped.sort((a, b) => a.ts - b.ts)
  // Nothing would be left to learn from: keep everything rather than train on negatives only.
  if (positivesDropped === train.positives) return skip('every failure looked unsupported: nothing would be left')
  return {
    set: train.select(keep),
    report: { failures: tally.size, kept: tally.size - dropped.length, dropped, positivesDropped, minShare, quantile },
  }
}
