/**
 * Re-choosing a model's alert rule on labelled data, without retraining: the data is scored
 * exactly as `score` would, and the rule (threshold × vectors in a row) with most recall of
 * predictable failures at page precision ≥ the target is chosen as in training. Use data
 * the model was not trained on: recent history, or the model's own validation split.
 */
import type { CsvOptions } from '../data/csv.js'
import { type SplitPlan, splitOf } from '../data/dataset.js'
import type { FailureTable } from '../data/labels.js'
import { PreemptError } from '../errors.js'
import { type ChosenRule, type EventWindowOptions, pageRule } from '../eval/evaluate.js'
import type { LoadedModel, ModelMetadataV1 } from '../model/artifact.js'
import { type ScoredRow, scoreCsv } from './score-csv.js'

export type TuneSplit = 'val' | 'test' | 'all'

export interface TuneOptions {
  csv: CsvOptions
  failures: FailureTable
  window: EventWindowOptions
  target: number
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

export interface TuneResult {
  rule: ChosenRule | undefined
  vectors: number
  failures: number
}

export async function tuneAlertRule(loaded: LoadedModel, o: TuneOptions): Promise<TuneResult> {
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
  return { rule: pageRule(rows, o.failures, { ...o.window, target: o.target }), vectors: rows.length, failures }
}
