/**
 * `preempt train`: CSV histories → features (the one engine) → labels → split → network (MLP,
 * or a GRU over the engine's sequence) → calibration → thresholds → honest test evaluation,
 * optionally beside another model on the same test rows → models/<name>/.
 */

import { createHash } from 'node:crypto'
import { stat, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import type { CsvOptions } from '../data/csv.js'
import {
  buildDataset,
  hash32,
  type SampleSet,
  type ScanResult,
  type SplitPlan,
  scanCsv,
  splitOf,
} from '../data/dataset.js'
import {
  dayLengthOf,
  type FailureTable,
  type LabelSource,
  loadFailureModes,
  loadPredictability,
  resolveFailures,
} from '../data/labels.js'
import { groupsFrom, offlinePeersFor } from '../data/peers.js'
import { PreemptError } from '../errors.js'
import { chooseBaseline, type EvaluationReport, type EventWindowOptions, evaluateScores } from '../eval/evaluate.js'
import { type HostTrace, type LearningCurve, renderReport } from '../eval/report.js'
import { fitRegimesOver, projectRegimes, type RegimeFit, type RegimeSpecV1 } from '../features/regimes.js'
import { type Aggregate, createFeatureSpec, type FeatureSpecV1, featureMetric, featureNames } from '../features/spec.js'
import type { Logger } from '../log.js'
import { bestF1, curves, prAucGapSe, thresholdForPrecision } from '../math/curves.js'
import { type LoadedModel, loadModel, type ModelMetadataV1, saveModel, type TrainedModel } from '../model/artifact.js'
import { type BackendName, initBackend, tf } from '../model/backend.js'
import { type GbdtOptions, trainGbdt } from '../model/gbdt.js'
import {
  HAZARD_MULTIPLES,
  type HazardBinReport,
  type HazardModel,
  type SurvivalRows,
  trainHazard,
} from '../model/hazard.js'
import {
  type ClassWeight,
  calibrate,
  computeNormalization,
  fitPlatt,
  type ModelKind,
  type Normalization,
  predictRaw,
  standardize,
  trainNetwork,
} from '../model/mlp.js'
import { Scorer } from '../model/scorer.js'
import { pageRuleOf } from '../policy/alert.js'
import { type CostModel, costModelOf } from '../policy/cost.js'
import { formatSpan } from '../time.js'
import { type CleaningReport, dropUnsupportedFailures } from './clean.js'
import { type ScoredRow, scoreCsv } from './score-csv.js'
import { choosePageRule } from './tune.js'

/** Scored rows held for event-level evaluation before whole entities are sampled. */
export const DEFAULT_MAX_EVAL_ROWS = 4_000_000

export interface TrainConfig {
  csv: CsvOptions
  labels: LabelSource
  horizon: number
  lead: number
  out: string
  name: string
  split: 'entity' | 'time'
  seed: number
  windows?: number[] | undefined
  aggregates?: Aggregate[] | undefined
  minHistory?: number | undefined
  stride?: number | undefined
  lateness?: number | undefined
  maxTrainRows?: number | undefined
  /**
   * Validation and test vectors held for event-level evaluation at most (default 4 000 000,
   * about 1.5 GB): beyond it, whole entities are sampled, so memory stays bounded for any file
   * size. Too low a cap leaves few failures to choose the alert rule on.
   */
  maxEvalRows?: number | undefined
  epochs?: number | undefined
  hidden?: number[] | undefined
  /** Drop training failures nothing unusual preceded (see clean.ts). Default true. */
  cleanLabels?: boolean | undefined
  /**
   * Model kind, or 'auto' (the default): gradient-boosted trees and the MLP trained on the
   * same split, the better validation PR-AUC chosen (a tie goes to the trees, the simpler).
   */
  kind?: ModelKind | 'auto' | undefined
  /** Class weighting, or 'auto' (the default): both tried per kind, validation PR-AUC chooses. */
  classWeight?: ClassWeight | 'auto' | undefined
  /** Options of the trees (tests and benches shrink them). */
  gbdt?: GbdtOptions | undefined
  /** Train the time-to-failure (hazard) head beside the model. Default true. */
  hazard?: boolean | undefined
  /** Also try page rules gated on the head's time to failure (default true; only with a head). */
  ttfGate?: boolean | undefined
  /** Options of the hazard head's trees (default: up to 150 per bin). */
  hazardGbdt?: GbdtOptions | undefined
  /**
   * Peer features by this host label (e.g. 'service'; features/peers.ts), read from
   * `csv.hostLabels`. Default none.
   */
  peers?: string | undefined
  /** Trend features: still rising or levelled off over the longest window (FeatureSpecV1.trend). */
  trend?: boolean | undefined
  /**
   * Operating regimes (FeatureSpecV1.regimes): 'auto' (default) finds setting columns in the
   * training rows and uses them when they explain the other metrics; 'none'; or the columns.
   */
  regimes?: 'auto' | 'none' | string[] | undefined
  /** gru: buckets of the sequence over the longest window (default 24). */
  sequenceLength?: number | undefined
  /** A trained model to score on the same held-out test rows and show beside this one. */
  compare?: string | undefined
  targetPrecision: number
  /**
   * The `alert` column's vector threshold, chosen on validation: best F1 (default) or the
   * lowest threshold with vector precision ≥ targetPrecision.
   */
  alertBy?: 'f1' | 'precision' | undefined
  /**
   * The page rule (threshold × vectors in a row) the policy acts by, chosen on validation
   * failures: by what it causes under the cost model (default), or the most recall at page
   * precision ≥ targetPrecision.
   */
  pageBy?: 'outcome' | 'precision' | undefined
  costModel: Omit<CostModel, 'minPrecision'>
  backend?: BackendName | undefined
  logger: Logger
  /** Progress: phase name and a fraction or count. */
  progress?: (phase: string, detail: string) => void
}

/** Names, sizes and times of the data files: how `tune` knows a model's own training data. */
export async function fingerprint(files: string[]): Promise<string> {
  const h = createHash('sha256')
  for (const f of files) {
    const s = await stat(f)
    h.update(`${basename(f)}:${s.size}:${Math.floor(s.mtimeMs)}\n`)
  }
  return h.digest('hex').slice(0, 16)
}

export { dayLengthOf, type LabelSource, resolveFailures }

export interface TrainOutcome {
  meta: ModelMetadataV1
  test: EvaluationReport | null
  comparison?: Comparison | undefined
  /** What label cleaning dropped (absent with cleanLabels false). */
  cleaning?: CleaningReport | undefined
  dir: string
}

/** Loads a model to compare with, and checks the data has every metric it reads. */
export async function loadComparable(dir: string, columns: readonly string[]): Promise<LoadedModel> {
  const other = await loadModel(dir)
  const missing = other.meta.featureSpec.metrics.filter((m) => !columns.includes(m))
  if (missing.length) {
    other.model.dispose()
    throw new PreemptError(
      'PREEMPT_ERR_MODEL_ARTIFACT',
      `--compare ${dir}: the model reads metrics the data lacks (${missing.join(', ')}). Compare with a model trained on the same columns.`,
    )
  }
  return other
}

/**
 * Another model on exactly the same rows and labels, under its own alert rule (the horizon
 * and lead are this evaluation's: the same question asked of both). Disposes the model.
 */
export async function compareOn(
  other: LoadedModel,
  o: {
    csv: CsvOptions
    failures: FailureTable
    filter: (entity: string, ts: number) => boolean
    window: EventWindowOptions
    cost: CostModel
    onProgress?: (rows: number) => void
  },
): Promise<Comparison> {
  const rows: ScoredRow[] = []
  const withTtf = other.meta.thresholds.page?.within !== undefined && Boolean(other.hazard)
  await scoreCsv(
    other,
    { csv: o.csv, failures: o.failures, filter: o.filter, withTtf, onProgress: o.onProgress },
    (r) => {
      rows.push(...r)
    },
  )
  other.model.dispose()
  return {
    name: other.meta.name,
    kind: other.meta.kind,
    label: `${other.meta.name} (${other.meta.kind})`,
    features: other.meta.featureNames.length,
    evaluation: evaluateScores(rows, o.failures, {
      ...o.window,
      rule: pageRuleOf(other.meta.thresholds),
      costModel: o.cost,
    }),
  }
}

/** A comparison as metrics.json holds it (no curve points). */
export function comparisonJson(c: Comparison) {
  return { ...c, evaluation: { ...c.evaluation, curve: undefined } }
}

/** Another model scored on the same held-out test rows. */
export interface Comparison {
  name: string
  kind: ModelKind
  /** "name (kind)", as the summary and report show it. */
  label: string
  features: number
  evaluation: EvaluationReport
}

/** Training rows the regime fit looks at (a uniform sample from the scan): 200 000, at most 8 M values (64 MB). */
export const REGIME_SAMPLE = { rows: 200_000, values: 8_000_000 }

/**
 * The operating regimes from the scan's sample of training rows: the spec's regimes (over the
 * metrics kept), the metrics kept (those that only echo the setting are dropped), and a line for
 * the progress output.
 */
export function regimesFor(
  asked: TrainConfig['regimes'] = 'auto',
  metrics: string[],
  scan: ScanResult,
  plan: SplitPlan,
): { regimes?: RegimeSpecV1; metrics: string[]; dropped: string[]; r2?: number; say?: string } {
  if (asked === 'none') return { metrics, dropped: [] }
  const by = asked === 'auto' ? undefined : asked
  for (const b of by ?? [])
    if (!metrics.includes(b))
      throw new PreemptError(
        'PREEMPT_ERR_CLI_USAGE',
        `--regimes: "${b}" is not a metric the model uses (${scan.constant.includes(b) ? 'it is constant' : `metrics: ${metrics.join(', ')}`}). Name setting columns, or use --regimes auto.`,
      )
  const rows = scan.sample.filter((r) => splitOf(plan, r.entity, r.ts) === 'train').map((r) => r.values)
  let fit: RegimeFit
  try {
    fit = fitRegimesOver(rows, scan.metrics, metrics, by)
  } catch (e) {
    throw new PreemptError('PREEMPT_ERR_CLI_USAGE', `--regimes: ${(e as Error).message.replace(/^regimes: /, '')}.`)
  }
  if (!fit.regimes) return { metrics, dropped: [], r2: fit.r2, say: `none: ${fit.reason}` }
  const kept = metrics.filter((m) => !fit.constantWithin.includes(m))
  const dropped = fit.constantWithin
  return {
    regimes: projectRegimes(fit.regimes, metrics, kept),
    metrics: kept,
    dropped,
    r2: fit.r2,
    say: `${fit.reason}: metrics are read relative to their regime${dropped.length ? `; dropped as constant within each regime: ${dropped.join(', ')}` : ''}`,
  }
}

export async function trainFromCsv(cfg: TrainConfig): Promise<TrainOutcome> {
  const log = cfg.logger.child({ module: 'train' })
  const say = cfg.progress ?? (() => {})
  const t0 = Date.now()
  const backend = await initBackend(cfg.backend)
  if (cfg.peers && cfg.kind === 'gru')
    throw new PreemptError(
      'PREEMPT_ERR_CLI_USAGE',
      '--peers works with window features (gbdt, mlp, auto), not with the gru sequence: drop one of them.',
    )
  if (cfg.gbdt && Object.keys(cfg.gbdt).length && (cfg.kind === 'mlp' || cfg.kind === 'gru'))
    throw new PreemptError(
      'PREEMPT_ERR_CLI_USAGE',
      `--trees, --learning-rate, --leaves and --min-leaf set the gradient-boosted trees, which --model-kind ${cfg.kind} does not train: drop them, or use --model-kind gbdt (or auto).`,
    )
  // The labels file is checked before the first pass over the data, not after it.
  if (cfg.peers) await groupsFrom(cfg.csv.hostLabels, cfg.peers, cfg.csv.entityCol)
  log.info({ backend: backend.name, why: backend.reason }, 'tensorflow backend')
  say('scan', 'reading the data once for metrics, entities and time range')
  const scan = await scanCsv(
    cfg.csv,
    { runToFailure: cfg.labels.runToFailure, labelCol: Boolean(cfg.labels.labelCol) },
    (n) => say('scan', `${n.toLocaleString('en-US')} rows`),
    cfg.regimes === 'none' ? undefined : REGIME_SAMPLE,
  )
  const failures = await resolveFailures(cfg.labels, cfg.csv, scan.failures)
  // A model to compare with is checked now, not after an hour of training.
  const compareWith = cfg.compare ? await loadComparable(cfg.compare, scan.metrics) : undefined
  const metrics = scan.metrics.filter((m) => !scan.constant.includes(m))
  if (!metrics.length)
    throw new PreemptError('PREEMPT_ERR_DATA_ROW', 'every metric is constant: nothing to learn from.')
  log.info(
    {
      rows: scan.rows,
      entities: scan.entities.length,
      metrics: metrics.length,
      dropped: scan.constant,
      failures: failures.size,
    },
    'scanned',
  )
  const plan: SplitPlan = {
    by: cfg.split,
    train: 0.6,
    val: 0.2,
    seed: cfg.seed,
    tMin: scan.tMin,
    tMax: scan.tMax,
    horizon: cfg.horizon,
  }
  const regimes = regimesFor(cfg.regimes, metrics, scan, plan)
  if (regimes.say) say('regimes', regimes.say)
  log.info({ regimes: regimes.regimes?.by, dropped: regimes.dropped, r2: regimes.r2 }, 'operating regimes')
  const spec = createFeatureSpec({
    metrics: regimes.metrics,
    horizon: cfg.horizon,
    timeUnit: cfg.csv.timeUnit,
    windows: cfg.windows,
    aggregates: cfg.aggregates,
    minHistory: cfg.minHistory,
    stride: cfg.stride,
    lateness: cfg.lateness,
    sequence: cfg.kind === 'gru' ? (cfg.sequenceLength ?? 24) : undefined,
    peers: cfg.peers ? { by: cfg.peers } : undefined,
    trend: cfg.trend,
    regimes: regimes.regimes,
  })
  // Failures per split, before any work: a split with none cannot choose or judge anything.
  const perSplit = { train: 0, val: 0, test: 0 }
  for (const e of failures.entities())
    for (const ts of failures.of(e)) {
      const sp = splitOf(plan, e, ts)
      if (sp) perSplit[sp]++
    }
  say(
    'split',
    `failures per split (by ${cfg.split}): train ${perSplit.train}, validation ${perSplit.val}, test ${perSplit.test}; each needs at least ${MIN_SPLIT_FAILURES}, and figures from fewer than 10 are rough`,
  )
  for (const [name, n] of [
    ['training', perSplit.train],
    ['validation', perSplit.val],
    ['test', perSplit.test],
  ] as const)
    if (n < MIN_SPLIT_FAILURES)
      throw new PreemptError(
        'PREEMPT_ERR_DATA_LABELS',
        `the ${name} split has ${n} failures (train ${perSplit.train}, validation ${perSplit.val}, test ${perSplit.test}; ${failures.size} in all); each split needs at least ${MIN_SPLIT_FAILURES}. Use more data (more hosts or a longer history)${cfg.split === 'time' ? ', or --split entity' : ''}.`,
      )
  if (spec.peers)
    say(
      'peers',
      `peer groups by "${spec.peers.by}": one pass for the groups' medians per ${spec.peers.bucketMs} ms bucket`,
    )
  const peers = await offlinePeersFor(spec, {
    csv: cfg.csv,
    metrics: scan.metrics,
    onProgress: (n) => say('peers', `${n.toLocaleString('en-US')} / ${scan.rows.toLocaleString('en-US')} rows`),
  })
  if (peers?.ungrouped.length)
    log.warn(
      { entities: peers.ungrouped.slice(0, 10), count: peers.ungrouped.length },
      'entities without a peer group: their peer features are missing',
    )
  say('features', 'building feature vectors and labels')
  const ds = await buildDataset({
    peers,
    csv: cfg.csv,
    metrics: scan.metrics,
    spec,
    failures,
    horizon: cfg.horizon,
    lead: cfg.lead,
    plan,
    maxTrainRows: cfg.maxTrainRows,
    maxValRows: cfg.maxTrainRows ? Math.ceil(cfg.maxTrainRows / 2) : undefined,
    onProgress: (n) => say('features', `${n.toLocaleString('en-US')} / ${scan.rows.toLocaleString('en-US')} rows`),
  })
  log.info({ counts: ds.counts, late: ds.late, kept: { train: ds.train.size, val: ds.val.size } }, 'dataset built')
  for (const [name, set] of [
    ['train', ds.train],
    ['val', ds.val],
  ] as const)
    if (set.positives === 0)
      throw new PreemptError(
        'PREEMPT_ERR_DATA_LABELS',
        `the ${name} split has no positive example (failures: ${failures.size}, counts ${JSON.stringify(ds.counts)}). Use more data, a longer --horizon, or --split ${cfg.split === 'entity' ? 'time' : 'entity'}.`,
      )
  const kinds: ModelKind[] = cfg.kind === undefined || cfg.kind === 'auto' ? ['gbdt', 'mlp'] : [cfg.kind]
  const weights: ClassWeight[] =
    cfg.classWeight === undefined || cfg.classWeight === 'auto' ? ['none', 'balanced'] : [cfg.classWeight]
  let trainSet = ds.train
  let cleaning: CleaningReport | undefined
  if (cfg.cleanLabels !== false) {
    say('clean', 'cross-fitting: which training failures show anything before them')
    const c = await dropUnsupportedFailures(ds.train, failures, {
      seed: cfg.seed,
      onProgress: (d) => say('clean', d),
    })
    trainSet = c.set
    cleaning = c.report
    say(
      'clean',
      c.report.skipped
        ? `kept every failure: ${c.report.skipped}`
        : `${c.report.dropped.length} of ${c.report.failures} training failures dropped (nothing unusual before them): ${c.report.positivesDropped.toLocaleString('en-US')} positives`,
    )
    log.info({ ...c.report, dropped: c.report.dropped.length }, 'labels cleaned')
  }
  // Every candidate (kind × class weighting) on the same split; validation PR-AUC chooses.
  const yVal = ds.val.y.subarray(0, ds.val.size)
  const wVal = ds.val.weights()
  const candidates: Candidate[] = []
  for (const kind of kinds)
    for (const classWeight of weights) {
      const c = await fitCandidate(kind, classWeight, trainSet, ds.val, cfg, spec, (d) => say('train', d))
      say('train', `${c.label}: validation PR-AUC ${c.valPrAuc.toFixed(4)} (${c.seconds.toFixed(1)} s)`)
      candidates.push(c)
    }
  // How much of each gap to the best is the validation split's noise (resampled by entity).
  const best = candidates.reduce((b, c, i) => (c.valPrAuc > candidates[b]!.valPrAuc ? i : b), 0)
  const gapSe =
    candidates.length > 1
      ? prAucGapSe(
          candidates.map((c) => c.rawVal),
          yVal,
          wVal,
          ds.val.entity,
          best,
          { seed: cfg.seed },
        )
      : undefined
  const trained = chooseCandidate(candidates, gapSe)
  if (gapSe) for (const [i, c] of candidates.entries()) c.gapSe = gapSe[i]
  for (const c of candidates) if (c !== trained) c.model.dispose()
  const kind = trained.kind
  if (candidates.length > 1) {
    const next = candidates.filter((c) => c !== trained).sort((a, b) => b.valPrAuc - a.valPrAuc)[0]!
    const top = candidates[best]!
    say(
      'choose',
      top === trained
        ? `${trained.label} chosen: validation PR-AUC ${trained.valPrAuc.toFixed(4)}, ${(trained.valPrAuc - next.valPrAuc).toFixed(4)} above ${next.label}`
        : `${trained.label} chosen: validation PR-AUC ${trained.valPrAuc.toFixed(4)}, ${(top.valPrAuc - trained.valPrAuc).toFixed(4)} below ${top.label}, within that gap's standard error (${(trained.gapSe ?? 0).toFixed(4)}, validation resampled by entity): the simpler one`,
    )
  }
  let hazard: { model: HazardModel; bins: HazardBinReport[]; seconds: number } | undefined
  if (cfg.hazard !== false) {
    say('ttf', `time-to-failure head: one hazard per bin up to ${HAZARD_MULTIPLES.at(-1)} × the horizon`)
    const t1 = Date.now()
    const edges = HAZARD_MULTIPLES.map((m) => m * cfg.horizon)
    const h = trainHazard(survivalOf(trainSet, failures, ds.ends), survivalOf(ds.val, failures, ds.ends), {
      edges,
      horizonBin: HAZARD_MULTIPLES.indexOf(1),
      gbdt: cfg.hazardGbdt,
      seed: cfg.seed,
      onProgress: (_, d) => say('ttf', d),
    })
    hazard = { ...h, seconds: (Date.now() - t1) / 1000 }
  }
  // Calibration and thresholds on validation (weighted: sampled negatives stand for the rest).
  const rawVal = trained.rawVal
  const calibration = fitPlatt(rawVal, yVal, wVal)
  const calVal = Array.from(rawVal, (r) => calibrate(r, calibration))
  const valCurves = curves(calVal, yVal, wVal)
  const cost = costModelOf(cfg.costModel)
  const f1 = bestF1(valCurves)
  const atTarget = cfg.alertBy === 'precision' ? thresholdForPrecision(valCurves, cfg.targetPrecision) : undefined
  const alert = atTarget ?? f1
  const action = thresholdForPrecision(valCurves, cost.minPrecision) ?? f1
  const pkg = JSON.parse(
    await import('node:fs/promises').then((fs) => fs.readFile(new URL('../../package.json', import.meta.url), 'utf8')),
  ) as {
    version: string
  }
  const meta: ModelMetadataV1 = {
    v: spec.regimes ? 2 : 1,
    name: cfg.name,
    version: new Date()
      .toISOString()
      .replace(/[-:.TZ]/g, '')
      .slice(0, 14),
    createdAt: new Date().toISOString(),
    kind,
    featureSpec: spec,
    featureNames: featureNames(spec),
    normalization: trained.normalization,
    calibration,
    horizon: cfg.horizon,
    lead: cfg.lead,
    timeUnit: cfg.csv.timeUnit,
    thresholds: {
      alert: alert.threshold,
      alertRule: atTarget
        ? `score ≥ ${alert.threshold.toFixed(4)}: lowest threshold with validation vector precision ≥ ${cfg.targetPrecision}`
        : `score ≥ ${alert.threshold.toFixed(4)}: best validation F1 (${f1.f1.toFixed(3)})${cfg.alertBy === 'precision' ? `; no threshold reached vector precision ${cfg.targetPrecision}` : ''}`,
      page: {
        threshold: alert.threshold,
        consecutive: 1,
        chosenBy: 'vector',
        rule: `score ≥ ${alert.threshold.toFixed(4)}: the vector threshold (no validation failure to judge pages by)`,
      },
      targetPrecision: cfg.targetPrecision,
      action: action.threshold,
      costModel: cost,
    },
    csv: {
      format: cfg.csv.format,
      timeCol: cfg.csv.timeCol,
      entityCol: cfg.csv.entityCol,
      timeUnit: cfg.csv.timeUnit,
      metrics: scan.metrics,
    },
    droppedConstant: scan.constant,
    ...(hazard && {
      hazard: {
        edges: [...hazard.model.edges],
        file: 'hazard.json',
        bins: hazard.bins,
        seconds: hazard.seconds,
      },
    }),
    backend: backend.name,
    training: {
      split: plan,
      failuresPerSplit: perSplit,
      ...(regimes.say && { regimes: regimes.say }),
      ...trained.detail,
      ...(kind === 'gbdt' && cfg.gbdt && { treeSettings: cfg.gbdt }),
      classWeight: trained.classWeight,
      valPrAuc: trained.valPrAuc,
      candidates: candidates.map(candidateJson),
      counts: ds.counts,
      kept: {
        train: {
          positives: trainSet.positives,
          negatives: trainSet.negatives,
          negativeWeight: trainSet.negativeWeight,
        },
        val: { positives: ds.val.positives, negatives: ds.val.negatives, negativeWeight: ds.val.negativeWeight },
      },
      cleaning: cleaning && {
        ...cleaning,
        // A person checks these against their incident records; a long list is cut.
        dropped: cleaning.dropped.slice(0, 500).map((d) => ({ ...d, share: Number(d.share.toFixed(4)) })),
      },
      late: ds.late,
      badRows: scan.stats.badRows,
      seconds: (Date.now() - t0) / 1000,
      seed: cfg.seed,
    },
    data: {
      files: cfg.csv.files.map((f) => basename(f)),
      fingerprint: await fingerprint(cfg.csv.files),
      rows: scan.rows,
      entities: scan.entities.length,
      interval: scan.interval,
    },
    versions: { preempt: pkg.version, tfjs: tf.version.tfjs, node: process.version },
  }
  const loaded: LoadedModel = { model: trained.model, meta, dir: cfg.out, hazard: hazard?.model }

  // Every vector of validation and test (not sampled), scored exactly as `score` would: the
  // alert threshold is chosen on validation pages, the model is judged on test.
  say('evaluate', 'scoring the validation and held-out test splits')
  const valRows: ScoredRow[] = []
  const testRows: ScoredRow[] = []
  const keep = evalSampler(cfg.maxEvalRows ?? DEFAULT_MAX_EVAL_ROWS, scan.rows, plan, cfg.seed)
  if (keep.fractions.val < 1 || keep.fractions.test < 1)
    say(
      'sample',
      `more rows than --max-eval-rows: whole entities sampled, ${(100 * keep.fractions.val).toFixed(1)} % of validation's (where the rules are chosen) and ${(100 * keep.fractions.test).toFixed(1)} % of test's`,
    )
  await scoreCsv(
    loaded,
    {
      csv: { ...cfg.csv, metrics: scan.metrics },
      failures,
      filter: (e, ts) => {
        // Rows a time split drops near a boundary are evaluated with validation, as stored below.
        const split = splitOf(plan, e, ts)
        return split !== 'train' && keep(e, split === 'test' ? 'test' : 'val')
      },
      withValues: true,
      withTtf: true,
      peers,
    },
    (rows) => {
      for (const r of rows) (splitOf(plan, r.entity, r.ts) === 'test' ? testRows : valRows).push(r)
    },
  )
  const predictable = await loadPredictability(cfg.labels.failuresFile)
  const dayLength = dayLengthOf(cfg.csv.timeUnit)
  const mode = await loadFailureModes(cfg.labels.failuresFile)
  const window = { horizon: cfg.horizon, lead: cfg.lead, dayLength, predictable, mode }
  const gates = hazard && cfg.ttfGate !== false ? hazard.model.edges : undefined
  const page = choosePageRule(valRows, failures, window, { ...cfg, gates, timeUnit: cfg.csv.timeUnit }, cost)
  if (page) meta.thresholds.page = page.page
  const baseline = chooseBaseline(valRows, failures, { ...window, metrics })
  if (baseline) meta.baseline = baseline
  await saveModel(cfg.out, trained.model, meta, hazard?.model)
  let test: EvaluationReport | null = null
  if (testRows.length) {
    test = evaluateScores(testRows, failures, {
      horizon: cfg.horizon,
      lead: cfg.lead,
      dayLength,
      rule: pageRuleOf(meta.thresholds),
      alertThreshold: meta.thresholds.alert,
      baselineRule: meta.baseline,
      costModel: cost,
      metrics,
      predictable,
      mode,
      ttfCap: hazard?.model.edges.at(-1),
    })
  }
  let comparison: Comparison | undefined
  if (compareWith && testRows.length) {
    say('compare', `scoring ${cfg.compare} on the same test rows`)
    comparison = await compareOn(compareWith, {
      csv: { ...cfg.csv, metrics: scan.metrics },
      failures,
      filter: (e, ts) => splitOf(plan, e, ts) === 'test' && keep(e, 'test'),
      window,
      cost,
      onProgress: (n) => say('compare', `${n.toLocaleString('en-US')} / ${scan.rows.toLocaleString('en-US')} rows`),
    })
  }
  const importances = featureImportance(loaded, ds.val.x, ds.val.size)
  await writeFile(
    join(cfg.out, 'metrics.json'),
    `${JSON.stringify(
      {
        kind,
        classWeight: trained.classWeight,
        validation: { prAuc: valCurves.prAuc, rocAuc: valCurves.rocAuc, threshold: alert },
        candidates: candidates.map((c) => ({ ...candidateJson(c), chosen: c === trained })),
        test: test && { ...test, curve: undefined },
        ...(comparison && {
          compare: comparisonJson(comparison),
        }),
      },
      null,
      1,
    )}\n`,
  )
  if (test)
    await writeFile(
      join(cfg.out, 'report.html'),
      renderReport({
        title: `preempt model ${cfg.name}`,
        subtitle: `trained ${meta.createdAt} on ${meta.data.files.join(', ')} (${scan.rows} rows, ${scan.entities.length} entities); test split by ${cfg.split}; backend ${backend.name}`,
        summary: {
          model: `${kind === 'gru' ? `gru over ${spec.sequence} buckets of the longest window` : kind === 'gbdt' ? `gradient-boosted trees (${trained.detail['bestTrees']} trees) on window features` : 'mlp on window features'}; class weighting ${trained.classWeight}`,
          ...(candidates.length > 1 && {
            'chosen on validation PR-AUC': candidates
              .map(
                (c) =>
                  `${c.label} ${c.valPrAuc.toFixed(4)}${c.gapSe ? ` (gap to the best ± ${c.gapSe.toFixed(4)})` : ''}${c === trained ? ' ← chosen' : ''}`,
              )
              .join('; '),
          }),
          horizon: formatSpan(cfg.horizon, cfg.csv.timeUnit),
          lead: formatSpan(cfg.lead, cfg.csv.timeUnit),
          'time unit': cfg.csv.timeUnit,
          features: meta.featureNames.length,
          'metrics dropped as constant': scan.constant.join(', ') || 'none',
          ...(regimes.say && { 'operating regimes': regimes.say }),
          'test vectors': test.vectors,
          'test failures': test.atThreshold.failures,
          ...(kind === 'gbdt'
            ? { trees: `${trained.detail['bestTrees']} kept of ${trained.detail['trees']} grown` }
            : { 'best epoch': `${trained.detail['bestEpoch']} of ${trained.detail['epochs']}` }),
        },
        evaluation: test,
        timeLabel: cfg.csv.timeUnit === 'step' ? 'steps' : 'minutes',
        timeScale: cfg.csv.timeUnit === 'step' ? 1 : 60_000,
        importances,
        traces: traces(testRows, failures, 3),
        learningCurves: candidates.map(learningCurveOf),
        comparison,
      }),
    )
  trained.model.dispose()
  return { meta, test, comparison, cleaning, dir: cfg.out }
}

/** One trained candidate model, before calibration. */
interface Candidate {
  kind: ModelKind
  classWeight: ClassWeight
  label: string
  model: TrainedModel
  normalization: Normalization
  /** Validation outputs before calibration. */
  rawVal: Float32Array
  valPrAuc: number
  /** Standard error of its validation PR-AUC's gap to the best candidate's (entity bootstrap). */
  gapSe?: number
  seconds: number
  /** Epochs or trees, and their history. */
  detail: Record<string, unknown>
}

const SIMPLER: ModelKind[] = ['gbdt', 'mlp', 'gru']

/**
 * Most validation PR-AUC, unless a simpler candidate (trees before the network, then no
 * class weighting) is below it by no more than the noise: 0.001, or the standard error of
 * its gap to the best when `gapSe` gives it (per candidate, as `prAucGapSe` answers with
 * the best as reference) — the one-standard-error rule. Validation holds a few dozen
 * failures at best, and a gap smaller than its own standard error is a draw of the split.
 */
export function chooseCandidate<C extends { kind: ModelKind; classWeight: ClassWeight; valPrAuc: number }>(
  cs: C[],
  gapSe?: readonly number[],
): C {
  const top = Math.max(...cs.map((c) => c.valPrAuc))
  const near = cs.filter((c, i) => c.valPrAuc >= top - Math.max(1e-3, gapSe?.[i] ?? 0))
  near.sort(
    (a, b) =>
      SIMPLER.indexOf(a.kind) - SIMPLER.indexOf(b.kind) ||
      (a.classWeight === 'none' ? 0 : 1) - (b.classWeight === 'none' ? 0 : 1),
  )
  return near[0]!
}

function learningCurveOf(c: Candidate): LearningCurve {
  if (c.kind === 'gbdt') {
    const h = (c.detail['history'] ?? []) as { trees: number; valPrAuc: number }[]
    return {
      label: c.label,
      unit: 'trees',
      valPrAuc: h.map((p) => [p.trees, p.valPrAuc]),
      best: Number(c.detail['bestTrees']),
    }
  }
  const h = (c.detail['history'] ?? []) as { epoch: number; loss: number; valPrAuc: number }[]
  return {
    label: c.label,
    unit: 'epoch',
    valPrAuc: h.map((p) => [p.epoch, p.valPrAuc]),
    loss: h.map((p) => [p.epoch, p.loss]),
    best: Number(c.detail['bestEpoch']),
  }
}

function candidateJson(c: Candidate) {
  return {
    kind: c.kind,
    classWeight: c.classWeight,
    valPrAuc: c.valPrAuc,
    ...(c.gapSe !== undefined && { gapSe: Number(c.gapSe.toFixed(5)) }),
    seconds: c.seconds,
    ...c.detail,
    history: undefined,
  }
}

/** Every candidate judged by one measure on the same rows: weighted PR-AUC of its raw validation outputs. */
function prAucOn(val: SampleSet, raw: Float32Array): number {
  return curves(raw, val.y.subarray(0, val.size), val.weights()).prAuc
}

async function fitCandidate(
  kind: ModelKind,
  classWeight: ClassWeight,
  train: SampleSet,
  val: SampleSet,
  cfg: TrainConfig,
  spec: FeatureSpecV1,
  say: (detail: string) => void,
): Promise<Candidate> {
  const t0 = Date.now()
  const label = `${kind} (class weighting ${classWeight})`
  if (kind === 'gbdt') {
    const r = trainGbdt(train, val, {
      seed: cfg.seed,
      ...cfg.gbdt,
      classWeight,
      onProgress: (p) =>
        say(`${label}: ${p.trees} trees, validation PR-AUC ${p.valPrAuc.toFixed(4)}${p.best ? ' (best)' : ''}`),
    })
    const rawVal = r.model.predict(val.x, val.size)
    return {
      kind,
      classWeight,
      label,
      model: r.model,
      normalization: computeNormalization(train),
      rawVal,
      valPrAuc: prAucOn(val, rawVal),
      seconds: (Date.now() - t0) / 1000,
      detail: { trees: r.trees, bestTrees: r.bestTrees, history: r.history },
    }
  }
  const r = await trainNetwork(train, val, {
    kind,
    classWeight,
    steps: spec.sequence,
    seed: cfg.seed,
    epochs: cfg.epochs,
    hidden: cfg.hidden,
    onEpoch: (e) =>
      say(
        `${label}: epoch ${e.epoch}: loss ${e.loss.toFixed(4)}, val PR-AUC ${e.valPrAuc.toFixed(4)}${e.best ? ' (best)' : ''}`,
      ),
  })
  const rawVal = predictRaw(r.model, standardize(val.x, val.size, r.normalization), val.size)
  return {
    kind,
    classWeight,
    label,
    model: r.model,
    normalization: r.normalization,
    rawVal,
    valPrAuc: prAucOn(val, rawVal),
    seconds: (Date.now() - t0) / 1000,
    detail: { epochs: r.epochs, bestEpoch: r.bestEpoch, history: r.history },
  }
}

/** A stable random share `fraction` of entities (all of them at 1). */
function entityShare(fraction: number, seed: number): (entity: string) => boolean {
  if (fraction >= 1) return () => true
  return (entity) => hash32(entity, seed + 7919) / 4294967296 < fraction
}

/**
 * Which validation and test entities train scores, at most `max` rows of the two (expected
 * from the split's fractions of `rows`): validation first — the alert and page rules are
 * chosen there, and each failure it drops is one fewer to choose on — then test, which only
 * reports, from what is left (at least a quarter of the budget when it has that many rows).
 * Whole entities either way; `fractions` says how much of each.
 */
export function evalSampler(
  max: number,
  rows: number,
  plan: Pick<SplitPlan, 'train' | 'val'>,
  seed: number,
): ((entity: string, split: 'val' | 'test') => boolean) & { fractions: { val: number; test: number } } {
  const val = rows * plan.val
  const test = rows * Math.max(0, 1 - plan.train - plan.val)
  // Test is never starved: up to a quarter of the budget is kept for it.
  const reserve = Math.min(test, max / 4)
  const fVal = val > max - reserve ? (max - reserve) / val : 1
  const fTest = test > 0 ? Math.min(1, Math.max(0, max - val * fVal) / test) : 1
  const keepVal = entityShare(fVal, seed)
  const keepTest = entityShare(fTest, seed)
  return Object.assign((entity: string, split: 'val' | 'test') => (split === 'val' ? keepVal : keepTest)(entity), {
    fractions: { val: fVal, test: fTest },
  })
}

/**
 * Keeps every entity while `expected` rows fit in `max`; otherwise a stable random share of
 * entities (whole entities, so event-level metrics stay exact for those kept). `drawn()` says
 * how many of the entities seen so far were kept (undefined when nothing is sampled).
 */
export function entitySampler(
  max: number,
  expected: number,
  seed: number,
): ((entity: string) => boolean) & { drawn(): { kept: number; of: number } | undefined } {
  if (expected <= max) return Object.assign(() => true, { drawn: () => undefined })
  // Each entity is drawn once (a hash per entity, not per row); `drawn` counts the draws.
  const share = entityShare(max / expected, seed)
  const draws = new Map<string, boolean>()
  const keep = (entity: string) => {
    const seen = draws.get(entity)
    if (seen !== undefined) return seen
    const k = share(entity)
    draws.set(entity, k)
    return k
  }
  const drawn = () => {
    let kept = 0
    for (const k of draws.values()) if (k) kept++
    return { kept, of: draws.size }
  }
  return Object.assign(keep, { drawn })
}

/** Mean |gradient × input| per metric (summed over its features), largest first. */
export function featureImportance(
  loaded: LoadedModel,
  x: Float32Array,
  rows: number,
): { label: string; value: number }[] {
  const n = Math.min(rows, 2000)
  if (!n) return []
  const scorer = new Scorer(loaded)
  const top = scorer.explain(x.subarray(0, n * loaded.meta.featureNames.length), n, loaded.meta.featureNames.length)
  const byMetric = new Map<string, number>()
  for (const row of top)
    for (const c of row)
      byMetric.set(
        featureMetric(c.feature),
        (byMetric.get(featureMetric(c.feature)) ?? 0) + Math.abs(c.contribution) / n,
      )
  return [...byMetric]
    .map(([label, value]) => ({ label, value }))
    .sort((a, b) => b.value - a.value)
    .slice(0, 20)
}

/** A sample's rows with their time to the next failure and how long their entity was seen after them. */
export function survivalOf(set: SampleSet, failures: FailureTable, ends: Map<string, number>): SurvivalRows {
  const n = set.size
  const untilFailure = new Float64Array(n)
  const observedFor = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const e = set.entity[i]!
    const ts = set.ts[i]!
    const f = failures.next(e, ts)
    untilFailure[i] = f === undefined ? Number.NaN : f - ts
    observedFor[i] = (ends.get(e) ?? ts) - ts
  }
  return {
    width: set.width,
    size: n,
    x: set.x,
    y: set.y,
    positives: set.positives,
    negatives: set.negatives,
    weights: () => set.weights(),
    untilFailure,
    observedFor,
  }
}

/** Failures a split needs before training starts (the page rule is chosen on validation, judged on test). */
export const MIN_SPLIT_FAILURES = 1

/** A few entities with failures, their scores over time, for the report. */
export function traces(rows: ScoredRow[], failures: FailureTable, k: number): HostTrace[] {
  const by = new Map<string, [number, number][]>()
  for (const r of rows) {
    const list = by.get(r.entity) ?? []
    list.push([r.ts, r.score])
    by.set(r.entity, list)
  }
  const out: HostTrace[] = []
  for (const [e, list] of by) {
    if (out.length >= k) break
    const pts = list.sort((a, b) => a[0] - b[0])
    const fs = failures.between(e, pts[0]![0], pts.at(-1)![0] + 1)
    if (!fs.length) continue
    const step = Math.max(1, Math.floor(pts.length / 600))
    out.push({ entity: e, points: pts.filter((_, i) => i % step === 0), failures: fs })
  }
  return out
}
