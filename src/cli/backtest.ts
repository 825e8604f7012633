import { writeFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { formatBacktest, runBacktest } from '../eval/backtest.js'
import { loadModel } from '../model/artifact.js'
import { initBackend } from '../model/backend.js'
import { streamModelOf } from '../stream/model.js'
import { COMMANDS } from './commands.js'
import { addPolicyFlags, boot, type GlobalOpts, type PolicyFlags, parse, policyOf } from './common.js'
import { addFleetFlags, type FleetFlags, fleetParams } from './simulate.js'

interface BacktestFlags extends FleetFlags, PolicyFlags {
  model: string
  report?: string
  naive: boolean
  warmup?: number
  progress: boolean
}

export function registerBacktestCommand(program: Command, env: NodeJS.ProcessEnv): void {
  addPolicyFlags(addFleetFlags(program.command('backtest').description(COMMANDS.backtest.description)))
    .requiredOption('--model <dir>', 'model folder written by preempt train')
    .option('--report <path>', 'write the outcome JSON (with scorer, without, naive) here')
    .option('--no-naive', 'skip the naive static-threshold policy run')
    .option(
      '--warmup <dur>',
      "simulated time before outcomes count, while the scorer fills its windows (default: the model's longest window)",
      parse.duration('--warmup'),
    )
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
      const policy = policyOf(config, f)
      let lastSaid = 0
      const r = await runBacktest({
        model,
        params: fleetParams(f),
        policy,
        naive: f.naive,
        ...(f.warmup !== undefined && { warmupMs: f.warmup }),
        log: logger,
        onProgress: (phase, frac) => {
          if (f.progress && Date.now() - lastSaid > 5000) {
            lastSaid = Date.now()
            process.stderr.write(`backtest (${phase}): ${(frac * 100).toFixed(0)} %\n`)
          }
        },
      })
      if (f.report) {
        const { withScorer, withoutScorer, naive, hostHoursPerSecond, warmupMs } = r
        await writeFile(
          f.report,
          `${JSON.stringify({ model: `${model.name}@${model.version}`, hostHoursPerSecond, warmupMs, withScorer, withoutScorer, naive }, null, 1)}\n`,
        )
      }
      process.stdout.write(`${formatBacktest(r)}\n`)
    })
}
