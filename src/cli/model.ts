import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { type Command, Option } from 'commander'
import { scanCsv } from '../data/dataset.js'
import { FailureTable, loadFailureModes, loadPredictability } from '../data/labels.js'
import { checkPeerLabels } from '../data/peers.js'
import { PreemptError } from '../errors.js'
import { type EvaluationReport, evaluateScores, verdicts } from '../eval/evaluate.js'
import { renderReport } from '../eval/report.js'
import { Aggregates } from '../features/spec.js'
import { samplingDiffers } from '../math/spacing.js'
import { loadModel, type ModelMetadataV1, saveMetadata } from '../model/artifact.js'
import { Backends, initBackend } from '../model/backend.js'
import type { GbdtOptions } from '../model/gbdt.js'
import type { HazardBinReport } from '../model/hazard.js'
import { type ClassWeight, ClassWeights, type ModelKind, ModelKinds } from '../model/mlp.js'
import { type ScoredRow, scoreCsv } from '../pipelines/score-csv.js'
import {
  compareOn,
  comparisonJson,
  DEFAULT_MAX_EVAL_ROWS,
  dayLengthOf,
  entitySampler,
  fingerprint,
  loadComparable,
  resolveFailures,
  traces,
  trainFromCsv,
} from '../pipelines/train.js'
import {
  formatBacktestCandidates,
  type PageRule,
  splitShare,
  type TuneOptions,
  type TuneSplit,
  tunePageRule,
  tunePageRuleByBacktest,
} from '../pipelines/tune.js'
import { type AlertRule, AlertTracker, alertRuleOf, describeRule, pageRuleOf } from '../policy/alert.js'
import { costModelOf } from '../policy/cost.js'
import { formatSpan, type TimeUnit } from '../time.js'
import { COMMANDS } from './commands.js'
import { boot, type GlobalOpts, parse, policyOf } from './common.js'
import {
  addDataFlags,
  csvOptions,
  csvOptionsInferred,
  type DataFlags,
  durationFlag,
  horizonAndLead,
  labelSource,
} from './data-flags.js'
import { addFleetFlags, type FleetFlags, fleetParams } from './simulate.js'

/** Progress on stderr: a live line on a terminal, plain lines elsewhere. */
function reporter(enabled: boolean) {
  let last = ''
  let lastAt = 0
  return (phase: string, detail: string) => {
    if (!enabled) return
    const line = `${phase}: ${detail}`
    if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K${line}`)
    else if (phase !== last || Date.now() - lastAt > 5000 || detail.startsWith('epoch')) {
      process.stderr.write(`${line}\n`)
      lastAt = Date.now()
    }
    if (phase !== last && process.stderr.isTTY && last) process.stderr.write('\n')
    last = phase
  }
}

const costDefaults = (unit: TimeUnit) =>
  unit === 'step'
    ? { unplanned: '20', planned: '2', falseAlarm: '4' }
    : { unplanned: '4h', planned: '10m', falseAlarm: '30m' }

/**
 * evaluate and tune: the model, the data read once for its size and labels, progress.
 * `notOwnData`: refuse the model's own training files (before the read, not after).
 */
async function openLabelled(f: DataFlags & { model: string; progress: boolean }, notOwnData = false) {
  await initBackend()
  const loaded = await loadModel(f.model)
  const meta = loaded.meta
  if (notOwnData) await refuseOwnTrainingData(meta, f.data)
  const csv = csvOptions(f, meta.csv)
  await checkPeerLabels(meta.featureSpec, csv)
  const say = reporter(f.progress)
  const scan = await scanCsv(csv, { runToFailure: f.runToFailure, labelCol: Boolean(f.labelCol) }, (n) =>
    say('scan', `${n.toLocaleString('en-US')} rows`),
  )
  const failures = await resolveFailures(labelSource(f), csv, scan.failures)
  return { loaded, meta, csv, say, scan, failures }
}

/**
 * `tune --split all` on the very files the model was trained on would choose its rule on the
 * rows it learnt from (scores there are optimistic): refused before any work.
 */
async function refuseOwnTrainingData(meta: ModelMetadataV1, data: string[]): Promise<void> {
  const own = meta.data?.fingerprint
  if (own && own === (await fingerprint(data)))
    throw new PreemptError(
      'PREEMPT_ERR_CLI_USAGE',
      `--data is the data ${meta.name} was trained on: with --split all the rule would be chosen on the rows it learnt from. Pass --split val (its validation hosts), or data it has never seen.`,
    )
}

interface RuleFlags {
  threshold?: number
  consecutive?: number
}

/** `--regimes`: auto, none, or setting columns by name. */
function regimesFlag(v: string): 'auto' | 'none' | string[] {
  const t = v.trim()
  if (t === 'auto' || t === 'none') return t
  const cols = t
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean)
  if (!cols.length)
    throw new PreemptError('PREEMPT_ERR_CLI_USAGE', '--regimes: give auto, none, or setting columns (a,b).')
  return cols
}

/** The trees' settings from --trees, --learning-rate, --leaves, --min-leaf (training refuses them without trees). */
function treeFlags(f: TrainFlags): GbdtOptions | undefined {
  const given = {
    ...(f.trees !== undefined && { trees: f.trees }),
    ...(f.learningRate !== undefined && { learningRate: f.learningRate }),
    ...(f.leaves !== undefined && { leaves: f.leaves }),
    ...(f.minLeaf !== undefined && { minLeaf: f.minLeaf }),
  }
  return Object.keys(given).length ? given : undefined
}

/** The model's alert (`score`'s column) or page rule (`evaluate`'s events), with --threshold / --consecutive over it. */
function ruleOf(meta: ModelMetadataV1, f: RuleFlags, which: 'alert' | 'page'): AlertRule {
  const rule = which === 'alert' ? alertRuleOf(meta.thresholds) : pageRuleOf(meta.thresholds)
  // --threshold and --consecutive replace those parts; a gate on the time to failure stays.
  return {
    threshold: f.threshold ?? rule.threshold,
    consecutive: f.consecutive ?? rule.consecutive,
    ...(rule.within !== undefined && { within: rule.within }),
  }
}

const fmtPct = (x: number | null) => (x === null ? '–' : `${(x * 100).toFixed(1)} %`)

function summarize(e: EvaluationReport, unit: TimeUnit): string {
  const a = e.atThreshold
  const lead =
    a.medianLeadTime === null
      ? '–'
      : unit === 'step'
        ? `${a.medianLeadTime} steps`
        : `${(a.medianLeadTime / 60_000).toFixed(1)} min`
  const rule = describeRule(e, 4, (x) => formatSpan(x, unit))
  const lines = [
    `  PR-AUC ${e.prAuc.toFixed(4)}, ROC-AUC ${e.rocAuc.toFixed(4)}, F1 ${e.f1.toFixed(4)} (vectors; alert when ${e.alertThreshold === null ? rule : `score ≥ ${e.alertThreshold.toFixed(4)}`})`,
    `  pages (${rule}): event recall ${fmtPct(a.eventRecall)} (${a.detected}/${a.failures}; predictable ${fmtPct(a.predictableRecall)} of ${a.predictableFailures}), page precision ${fmtPct(a.precision)} (${a.trueEpisodes}/${a.trueEpisodes + a.falseAlarmEpisodes} pages${a.earlyEpisodes ? `; ${fmtPct(a.coveringPrecision)} counting the ${a.earlyEpisodes} premature ones that stayed open until the failure` : ''}; vectors ${fmtPct(a.vectorPrecision)})`,
    `  median lead ${lead}, false alarms per host-${unit === 'step' ? '100-steps' : 'day'} ${a.falseAlarmsPerHostDay?.toFixed(3) ?? '–'}`,
    `  availability (cost model): ${fmtPct(e.availability.availabilityWithout)} without → ${fmtPct(e.availability.availabilityWith)} with the model`,
  ]
  const t = e.timeToFailure
  if (t?.lastRow || t?.everyRow) {
    const span = (x: number) => formatSpan(Math.round(x * 10) / 10, unit)
    lines.push(
      `  time to failure (median vs truth, both capped at ${span(t.cap)}): ${t.lastRow ? `at each entity's last row RMSE ${span(t.lastRow.rmse)}, MAE ${span(t.lastRow.mae)} (${t.lastRow.entities} entities)` : ''}${t.lastRow && t.everyRow ? '; ' : ''}${t.everyRow ? `every row RMSE ${span(t.everyRow.rmse)} (${t.everyRow.vectors} vectors)` : ''}`,
    )
  }
  if (e.baseline)
    lines.push(
      `  naive baseline (${e.baseline.rule}, chosen on ${e.baseline.chosenOn}): page precision ${fmtPct(e.baseline.precision)}, event recall ${fmtPct(e.baseline.eventRecall)}, best recall at precision ≥ 0.9 ${fmtPct(e.baseline.recallAtPrecision90)}`,
    )
  for (const v of verdicts(e)) lines.push(`  WARNING: ${v}`)
  return lines.join('\n')
}

interface TrainFlags extends DataFlags {
  out: string
  name?: string
  split: 'entity' | 'time'
  seed: number
  peers?: string
  trend?: boolean
  regimes: string
  windows?: string
  aggregates?: string
  minHistory?: number
  stride?: number
  lateness?: string
  maxRows: number
  maxEvalRows: number
  epochs: number
  cleanLabels: boolean
  targetPrecision: number
  alertBy: 'f1' | 'precision'
  pageBy: 'outcome' | 'precision'
  ttf: boolean
  ttfGate: boolean
  costUnplanned?: string
  costPlanned?: string
  costFalseAlarm?: string
  actionSuccess: number
  backend?: (typeof Backends)[number]
  modelKind: ModelKind | 'auto'
  classWeight: ClassWeight | 'auto'
  sequenceLength: number
  trees?: number
  learningRate?: number
  leaves?: number
  minLeaf?: number
  compare?: string
  progress: boolean
}

export function registerModelCommands(program: Command, env: NodeJS.ProcessEnv): void {
  addDataFlags(program.command('train').description(COMMANDS.train.description), {
    horizonRequired: true,
  })
    .requiredOption('--out <dir>', 'model folder to write (models/<name>)')
    .option('--name <name>', 'model name (default: the folder name)')
    .addOption(
      new Option('--split <by>', 'hold out whole entities, or the latest time')
        .choices(['entity', 'time'])
        .default('entity'),
    )
    .option('--seed <n>', 'random seed (splits, sampling, weights)', parse.int('--seed', 0, 2 ** 31), 1)
    .option('--windows <a,b,c>', 'feature windows (default: horizon/6, horizon/2, 2×horizon)')
    .option('--aggregates <a,b>', `window aggregates (default all: ${Aggregates.join(',')})`)
    .option('--min-history <n>', 'samples before the first vector (default 3)', parse.int('--min-history', 1))
    .option('--stride <n>', 'a vector every n samples (default 1)', parse.int('--stride', 1))
    .option('--lateness <dur>', 'out-of-order samples up to this old are inserted in order (default 1m; 0 for steps)')
    .option(
      '--max-rows <n>',
      'training rows kept in memory (negatives are subsampled, weights recorded)',
      parse.int('--max-rows', 1000),
      200_000,
    )
    .option(
      '--max-eval-rows <n>',
      'validation + test rows scored for event-level evaluation; past it, whole entities are sampled',
      parse.int('--max-eval-rows', 1000),
      DEFAULT_MAX_EVAL_ROWS,
    )
    .option('--epochs <n>', 'most epochs (early stopping on validation PR-AUC)', parse.int('--epochs', 1, 1000), 30)
    .option(
      '--no-clean-labels',
      'keep every training failure (default: drop those nothing unusual preceded, found by cross-fitting)',
    )
    .addOption(
      new Option(
        '--model-kind <kind>',
        'auto: gbdt and mlp on the same split, the better validation PR-AUC wins; gbdt: gradient-boosted trees on window features; mlp: a network on window features; gru: a recurrent net over the last samples, bucketed in event time',
      )
        .choices(['auto', ...ModelKinds])
        .default('auto'),
    )
    .addOption(
      new Option(
        '--class-weight <w>',
        'auto: both tried per kind, validation PR-AUC chooses; balanced: failures weigh as much as all the rest; none: rows as sampled',
      )
        .choices(['auto', ...ClassWeights])
        .default('auto'),
    )
    .option(
      '--sequence-length <n>',
      'gru: buckets over the longest window (each the mean of its samples)',
      parse.int('--sequence-length', 2, 512),
      24,
    )
    .option(
      '--trees <n>',
      'gbdt: most trees grown; early stopping keeps the best count (default 300)',
      parse.int('--trees', 1, 100_000),
    )
    .option(
      '--learning-rate <x>',
      'gbdt: shrinkage of each tree (default 0.1); lower needs more trees',
      parse.number('--learning-rate', 0.0001, 1),
    )
    .option('--leaves <n>', 'gbdt: leaves per tree (default 15)', parse.int('--leaves', 2, 4096))
    .option(
      '--min-leaf <n>',
      'gbdt: training rows on each side of a split at least (default 20)',
      parse.int('--min-leaf', 1),
    )
    .option('--no-ttf', 'skip the time-to-failure (hazard) head: no ttf column, no hold of actions on it')
    .option(
      '--no-ttf-gate',
      "choose the page rule on the score alone (default: also try rules that page only when the head's median time to failure is within ¼ … 4 × the horizon)",
    )
    .option(
      '--peers <label>',
      "peer features: each host's deviation from the median of the hosts with the same label (e.g. service), per minute; needs --host-labels",
    )
    .option(
      '--trend',
      'trend features: per metric, the slope over the second-longest window minus the slope over the rest of the longest (still rising or levelled off)',
    )
    .option(
      '--regimes <how>',
      'operating regimes: auto (find setting columns that take a few values and move the other metrics; read every other metric relative to its regime), none, or the setting columns a,b',
      'auto',
    )
    .option('--compare <model>', 'also evaluate this trained model on the same held-out test rows, side by side')
    .addOption(
      new Option(
        '--alert-by <how>',
        "the alert column's vector threshold, on validation: f1 (best F1) or precision (lowest with vector precision ≥ --target-precision)",
      )
        .choices(['f1', 'precision'])
        .default('f1'),
    )
    .addOption(
      new Option(
        '--page-by <how>',
        'the page rule the policy acts by (threshold × vectors in a row), on validation failures: outcome (saves most under the cost model) or precision (most recall at page precision ≥ --target-precision)',
      )
        .choices(['outcome', 'precision'])
        .default('outcome'),
    )
    .option(
      '--target-precision <p>',
      'the precision --alert-by precision and --page-by precision aim for',
      parse.number('--target-precision', 0.01, 1),
      0.9,
    )

    .option('--cost-unplanned <dur>', 'cost model T_u: an unplanned outage (default 4h / 20 steps)')
    .option('--cost-planned <dur>', 'cost model T_m: a planned action (default 10m / 2 steps)')
    .option('--cost-false-alarm <dur>', 'cost model T_fp: a needless action (default 30m / 4 steps)')
    .option(
      '--action-success <s>',
      'cost model s: chance an action averts the outage',
      parse.number('--action-success', 0, 1),
      0.9,
    )
    .addOption(new Option('--backend <name>', 'force a TensorFlow.js backend').choices([...Backends]))
    .option('--no-progress', 'no progress output')
    .action(async (f: TrainFlags, cmd: Command) => {
      const { logger } = boot(cmd.optsWithGlobals<GlobalOpts>(), env, {}, { quiet: true })
      const csv = await csvOptionsInferred(f)
      const unit = csv.timeUnit
      const cd = costDefaults(unit)
      const t0 = Date.now()
      const labels = labelSource(f)
      const { horizon, lead } = horizonAndLead(f, unit)
      const res = await trainFromCsv({
        csv,
        labels,
        horizon,
        lead,
        out: f.out,
        name: f.name ?? basename(f.out),
        split: f.split,
        seed: f.seed,
        windows: f.windows?.split(',').map((w) => durationFlag('--windows', w.trim(), unit)),
        aggregates: f.aggregates?.split(',').map((a) => a.trim()) as (typeof Aggregates)[number][] | undefined,
        minHistory: f.minHistory,
        stride: f.stride,
        lateness: f.lateness === undefined ? undefined : durationFlag('--lateness', f.lateness, unit),
        maxTrainRows: f.maxRows,
        maxEvalRows: f.maxEvalRows,
        epochs: f.epochs,
        cleanLabels: f.cleanLabels,
        kind: f.modelKind,
        classWeight: f.classWeight,
        sequenceLength: f.sequenceLength,
        gbdt: treeFlags(f),
        peers: f.peers,
        trend: f.trend,
        regimes: regimesFlag(f.regimes),
        compare: f.compare,
        targetPrecision: f.targetPrecision,
        alertBy: f.alertBy,
        pageBy: f.pageBy,
        hazard: f.ttf,
        ttfGate: f.ttfGate,
        costModel: {
          unplanned: durationFlag('--cost-unplanned', f.costUnplanned ?? cd.unplanned, unit),
          planned: durationFlag('--cost-planned', f.costPlanned ?? cd.planned, unit),
          falseAlarm: durationFlag('--cost-false-alarm', f.costFalseAlarm ?? cd.falseAlarm, unit),
          success: f.actionSuccess,
        },
        backend: f.backend,
        logger,
        progress: reporter(f.progress),
      })
      if (f.progress && process.stderr.isTTY) process.stderr.write('\n')
      const m = res.meta
      process.stdout.write(
        [
          `model ${m.name} (${m.kind}) → ${res.dir} (${((Date.now() - t0) / 1000).toFixed(1)} s, backend ${m.backend})`,
          ...(() => {
            const cs = m.training['candidates'] as { kind: string; classWeight: string; valPrAuc: number }[]
            if (cs.length < 2) return [`  class weighting ${m.training['classWeight']}`]
            return [
              `  chosen on validation PR-AUC: ${cs.map((c) => `${c.kind} (${c.classWeight}) ${c.valPrAuc.toFixed(4)}${c.kind === m.kind && c.classWeight === m.training['classWeight'] ? ' ← chosen' : ''}`).join(', ')}`,
            ]
          })(),
          `  ${m.featureNames.length} features from ${m.featureSpec.metrics.length} metrics (dropped as constant: ${m.droppedConstant.join(', ') || 'none'})`,
          ...(m.training['regimes'] ? [`  operating regimes: ${m.training['regimes']}`] : []),
          (() => {
            const p = m.training['failuresPerSplit'] as { train: number; val: number; test: number }
            return `  failures per split (by ${f.split}): train ${p.train}, validation ${p.val}, test ${p.test}${Math.min(p.val, p.test) < 10 ? ' — fewer than 10 in a split: its figures are rough' : ''}`
          })(),
          ...(res.cleaning
            ? [
                res.cleaning.skipped
                  ? `  training failures: all ${res.cleaning.failures} learnt from (label cleaning skipped: ${res.cleaning.skipped})`
                  : `  training failures: ${res.cleaning.kept} of ${res.cleaning.failures} learnt from (${res.cleaning.dropped.length} had nothing unusual before them: --no-clean-labels keeps them)`,
              ]
            : []),
          `  alert (per vector): ${m.thresholds.alertRule}`,
          `  page rule (the policy acts by): ${m.thresholds.page?.rule ?? describeRule(pageRuleOf(m.thresholds), 4, (x) => formatSpan(x, m.timeUnit))}`,
          ...(m.hazard
            ? [
                `  time to failure: hazard bins ending ${m.hazard.edges.map((e) => formatSpan(e, unit)).join(', ')}; validation PR-AUC per bin ${(m.hazard.bins as HazardBinReport[]).map((b) => (Number.isFinite(b.valPrAuc) ? b.valPrAuc.toFixed(3) : '–')).join(', ')} (${(m.hazard.seconds ?? 0).toFixed(1)} s)`,
              ]
            : []),
          `  action threshold ${m.thresholds.action.toFixed(4)} (cost model: precision ≥ ${m.thresholds.costModel.minPrecision.toFixed(3)})`,
          res.test
            ? `held-out test split:\n${summarize(res.test, unit)}`
            : 'no test vectors (too little data to hold some out)',
          ...(res.comparison
            ? [
                `${res.comparison.name} (${res.comparison.kind}) on the same rows:\n${summarize(res.comparison.evaluation, unit)}`,
              ]
            : []),
          `report: ${join(res.dir, 'report.html')}`,
          '',
        ].join('\n'),
      )
    })

  addDataFlags(program.command('score').description(COMMANDS.score.description))
    .requiredOption('--model <dir>', 'model folder written by preempt train')
    .option('--out <path>', 'output CSV (default: stdout); its folder is created')
    .option('--threshold <p>', "alert threshold (default: the model's)", parse.number('--threshold', 0, 1))
    .option(
      '--consecutive <k>',
      "vectors of a host in a row at or above the threshold before it alerts (default: the model's)",
      parse.int('--consecutive', 1),
    )
    .option('--no-progress', 'no progress output')
    .action(async (f: DataFlags & RuleFlags & { model: string; out?: string; progress: boolean }, cmd: Command) => {
      boot(cmd.optsWithGlobals<GlobalOpts>(), env, {}, { quiet: true })
      await initBackend()
      const loaded = await loadModel(f.model)
      const csv = csvOptions(f, loaded.meta.csv)
      await checkPeerLabels(loaded.meta.featureSpec, csv)
      const say = reporter(f.progress && Boolean(f.out))
      const sink = f.out ? createWriteStream(f.out) : process.stdout
      const write = async (s: string) => {
        if (!sink.write(s)) await once(sink, 'drain')
      }
      // ttf: the median time to failure in the data's time unit (empty: later than the hazard's last bin).
      const withTtf = Boolean(loaded.hazard)
      await write(`host,timestamp,score,alert${withTtf ? ',ttf' : ''}\n`)
      const ttfText = (t: number | undefined) => (t === undefined || Number.isNaN(t) ? '' : String(+t.toPrecision(6)))
      const alerts = new AlertTracker(ruleOf(loaded.meta, f, 'alert'))
      const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s)
      // Labels only reset windows after failures, as training did; reading them from the data
      // itself (--run-to-failure, --label-col) costs a pass, a failures file does not.
      const inData = f.runToFailure || f.labelCol
      const failures =
        f.failures || inData
          ? await resolveFailures(
              labelSource(f),
              csv,
              inData
                ? (await scanCsv(csv, { runToFailure: f.runToFailure, labelCol: Boolean(f.labelCol) })).failures
                : new FailureTable(),
            )
          : undefined
      const summary = await scoreCsv(
        loaded,
        { csv, failures, withRawTime: true, withTtf, onProgress: (n) => say('score', `${n} rows`) },
        async (rows) => {
          let chunk = ''
          for (const r of rows)
            chunk += `${quote(r.entity)},${quote(r.rawTime!)},${r.score.toFixed(6)},${alerts.observe(r.entity, r.score) ? 1 : 0}${withTtf ? `,${ttfText(r.ttf)}` : ''}\n`
          await write(chunk)
        },
      )
      if (f.out) {
        ;(sink as ReturnType<typeof createWriteStream>).end()
        await once(sink, 'finish')
      }
      process.stderr.write(
        `${f.progress && process.stderr.isTTY ? '\n' : ''}scored ${summary.vectors} vectors from ${summary.rows} rows (${summary.late} late samples${summary.stats.badRows ? `, ${summary.stats.badRows} bad rows skipped` : ''})\n`,
      )
      if (summary.offRegime)
        process.stderr.write(
          `warning: ${summary.offRegime} of ${summary.rows} samples had operating settings (${loaded.meta.featureSpec.regimes!.by.join(', ')}) unlike every regime the model was trained on: their metrics were read relative to the nearest one, so their scores may be off. Train on data that covers those settings.\n`,
        )
      const trained = loaded.meta.data.interval
      if (trained && summary.interval && samplingDiffers(trained, summary.interval))
        process.stderr.write(
          `warning: this data is sampled every ${formatSpan(summary.interval, csv.timeUnit)}, the model was trained on samples every ${formatSpan(trained, csv.timeUnit)}: window counts and rates differ, so the scores may be off. Resample the data, or train on data sampled like it.\n`,
        )
    })

  addDataFlags(program.command('evaluate').description(COMMANDS.evaluate.description))
    .requiredOption('--model <dir>', 'model folder written by preempt train')
    .option('--out <dir>', 'write metrics.json and report.html here')
    .option('--threshold <p>', "alert threshold (default: the model's)", parse.number('--threshold', 0, 1))
    .option(
      '--consecutive <k>',
      "vectors of a host in a row at or above the threshold before it alerts (default: the model's)",
      parse.int('--consecutive', 1),
    )
    .option(
      '--max-rows <n>',
      'scored rows held for evaluation; past it, whole entities are sampled',
      parse.int('--max-rows', 1000),
      DEFAULT_MAX_EVAL_ROWS,
    )
    .option('--compare <model>', 'also evaluate this trained model on the same rows, side by side')
    .option('--no-progress', 'no progress output')
    .action(
      async (
        f: DataFlags &
          RuleFlags & { model: string; out?: string; maxRows: number; compare?: string; progress: boolean },
        cmd: Command,
      ) => {
        boot(cmd.optsWithGlobals<GlobalOpts>(), env, {}, { quiet: true })
        const { loaded, meta, csv, say, scan, failures } = await openLabelled(f)
        const other = f.compare ? await loadComparable(f.compare, scan.metrics) : undefined
        const rows: ScoredRow[] = []
        // Bounded memory: past --max-rows scored rows, whole entities are sampled (and the output says so).
        const keep = entitySampler(f.maxRows, scan.rows, 1)
        await scoreCsv(
          loaded,
          {
            csv,
            failures,
            withValues: true,
            withTtf: true,
            filter: keep,
            onProgress: (n) => say('score', `${n} rows`),
          },
          (r) => {
            rows.push(...r)
          },
        )
        const { horizon, lead } = horizonAndLead(f, csv.timeUnit, { horizon: meta.horizon, lead: meta.lead })
        const metrics = meta.featureSpec.metrics
        const window = {
          horizon,
          lead,
          dayLength: dayLengthOf(csv.timeUnit),
          predictable: await loadPredictability(f.failures),
          mode: await loadFailureModes(f.failures),
        }
        const cost = costModelOf(meta.thresholds.costModel)
        const report = evaluateScores(rows, failures, {
          ...window,
          rule: ruleOf(meta, f, 'page'),
          // Models with a page rule of their own have a vector threshold for the alert column.
          alertThreshold: meta.thresholds.page ? meta.thresholds.alert : undefined,
          costModel: cost,
          metrics,
          baselineRule: meta.baseline,
          ttfCap: meta.hazard?.edges.at(-1),
        })
        if (other) say('compare', `scoring ${f.compare} on the same rows`)
        const comparison =
          other &&
          (await compareOn(other, {
            csv,
            failures,
            filter: keep,
            window,
            cost,
            onProgress: (n) => say('compare', `${n} rows`),
          }))
        if (f.progress && process.stderr.isTTY) process.stderr.write('\n')
        const drawn = keep.drawn()
        const sampling = drawn && {
          hosts: drawn.kept,
          of: drawn.of,
          note: `judged on ${drawn.kept} of ${drawn.of} ${meta.csv.entityCol}s, drawn whole: the data has ${scan.rows.toLocaleString('en-US')} rows, more than --max-rows ${f.maxRows.toLocaleString('en-US')} (raise it to judge every one, at about 0.4 KB of memory per row)`,
        }
        process.stdout.write(
          `model ${meta.name} on ${csv.files.join(', ')}:\n${sampling ? `  ${sampling.note}\n` : ''}${summarize(report, csv.timeUnit)}\n`,
        )
        if (comparison)
          process.stdout.write(
            `${comparison.label} on the same rows:\n${summarize(comparison.evaluation, csv.timeUnit)}\n`,
          )
        if (f.out) {
          await mkdir(f.out, { recursive: true })
          await writeFile(
            join(f.out, 'metrics.json'),
            `${JSON.stringify(
              {
                ...report,
                curve: undefined,
                ...(sampling && { sampled: { entities: sampling.hosts, of: sampling.of } }),
                ...(comparison && {
                  compare: comparisonJson(comparison),
                }),
              },
              null,
              1,
            )}\n`,
          )
          await writeFile(
            join(f.out, 'report.html'),
            renderReport({
              title: `preempt evaluation: ${meta.name}`,
              subtitle: `${csv.files.join(', ')}; horizon ${formatSpan(horizon, csv.timeUnit)}, lead ${formatSpan(lead, csv.timeUnit)}`,
              summary: {
                vectors: report.vectors,
                failures: report.atThreshold.failures,
                'host-days': report.atThreshold.hostDays.toFixed(1),
              },
              evaluation: report,
              timeLabel: csv.timeUnit === 'step' ? 'steps' : 'minutes',
              timeScale: csv.timeUnit === 'step' ? 1 : 60_000,
              importances: [],
              traces: traces(rows, failures, 3),
              comparison,
            }),
          )
          process.stdout.write(`wrote ${join(f.out, 'metrics.json')} and ${join(f.out, 'report.html')}\n`)
        }
      },
    )

  // --by backtest: a validation fleet small enough for a few closed-loop runs (~1.5 min each).
  addFleetFlags(addDataFlags(program.command('tune').description(COMMANDS.tune.description)), {
    hosts: 100,
    durationMs: 2 * 86_400_000,
  })
    .requiredOption('--model <dir>', 'model folder written by preempt train (its preempt.json is updated)')
    .addOption(
      new Option(
        '--split <which>',
        "val or test: only that split of the model's own training plan (pass its training data); all: every row (data it was not trained on)",
      )
        .choices(['val', 'test', 'all'])
        .default('all'),
    )
    .addOption(
      new Option(
        '--by <how>',
        "outcome: the rule that saves most under the model's cost model; precision: most recall at page precision ≥ --target-precision; backtest: of the best rules by outcome (and the precision rule), the one that saves most in the closed-loop backtest on a simulated validation fleet (--seed and the other fleet flags; a seed neither trained on nor reported on)",
      )
        .choices(['outcome', 'precision', 'backtest'])
        .default('outcome'),
    )
    .option(
      '--candidates <n>',
      '--by backtest: rules proposed on the data to run in the loop (the best per run length)',
      parse.int('--candidates', 1, 20),
      4,
    )
    .option(
      '--target-precision <p>',
      "--by precision: page precision the rule must reach (default: the model's)",
      parse.number('--target-precision', 0.01, 1),
    )

    .option(
      '--max-rows <n>',
      'scored rows held; past it, whole entities are sampled',
      parse.int('--max-rows', 1000),
      DEFAULT_MAX_EVAL_ROWS,
    )
    .option(
      '--no-ttf-gate',
      'the score alone (default, for a model with a time-to-failure head: also rules that page only when its median time to failure is within ¼ … 4 × the horizon)',
    )
    .option('--dry-run', 'print the rule, leave the model as it is')
    .option('--no-progress', 'no progress output')
    .action(
      async (
        f: DataFlags &
          FleetFlags & {
            model: string
            ttfGate: boolean
            split: TuneSplit
            by: 'outcome' | 'precision' | 'backtest'
            candidates: number
            targetPrecision?: number
            maxRows: number
            dryRun?: boolean
            progress: boolean
          },
        cmd: Command,
      ) => {
        const { config, logger } = boot(cmd.optsWithGlobals<GlobalOpts>(), env, {}, { quiet: true })
        if (f.by === 'backtest' && cmd.getOptionValueSource('seed') !== 'cli')
          throw new PreemptError(
            'PREEMPT_ERR_CLI_USAGE',
            '--by backtest needs --seed: the validation fleet, a seed the model was neither trained on nor will be reported on.',
          )
        // --split all on the model's own training data would choose the rule on rows it learnt from.
        const { loaded, meta, csv, say, scan, failures } = await openLabelled(f, f.split === 'all')
        const target = f.targetPrecision ?? meta.thresholds.targetPrecision
        const tuning: TuneOptions = {
          csv,
          failures,
          window: {
            horizon: meta.horizon,
            lead: meta.lead,
            dayLength: dayLengthOf(csv.timeUnit),
            predictable: await loadPredictability(f.failures),
          },
          by: f.by === 'precision' ? 'precision' : 'outcome',
          target,
          cost: costModelOf(meta.thresholds.costModel),
          split: f.split,
          gate: f.ttfGate,
          keep: entitySampler(f.maxRows, scan.rows * splitShare(meta, f.split), 1),
          onProgress: (n) => say('score', `${n} rows`),
        }
        const before = describeRule(pageRuleOf(meta.thresholds), 4, (x) => formatSpan(x, meta.timeUnit))
        const on = (vectors: number, failures: number) =>
          `${csv.files.map((x) => basename(x)).join(', ')} (${f.split === 'all' ? 'all rows' : `the ${f.split} split`}, ${vectors} vectors, ${failures} failures)`
        let page: PageRule | undefined
        let none: string
        if (f.by === 'backtest') {
          await initBackend()
          let lastSaid = 0
          const res = await tunePageRuleByBacktest(loaded, tuning, {
            fleet: fleetParams(f),
            candidates: f.candidates,
            policy: policyOf(config, {}),
            log: logger,
            onProgress: (i, n, frac) => {
              if (f.progress && Date.now() - lastSaid > 5000) {
                lastSaid = Date.now()
                process.stderr.write(`backtest of rule ${i + 1}/${n}: ${(frac * 100).toFixed(0)} %\n`)
              }
            },
          })
          process.stdout.write(`${formatBacktestCandidates(res)}\n`)
          page = res.chosen?.page
          if (page) page.rule = `${page.rule}; proposed on ${on(res.vectors, res.failures)}`
          none = `no rule saves anything under the cost model on ${res.vectors} vectors (${res.failures} failures)`
        } else {
          const res = await tunePageRule(loaded, tuning)
          if (f.progress && process.stderr.isTTY) process.stderr.write('\n')
          page = res.chosen?.page
          if (page) {
            const lead = res.chosen!.figures.medianLeadTime
            const leadText =
              lead === null ? '–' : csv.timeUnit === 'step' ? `${lead} steps` : `${(lead / 60_000).toFixed(1)} min`
            page.rule = `${page.rule}; tuned on ${on(res.vectors, res.failures)}, median lead ${leadText}`
          }
          none =
            f.by === 'precision'
              ? `no rule reaches page precision ${target} on ${res.vectors} vectors (${res.failures} failures)`
              : `no rule saves anything under the cost model on ${res.vectors} vectors (${res.failures} failures)`
        }
        if (!page) {
          process.stdout.write(`${none}; the model keeps ${before}\n`)
          process.exitCode = 1
          return
        }
        process.stdout.write(`page rule: ${before} → ${page.rule}\n`)
        if (f.dryRun) return
        meta.thresholds.page = page
        if (f.by === 'precision') meta.thresholds.targetPrecision = target
        await saveMetadata(f.model, meta)
        process.stdout.write(`updated ${join(f.model, 'preempt.json')}\n`)
      },
    )
}
