import { writeFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { formatBacktest, runBacktest } from '../eval/backtest.js'
import { loadModel } from '../model/artifact.js'
import { initBackend } from '../model/backend.js'
import type { PolicyOverrides } from '../policy/engine.js'
import { streamModelOf } from '../stream/model.js'
import { boot, type GlobalOpts, parse } from './common.js'
import { addFleetFlags, type FleetFlags, fleetParams } from './simulate.js'

interface BacktestFlags extends FleetFlags {
  model: string
  report?: string
  threshold?: number
  consecutive?: number
  maxConcurrent?: number
  maxConcurrentPct?: number
  cooldown?: number
  naive: boolean
  progress: boolean
}

export function registerBacktestCommand(program: Command, env: NodeJS.ProcessEnv): void {
  addFleetFlags(
    program
      .command('backtest')
      .description(
        'closed loop in one process: the simulated fleet and the streaming scorer on the in-memory bus, judged by outcomes beside the same fleet with no scorer and a naive policy',
      ),
  )
    .requiredOption('--model <dir>', 'model folder written by preempt train')
    .option('--report <file>', 'write the outcome JSON (with scorer, without, naive) here')
    .option(
      '--threshold <p>',
      "policy: act at or above this score (default: the model's)",
      parse.number('--threshold', 0, 1),
    )
    .option('--consecutive <k>', "policy: scores in a row (default: the model's)", parse.int('--consecutive', 1))
    .option('--max-concurrent <n>', 'guard: hosts in action at once (default 10)', parse.int('--max-concurrent', 1))
    .option(
      '--max-concurrent-pct <x>',
      'guard: percent of hosts in action at once (default 5)',
      parse.number('--max-concurrent-pct', 0.01, 100),
    )
    .option(
      '--cooldown <dur>',
      'guard: no second action on a host for this long (default 1h)',
      parse.duration('--cooldown'),
    )
    .option('--no-naive', 'skip the naive static-threshold policy run')
    .option('--no-progress', 'no progress output')
    .addHelpText(
      'after',
      `
Examples:
  preempt backtest --model models/fleet --seed 123 --duration 4d --report backtest.json
  preempt backtest --model models/fleet --hosts 100 --duration 1d --threshold 0.8 --consecutive 6`,
    )
    .action(async (f: BacktestFlags, cmd: Command) => {
      const { config, logger } = boot(cmd.optsWithGlobals<GlobalOpts>(), env, {}, { quiet: true })
      await initBackend()
      const model = streamModelOf(await loadModel(f.model))
      const policy: PolicyOverrides = {
        ...config.policy,
        softwareMetrics: [...config.policy.softwareMetrics],
        guards: { ...config.policy.guards },
      }
      if (f.threshold !== undefined) policy.thresholdHigh = f.threshold
      if (f.consecutive !== undefined) policy.consecutive = f.consecutive
      if (f.maxConcurrent !== undefined) policy.guards!.maxConcurrent = f.maxConcurrent
      if (f.maxConcurrentPct !== undefined) policy.guards!.maxConcurrentFraction = f.maxConcurrentPct / 100
      if (f.cooldown !== undefined) policy.guards!.cooldownMs = f.cooldown
      let lastSaid = 0
      const r = await runBacktest({
        model,
        params: fleetParams(f),
        policy,
        naive: f.naive,
        log: logger,
        onProgress: (phase, frac) => {
          if (f.progress && Date.now() - lastSaid > 5000) {
            lastSaid = Date.now()
            process.stderr.write(`backtest (${phase}): ${(frac * 100).toFixed(0)} %\n`)
          }
        },
      })
      if (f.report) {
        const { withScorer, withoutScorer, naive, hostHoursPerSecond } = r
        await writeFile(
          f.report,
          `${JSON.stringify({ model: `${model.name}@${model.version}`, hostHoursPerSecond, withScorer, withoutScorer, naive }, null, 1)}\n`,
        )
      }
      process.stdout.write(`${formatBacktest(r)}\n`)
    })
}
