import { type LogEntry, logLevel } from 'kafkajs'
import { type DestinationStream, type Logger, pino } from 'pino'

export type { Logger } from 'pino'

export interface CreateLoggerOptions {
  /** pino level. Default 'info'. */
  level?: string
  /** Where lines go. Default stderr (stdout stays free for command output such as CSV). */
  destination?: DestinationStream
}

/** The one pino root; modules take `root.child({ module })`. */
export function createLogger(opts: CreateLoggerOptions = {}): Logger {
  return pino(
    { level: opts.level ?? 'info', base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    opts.destination ?? pino.destination({ fd: 2, sync: true }),
  )
}

const KAFKA_TO_PINO: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
}

/**
 * kafkajs warns on every idempotent producer whose retries are bounded. Ours are on purpose
 * (8, then PREEMPT_ERR_BUS_PRODUCE): a send that gives up fails its caller, and a
 * transactional batch that gives up is aborted, so nothing is written twice. The warning
 * told every user of `simulate --kafka` something untrue about their run; it goes to debug.
 */
const BENIGN_KAFKA_WARNINGS = new Set(['Limiting retries for the idempotent producer may invalidate EoS guarantees'])

/**
 * kafkajs logs every failed request at error level, also the transient ones it then retries
 * (a coordinator still loading after a broker start, a leader election). Those go to debug:
 * when retries run out, preempt raises PREEMPT_ERR_BUS_* and that is logged at error.
 */
const TRANSIENT_KAFKA_ERRORS = [
  "The coordinator is loading and hence can't process requests",
  'The coordinator is not available',
  'This is not the correct coordinator',
  'There is no leader for this topic-partition',
  'This server does not host this topic-partition',
]

/** Bridges kafkajs's logger into pino (module 'kafkajs', object first, then message). */
export function kafkaLogCreator(root: Logger) {
  const log = root.child({ module: 'kafkajs' })
  return () =>
    ({ level, log: entry }: LogEntry) => {
      const { message, timestamp: _ts, logger: _l, ...rest } = entry
      if (BENIGN_KAFKA_WARNINGS.has(message)) return log.debug(rest, message)
      const error = typeof rest['error'] === 'string' ? rest['error'] : ''
      if (error && TRANSIENT_KAFKA_ERRORS.some((t) => error.startsWith(t))) return log.debug(rest, message)
      // Connection attempts kafkajs retries: the one that gives up becomes PREEMPT_ERR_BUS_CONNECT.
      if (message.startsWith('Connection error:') || message.startsWith('Failed to connect to seed broker'))
        return log.debug(rest, message)
      // The consumer recovering by itself after a retriable error: information, not an error.
      if (message.startsWith('Restarting the consumer')) return log.info(rest, message)
      log[KAFKA_TO_PINO[level] ?? 'info'](rest, message)
    }
}

/** The kafkajs level matching a pino level, so kafkajs does not build entries nobody reads. */
export function kafkaLogLevel(level: string): logLevel {
  switch (level) {
    case 'trace':
    case 'debug':
      return logLevel.DEBUG
    case 'info':
      return logLevel.INFO
    case 'warn':
      return logLevel.WARN
    case 'silent':
      return logLevel.NOTHING
    default:
      return logLevel.ERROR
  }
}
