/**
 * Process entry: CLI → config → service. A crash is logged, then the process exits
 * non-zero; it never carries on in an unknown state.
 */
import { buildCli } from './cli/index.js'
import { isPreemptError } from './errors.js'
import { createLogger } from './log.js'

const log = createLogger({ level: process.env['PREEMPT_LOG_LEVEL'] ?? 'info' }).child({ module: 'main' })

process.on('uncaughtException', (err) => {
  log.fatal({ err }, 'uncaught exception: exiting')
  process.exit(70)
})
process.on('unhandledRejection', (err) => {
  log.fatal({ err }, 'unhandled rejection: exiting')
  process.exit(70)
})

try {
  await buildCli({ env: process.env }).parseAsync(process.argv)
} catch (err) {
  if (isPreemptError(err)) {
    process.stderr.write(`preempt: ${err.message} [${err.code}]\n`)
    process.exitCode = 1
  } else throw err
}
