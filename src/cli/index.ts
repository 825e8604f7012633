import { readFileSync } from 'node:fs'
import { mkdir, stat } from 'node:fs/promises'
import { dirname } from 'node:path'
import { Command, InvalidArgumentError, Option } from 'commander'
import { PreemptError } from '../errors.js'
import { formatDuration } from '../time.js'
import { COMMANDS, type CommandName, EXAMPLES, registrars } from './commands.js'

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

export interface CliDeps {
  env: NodeJS.ProcessEnv
  /**
   * The command about to run: only its module is loaded (with what it needs). Undefined: every
   * command, fully. Null (no command on the line: --help, --version): every command listed by
   * name and description, nothing loaded — `preempt --help` stays fast.
   */
  command?: string | null
}

/** The first word of argv (after node and the script) that is a command, or null. */
export function commandOf(argv: readonly string[]): string | null {
  const args = argv.slice(2)
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === '--config' || a === '--log-level') {
      i++
      continue
    }
    if (a.startsWith('-')) continue
    return a
  }
  return null
}

/** The `preempt` command line. */
export async function buildCli(deps: CliDeps): Promise<Command> {
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
  const c = deps.command
  if (c === undefined || (c !== null && c in COMMANDS)) {
    for (const register of await registrars(c === undefined ? undefined : [c])) register(program, deps.env)
    for (const cmd of program.commands) {
      const ex = EXAMPLES[cmd.name() as CommandName]
      if (ex) cmd.addHelpText('after', `\nExamples:\n${ex.map((e) => `  ${e}`).join('\n')}`)
    }
  } else for (const [name, info] of Object.entries(COMMANDS)) program.command(name).description(info.description)
  collectRequiredOptions(program)
  program.hook('preAction', async (_program, action) => {
    missingRequired(action)
    await checkInputFiles(action)
    await prepareOutputFiles(action)
  })
  return program
}

const requiredOf = new WeakMap<Command, Option[]>()

/**
 * Commander reports one missing required option per run. Ours are checked together before
 * the action (all missing ones in one message), and marked "(required)" in --help.
 */
function collectRequiredOptions(cmd: Command): void {
  // Defaults of duration flags in the unit people type (30s, not 30000).
  for (const o of cmd.options) {
    const unit = (o.parseArg as { unit?: string } | undefined)?.unit
    if (unit === 'ms' && typeof o.defaultValue === 'number' && o.defaultValueDescription === undefined)
      o.defaultValueDescription = formatDuration(o.defaultValue)
  }
  const req = cmd.options.filter((o) => o.mandatory)
  for (const o of req) {
    o.mandatory = false
    o.description = `(required) ${o.description}`
  }
  if (req.length) requiredOf.set(cmd, req)
  for (const sub of cmd.commands) collectRequiredOptions(sub)
}

function missingRequired(cmd: Command): void {
  const values = cmd.opts()
  const missing = (requiredOf.get(cmd) ?? []).filter((o) => values[o.attributeName()] === undefined)
  if (missing.length)
    throw new InvalidArgumentError(
      `${cmd.name()}: missing ${missing.map((o) => o.flags).join(', ')} (required${missing.length > 1 ? ', all of them' : ''})`,
    )
}

/**
 * Every option whose value is an input `<file>` (--data, --failures, --hosts of replay …) is
 * checked before the command starts: the flag, the path and what is wrong, as a data error.
 */
async function checkInputFiles(cmd: Command): Promise<void> {
  const values = cmd.opts()
  for (const o of cmd.options) {
    if (!o.flags.includes('<file>')) continue
    const v = values[o.attributeName()]
    if (typeof v !== 'string' && !Array.isArray(v)) continue
    const flag = o.long ?? o.flags
    for (const path of Array.isArray(v) ? v : [v]) {
      const s = await stat(path).catch(() => undefined)
      if (!s) throw new PreemptError('PREEMPT_ERR_DATA_CSV', `${flag} ${path}: no such file (from ${process.cwd()})`)
      if (!s.isFile()) throw new PreemptError('PREEMPT_ERR_DATA_CSV', `${flag} ${path}: is a folder, not a file`)
      if (s.size === 0) throw new PreemptError('PREEMPT_ERR_DATA_CSV', `${flag} ${path}: is empty`)
    }
  }
}

/** Options whose value is an output `<path>` (score --out, --report): their folder is created first. */
async function prepareOutputFiles(cmd: Command): Promise<void> {
  const values = cmd.opts()
  for (const o of cmd.options) {
    const v = values[o.attributeName()]
    if (!o.flags.includes('<path>') || typeof v !== 'string') continue
    const s = await stat(v).catch(() => undefined)
    if (s?.isDirectory())
      throw new PreemptError('PREEMPT_ERR_IO_FILE', `${o.long} ${v}: is a folder; name a file in it`)
    await mkdir(dirname(v), { recursive: true }).catch((err: NodeJS.ErrnoException) => {
      throw new PreemptError('PREEMPT_ERR_IO_FILE', `${o.long} ${v}: cannot create its folder (${err.code})`)
    })
  }
}
