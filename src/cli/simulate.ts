import { writeFile } from 'node:fs/promises'
import cliProgress from 'cli-progress'
import { type Command, InvalidArgumentError, Option } from 'commander'
import { createBusFromConfig } from '../bus/index.js'
import { runSimulationToCsv } from '../sim/csv.js'
import { runSimulationOnKafka } from '../sim/kafka-mode.js'
import { DEFAULT_SIM_PARAMS, type SimParams } from '../sim/model.js'
import { computeOutcome, formatOutcome, type OutcomeReport } from '../sim/outcome.js'
import { formatDuration } from '../time.js'
import { COMMANDS } from './commands.js'
import { boot, type GlobalOpts, parse } from './common.js'

interface SimulateOpts extends FleetFlags {
  out?: string
  kafka?: boolean
  speed: number
  gzipLevel: number
  report?: string
  progress: boolean
}

function progressReporter(enabled: boolean, label: string) {
  if (enabled && process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {percentage}% | {samples} samples | ETA {eta_formatted}`, stream: process.stderr },
      cliProgress.Presets.shades_classic,
    )
    bar.start(100, 0, { samples: 0 })
    return {
      update: (f: number, samples: number) => bar.update(Math.floor(f * 100), { samples }),
      stop: () => bar.stop(),
    }
  }
  // Not a terminal (CI, a pipe): a line every 10 %.
  let next = 0.1
  return {
    update: (f: number, samples: number) => {
      if (enabled && f >= next) {
        process.stderr.write(`${label}: ${Math.round(f * 100)}% (${samples} samples)\n`)
        next = Math.floor(f * 10) / 10 + 0.1
      }
    },
    stop: () => {},
  }
}

/** The simulated fleet's flags (simulate, backtest): the same names and defaults everywhere. */
export function addFleetFlags(cmd: Command, defaults: Partial<SimParams> = {}): Command {
  const d = { ...DEFAULT_SIM_PARAMS, ...defaults }
  return cmd
    .option('--hosts <n>', 'hosts in the fleet', parse.int('--hosts', 1, 100_000), d.hosts)
    .option('--duration <dur>', 'simulated span (e.g. 14d, 6h)', parse.duration('--duration'), d.durationMs)
    .option(
      '--seed <n>',
      'random seed: same seed, same fleet, byte-identical files',
      parse.int('--seed', 0, 2 ** 32 - 1),
      d.seed,
    )
    .option(
      '--difficulty <x>',
      '0 (easy) … 1 (hard): precursor strength, noise, traps, share of sudden failures',
      parse.number('--difficulty', 0, 1),
      d.difficulty,
    )
    .option('--interval <dur>', 'time between samples of one host', parse.duration('--interval'), d.intervalMs)
    .option('--start <time>', 'simulated start (ISO-8601 or epoch ms)', parse.time('--start'), d.startMs)
    .option('--mtbf <dur>', 'mean time between failures of one host', parse.duration('--mtbf'), d.mtbfMs)
}

/** SimParams from the fleet flags. */
export function fleetParams(opts: FleetFlags): SimParams {
  return {
    ...DEFAULT_SIM_PARAMS,
    hosts: opts.hosts,
    durationMs: opts.duration,
    seed: opts.seed,
    difficulty: opts.difficulty,
    intervalMs: opts.interval,
    startMs: opts.start,
    mtbfMs: opts.mtbf,
  }
}

export interface FleetFlags {
  hosts: number
  duration: number
  seed: number
  difficulty: number
  interval: number
  start: number
  mtbf: number
}

export function registerSimulateCommand(program: Command, env: NodeJS.ProcessEnv): void {
  addFleetFlags(program.command('simulate').description(COMMANDS.simulate.description))
    .option('--out <dir>', 'CSV mode: write metrics.csv.gz, failures.csv, hosts.csv, manifest.json here')
    .option('--kafka', 'Kafka mode: publish to the metrics topic and obey the control topic')
    .addOption(
      new Option('--speed <x>', 'Kafka mode: simulated seconds per real second, or "max"')
        .default(60)
        .argParser((v) => {
          if (v === 'max') return Number.POSITIVE_INFINITY
          return parse.number('--speed', 0.001, 1e9)(v)
        }),
    )
    .option('--gzip-level <n>', 'CSV mode: gzip level 1 (fast) … 9 (small)', parse.int('--gzip-level', 1, 9), 1)
    .option('--report <path>', 'also write the outcome report (JSON) here')
    .option('--no-progress', 'no progress output')
    .addHelpText(
      'after',
      `
Examples:
  preempt simulate --hosts 500 --duration 14d --seed 7 --out data/fleet/
  preempt simulate --kafka --hosts 50 --speed 600      # 10 simulated minutes per real second; Ctrl-C prints the outcome`,
    )
    .action(async (opts: SimulateOpts, cmd: Command) => {
      if (Boolean(opts.out) === Boolean(opts.kafka))
        throw new InvalidArgumentError('choose one mode: --out <dir> (CSV) or --kafka.')
      const { config, logger } = boot(cmd.optsWithGlobals<GlobalOpts>(), env)
      const params: SimParams = fleetParams(opts)
      let outcome: OutcomeReport
      if (opts.out) {
        const progress = progressReporter(opts.progress, 'simulate')
        const t0 = Date.now()
        const r = await runSimulationToCsv(params, opts.out, { onProgress: progress.update, gzipLevel: opts.gzipLevel })
        progress.stop()
        const s = (Date.now() - t0) / 1000
        process.stderr.write(
          `wrote ${r.samples.toLocaleString('en-US')} samples and ${r.failures} failures to ${opts.out} in ${s.toFixed(1)} s (${Math.round(r.samples / s).toLocaleString('en-US')} samples/s)\n`,
        )
        outcome = r.outcome
      } else {
        const bus = createBusFromConfig(config, logger)
        const ac = new AbortController()
        const stop = () => {
          process.stderr.write('\nstopping: finishing the current tick…\n')
          ac.abort()
        }
        process.once('SIGINT', stop)
        process.once('SIGTERM', stop)
        try {
          const r = await runSimulationOnKafka({
            bus,
            topics: config.topics,
            params,
            logger,
            speed: opts.speed,
            signal: ac.signal,
            onTick: (sim) => {
              if (opts.progress && sim.now % 3_600_000 < params.intervalMs) {
                const o = computeOutcome(sim, sim.now)
                const acts = Object.entries(o.actions.byAction)
                  .map(([a, n]) => `${a} ${n}`)
                  .join(', ')
                process.stderr.write(
                  `simulated ${formatDuration(sim.now - params.startMs)}: ${o.failures.total} failures, ${o.outages} outages, ${o.failures.averted} averted; commands carried out: ${acts || 'none'}\n`,
                )
              }
            },
          })
          outcome = r.outcome
          process.stderr.write(
            `published ${r.samples.toLocaleString('en-US')} samples; received ${r.commandsReceived} commands (${r.commandsInvalid} invalid)\n`,
          )
        } finally {
          process.off('SIGINT', stop)
          process.off('SIGTERM', stop)
          await bus.close()
        }
      }
      if (opts.report) await writeFile(opts.report, `${JSON.stringify(outcome, null, 1)}\n`)
      process.stdout.write(`${formatOutcome(outcome)}\n`)
    })
}
