import type { Config } from '../config/index.js'
import type { Logger } from '../log.js'
import { createKafkaBus } from './kafka.js'

export { createKafkaBus } from './kafka.js'
export { createMemoryBus, MemoryCluster } from './memory.js'
export * from './types.js'

/** The Kafka bus the configuration names. */
export function createBusFromConfig(config: Readonly<Config>, logger: Logger) {
  return createKafkaBus({
    brokers: [...config.kafka.brokers],
    clientId: config.kafka.clientId,
    logger,
    connectionTimeoutMs: config.kafka.connectionTimeoutMs,
    sessionTimeoutMs: config.kafka.sessionTimeoutMs,
    heartbeatIntervalMs: config.kafka.heartbeatIntervalMs,
  })
}
