import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DEFAULT_CONFIG, loadConfig } from '../../src/config/index.js'

describe('config', () => {
  it('defaults, then file, then env, then flags; frozen', () => {
    const dir = mkdtempSync(join(tmpdir(), 'preempt-cfg-'))
    const file = join(dir, 'c.json')
    writeFileSync(file, JSON.stringify({ kafka: { clientId: 'from-file' }, log: { level: 'debug' } }))
    const cfg = loadConfig({
      file,
      env: { KAFKA_BROKERS: 'k1:9092, k2:9093', PREEMPT_LOG_LEVEL: 'warn' },
      overrides: { log: { level: 'error' } },
    })
    expect(cfg.kafka.brokers).toEqual(['k1:9092', 'k2:9093'])
    expect(cfg.kafka.clientId).toBe('from-file')
    expect(cfg.log.level).toBe('error')
    expect(cfg.topics.metrics).toBe(DEFAULT_CONFIG.topics.metrics)
    expect(Object.isFrozen(cfg.kafka)).toBe(true)
    expect(() => {
      ;(cfg.kafka as { clientId: string }).clientId = 'x'
    }).toThrow(TypeError)
  })

  it('names the key, the env variable and the fix', () => {
    expect(() => loadConfig({ env: { KAFKA_BROKERS: 'no-port' } })).toThrow(/config kafka\.brokers\.0: .*KAFKA_BROKERS/)
    expect(() => loadConfig({ overrides: { log: { level: 'loud' as 'info' } } })).toThrow(/config log\.level/)
    expect(() => loadConfig({ overrides: { serve: { explainEvery: 0 } } })).toThrow(/config serve\.explainEvery/)
    expect(loadConfig({ overrides: { serve: { explainTop: 0 } } }).serve).toEqual({ explainTop: 0, explainEvery: 6 })
    expect(() => loadConfig({ overrides: { kafka: { heartbeatIntervalMs: 5000, sessionTimeoutMs: 4000 } } })).toThrow(
      /kafka\.heartbeatIntervalMs \(5000\) must be lower than kafka\.sessionTimeoutMs \(4000\)/,
    )
  })

  it('refuses unknown keys and unreadable files with a code', () => {
    const dir = mkdtempSync(join(tmpdir(), 'preempt-cfg-'))
    const file = join(dir, 'c.json')
    writeFileSync(file, JSON.stringify({ kafak: {} }))
    expect(() => loadConfig({ file })).toThrow(expect.objectContaining({ code: 'PREEMPT_ERR_CONFIG_INVALID' }))
    writeFileSync(file, '{ nope')
    expect(() => loadConfig({ file })).toThrow(expect.objectContaining({ code: 'PREEMPT_ERR_CONFIG_FILE' }))
    expect(() => loadConfig({ file: join(dir, 'missing.json') })).toThrow(/missing\.json/)
  })
})
