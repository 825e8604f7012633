/** Versioned wire contracts (DESIGN.md section 3): schemas, decoders, encoders. */
import { CommandStatusV1Schema } from './command-status.js'
import { DeadLetterV1Schema } from './dead-letter.js'
import { FailureEventV1Schema } from './failure-event.js'
import { HealingCommandV1Schema } from './healing-command.js'
import { MetricSampleV1Schema } from './metric-sample.js'
import { PredictionV1Schema } from './prediction.js'

export * from './command-status.js'
export * from './common.js'
export * from './dead-letter.js'
export * from './failure-event.js'
export * from './healing-command.js'
export * from './metric-sample.js'
export * from './prediction.js'

/** The JSON Schemas of every wire contract, for OpenAPI and for other tools. */
export const jsonSchemas = {
  MetricSampleV1: MetricSampleV1Schema,
  FailureEventV1: FailureEventV1Schema,
  PredictionV1: PredictionV1Schema,
  HealingCommandV1: HealingCommandV1Schema,
  CommandStatusV1: CommandStatusV1Schema,
  DeadLetterV1: DeadLetterV1Schema,
} as const

/** Default topic names (all configurable). */
export const DefaultTopics = {
  metrics: 'fleet.metrics.v1',
  failures: 'fleet.failures.v1',
  predictions: 'preempt.predictions.v1',
  commands: 'preempt.commands.v1',
  commandStatus: 'preempt.command-status.v1',
  deadLetter: 'preempt.dlq.v1',
  state: 'preempt.state.v1',
} as const
