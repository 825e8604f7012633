/**
 * Failures and labels (DESIGN.md section 6). A vector at time t of an entity that fails at f
 * is positive when t + lead < f ≤ t + horizon, dropped (too late to act) when
 * f − lead ≤ t ≤ f, negative otherwise. After a failure the entity starts a new life: the
 * feature engine forgets its windows.
 */
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { PreemptError } from '../errors.js'
import type { TimeUnit } from '../time.js'
import { type CsvOptions, discoverMetrics, readRows } from './csv.js'

export const Label = { negative: 0, positive: 1, drop: -1 } as const
export type Label = (typeof Label)[keyof typeof Label]

/**
 * The one labelling rule, shared by training (FailureTable) and evaluation (EventIndex):
 * `untilFailure` is f − t for the entity's first failure at or after t (undefined: none).
 */
export function labelFor(untilFailure: number | undefined, horizon: number, lead: number): Label {
  if (untilFailure === undefined) return Label.negative
  if (untilFailure <= lead) return Label.drop
  if (untilFailure <= horizon) return Label.positive
  return Label.negative
}

export class FailureTable {
  private readonly byEntity = new Map<string, number[]>()

  add(entity: string, ts: number): void {
    const list = this.byEntity.get(entity) ?? []
    list.push(ts)
    this.byEntity.set(entity, list)
  }

  /** Sorts and de-duplicates; call once after the last add. */
  seal(): this {
    for (const [e, list] of this.byEntity) this.byEntity.set(e, [...new Set(list)].sort((a, b) => a - b))
    return this
  }

  get size(): number {
    let n = 0
    for (const l of this.byEntity.values()) n += l.length
    return n
  }

  entities(): string[] {
    return [...this.byEntity.keys()]
  }

  of(entity: string): readonly number[] {
    return this.byEntity.get(entity) ?? []
  }

  /** An entity's failures with from ≤ ts ≤ to. */
  between(entity: string, from: number, to: number): number[] {
    return this.of(entity).filter((ts) => ts >= from && ts <= to)
  }

  /**
   * Per entity of `rows`, the failures those rows can speak to: from its first row to a
   * horizon past its last. A time split's rows are not charged with the failures of the
   * other periods.
   */
  seenBy(rows: Iterable<{ entity: string; ts: number }>, horizon: number): Map<string, number[]> {
    const span = new Map<string, [number, number]>()
    for (const r of rows) {
      const s = span.get(r.entity)
      if (!s) span.set(r.entity, [r.ts, r.ts])
      else {
        if (r.ts < s[0]) s[0] = r.ts
        if (r.ts > s[1]) s[1] = r.ts
      }
    }
    const out = new Map<string, number[]>()
    for (const [e, [from, to]] of span) out.set(e, this.between(e, from, to + horizon))
    return out
  }

  /** Label of a vector at `ts`. */
  label(entity: string, ts: number, horizon: number, lead: number): Label {
    const f = this.next(entity, ts)
    return labelFor(f === undefined ? undefined : f - ts, horizon, lead)
  }

  /** The entity's first failure at or after `ts` (for a positive vector: the one it is labelled by). */
  next(entity: string, ts: number): number | undefined {
    const list = this.byEntity.get(entity)
    if (!list) return undefined
    let lo = 0
    let hi = list.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (list[mid]! < ts) lo = mid + 1
      else hi = mid
    }
    return list[lo]
  }
}

/**
 * Tracks, per entity, which failures a row stream has passed, so the caller resets the
 * feature engine when an entity starts a new life (its first row after a failure).
 */
export class LifeTracker {
  private readonly next = new Map<string, number>()
  constructor(private readonly failures: FailureTable) {}

  /** True when `ts` is the first row of `entity` after a failure it had not passed yet. */
  crossed(entity: string, ts: number): boolean {
    const list = this.failures.of(entity)
    let i = this.next.get(entity) ?? 0
    let crossed = false
    while (i < list.length && list[i]! < ts) {
      i++
      crossed = true
    }
    this.next.set(entity, i)
    return crossed
  }
}

/** Reads a failures CSV: `timestamp,host[,kind]` (or the data's --time-col/--entity-col names). */
export async function loadFailuresCsv(
  file: string,
  opts: { timeCol: string; entityCol: string; timeUnit: TimeUnit },
): Promise<FailureTable> {
  const table = new FailureTable()
  const base = { files: [file], format: 'wide' as const, timeUnit: opts.timeUnit, skipBadRows: false }
  // Accept the data's column names or the contract's defaults.
  let cols = { timeCol: opts.timeCol, entityCol: opts.entityCol }
  try {
    await discoverMetrics({ ...base, ...cols, metrics: [] })
  } catch {
    cols = { timeCol: 'timestamp', entityCol: 'host' }
  }
  const stats = { rows: 0, badRows: 0, badExamples: [] }
  for await (const row of readRows({ ...base, ...cols, metrics: [] }, [], stats)) table.add(row.entity, row.ts)
  if (table.size === 0)
    throw new PreemptError('PREEMPT_ERR_DATA_LABELS', `${file}: no failures in it. A failures CSV has rows timestamp,host[,kind].`)
  return table.seal()
}

interface SimFailure {
  host: string
  ts: number
  predictable: boolean
  mode?: string
}

/** The simulator's manifest beside a failures CSV (undefined for any other data). */
async function simFailures(failuresFile: string | undefined): Promise<Map<string, SimFailure> | undefined> {
  if (!failuresFile) return undefined
  let manifest: { generator?: string; failures?: SimFailure[] }
  try {
    manifest = JSON.parse(await readFile(join(dirname(failuresFile), 'manifest.json'), 'utf8'))
  } catch {
    return undefined
  }
  if (manifest.generator !== 'preempt simulate' || !Array.isArray(manifest.failures)) return undefined
  return new Map(manifest.failures.map((f) => [`${f.host}\u0000${f.ts}`, f]))
}

/**
 * Ground truth of the simulator: which failures had a precursor. Read from the manifest.json
 * that `preempt simulate` writes beside failures.csv; undefined for any other data.
 */
export async function loadPredictability(
  failuresFile: string | undefined,
): Promise<((entity: string, ts: number) => boolean) | undefined> {
  const known = await simFailures(failuresFile)
  return known && ((entity, ts) => known.get(`${entity}\u0000${ts}`)?.predictable ?? true)
}

/** Ground truth of the simulator: each failure's mode (memory_leak, ecc_errors …); undefined for any other data. */
export async function loadFailureModes(
  failuresFile: string | undefined,
): Promise<((entity: string, ts: number) => string | undefined) | undefined> {
  const known = await simFailures(failuresFile)
  return known && ((entity, ts) => known.get(`${entity}\u0000${ts}`)?.mode)
}

export interface LabelSource {
  failuresFile?: string | undefined
  labelCol?: string | undefined
  runToFailure?: boolean | undefined
}

/** The failures of a label source: a failures file, else those the scan found (label column, run to failure). */
export async function resolveFailures(
  labels: LabelSource,
  csv: Pick<CsvOptions, 'files' | 'timeCol' | 'entityCol' | 'timeUnit'>,
  scanned: FailureTable,
): Promise<FailureTable> {
  if (labels.failuresFile)
    return loadFailuresCsv(labels.failuresFile, {
      timeCol: csv.timeCol,
      entityCol: csv.entityCol,
      timeUnit: csv.timeUnit,
    })
  if (scanned.size === 0)
    throw new PreemptError(
      'PREEMPT_ERR_DATA_LABELS',
      `no failures found in ${csv.files.join(', ')}: give --failures FILE, --label-col NAME or --run-to-failure.`,
    )
  return scanned
}

/** The "day" of false alarms per host-day: 24 h, or 100 steps for dimensionless cycles. */
export function dayLengthOf(unit: TimeUnit): number {
  return unit === 'step' ? 100 : 86_400_000
}
