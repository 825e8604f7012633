/**
 * From CSV histories to training data, in bounded memory:
 *   pass 1 (scan)  metrics, constant metrics, entities, time range, failures from the label
 *                  column or run-to-failure;
 *   pass 2 (build) every row through the one feature engine, labels, split by entity or by
 *                  time (never by row), positives kept, negatives reservoir-sampled with their
 *                  weight recorded, so a file larger than RAM still trains.
 */
import { SpacingSampler } from '../math/spacing.js'
import { PreemptError } from '../errors.js'
import { FeatureEngine } from '../features/engine.js'
import type { FeatureSpecV1 } from '../features/spec.js'
import { projectValues } from '../features/vectorize.js'
import { Rng } from '../math/random.js'
import { type CsvOptions, type CsvStats, discoverMetrics, readRows } from './csv.js'
import { FailureTable, Label, LifeTracker } from './labels.js'
import type { OfflinePeers } from './peers.js'

export interface ScanResult {
  metrics: string[]
  /** Metrics with one value only (dropped from the feature spec). */
  constant: string[]
  entities: string[]
  rows: number
  tMin: number
  tMax: number
  /** Failures from the label column, or each entity's last row with run-to-failure. */
  failures: FailureTable
  stats: CsvStats
  /** Median time between an entity's consecutive samples (null: too few). */
  interval: number | null
  /** A uniform sample of the rows (when asked for with `sampleRows`), values in `metrics` order. */
  sample: SampledRow[]
}

export interface SampledRow {
  entity: string
  ts: number
  values: Float64Array
}

export async function scanCsv(
  opts: CsvOptions,
  labels: { runToFailure?: boolean; labelCol?: boolean },
  onProgress?: (rows: number) => void,
  /** Keep a uniform (reservoir) sample of this many rows, and of no more values, seeded: `sample` in the result. */
  keep?: { rows: number; values: number },
): Promise<ScanResult> {
  const metrics = await discoverMetrics(opts)
  if (!metrics.length)
    throw new PreemptError(
      'PREEMPT_ERR_DATA_ROW',
      `${opts.files[0]}: no numeric metric columns found. Name them with --metrics a,b,c.`,
    )
  const min = new Float64Array(metrics.length).fill(Number.POSITIVE_INFINITY)
  const max = new Float64Array(metrics.length).fill(Number.NEGATIVE_INFINITY)
  const last = new Map<string, number>()
  const failures = new FailureTable()
  const stats: CsvStats = { rows: 0, badRows: 0, badExamples: [] }
  let tMin = Number.POSITIVE_INFINITY
  let tMax = Number.NEGATIVE_INFINITY
  let rows = 0
  const spacing = new SpacingSampler()
  const sample: SampledRow[] = []
  const sampleRows = keep ? Math.min(keep.rows, Math.floor(keep.values / metrics.length)) : 0
  const rng = new Rng(0x5ca1ab1e)
  for await (const row of readRows(opts, metrics, stats)) {
    rows++
    if (sampleRows > 0) {
      const slot = sample.length < sampleRows ? sample.length : rng.int(0, rows)
      if (slot < sampleRows) sample[slot] = { entity: row.entity, ts: row.ts, values: Float64Array.from(row.values) }
    }
    spacing.add(row.entity, row.ts)
    if (row.ts < tMin) tMin = row.ts
    if (row.ts > tMax) tMax = row.ts
    const prev = last.get(row.entity)
    if (prev === undefined || row.ts > prev) last.set(row.entity, row.ts)
    if (labels.labelCol && row.label) failures.add(row.entity, row.ts)
    const v = row.values
    for (let m = 0; m < v.length; m++) {
      const x = v[m]!
      if (x < min[m]!) min[m] = x
      if (x > max[m]!) max[m] = x
    }
    if (onProgress && rows % 50_000 === 0) onProgress(rows)
  }
  if (labels.runToFailure) for (const [e, t] of last) failures.add(e, t)
  const constant = metrics.filter((_, m) => !(max[m]! > min[m]!))
  return {
    metrics,
    constant,
    entities: [...last.keys()],
    rows,
    tMin,
    tMax,
    failures: failures.seal(),
    stats,
    interval: spacing.median(),
    sample,
  }
}

export const Splits = ['train', 'val', 'test'] as const
export type Split = (typeof Splits)[number]

export interface SplitPlan {
  by: 'entity' | 'time'
  /** Fractions of entities (or of the time range) for train and val; test gets the rest. */
  train: number
  val: number
  seed: number
  tMin: number
  tMax: number
  /** With a time split, vectors within a horizon before a boundary are dropped (their labels would look across it). */
  horizon: number
}

/** FNV-1a with murmur3's finaliser (short ids like "1", "2" must spread evenly), for a stable entity → split assignment. */
export function hash32(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b) >>> 0
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35) >>> 0
  h ^= h >>> 16
  return h >>> 0
}

/** The split of a vector, or undefined when it sits in a time split's guard band. */
export function splitOf(plan: SplitPlan, entity: string, ts: number): Split | undefined {
  if (plan.by === 'entity') {
    const u = hash32(entity, plan.seed) / 4294967296
    return u < plan.train ? 'train' : u < plan.train + plan.val ? 'val' : 'test'
  }
  const span = plan.tMax - plan.tMin
  const a = plan.tMin + span * plan.train
  const b = plan.tMin + span * (plan.train + plan.val)
  if (ts <= a) return ts > a - plan.horizon ? undefined : 'train'
  if (ts <= b) return ts > b - plan.horizon ? undefined : 'val'
  return 'test'
}

/**
 * A bounded sample of one split: a reservoir of positives (at most `posShare` of capacity)
 * and a reservoir of negatives (the rest), each uniform over what was seen, so each kept row
 * stands for (seen / kept) rows of its class. Call `seal()` before reading x, y.
 */
export class SampleSet {
  readonly x: Float32Array
  readonly y: Uint8Array
  /** Entity and time of each kept row (for the report). */
  readonly entity: string[] = []
  readonly ts: Float64Array
  private n = 0
  private posSeen = 0
  private negSeen = 0
  private posKept = 0
  private negKept = 0
  private readonly posCap: number
  private sealed = false

  constructor(
    readonly width: number,
    readonly capacity: number,
    private readonly rng: Rng,
    posShare = 0.3,
  ) {
    this.x = new Float32Array(width * capacity)
    this.y = new Uint8Array(capacity)
    this.ts = new Float64Array(capacity)
    this.posCap = Math.max(1, Math.floor(capacity * posShare))
  }

  get size(): number {
    return this.n
  }

  get positives(): number {
    return this.posKept
  }

  get negatives(): number {
    return this.negKept
  }

  get seen(): { positives: number; negatives: number } {
    return { positives: this.posSeen, negatives: this.negSeen }
  }

  /** Weight of a kept negative (how many it stands for); 1 when none were dropped. */
  get negativeWeight(): number {
    return this.negKept ? this.negSeen / this.negKept : 1
  }

  get positiveWeight(): number {
    return this.posKept ? this.posSeen / this.posKept : 1
  }

  private put(slot: number, v: Float64Array, y: number, entity: string, ts: number): void {
    this.x.set(v, slot * this.width)
    this.y[slot] = y
    this.entity[slot] = entity
    this.ts[slot] = ts
  }

  add(v: Float64Array, positive: boolean, entity: string, ts: number): void {
    if (this.sealed) throw new Error('SampleSet is sealed')
    // Reservoir sampling (Algorithm R), one reservoir per class.
    if (positive) {
      this.posSeen++
      if (this.posKept < this.posCap) this.put(this.posKept++, v, 1, entity, ts)
      else {
        const j = Math.floor(this.rng.next() * this.posSeen)
        if (j < this.posCap) this.put(j, v, 1, entity, ts)
      }
      return
    }
    this.negSeen++
    const negCap = this.capacity - this.posCap
    if (this.negKept < negCap) this.put(this.posCap + this.negKept++, v, 0, entity, ts)
    else {
      const j = Math.floor(this.rng.next() * this.negSeen)
      if (j < negCap) this.put(this.posCap + j, v, 0, entity, ts)
    }
  }

  /** Packs positives and negatives together: rows [0, size). */
  seal(): this {
    if (this.sealed) return this
    this.sealed = true
    const from = this.posCap
    const to = this.posKept
    if (from !== to && this.negKept) {
      this.x.copyWithin(to * this.width, from * this.width, (from + this.negKept) * this.width)
      this.y.copyWithin(to, from, from + this.negKept)
      this.ts.copyWithin(to, from, from + this.negKept)
      this.entity.splice(to, from - to)
    }
    this.n = this.posKept + this.negKept
    this.entity.length = this.n
    return this
  }

  /**
   * A new sealed set of some of these rows (in the order given), each standing for as many
   * rows of its class as here; rows not taken stand for nothing.
   */
  select(rows: ArrayLike<number>): SampleSet {
    if (!this.sealed) throw new Error('SampleSet.select needs a sealed set')
    const out = new SampleSet(this.width, Math.max(1, rows.length), this.rng)
    const W = this.width
    for (let k = 0; k < rows.length; k++) {
      const i = rows[k]!
      if (!(i >= 0 && i < this.n)) throw new RangeError(`row ${i} is not in this set of ${this.n}`)
      out.x.set(this.x.subarray(i * W, i * W + W), k * W)
      out.y[k] = this.y[i]!
      out.ts[k] = this.ts[i]!
      out.entity[k] = this.entity[i]!
      if (this.y[i]) out.posKept++
      else out.negKept++
    }
    out.posSeen = out.posKept * this.positiveWeight
    out.negSeen = out.negKept * this.negativeWeight
    out.n = rows.length
    out.sealed = true
    return out
  }

  /** Row weights: positives and negatives each stand for all of their class that was seen. */
  weights(): Float32Array {
    const w = new Float32Array(this.n)
    const wp = this.positiveWeight
    const wn = this.negativeWeight
    for (let i = 0; i < this.n; i++) w[i] = this.y[i] ? wp : wn
    return w
  }
}

export interface BuildOptions {
  csv: CsvOptions
  metrics: string[]
  spec: FeatureSpecV1
  failures: FailureTable
  horizon: number
  lead: number
  plan: SplitPlan
  /** Rows kept for training (positives + negatives). Default 200 000. */
  maxTrainRows?: number
  /** Rows kept for validation. Default 100 000. */
  maxValRows?: number
  onProgress?: (rows: number) => void
  /** Peer groups and table, for a spec with peer features (data/peers.ts). */
  peers?: OfflinePeers | undefined
}

export interface BuiltDataset {
  train: SampleSet
  val: SampleSet
  /** Vectors seen per split and label, before sampling. */
  counts: Record<Split, { positive: number; negative: number; dropped: number }>
  late: number
  vectors: number
  stats: CsvStats
  /** Per entity, the time of its last row (where its data ends: later, it is censored). */
  ends: Map<string, number>
}

/**
 * Streams every row through the feature engine (in file order, as the streaming scorer
 * would see them), labels each vector and keeps a bounded sample of train and val.
 */
export async function buildDataset(o: BuildOptions): Promise<BuiltDataset> {
  const engine = new FeatureEngine(o.spec, o.peers?.table)
  const groupOf = o.peers?.groupOf ?? (() => undefined)
  const out = new Float64Array(engine.size)
  const rng = new Rng(o.plan.seed)
  const train = new SampleSet(engine.size, o.maxTrainRows ?? 200_000, rng)
  const val = new SampleSet(engine.size, o.maxValRows ?? 100_000, rng)
  const counts = Object.fromEntries(Splits.map((s) => [s, { positive: 0, negative: 0, dropped: 0 }])) as BuiltDataset['counts']
  const life = new LifeTracker(o.failures)
  const stats: CsvStats = { rows: 0, badRows: 0, badExamples: [] }
  const pick = projectValues(o.metrics, o.spec.metrics)
  const values = new Float64Array(o.spec.metrics.length)
  let late = 0
  let vectors = 0
  let rows = 0
  const ends = new Map<string, number>()
  for await (const row of readRows(o.csv, o.metrics, stats)) {
    if (++rows % 50_000 === 0) o.onProgress?.(rows)
    if (!(row.ts <= (ends.get(row.entity) ?? Number.NEGATIVE_INFINITY))) ends.set(row.entity, row.ts)
    if (life.crossed(row.entity, row.ts)) engine.reset(row.entity)
    pick(row.values, values)
    const res = engine.push(row.entity, row.ts, values, out, groupOf(row.entity))
    if (res === 'late') {
      late++
      continue
    }
    if (res !== 'emitted') continue
    vectors++
    const split = splitOf(o.plan, row.entity, row.ts)
    if (!split) continue
    const label = o.failures.label(row.entity, row.ts, o.horizon, o.lead)
    const c = counts[split]
    if (label === Label.drop) {
      c.dropped++
      continue
    }
    if (label === Label.positive) c.positive++
    else c.negative++
    if (split === 'train') train.add(out, label === Label.positive, row.entity, row.ts)
    else if (split === 'val') val.add(out, label === Label.positive, row.entity, row.ts)
  }
  return { train: train.seal(), val: val.seal(), counts, late, vectors, stats, ends }
}
