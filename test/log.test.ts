import { logLevel } from 'kafkajs'
import { describe, expect, it } from 'vitest'
import { createLogger, kafkaLogCreator } from '../src/log.js'

function capture() {
  const lines: { level: number; msg: string }[] = []
  const log = createLogger({ level: 'debug', destination: { write: (s: string) => lines.push(JSON.parse(s)) } })
  const bridge = kafkaLogCreator(log)()
  const say = (level: logLevel, message: string, extra: Record<string, unknown> = {}) =>
    bridge({ namespace: 'x', level, label: '', log: { timestamp: '', message, ...extra } })
  return { lines, say }
}

describe('kafkajs log bridge', () => {
  it('keeps real errors at error, sends retried transient ones and the bounded-retries warning to debug', () => {
    const { lines, say } = capture()
    say(logLevel.ERROR, 'Response InitProducerId(key: 22, version: 1)', {
      error: "The coordinator is loading and hence can't process requests for this group",
    })
    say(logLevel.WARN, 'Limiting retries for the idempotent producer may invalidate EoS guarantees')
    say(logLevel.ERROR, 'Connection error: connect ECONNREFUSED 127.0.0.1:9092')
    say(logLevel.ERROR, 'Failed to connect to seed broker, trying another broker from the list: Connection error')
    say(logLevel.ERROR, 'Restarting the consumer in 100ms', { retryTime: 100 })
    say(logLevel.ERROR, 'Crash: KafkaJSNumberOfRetriesExceeded', { error: 'Connection error: ECONNREFUSED' })
    expect(lines.map((l) => l.level)).toEqual([20, 20, 20, 20, 30, 50])
    expect(lines[5]!.msg).toBe('Crash: KafkaJSNumberOfRetriesExceeded')
  })
})
