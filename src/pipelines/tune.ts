/**
 * Choosing a model's page rule (threshold × vectors in a row, what the policy acts by): in
 * training on validation rows, and again on labelled data without retraining (`preempt
 * tune`: the data is scored exactly as `score` would). By outcome — the net saving under the
 * cost model — or by the most recall of predictable failures at page precision ≥ a target.
 * Use data the model was not trained on: recent history, or the model's own validation split.
 */
import type { CsvOptions } from '../data/csv.js'
import { type SplitPlan, splitOf } from '../data/dataset.js'
import type { FailureTable } from '../data/labels.js'
import { PreemptError } from '../errors.js'
import { type ChosenRule, type EventWindowOptions, pageRule, pageRuleByOutcome } from '../eval/evaluate.js'
import type { LoadedModel, ModelMetadataV1 } from '../model/artifact.js'
import { describeRule } from '../policy/alert.js'
import type { CostModel } from '../policy/cost.js'
import { type ScoredRow, scoreCsv } from './score-csv.js'

export type TuneSplit = 'val' | 'test' | 'all'

export interface TuneOptions {
  csv: CsvOptions
  failures: FailureTable
  window: EventWindowOptions
  /** outcome: net saving under `cost`; precision: most recall at page precision ≥ target. */
  by: 'outcome' | 'precision'
  target: number
  cost: CostModel
  /** Only rows of this split of the model's own training plan (the data must be its training data). */
  split: TuneSplit
  /** Keeps whole entities only (bounded memory). */
  keep?: (entity: string) => boolean
  onProgress?: (rows: number) => void
}

/** The share of rows a split of the model's training plan holds (1 for all). */
export function splitShare(meta: ModelMetadataV1, split: TuneSplit): number {
  const plan = meta.training['split'] as SplitPlan | undefined
  if (split === 'all' || !plan) return 1
  return split === 'val' ? plan.val : Math.max(0, 1 - plan.train - plan.val)
}

const pct1 = (x: number) => `${(x * 100).toFixed(1)} %`

export type PageRule = NonNullable<ModelMetadataV1['thresholds']['page']>

export interface TuneResult {
  /** The rule as the model stores it, and its figures on the rows it was chosen on. */
  chosen: { page: PageRule; figures: ChosenRule } | undefined
  vectors: number
  failures: number
}

export async function tunePageRule(loaded: LoadedModel, o: TuneOptions): Promise<TuneResult> {
  let plan: SplitPlan | undefined
  if (o.split !== 'all') {
    plan = loaded.meta.training['split'] as SplitPlan | undefined
    if (!plan)
      throw new PreemptError(
        'PREEMPT_ERR_MODEL_ARTIFACT',
        `${loaded.dir}/preempt.json records no training split: use --split all with data the model was not trained on.`,
      )
  }
  const rows: ScoredRow[] = []
  await scoreCsv(
    loaded,
    {
      csv: o.csv,
      failures: o.failures,
      filter: (e, ts) => (o.keep ? o.keep(e) : true) && (!plan || splitOf(plan, e, ts) === o.split),
      onProgress: o.onProgress,
    },
    (r) => {
      rows.push(...r)
    },
  )
  let failures = 0
  for (const list of o.failures.seenBy(rows, o.window.horizon).values()) failures += list.length
  return {
    chosen: choosePageRule(rows, o.failures, o.window, { pageBy: o.by, targetPrecision: o.target }, o.cost),
    vectors: rows.length,
    failures,
  }
}

/**
 * The page rule on these (validation) rows: by outcome (net saving under the cost model) unless
 * asked for page precision. Undefined when no rule pays or reaches the target (the vector
 * threshold pages then).
 */
export function choosePageRule(
  rows: ScoredRow[],
  failures: FailureTable,
  window: EventWindowOptions,
  cfg: { pageBy?: 'outcome' | 'precision' | undefined; targetPrecision: number },
  cost: CostModel,
): { page: PageRule; figures: ChosenRule } | undefined {
  const byPrecision = cfg.pageBy === 'precision'
  const r = byPrecision
    ? pageRule(rows, failures, { ...window, target: cfg.targetPrecision })
    : pageRuleByOutcome(rows, failures, { ...window, cost })
  if (!r) return undefined
  const why = byPrecision
    ? `with most recall of predictable failures at page precision ≥ ${cfg.targetPrecision}`
    : `that saves most under the cost model — ${r.detected} failures paged in time, ${r.falsePages} false or premature pages (${r.falseActions} actions, one per horizon they stay on), net ${+r.saving.toPrecision(4)}`
  const figures = `page precision ${pct1(r.precision)}, ${pct1(r.coveringPrecision)} counting premature pages open until the failure; recall of predictable failures ${pct1(r.recall)}`
  return {
    page: {
      threshold: r.threshold,
      consecutive: r.consecutive,
      chosenBy: byPrecision ? 'precision' : 'outcome',
      rule: `${describeRule(r)}: the rule (threshold × vectors in a row) ${why} (${figures})`,
    },
    figures: r,
  }
}
