import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { FailureTable } from '../../src/data/labels.js'
import { formatInspect } from '../../src/eval/inspect-report.js'
import { inspectCsv } from '../../src/pipelines/inspect.js'

const dir = mkdtempSync(join(tmpdir(), 'preempt-inspect-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('preempt inspect on a hand-built history', () => {
  it('counts rows, hosts, sampling, missingness, constant metrics, failures, balance and splits', async () => {
    // a and c: 10 rows every 60 s; b: 5 rows every 300 s (a host sampled otherwise). cpu
    // climbs on host a before its failure at t=600 s; mem has one missing value; flat is constant.
    const lines = ['timestamp,host,cpu,mem,flat']
    for (let i = 0; i < 10; i++)
      lines.push(`${i * 60_000},a,${i < 5 ? 0.1 : 0.1 + (i - 4) * 0.2},${i === 3 ? '' : 0.5},7`)
    for (let i = 0; i < 10; i++) lines.push(`${i * 60_000},c,0.1,0.5,7`)
    for (let i = 0; i < 5; i++) lines.push(`${i * 300_000},b,0.1,0.5,7`)
    const file = join(dir, 'h.csv')
    writeFileSync(file, `${lines.join('\n')}\n`)
    const failures = new FailureTable()
    failures.add('a', 600_000)
    failures.seal()
    const r = await inspectCsv({
      csv: { files: [file], format: 'wide', timeCol: 'timestamp', entityCol: 'host', timeUnit: 'ms' },
      failures,
      horizon: 300_000,
      lead: 0,
    })
    expect(r.rows).toBe(25)
    expect(r.hosts).toBe(3)
    expect(r.span).toEqual({ from: 0, to: 1_200_000 })
    expect(r.interval.perHost).toEqual([
      { host: 'a', median: 60_000 },
      { host: 'c', median: 60_000 },
      { host: 'b', median: 300_000 },
    ])
    expect(r.interval.median).toBe(60_000)
    expect(r.interval.strays).toEqual([{ host: 'b', median: 300_000 }])
    const mem = r.metrics.find((m) => m.name === 'mem')!
    expect(mem.missing).toBe(1)
    expect(mem.count).toBe(24)
    expect(r.metrics.find((m) => m.name === 'flat')!.constant).toBe(true)
    const cpu = r.metrics.find((m) => m.name === 'cpu')!
    expect(cpu.max).toBeCloseTo(1.1, 12)
    expect(cpu.min).toBeCloseTo(0.1, 12)
    // Rows of a in (0, 5 min] before t=600 s: t = 300…540 s (5 rows) are positive.
    expect(r.labels!.balance).toMatchObject({ positive: 5, negative: 20, dropped: 0 })
    expect(r.labels!.failures).toBe(1)
    expect(r.labels!.perHost).toEqual([{ host: 'a', failures: 1 }])
    // cpu moves before the failure, the others do not.
    expect(r.labels!.aroundFailures[0]!.name).toBe('cpu')
    expect(r.labels!.aroundFailures[0]!.deviation).toBeGreaterThan(1)
    const text = formatInspect(r)
    expect(text).toMatch(/25 rows, 3 hosts/)
    expect(text).toMatch(/flat .*constant \(train drops it\)/)
    expect(text).toMatch(/sampling: every 1m .*sampled otherwise: b 5m/)
    expect(r.regimes).toMatchObject({ by: [], count: 0 })
    expect(text).toMatch(/operating regimes: none \(/)
  })

  it('names the operating regimes train would read the metrics by', async () => {
    // Two settings (alt 0 or 30, alternating); temp and press follow it, echo repeats it.
    const lines = ['step,unit,alt,temp,press,echo']
    for (let i = 0; i < 600; i++) {
      const alt = i % 2 ? 30 : 0
      lines.push(`${i},u${i % 5},${alt},${500 - 3 * alt + (i % 7)},${14 - alt / 10 + (i % 3) / 10},${alt / 30}`)
    }
    const file = join(dir, 'regimes.csv')
    writeFileSync(file, `${lines.join('\n')}\n`)
    const r = await inspectCsv({
      csv: { files: [file], format: 'wide', timeCol: 'step', entityCol: 'unit', timeUnit: 'step' },
    })
    expect(r.regimes.count).toBe(2)
    expect(r.regimes.r2).toBeGreaterThan(0.9)
    expect([...r.regimes.by, ...r.regimes.echoes].sort()).toEqual(['alt', 'echo'])
    expect(formatInspect(r)).toMatch(
      /operating regimes: (alt|echo) makes 2 regimes explaining \d+ % .*relative to its regime.*only echo the setting \(train drops them\): (alt|echo)/,
    )
  })
})
