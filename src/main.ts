/**
 * Process entry: CLI → config → service. Whatever ends a command becomes one line and an
 * exit code (cli/run.ts); an error that escapes every handler does too, and the process
 * never carries on in an unknown state.
 */
import { reportFailure, runCli } from './cli/run.js'

const io = { stderr: (s: string) => void process.stderr.write(s), stdout: (s: string) => void process.stdout.write(s) }
const debug = process.env['PREEMPT_LOG_LEVEL'] === 'debug' || process.env['PREEMPT_LOG_LEVEL'] === 'trace'
let reported: number | undefined
/** A failure that escaped the command (a stream's error after its promise was settled …): one line, once. */
const die = (err: unknown) => {
  reported ??= reportFailure(err, io, debug ? 'debug' : 'silent')
  process.exit(reported)
}
// The reader of our output went away (`preempt score … | head`): stop quietly, as Unix tools do.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0)
  die(err)
})
process.on('uncaughtException', die)
process.on('unhandledRejection', die)

process.exitCode = await runCli(process.argv, process.env, io)
