import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Command } from 'commander'
import { scanCsv } from '../data/dataset.js'
import { FailureTable, resolveFailures } from '../data/labels.js'
import { formatInspect, renderInspect } from '../eval/inspect-report.js'
import { inspectCsv } from '../pipelines/inspect.js'
import { COMMANDS } from './commands.js'
import { boot, type GlobalOpts } from './common.js'
import { addDataFlags, csvOptionsInferred, type DataFlags, horizonAndLead, labelSource } from './data-flags.js'

interface InspectFlags extends DataFlags {
  out?: string
  progress: boolean
}

export function registerInspectCommand(program: Command, env: NodeJS.ProcessEnv): void {
  addDataFlags(program.command('inspect').description(COMMANDS.inspect.description))
    .option('--out <dir>', 'also write inspect.html (plots) and inspect.json here')
    .option('--no-progress', 'no progress output')
    .action(async (f: InspectFlags, cmd: Command) => {
      boot(cmd.optsWithGlobals<GlobalOpts>(), env, {}, { quiet: true })
      const csv = await csvOptionsInferred(f)
      const src = labelSource(f)
      const labelled = Boolean(src.failuresFile || src.labelCol || src.runToFailure)
      if (labelled && f.horizon === undefined)
        process.stderr.write('note: labels without --horizon: no class balance (give --horizon, e.g. 1h)\n')
      const window = f.horizon !== undefined ? horizonAndLead(f, csv.timeUnit) : undefined
      const say = (phase: string, rows: number) => {
        if (f.progress) process.stderr.write(`${phase}: ${rows.toLocaleString('en-US')} rows\n`)
      }
      const failures = labelled
        ? await resolveFailures(
            src,
            csv,
            src.failuresFile
              ? new FailureTable()
              : (await scanCsv(csv, { runToFailure: src.runToFailure, labelCol: Boolean(src.labelCol) })).failures,
          )
        : undefined
      const report = await inspectCsv({
        csv,
        failures,
        horizon: window?.horizon,
        lead: window?.lead,
        onProgress: say,
      })
      process.stdout.write(`${formatInspect(report)}\n`)
      if (f.out) {
        await mkdir(f.out, { recursive: true })
        const { metrics, ...rest } = report
        await writeFile(
          join(f.out, 'inspect.json'),
          `${JSON.stringify({ ...rest, metrics: metrics.map(({ sample: _s, ...m }) => m) }, null, 1)}\n`,
        )
        await writeFile(join(f.out, 'inspect.html'), renderInspect(report))
        process.stdout.write(`wrote ${join(f.out, 'inspect.html')} and ${join(f.out, 'inspect.json')}\n`)
      }
    })
}
