import { readFileSync } from 'node:fs'
import { Command, Option } from 'commander'
import { registerApiCommand } from './api.js'
import { registerBacktestCommand } from './backtest.js'
import { registerKafkaCommands } from './kafka.js'
import { registerModelCommands } from './model.js'
import { registerServeCommands } from './serve.js'
import { registerSimulateCommand } from './simulate.js'

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

export interface CliDeps {
  env: NodeJS.ProcessEnv
}

/** The `preempt` command line. Subcommands arrive with their features; none is a stub. */
export function buildCli(deps: CliDeps): Command {
  const program = new Command()
    .name('preempt')
    .description('Predicts host failures from streaming metrics and heals the fleet before they happen.')
    .version(pkg.version, '-V, --version', 'print the version')
    .addOption(new Option('--config <file>', 'JSON configuration file').env('PREEMPT_CONFIG'))
    .addOption(
      new Option('--log-level <level>', 'log level').choices([
        'fatal',
        'error',
        'warn',
        'info',
        'debug',
        'trace',
        'silent',
      ]),
    )
    .showHelpAfterError('(run with --help for usage)')
  registerKafkaCommands(program, deps.env)
  registerSimulateCommand(program, deps.env)
  registerModelCommands(program, deps.env)
  registerServeCommands(program, deps.env)
  registerBacktestCommand(program, deps.env)
  registerApiCommand(program, deps.env)
  return program
}
