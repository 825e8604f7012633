import { type Command, InvalidArgumentError, Option } from 'commander'
import { type CsvOptions, looksLikeSteps } from '../data/csv.js'
import { parseDuration, type TimeUnit, TimeUnits } from '../time.js'

/** The CSV flags shared by train, score, evaluate and replay (DESIGN.md section 4). */
export interface DataFlags {
  data: string[]
  format?: 'wide' | 'long'
  timeCol?: string
  entityCol?: string
  timeUnit?: TimeUnit
  metrics?: string
  failures?: string
  labelCol?: string
  runToFailure?: boolean
  horizon?: string
  lead?: string
  skipBadRows?: boolean
  hostLabels?: string
}

const collect = (v: string, prev: string[] = []) => [...prev, v]

export function addDataFlags(cmd: Command, opts: { horizonRequired?: boolean } = {}): Command {
  return cmd
    .requiredOption('--data <file>', 'metric history CSV (wide or long, gzip ok); repeat for more files', collect)
    .addOption(
      new Option('--format <layout>', 'wide: one column per metric; long: timestamp,host,metric,value').choices([
        'wide',
        'long',
      ]),
    )
    .option('--time-col <name>', 'time column (default timestamp)')
    .option('--entity-col <name>', 'entity column (default host)')
    .addOption(
      new Option('--time-unit <unit>', 'unit of numeric times and bare durations (default ms)').choices([...TimeUnits]),
    )
    .option('--metrics <a,b,c>', 'metric columns to use (default: every numeric column)')
    .option('--failures <file>', 'labels: failures CSV (timestamp,host[,kind])')
    .option('--label-col <name>', 'labels: a column marking failure instants (1/true)')
    .option('--run-to-failure', "labels: each entity's last row is its failure")
    .addOption(
      Object.assign(
        new Option(
          '--horizon <dur>',
          `predict failures within this (e.g. 30m, 1h, or 30 steps)${opts.horizonRequired ? '' : '; default: the model’s'}`,
        ),
        { mandatory: Boolean(opts.horizonRequired) },
      ),
    )
    .option('--lead <dur>', 'failures sooner than this are too late to act on (default 0)')
    .option('--skip-bad-rows', 'count and skip invalid rows instead of failing on the first')
    .option(
      '--host-labels <file>',
      'host labels CSV (host,zone,rack,service…): the peer groups of a model with peer features',
    )
}

export function csvOptions(f: DataFlags, defaults: Partial<CsvOptions> = {}): CsvOptions {
  const o: CsvOptions = {
    files: f.data,
    format: f.format ?? defaults.format ?? 'wide',
    timeCol: f.timeCol ?? defaults.timeCol ?? 'timestamp',
    entityCol: f.entityCol ?? defaults.entityCol ?? 'host',
    timeUnit: f.timeUnit ?? defaults.timeUnit ?? 'ms',
    metrics: f.metrics
      ? f.metrics
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : defaults.metrics,
    labelCol: f.labelCol,
    skipBadRows: Boolean(f.skipBadRows),
    hostLabels: f.hostLabels,
  }
  return o
}

/**
 * The CSV options of the flags, with the time unit inferred when --time-unit is not given:
 * a time column of small whole numbers is steps (cycles), said on stderr.
 */
export async function csvOptionsInferred(f: DataFlags): Promise<CsvOptions> {
  const csv = csvOptions(f)
  if (f.timeUnit === undefined && (await looksLikeSteps(csv))) {
    csv.timeUnit = 'step'
    process.stderr.write(
      `time unit: step (the ${csv.timeCol} column holds small whole numbers, not epoch ms; --time-unit ms overrides)\n`,
    )
  }
  return csv
}

export function durationFlag(flag: string, value: string | undefined, unit: TimeUnit, fallback?: number): number {
  if (value === undefined) {
    if (fallback === undefined)
      throw new InvalidArgumentError(`${flag} is required (e.g. ${unit === 'step' ? '30' : '30m'}).`)
    return fallback
  }
  try {
    const v = parseDuration(value, unit)
    if (v < 0) throw new RangeError('must not be negative')
    return v
  } catch (err) {
    throw new InvalidArgumentError(`${flag}: ${(err as Error).message}`)
  }
}

/** --horizon and --lead together: the horizon positive, the lead shorter than it. */
export function horizonAndLead(
  f: DataFlags,
  unit: TimeUnit,
  fallback: { horizon?: number; lead?: number } = {},
): { horizon: number; lead: number } {
  const horizon = durationFlag('--horizon', f.horizon, unit, fallback.horizon)
  const lead = durationFlag('--lead', f.lead, unit, fallback.lead ?? 0)
  if (horizon <= 0)
    throw new InvalidArgumentError(`--horizon must be longer than 0 (e.g. ${unit === 'step' ? '30' : '30m'}).`)
  if (lead >= horizon)
    throw new InvalidArgumentError(
      `--lead (${f.lead ?? lead}) must be shorter than --horizon (${f.horizon ?? horizon}): a failure is predicted between lead and horizon ahead.`,
    )
  return { horizon, lead }
}

export function labelSource(f: DataFlags) {
  const n = [f.failures, f.labelCol, f.runToFailure].filter(Boolean).length
  if (n > 1) throw new InvalidArgumentError('give one label source: --failures, --label-col or --run-to-failure.')
  return { failuresFile: f.failures, labelCol: f.labelCol, runToFailure: f.runToFailure }
}
