/**
 * Runs the CLI and turns whatever ends it into one line and an exit code: the one place
 * errors reach the user. A usage mistake, a catalogue error, a file the system refused, a
 * bug: each becomes `preempt: <message> [PREEMPT_ERR_…]` with a fix, and the documented exit
 * code (docs/errors.md). The cause with its stack goes to the debug log, never to the user.
 */
import { CommanderError } from 'commander'
import { type ErrorCode, exitCodeOf, isPreemptError, PreemptError } from '../errors.js'
import { createLogger } from '../log.js'
import { buildCli, commandOf } from './index.js'

export interface RunIo {
  stderr: (s: string) => void
  stdout: (s: string) => void
}

const SYSTEM_FILE_ERRORS: Record<string, string> = {
  ENOENT: 'does not exist',
  EACCES: 'is not accessible (permissions)',
  EPERM: 'is not accessible (permissions)',
  EISDIR: 'is a folder, not a file',
  ENOTDIR: 'has a file where a folder is expected',
  EEXIST: 'already exists',
  ENOSPC: 'cannot be written: the disk is full',
  EROFS: 'cannot be written: read-only file system',
  EMFILE: 'cannot be opened: too many open files',
}

/** The catalogue error a thrown value stands for, or undefined for a bug. */
export function toPreemptError(err: unknown): PreemptError | undefined {
  if (isPreemptError(err)) return err
  if (err instanceof CommanderError)
    return new PreemptError('PREEMPT_ERR_CLI_USAGE', err.message.replace(/^error: /, ''), { cause: err })
  const e = err as NodeJS.ErrnoException
  if (e && typeof e.code === 'string' && e.code in SYSTEM_FILE_ERRORS && typeof e.path === 'string')
    return new PreemptError(
      'PREEMPT_ERR_IO_FILE',
      `${e.path} ${SYSTEM_FILE_ERRORS[e.code]}; check the path (and that its folder exists), or point the flag elsewhere`,
      { cause: err },
    )
  return undefined
}

const FIXES: Partial<Record<ErrorCode, string>> = {
  PREEMPT_ERR_CLI_USAGE: 'run the command with --help for its flags and examples',
}

/** One line per error, with its code and, where the message has none, a fix. */
export function formatError(err: PreemptError): string {
  const fix = FIXES[err.code]
  const message = err.message.replace(/[.\s]+$/, '')
  return `preempt: ${message}${fix && !/--help/.test(message) ? `; ${fix}` : ''} [${err.code}]\n`
}

/** Writes the line for a thrown value and answers the exit code. */
export function reportFailure(err: unknown, io: RunIo, debugLevel = 'silent'): number {
  const debug = createLogger({ level: debugLevel }).child({ module: 'main' })
  const known = toPreemptError(err)
  if (known) {
    debug.debug({ err }, 'command failed')
    io.stderr(formatError(known))
    return exitCodeOf(known.code)
  }
  debug.debug({ err }, 'internal error')
  const msg = err instanceof Error ? err.message : String(err)
  io.stderr(
    `preempt: internal error: ${msg}. This is a bug in preempt; run again with PREEMPT_LOG_LEVEL=debug for the stack, and report it [exit 70]\n`,
  )
  return 70
}

/** Parses and runs argv (node and script first, as process.argv); answers the exit code. */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv, io: RunIo): Promise<number> {
  const program = await buildCli({ env, command: commandOf(argv) })
  program.exitOverride()
  program.configureOutput({
    writeOut: io.stdout,
    // Commander's own error lines are replaced by ours (reportFailure); help goes to stdout.
    writeErr: (s) => {
      if (!s.startsWith('error:')) io.stderr(s)
    },
    outputError: () => {},
  })
  const quiet = (c: typeof program) => {
    c.exitOverride()
    c.configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: () => {} })
    for (const sub of c.commands) quiet(sub)
  }
  for (const c of program.commands) quiet(c)
  try {
    await program.parseAsync(argv)
    return 0
  } catch (err) {
    // Help and version: commander printed them; `preempt` with no command printed the help too.
    if (
      err instanceof CommanderError &&
      ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(err.code)
    )
      return err.exitCode === 0 ? 0 : 2
    return reportFailure(
      err,
      io,
      env['PREEMPT_LOG_LEVEL'] === 'debug' || env['PREEMPT_LOG_LEVEL'] === 'trace' ? 'debug' : 'silent',
    )
  }
}
