import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ErrorCodes, isPreemptError, isRetriable, PreemptError } from '../src/errors.js'

describe('error catalogue', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8')
  const rows = [...doc.matchAll(/^\|\s*`(PREEMPT_ERR_[A-Z_]+)`\s*\|\s*(yes|no)\s*\|/gm)].map((m) => [
    m[1],
    m[2] === 'yes',
  ])

  it('documents every code with its retriable flag, and nothing else', () => {
    expect(Object.fromEntries(rows)).toEqual(
      Object.fromEntries(Object.entries(ErrorCodes).map(([code, { retriable }]) => [code, retriable])),
    )
  })

  it('names every code PREEMPT_ERR_<DOMAIN>_<WHAT>', () => {
    for (const code of Object.keys(ErrorCodes)) expect(code).toMatch(/^PREEMPT_ERR_[A-Z]+_[A-Z_]+$/)
  })

  it('keeps the cause and the catalogue flag', () => {
    const cause = new Error('socket hang up')
    const err = new PreemptError('PREEMPT_ERR_BUS_CONNECT', 'cannot reach', { cause })
    expect(err.cause).toBe(cause)
    expect(err.retriable).toBe(true)
    expect(isPreemptError(err, 'PREEMPT_ERR_BUS_CONNECT')).toBe(true)
    expect(isPreemptError(err, 'PREEMPT_ERR_BUS_ADMIN')).toBe(false)
  })

  it('never retries a programmer error anywhere in the cause chain', () => {
    expect(isRetriable(new PreemptError('PREEMPT_ERR_BUS_PRODUCE', 'x'))).toBe(true)
    expect(isRetriable(new PreemptError('PREEMPT_ERR_BUS_PRODUCE', 'x', { cause: new TypeError('bug') }))).toBe(false)
    expect(isRetriable(new PreemptError('PREEMPT_ERR_CONFIG_INVALID', 'x'))).toBe(false)
    expect(isRetriable(Object.assign(new Error('kafkajs'), { retriable: true }))).toBe(true)
    expect(isRetriable(new Error('plain'))).toBe(false)
  })
})
