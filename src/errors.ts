/**
 * The one error catalogue. Every error preempt raises on purpose has a stable code
 * `PREEMPT_ERR_<DOMAIN>_<WHAT>`, a `retriable` flag and keeps its `cause`. Callers branch on
 * `err.code`, never on message text. docs/errors.md documents every code; a test keeps the
 * two in step.
 */

export const ErrorCodes = {
  PREEMPT_ERR_CONFIG_INVALID: {
    retriable: false,
    summary: 'A configuration value is missing, of the wrong type or out of range.',
  },
  PREEMPT_ERR_CONFIG_FILE: {
    retriable: false,
    summary: 'The configuration file cannot be read or is not valid JSON.',
  },
  PREEMPT_ERR_CONTRACT_INVALID: {
    retriable: false,
    summary: 'A wire record does not match its versioned contract (MetricSampleV1 …).',
  },
  PREEMPT_ERR_BUS_CONNECT: {
    retriable: true,
    summary: 'The Kafka cluster cannot be reached.',
  },
  PREEMPT_ERR_BUS_PRODUCE: {
    retriable: true,
    summary: 'Records could not be written to Kafka.',
  },
  PREEMPT_ERR_BUS_TRANSACTION: {
    retriable: true,
    summary: 'A Kafka transaction failed and was aborted; its records and offsets are not visible.',
  },
  PREEMPT_ERR_BUS_ADMIN: {
    retriable: true,
    summary: 'A Kafka admin call (create topics, offsets for times …) failed.',
  },
  PREEMPT_ERR_BUS_CLOSED: {
    retriable: false,
    summary: 'A bus client was used after it was closed.',
  },
  PREEMPT_ERR_BUS_UNKNOWN_TOPIC: {
    retriable: false,
    summary: 'A topic the call names does not exist.',
  },
  PREEMPT_ERR_KAFKA_SCRIPT: {
    retriable: false,
    summary: 'The bundled broker script (scripts/kafka/kafka.sh) failed.',
  },
  PREEMPT_ERR_DATA_CSV: {
    retriable: false,
    summary: 'A data file cannot be read as CSV (missing, unreadable, broken gzip or quoting).',
  },
  PREEMPT_ERR_DATA_ROW: {
    retriable: false,
    summary: 'A CSV row or header is invalid; the message names file:line, the field and the fix.',
  },
  PREEMPT_ERR_DATA_LABELS: {
    retriable: false,
    summary: 'No usable labels: no failures found, or no positive example in a split.',
  },
  PREEMPT_ERR_MODEL_ARTIFACT: {
    retriable: false,
    summary: 'A model folder is missing, incomplete, or of an unknown version.',
  },
  PREEMPT_ERR_MODEL_DATA: {
    retriable: false,
    summary: 'Data does not fit the model: metrics it needs are missing, or the time unit differs.',
  },
  PREEMPT_ERR_STREAM_VALUE: {
    retriable: false,
    summary:
      'A metric sample carries a value the model cannot use (not a finite number); it went to the dead-letter topic.',
  },
  PREEMPT_ERR_STREAM_LATE: {
    retriable: false,
    summary:
      "A metric sample arrived later than the allowed lateness behind its host's newest; it went to the dead-letter topic.",
  },
  PREEMPT_ERR_API_INPUT: {
    retriable: false,
    summary: 'A REST request is invalid: a parameter, the body or its media type; the message names the field.',
  },
  PREEMPT_ERR_API_UNAUTHORIZED: {
    retriable: false,
    summary: 'A mutating REST route was called without a bearer token (or the API has none configured).',
  },
  PREEMPT_ERR_API_FORBIDDEN: {
    retriable: false,
    summary: 'A mutating REST route was called with a wrong bearer token.',
  },
  PREEMPT_ERR_API_NOT_FOUND: {
    retriable: false,
    summary: 'The REST route, host, command or model asked for does not exist (or is not known yet).',
  },
  PREEMPT_ERR_API_READ_ONLY: {
    retriable: false,
    summary: 'The route needs the scorer, and this API instance runs without one (`preempt api`).',
  },
  PREEMPT_ERR_API_TOO_LARGE: {
    retriable: false,
    summary: 'A REST request body is larger than api.bodyLimitBytes.',
  },
  PREEMPT_ERR_API_RATE_LIMITED: {
    retriable: true,
    summary: 'Too many requests to a rate-limited REST route.',
  },
  PREEMPT_ERR_API_INTERNAL: {
    retriable: false,
    summary: 'A bug: the API failed in a way it does not expect (HTTP 500). The log has the cause.',
  },
  PREEMPT_ERR_IO_FILE: {
    retriable: false,
    summary:
      'A file or folder the command reads or writes cannot be used (missing, a folder, no permission, disk full).',
  },
  PREEMPT_ERR_CLI_USAGE: {
    retriable: false,
    summary: 'A command-line flag or argument is invalid.',
  },
} as const satisfies Record<string, { retriable: boolean; summary: string }>

export type ErrorCode = keyof typeof ErrorCodes

/**
 * The exit code of a command that ends with `code` (sysexits.h where one fits; docs/errors.md):
 * 2 usage, 65 bad data, 66 missing or unusable input, 69 Kafka unavailable, 74 file I/O,
 * 78 configuration, 70 a bug (no catalogue code), 1 anything else.
 */
export function exitCodeOf(code: ErrorCode): number {
  if (code === 'PREEMPT_ERR_CLI_USAGE') return 2
  if (code === 'PREEMPT_ERR_DATA_CSV' || code === 'PREEMPT_ERR_MODEL_ARTIFACT') return 66
  if (code.startsWith('PREEMPT_ERR_DATA_') || code === 'PREEMPT_ERR_MODEL_DATA') return 65
  if (code === 'PREEMPT_ERR_CONTRACT_INVALID' || code.startsWith('PREEMPT_ERR_STREAM_')) return 65
  if (code.startsWith('PREEMPT_ERR_BUS_') || code === 'PREEMPT_ERR_KAFKA_SCRIPT') return 69
  if (code === 'PREEMPT_ERR_IO_FILE') return 74
  if (code.startsWith('PREEMPT_ERR_CONFIG_')) return 78
  return 1
}

export interface PreemptErrorOptions {
  cause?: unknown
  /** Structured context (field, file, line, offset …) for logs and API answers. */
  details?: Record<string, unknown>
}

export class PreemptError extends Error {
  readonly code: ErrorCode
  readonly retriable: boolean
  readonly details: Record<string, unknown> | undefined

  constructor(code: ErrorCode, message: string, options: PreemptErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'PreemptError'
    this.code = code
    this.retriable = ErrorCodes[code].retriable
    this.details = options.details
  }
}

export function isPreemptError(err: unknown, code?: ErrorCode): err is PreemptError {
  return err instanceof PreemptError && (code === undefined || err.code === code)
}

const PROGRAMMER_ERRORS = [TypeError, RangeError, SyntaxError, ReferenceError] as const

/**
 * Whether an operation that failed with `err` may be tried again. Walks the cause chain:
 * a programmer error anywhere in it is never retried (retrying a bug only hides it), a
 * PreemptError answers with its catalogue flag, and kafkajs errors carry `retriable`.
 */
export function isRetriable(err: unknown): boolean {
  const seen = new Set<unknown>()
  let cur: unknown = err
  let verdict = false
  while (cur !== undefined && cur !== null && !seen.has(cur)) {
    seen.add(cur)
    if (PROGRAMMER_ERRORS.some((E) => cur instanceof E)) return false
    if (cur instanceof PreemptError) verdict ||= cur.retriable
    else if (typeof cur === 'object' && 'retriable' in cur && typeof cur.retriable === 'boolean')
      verdict ||= cur.retriable
    cur = cur instanceof Error ? cur.cause : undefined
  }
  return verdict
}
