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
import { type BacktestSummary, runBacktest } from '../eval/backtest.js'
import {
  type ChosenRule,
  type EventWindowOptions,
  pageRule,
  pageRuleByOutcome,
  pageRulesByOutcome,
} from '../eval/evaluate.js'
import type { Logger } from '../log.js'
import type { LoadedModel, ModelMetadataV1 } from '../model/artifact.js'
import { describeRule } from '../policy/alert.js'
import type { CostModel } from '../policy/cost.js'
import type { PolicyOverrides } from '../policy/engine.js'
import { SIM_METRICS, type SimParams } from '../sim/model.js'
import { streamModelOf } from '../stream/model.js'
import { formatDuration, formatSpan, type TimeUnit } from '../time.js'
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
  /** Also try rules gated on the time-to-failure head (models with one; default true). */
  gate?: boolean | undefined
  onProgress?: (rows: number) => void
}

/**
 * The gates a page rule may put on the time-to-failure head: its bin edges (¼ … 4 × the
 * horizon), so "fails within the horizon" and "within twice it" are both on the table. None
 * without a head.
 */
export function ttfGates(meta: Pick<ModelMetadataV1, 'hazard'>): number[] | undefined {
  return meta.hazard?.edges.length ? [...meta.hazard.edges] : undefined
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
  const { rows, failures } = await scoredRows(loaded, o)
  const gates = o.gate === false ? undefined : ttfGates(loaded.meta)
  return {
    chosen: choosePageRule(
      rows,
      o.failures,
      o.window,
      { pageBy: o.by, targetPrecision: o.target, gates, timeUnit: loaded.meta.timeUnit },
      o.cost,
    ),
    vectors: rows.length,
    failures,
  }
}

/** The tuning data scored as `score` would (only the asked split), and the failures it sees. */
async function scoredRows(loaded: LoadedModel, o: TuneOptions): Promise<{ rows: ScoredRow[]; failures: number }> {
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
      withTtf: o.gate !== false && Boolean(loaded.hazard),
      filter: (e, ts) => (o.keep ? o.keep(e) : true) && (!plan || splitOf(plan, e, ts) === o.split),
      onProgress: o.onProgress,
    },
    (r) => {
      rows.push(...r)
    },
  )
  let failures = 0
  for (const list of o.failures.seenBy(rows, o.window.horizon).values()) failures += list.length
  return { rows, failures }
}

export interface BacktestTuneOptions {
  /** The validation fleet: a simulator seed neither trained on nor reported on. */
  fleet: SimParams
  /** Offline candidates to try in the loop (the best rule per run length, best first). */
  candidates: number
  policy?: PolicyOverrides | undefined
  log: Logger
  onProgress?: (candidate: number, of: number, fraction: number) => void
}

export interface BacktestCandidate {
  /** How the offline side proposed it, and its figures on the tuning rows. */
  proposedBy: 'outcome' | 'precision'
  offline: ChosenRule
  /** The closed loop on the validation fleet. */
  loop: BacktestSummary
  /** averted × (T_u − T_m) − unneeded actions × T_fp, in the cost model's unit. */
  saving: number
}

export interface BacktestTuneResult {
  chosen: { page: PageRule; candidate: BacktestCandidate } | undefined
  candidates: BacktestCandidate[]
  vectors: number
  failures: number
}

/**
 * The page rule chosen by what it causes: offline candidates (per run length, the rule that
 * saves most on the tuning rows, and the page-precision rule) each run through the closed-loop
 * backtest on a validation fleet; the one with the largest saving there — outages averted
 * against unneeded actions, priced by the cost model — is kept.
 */
export async function tunePageRuleByBacktest(
  loaded: LoadedModel,
  o: TuneOptions,
  bt: BacktestTuneOptions,
): Promise<BacktestTuneResult> {
  const m = loaded.meta
  const foreign = m.featureSpec.metrics.filter((x) => !(SIM_METRICS as readonly string[]).includes(x))
  if (m.timeUnit !== 'ms' || foreign.length)
    throw new PreemptError(
      'PREEMPT_ERR_CLI_USAGE',
      `--by backtest runs the model in the simulator's fleet, and ${loaded.dir} was trained on other data (${m.timeUnit !== 'ms' ? `time unit ${m.timeUnit}` : `metrics ${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ' …' : ''} are not the simulator's`}). Use --by outcome or --by precision.`,
    )
  const { rows, failures } = await scoredRows(loaded, o)
  const gates = o.gate === false ? undefined : ttfGates(m)
  const search = { ...o.window, ...(gates && { gates }) }
  const proposals: { proposedBy: 'outcome' | 'precision'; rule: ChosenRule }[] = pageRulesByOutcome(
    rows,
    o.failures,
    { ...search, cost: o.cost },
    bt.candidates,
  ).map((rule) => ({ proposedBy: 'outcome', rule }))
  const strict = pageRule(rows, o.failures, { ...search, target: o.target })
  if (
    strict &&
    !proposals.some(
      (p) =>
        p.rule.threshold === strict.threshold &&
        p.rule.consecutive === strict.consecutive &&
        p.rule.within === strict.within,
    )
  )
    proposals.push({ proposedBy: 'precision', rule: strict })
  const model = streamModelOf(loaded)
  const gain = o.cost.unplanned - o.cost.planned
  const candidates: BacktestCandidate[] = []
  for (const [i, p] of proposals.entries()) {
    const r = await runBacktest({
      model: {
        ...model,
        rule: {
          threshold: p.rule.threshold,
          consecutive: p.rule.consecutive,
          ...(p.rule.within !== undefined && { within: p.rule.within }),
        },
      },
      params: bt.fleet,
      policy: bt.policy,
      naive: false,
      log: bt.log,
      onProgress: (_phase, f) => bt.onProgress?.(i, proposals.length, f),
    })
    const loop = r.withScorer.summary
    candidates.push({
      proposedBy: p.proposedBy,
      offline: p.rule,
      loop,
      saving: loop.avertedPredictable * gain - loop.unneededActions * o.cost.falseAlarm,
    })
  }
  // Ties: fewer unneeded actions, then the offline order.
  const best = [...candidates].sort((a, b) => b.saving - a.saving || a.loop.unneededActions - b.loop.unneededActions)[0]
  const days = bt.fleet.durationMs / 86_400_000
  return {
    chosen: best && {
      candidate: best,
      page: {
        threshold: best.offline.threshold,
        consecutive: best.offline.consecutive,
        ...(best.offline.within !== undefined && { within: best.offline.within }),
        chosenBy: 'backtest',
        rule: `${describeRule(best.offline, 4, formatDuration)}: of ${candidates.length} rules proposed on the tuning rows, the one that saved most in the closed-loop backtest on a validation fleet (seed ${bt.fleet.seed}, ${bt.fleet.hosts} hosts × ${+days.toFixed(2)} d): ${best.loop.avertedPredictable} of ${best.loop.predictable} predictable failures averted (${pct1(best.loop.avertedShare ?? 0)}), ${best.loop.unneededActions} unneeded actions (${best.loop.unneededPerHostMonth.toFixed(3)} per host-month), net ${+best.saving.toPrecision(4)}`,
      },
    },
    candidates,
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
  cfg: {
    pageBy?: 'outcome' | 'precision' | undefined
    targetPrecision: number
    /** Gates on the time-to-failure head to try (the rows must carry its `ttf`); none: the score alone. */
    gates?: readonly number[] | undefined
    /** The data's time axis, to describe a gate. */
    timeUnit?: TimeUnit | undefined
  },
  cost: CostModel,
): { page: PageRule; figures: ChosenRule } | undefined {
  const byPrecision = cfg.pageBy === 'precision'
  const search = { ...window, ...(cfg.gates && { gates: cfg.gates }) }
  const r = byPrecision
    ? pageRule(rows, failures, { ...search, target: cfg.targetPrecision })
    : pageRuleByOutcome(rows, failures, { ...search, cost })
  if (!r) return undefined
  const why = byPrecision
    ? `with most recall of predictable failures at page precision ≥ ${cfg.targetPrecision}`
    : `that saves most under the cost model — ${r.detected} failures paged in time, ${r.falsePages} false or premature pages (${r.falseActions} actions, one per horizon they stay on), net ${+r.saving.toPrecision(4)}`
  const figures = `page precision ${pct1(r.precision)}, ${pct1(r.coveringPrecision)} counting premature pages open until the failure; recall of predictable failures ${pct1(r.recall)}`
  return {
    page: {
      threshold: r.threshold,
      consecutive: r.consecutive,
      ...(r.within !== undefined && { within: r.within }),
      chosenBy: byPrecision ? 'precision' : 'outcome',
      rule: `${describeRule(r, 4, (x) => formatSpan(x, cfg.timeUnit ?? 'ms'))}: the rule (threshold × vectors in a row${cfg.gates?.length ? ' × time to failure' : ''}) ${why} (${figures})`,
    },
    figures: r,
  }
}

/** The candidates' table: offline figures on the tuning rows beside the closed loop's; * marks the one kept. */
export function formatBacktestCandidates({ candidates, chosen }: BacktestTuneResult): string {
  return [
    'rule                        proposed by  offline: recall / precision   loop: averted / unneeded (per host-month) / availability   net saving',
    ...candidates.map((c) =>
      [
        `${c === chosen?.candidate ? '*' : ' '} ${describeRule(c.offline, 4, formatDuration)}`.padEnd(28),
        c.proposedBy.padEnd(12),
        `${pct1(c.offline.recall)} / ${pct1(c.offline.precision)}`.padEnd(29),
        `${c.loop.avertedPredictable}/${c.loop.predictable} (${pct1(c.loop.avertedShare ?? 0)}) / ${c.loop.unneededActions} (${c.loop.unneededPerHostMonth.toFixed(3)}) / ${(c.loop.availability * 100).toFixed(3)} %`.padEnd(
          59,
        ),
        `${+c.saving.toPrecision(4)}`,
      ].join(' '),
    ),
  ].join('\n')
}
