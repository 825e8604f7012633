/**
 * Streaming CSV reader for metric histories (DESIGN.md section 4): wide or long layout,
 * gzip or plain, numeric or ISO-8601 time. Files are streamed, never loaded whole. A bad
 * row fails the run with file:line and the reason, unless skipBadRows (then it is counted).
 */
import { createReadStream } from 'node:fs'
import { open } from 'node:fs/promises'
import { createGunzip } from 'node:zlib'
import Papa from 'papaparse'
import { parseIsoTime } from '../contracts/index.js'
import { PreemptError } from '../errors.js'
import { type TimeUnit, unitScale } from '../time.js'

export interface CsvOptions {
  files: string[]
  format: 'wide' | 'long'
  timeCol: string
  entityCol: string
  timeUnit: TimeUnit
  /** Metric columns (wide) or names (long); default: every numeric column / every name seen. */
  metrics?: string[] | undefined
  /** A column marking failure instants (non-zero / true = the entity fails at this row). */
  labelCol?: string | undefined
  skipBadRows?: boolean
  /** A CSV of entity,label,… per host (as the simulator's hosts.csv): peer groups for models with peer features. */
  hostLabels?: string | undefined
}

export interface CsvRow {
  entity: string
  /** Time on the internal axis: epoch ms for ms/s data, steps for step data. */
  ts: number
  /** The time value as it appears in the input (score output echoes it). */
  rawTime: string
  /** In `metrics` order; NaN = missing. Reused between rows: copy to keep. */
  values: Float64Array
  /** Label column value as 0/1 (when labelCol is set). */
  label: number
  file: string
  line: number
}

export interface CsvStats {
  rows: number
  badRows: number
  /** First bad rows, for the report. */
  badExamples: string[]
}

const LONG_COLS = ['metric', 'value'] as const

async function isGzip(file: string): Promise<boolean> {
  const fh = await open(file, 'r')
  try {
    const buf = Buffer.alloc(2)
    await fh.read(buf, 0, 2, 0)
    return buf[0] === 0x1f && buf[1] === 0x8b
  } catch {
    return false
  } finally {
    await fh.close()
  }
}

/**
 * Batches of records of one file, in order, with the line number of the first. PapaParse
 * (about 6× faster than csv-parse here) is driven chunk by chunk and paused while the
 * consumer works, so memory stays bounded. Blank lines are skipped but counted; a quoted
 * field spanning lines would make later line numbers approximate.
 */
async function* recordBatches(file: string): AsyncGenerator<{ rows: string[][]; firstLine: number }> {
  const input = createReadStream(file)
  const source = (await isGzip(file)) ? input.pipe(createGunzip()) : input
  const queue: string[][][] = []
  let done = false
  let failure: Error | undefined
  let wake: (() => void) | undefined
  let parser: Papa.Parser | undefined
  const poke = () => {
    const w = wake
    wake = undefined
    w?.()
  }
  source.on('error', (err: Error) => {
    failure = err
    poke()
  })
  Papa.parse<string[]>(source as NodeJS.ReadableStream, {
    delimiter: ',',
    skipEmptyLines: false,
    chunk: (res: Papa.ParseResult<string[]>, p: Papa.Parser) => {
      parser = p
      queue.push(res.data)
      p.pause()
      poke()
    },
    complete: () => {
      done = true
      poke()
    },
    error: (err: Error) => {
      failure = err
      poke()
    },
  } as Papa.ParseLocalConfig<string[], Papa.LocalFile>)
  let line = 1
  try {
    while (true) {
      const rows = queue.shift()
      if (rows) {
        yield { rows, firstLine: line }
        line += rows.length
        if (!queue.length && !done) parser?.resume()
        continue
      }
      if (failure)
        throw new PreemptError('PREEMPT_ERR_DATA_CSV', `${file}: cannot read CSV: ${failure.message}`, {
          cause: failure,
          details: { file },
        })
      if (done) return
      await new Promise<void>((r) => {
        wake = r
      })
    }
  } finally {
    if (!done) {
      parser?.abort()
      input.destroy()
    }
  }
}

async function* records(file: string): AsyncGenerator<{ record: string[]; line: number }> {
  for await (const { rows, firstLine } of recordBatches(file))
    for (let i = 0; i < rows.length; i++) {
      const record = rows[i]!
      if (record.length === 1 && record[0] === '') continue
      yield { record, line: firstLine + i }
    }
}

function badInput(file: string, line: number, message: string, fix: string): PreemptError {
  return new PreemptError('PREEMPT_ERR_DATA_ROW', `${file}:${line}: ${message}. ${fix}`, { details: { file, line } })
}

/** Parses a time cell on the internal axis, or undefined. */
/** A header that names a column twice is refused: which of the two would be the metric? */
function checkHeader(file: string, line: number, header: string[]): void {
  const seen = new Set<string>()
  for (const c of header) {
    if (seen.has(c))
      throw badInput(file, line, `column "${c}" appears twice in the header`, 'Rename or drop one of them.')
    seen.add(c)
  }
}

/**
 * A host-labels file (`host,zone,rack,service`, as the simulator writes `hosts.csv`): the
 * labels of each entity, the entity in `entityCol` (or the first column).
 */
export async function readHostLabels(file: string, entityCol: string): Promise<Map<string, Record<string, string>>> {
  const out = new Map<string, Record<string, string>>()
  let header: string[] | undefined
  let e = 0
  for await (const { record, line } of records(file)) {
    if (!header) {
      checkHeader(file, line, record)
      header = record
      e = Math.max(0, header.indexOf(entityCol))
      if (header.length < 2)
        throw badInput(file, line, 'a host-labels file needs an entity column and at least one label column', 'Write e.g. host,service.')
      continue
    }
    const labels: Record<string, string> = {}
    for (let i = 0; i < header.length; i++) if (i !== e && record[i]) labels[header[i]!] = record[i]!
    if (record[e]) out.set(record[e]!, labels)
  }
  return out
}

/** The header of a file (its first record). */
export async function readHeader(file: string): Promise<string[]> {
  for await (const { record, line } of records(file)) {
    checkHeader(file, line, record)
    return record
  }
  throw badInput(file, 1, 'the file is empty', 'Give a CSV with a header row.')
}

/**
 * Whether the time column looks like steps (cycles, ticks) rather than epoch ms: every value
 * in the first 200 rows a whole number below 10⁸ (epoch ms that small would be 1970-01-02).
 * Cycle data read as ms would print "false alarms per host-day" in the tens of thousands.
 */
export async function looksLikeSteps(opts: CsvOptions): Promise<boolean> {
  const file = opts.files[0]
  if (!file) return false
  let header: string[] | undefined
  let col = -1
  let n = 0
  for await (const { record } of records(file)) {
    if (!header) {
      header = record
      col = header.indexOf(opts.timeCol)
      if (col < 0) return false
      continue
    }
    const raw = record[col] ?? ''
    if (!/^\d+$/.test(raw) || Number(raw) >= 1e8) return false
    if (++n >= 200) break
  }
  return n > 0
}

export function parseTime(raw: string, unit: TimeUnit): number | undefined {
  if (raw === '') return undefined
  const n = Number(raw)
  if (Number.isFinite(n)) return n * unitScale(unit)
  if (unit === 'step') return undefined
  return parseIsoTime(raw)
}

function parseLabel(raw: string | undefined): number | undefined {
  if (raw === undefined || raw === '') return 0
  const s = raw.toLowerCase()
  if (s === 'true' || s === 'yes') return 1
  if (s === 'false' || s === 'no') return 0
  const n = Number(raw)
  return Number.isFinite(n) ? (n !== 0 ? 1 : 0) : undefined
}

/**
 * Reads the header of the first file and says which metrics a wide file holds: `metrics`
 * when given (each must exist), else every column but time, entity and label whose first
 * 200 non-empty values are numbers.
 */
export async function discoverMetrics(opts: CsvOptions): Promise<string[]> {
  const file = opts.files[0]
  if (!file) throw new PreemptError('PREEMPT_ERR_CLI_USAGE', 'no --data file given')
  if (opts.format === 'long') {
    if (opts.metrics?.length) return [...opts.metrics]
    const seen = new Set<string>()
    for (const f of opts.files) {
      let header: string[] | undefined
      for await (const { record } of records(f)) {
        if (!header) {
          header = record
          continue
        }
        const name = record[header.indexOf('metric')]
        if (name) seen.add(name)
      }
    }
    return [...seen].sort()
  }
  let header: string[] | undefined
  const numeric = new Map<string, number>()
  const words = new Map<string, number>()
  let rows = 0
  for await (const { record, line } of records(file)) {
    if (!header) {
      header = record
      checkHeader(file, line, header)
      for (const need of [opts.timeCol, opts.entityCol, ...(opts.labelCol ? [opts.labelCol] : [])])
        if (!header.includes(need))
          throw badInput(file, line, `no column "${need}" in the header (${header.join(',')})`, 'Name the right one with --time-col / --entity-col / --label-col.')
      if (opts.metrics?.length) {
        const missing = opts.metrics.filter((m) => !header!.includes(m))
        if (missing.length)
          throw badInput(file, line, `--metrics names columns that are not in the header: ${missing.join(', ')}`, `Columns are: ${header.join(',')}.`)
        return [...opts.metrics]
      }
      for (const c of header) if (c !== opts.timeCol && c !== opts.entityCol && c !== opts.labelCol) numeric.set(c, 0)
      continue
    }
    for (const [c] of numeric) {
      const v = record[header.indexOf(c)]
      if (v === undefined || v === '') continue
      if (Number.isFinite(Number(v))) numeric.set(c, (numeric.get(c) ?? 0) + 1)
      else words.set(c, (words.get(c) ?? 0) + 1)
    }
    if (++rows >= 200) break
  }
  if (!header) throw badInput(file, 1, 'the file is empty', 'Give a CSV with a header row.')
  // A column mostly of numbers, with a stray word, is a metric with a bad row (readRows names its
  // line); a column of words (a zone, a service) is not a metric.
  return header.filter((c) => numeric.has(c) && (numeric.get(c) ?? 0) > (words.get(c) ?? 0))
}

/**
 * Rows of every file, in file order. Wide: one row per line. Long: consecutive lines of the
 * same (entity, time) make one row.
 */
export async function* readRows(opts: CsvOptions, metrics: string[], stats: CsvStats): AsyncGenerator<CsvRow> {
  const index = new Map(metrics.map((m, i) => [m, i]))
  const values = new Float64Array(metrics.length)
  const bad = (file: string, line: number, message: string) => {
    if (!opts.skipBadRows) throw badInput(file, line, message, 'Fix the row, or pass --skip-bad-rows to count and skip such rows.')
    stats.badRows++
    if (stats.badExamples.length < 10) stats.badExamples.push(`${file}:${line}: ${message}`)
  }
  for (const file of opts.files) {
    let header: string[] | undefined
    let tCol = -1
    let eCol = -1
    let lCol = -1
    let cols: number[] = []
    let mCol = -1
    let vCol = -1
    let pending: CsvRow | undefined
    for await (const { record, line } of records(file)) {
      if (!header) {
        header = record
        checkHeader(file, line, header)
        tCol = header.indexOf(opts.timeCol)
        eCol = header.indexOf(opts.entityCol)
        lCol = opts.labelCol ? header.indexOf(opts.labelCol) : -1
        if (tCol < 0 || eCol < 0)
          throw badInput(file, line, `no column "${tCol < 0 ? opts.timeCol : opts.entityCol}" in the header`, 'Name it with --time-col / --entity-col.')
        if (opts.format === 'long') {
          mCol = header.indexOf(LONG_COLS[0])
          vCol = header.indexOf(LONG_COLS[1])
          if (mCol < 0 || vCol < 0)
            throw badInput(file, line, 'a long file needs columns metric and value', 'Use --format wide for one column per metric.')
        } else {
          cols = metrics.map((m) => header!.indexOf(m))
          const absent = metrics.filter((_, i) => cols[i]! < 0)
          if (absent.length)
            throw badInput(file, line, `no column for ${absent.join(', ')} in the header (${header.join(',')})`, 'Give every file the same metric columns, or name them with --metrics.')
        }
        continue
      }
      stats.rows++
      const rawTime = record[tCol] ?? ''
      const entity = record[eCol] ?? ''
      const ts = parseTime(rawTime, opts.timeUnit)
      if (ts === undefined) {
        bad(file, line, `${opts.timeCol} "${rawTime}" is not ${opts.timeUnit === 'step' ? 'a number' : 'a number or ISO-8601 time'} (--time-unit ${opts.timeUnit})`)
        continue
      }
      if (!entity) {
        bad(file, line, `${opts.entityCol} is empty`)
        continue
      }
      const label = lCol >= 0 ? parseLabel(record[lCol]) : 0
      if (label === undefined) {
        bad(file, line, `${opts.labelCol} "${record[lCol]}" is not 0/1 or true/false`)
        continue
      }
      if (opts.format === 'wide') {
        let ok = true
        for (let i = 0; i < cols.length; i++) {
          const raw = record[cols[i]!]
          if (raw === undefined || raw === '') values[i] = Number.NaN
          else {
            const v = Number(raw)
            if (!Number.isFinite(v)) {
              bad(file, line, `${metrics[i]} "${raw.slice(0, 40)}" is not a number`)
              ok = false
              break
            }
            values[i] = v
          }
        }
        if (ok) yield { entity, ts, rawTime, values, label, file, line }
        continue
      }
      // Long layout: gather consecutive lines of one (entity, time).
      if (pending && (pending.entity !== entity || pending.rawTime !== rawTime)) {
        yield pending
        pending = undefined
      }
      if (!pending) {
        values.fill(Number.NaN)
        pending = { entity, ts, rawTime, values, label, file, line }
      }
      pending.label = Math.max(pending.label, label)
      const m = index.get(record[mCol] ?? '')
      if (m === undefined) continue
      const raw = record[vCol] ?? ''
      const v = raw === '' ? Number.NaN : Number(raw)
      if (raw !== '' && !Number.isFinite(v)) {
        bad(file, line, `value "${raw.slice(0, 40)}" of ${record[mCol]} is not a number`)
        continue
      }
      values[m] = v
    }
    if (pending) yield pending
    if (!header) throw badInput(file, 1, 'the file is empty', 'Give a CSV with a header row.')
  }
}
