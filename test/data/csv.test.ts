import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { type CsvOptions, type CsvRow, discoverMetrics, readRows } from '../../src/data/csv.js'
import { scanCsv } from '../../src/data/dataset.js'

const dir = mkdtempSync(join(tmpdir(), 'preempt-csv-'))
function file(name: string, text: string, gz = false): string {
  const p = join(dir, name)
  writeFileSync(p, gz ? gzipSync(text) : text)
  return p
}

async function all(o: CsvOptions, metrics: string[]) {
  const stats = { rows: 0, badRows: 0, badExamples: [] as string[] }
  const rows: (Omit<CsvRow, 'values'> & { values: number[] })[] = []
  for await (const r of readRows(o, metrics, stats)) rows.push({ ...r, values: Array.from(r.values) })
  return { rows, stats }
}

const base = { format: 'wide', timeCol: 'timestamp', entityCol: 'host', timeUnit: 'ms' } as const

describe('CSV reader', () => {
  it('reads wide gzip with ISO times, finds numeric metric columns, keeps the raw time', async () => {
    const f = file(
      'w.csv.gz',
      'timestamp,host,zone,cpu,mem\n2026-11-01T00:00:00Z,a,z1,0.5,0.25\n2026-11-01T00:00:10.5Z,b,z1,,0.75\n',
      true,
    )
    const o = { ...base, files: [f] }
    const metrics = await discoverMetrics(o)
    expect(metrics).toEqual(['cpu', 'mem'])
    const { rows } = await all(o, metrics)
    expect(rows.map((r) => [r.entity, r.ts, r.rawTime, r.line])).toEqual([
      ['a', Date.UTC(2026, 10, 1), '2026-11-01T00:00:00Z', 2],
      ['b', Date.UTC(2026, 10, 1, 0, 0, 10, 500), '2026-11-01T00:00:10.5Z', 3],
    ])
    expect(rows[1]!.values[0]).toBeNaN()
    expect(rows[1]!.values[1]).toBe(0.75)
  })

  it('reads numeric time in seconds and steps', async () => {
    const f = file('s.csv', 'unit,cycle,x\n1,1,5\n1,2,6\n')
    const steps = await all({ ...base, files: [f], timeCol: 'cycle', entityCol: 'unit', timeUnit: 'step' }, ['x'])
    expect(steps.rows.map((r) => r.ts)).toEqual([1, 2])
    const secs = await all({ ...base, files: [f], timeCol: 'cycle', entityCol: 'unit', timeUnit: 's' }, ['x'])
    expect(secs.rows.map((r) => r.ts)).toEqual([1000, 2000])
  })

  it('groups long rows of one (host, time) into one sample', async () => {
    const f = file('l.csv', 'timestamp,host,metric,value\n1000,a,cpu,0.5\n1000,a,mem,0.2\n2000,a,cpu,0.6\n2000,b,mem,0.9\n')
    const o = { ...base, format: 'long' as const, files: [f] }
    const metrics = await discoverMetrics(o)
    expect(metrics).toEqual(['cpu', 'mem'])
    const { rows } = await all(o, metrics)
    expect(rows.map((r) => [r.entity, r.ts, r.values])).toEqual([
      ['a', 1000, [0.5, 0.2]],
      ['a', 2000, [0.6, Number.NaN]],
      ['b', 2000, [Number.NaN, 0.9]],
    ])
  })

  it('fails a bad row with file:line, the field and the fix; or counts it with skipBadRows', async () => {
    const f = file('bad.csv', 'timestamp,host,cpu\n1000,a,0.5\n2000,a,lots\nyesterday,a,0.1\n3000,a,0.7\n')
    const o = { ...base, files: [f] }
    await expect(all(o, ['cpu'])).rejects.toMatchObject({
      code: 'PREEMPT_ERR_DATA_ROW',
      message: expect.stringMatching(/bad\.csv:3: cpu "lots" is not a number\. .*--skip-bad-rows/),
    })
    const { rows, stats } = await all({ ...o, skipBadRows: true }, ['cpu'])
    expect(rows.map((r) => r.ts)).toEqual([1000, 3000])
    expect(stats.badRows).toBe(2)
    expect(stats.badExamples[1]).toMatch(/bad\.csv:4: timestamp "yesterday"/)
  })

  it('names a missing column and how to fix it', async () => {
    const f = file('cols.csv', 'time,node,cpu\n1,a,2\n')
    await expect(discoverMetrics({ ...base, files: [f] })).rejects.toThrow(/no column "timestamp".*--time-col/)
    await expect(discoverMetrics({ ...base, files: [f], timeCol: 'time', entityCol: 'node', metrics: ['gpu'] })).rejects.toThrow(
      /--metrics names columns that are not in the header: gpu/,
    )
  })
})

describe('the scan keeps a uniform sample of rows when asked', () => {
  it('holds at most the rows and values asked for, each a copy of its row, spread over the file', async () => {
    const lines = ['step,unit,a,b']
    for (let i = 0; i < 2000; i++) lines.push(`${i},u${i % 7},${i},${-i}`)
    const f = file('sample.csv', `${lines.join('\n')}\n`)
    const o: CsvOptions = { ...base, files: [f], timeCol: 'step', entityCol: 'unit', timeUnit: 'step' }
    const none = await scanCsv(o, {})
    expect(none.sample).toEqual([])
    const s = await scanCsv(o, {}, undefined, { rows: 500, values: 200 })
    expect(s.sample).toHaveLength(100) // 200 values / 2 metrics
    const idx = s.sample.map((r) => r.values[0]!)
    for (const r of s.sample) {
      expect(r.values[1]).toBe(-r.values[0]!)
      expect(r.ts).toBe(r.values[0])
      expect(r.entity).toBe(`u${r.values[0]! % 7}`)
    }
    expect(new Set(idx).size).toBe(100)
    // Uniform over the file, not its head: about half the picks from each half.
    const late = idx.filter((i) => i >= 1000).length
    expect(late).toBeGreaterThan(30)
    expect(late).toBeLessThan(70)
    // Seeded: the same sample twice.
    const again = await scanCsv(o, {}, undefined, { rows: 500, values: 200 })
    expect(again.sample.map((r) => r.values[0])).toEqual(idx)
  })
})
