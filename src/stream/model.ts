/**
 * What the scorer needs of a model: its feature spec, its alert rule, and a batched scorer
 * with explanations. `streamModelOf` adapts a loaded tfjs artifact; tests pass their own.
 */
import type { TtfEstimate } from '../contracts/index.js'
import type { FeatureSpecV1 } from '../features/spec.js'
import type { LoadedModel } from '../model/artifact.js'
import type { TimeToFailure } from '../model/hazard.js'
import { type Contribution, Scorer } from '../model/scorer.js'
import { type AlertRule, pageRuleOf } from '../policy/alert.js'

export interface StreamModel {
  name: string
  version: string
  spec: FeatureSpecV1
  /** Horizon of the score, ms. */
  horizonMs: number
  /** The page rule the policy acts by. */
  rule: AlertRule
  /** Calibrated scores of `rows` vectors laid out row after row in `x` (width = the spec's size). */
  score(x: Float64Array, rows: number, out: Float64Array<ArrayBuffer>): Float64Array
  /** Top-k feature contributions per row. */
  explain(x: Float64Array, rows: number, k: number): Contribution[][]
  /** Time to failure per row (ms; null past the head's reach), when the model has a hazard head. */
  ttf?: ((x: Float64Array, rows: number) => TtfEstimate[]) | undefined
}

export function streamModelOf(loaded: LoadedModel): StreamModel {
  const scorer = new Scorer(loaded)
  const m = loaded.meta
  return {
    name: m.name,
    version: m.version,
    spec: m.featureSpec,
    horizonMs: m.horizon,
    rule: pageRuleOf(m.thresholds),
    score: (x, rows, out) => scorer.score(x, rows, out),
    explain: (x, rows, k) => scorer.explain(x, rows, k),
    ...(loaded.hazard && {
      ttf: (x: Float64Array, rows: number) => ttfEstimates(scorer.ttf(x, rows)!, loaded.hazard!.edges.at(-1)!),
    }),
  }
}

/** The head's per-row figures in whole ms, null where they lie past its reach. */
function ttfEstimates(t: TimeToFailure, reach: number): TtfEstimate[] {
  const ms = (v: number) => (Number.isNaN(v) ? null : Math.round(v))
  return Array.from(t.median, (_, i) => ({
    medianMs: ms(t.median[i]!),
    lowMs: ms(t.low[i]!),
    highMs: ms(t.high[i]!),
    ifFailsMs: ms(t.ifFails[i]!),
    maxMs: Math.round(reach),
  }))
}

/** Whether two specs give the same vectors (a model swap keeps the windows then). */
export function sameFeatures(a: FeatureSpecV1, b: FeatureSpecV1): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}
