/**
 * Offline scoring: a CSV's rows through the one feature engine and the model, in file order,
 * exactly as the streaming scorer sees a topic's records. One result per emitted vector.
 */
import type { CsvOptions, CsvStats } from '../data/csv.js'
import { readHeader, readRows } from '../data/csv.js'
import { type FailureTable, LifeTracker } from '../data/labels.js'
import { type OfflinePeers, offlinePeersFor } from '../data/peers.js'
import { PreemptError } from '../errors.js'
import { FeatureEngine } from '../features/engine.js'
import { projectValues } from '../features/vectorize.js'
import { SpacingSampler } from '../math/spacing.js'
import type { LoadedModel } from '../model/artifact.js'
import { Scorer } from '../model/scorer.js'

export interface ScoredRow {
  entity: string
  /** The time as it appears in the input (only with `withRawTime`). */
  rawTime?: string
  ts: number
  score: number
  /** Median time to failure (data's time axis; NaN: later than the hazard's last bin), with `withTtf` and a hazard head. */
  ttf?: number
  /** The row's raw metric values (model metrics order), when asked for. */
  values?: Float64Array
}

export interface ScoreCsvOptions {
  csv: CsvOptions
  /** Resets an entity's windows after each of its failures (as training did). */
  failures?: FailureTable
  /** Only vectors for which this holds are scored. */
  filter?: (entity: string, ts: number) => boolean
  /** Also hand over a copy of each scored row's raw values. */
  withValues?: boolean
  /**
   * Also hand over the time text of the input. Off by default: the parser's strings are
   * slices of its input chunks, so holding many rows' time text holds the whole file.
   */
  withRawTime?: boolean
  /** Also the time to failure, when the model has a hazard head. */
  withTtf?: boolean
  batchSize?: number
  onProgress?: (rows: number) => void
  /**
   * A model with peer features: the peer table of these very files when the caller has built
   * it; else it is built from `csv.hostLabels` (an extra pass over the data).
   */
  peers?: OfflinePeers | undefined
}

export interface ScoreCsvSummary {
  /** Median time between an entity's samples in the scored data. */
  interval: number | null
  rows: number
  vectors: number
  late: number
  /** Samples whose operating settings were off every regime the model was trained on (regime models). */
  offRegime: number
  stats: CsvStats
}

/** Checks that the data has the columns the model needs; names what is missing and the fix. */
export function checkColumns(loaded: LoadedModel, metrics: string[], file: string): void {
  const missing = loaded.meta.featureSpec.metrics.filter((m) => !metrics.includes(m))
  if (missing.length)
    throw new PreemptError(
      'PREEMPT_ERR_MODEL_DATA',
      `${file}: the model needs metrics that are not in the data: ${missing.join(', ')}. Score data with the columns it was trained on (${loaded.meta.csv.metrics.join(',')}).`,
    )
}

export async function scoreCsv(
  loaded: LoadedModel,
  o: ScoreCsvOptions,
  onScored: (rows: ScoredRow[]) => void | Promise<void>,
): Promise<ScoreCsvSummary> {
  const spec = loaded.meta.featureSpec
  let metrics = o.csv.metrics ?? loaded.meta.csv.metrics
  checkColumns(loaded, metrics, o.csv.files[0] ?? '')
  // …and that the data has them: a wide file without a model's metric would score nothing but NaN.
  if (o.csv.format !== 'long') {
    const headers = await Promise.all(o.csv.files.map((f) => readHeader(f)))
    for (let i = 0; i < headers.length; i++) checkColumns(loaded, headers[i]!, o.csv.files[i]!)
    // Columns the training data had but the model does not use may be absent.
    if (!o.csv.metrics) metrics = metrics.filter((m) => headers.every((h) => h.includes(m)))
  }
  const peers =
    o.peers ?? (await offlinePeersFor(spec, { csv: { ...o.csv, metrics }, metrics, onProgress: o.onProgress }))
  const engine = new FeatureEngine(spec, peers?.table)
  const groupOf = peers?.groupOf ?? (() => undefined)
  const scorer = new Scorer(loaded)
  const F = engine.size
  const batch = o.batchSize ?? 4096
  const buf = new Float64Array(batch * F)
  const out = new Float64Array(F)
  const pending: ScoredRow[] = []
  const scores = new Float64Array(batch)
  const pick = projectValues(metrics, spec.metrics)
  const values = new Float64Array(spec.metrics.length)
  const life = o.failures ? new LifeTracker(o.failures) : undefined
  const stats: CsvStats = { rows: 0, badRows: 0, badExamples: [] }
  let rows = 0
  let vectors = 0
  let late = 0
  // One copy of each entity name, so rows held by the caller do not pin the parser's chunks.
  const entities = new Map<string, string>()
  const entityOf = (e: string) => {
    let own = entities.get(e)
    if (own === undefined) {
      own = Buffer.from(e, 'utf8').toString('utf8')
      entities.set(own, own)
    }
    return own
  }
  const flush = async () => {
    if (!pending.length) return
    scorer.score(buf, pending.length, scores)
    for (let i = 0; i < pending.length; i++) pending[i]!.score = scores[i]!
    const ttf = o.withTtf ? scorer.ttf(buf, pending.length) : undefined
    if (ttf) for (let i = 0; i < pending.length; i++) pending[i]!.ttf = ttf.median[i]!
    await onScored(pending.splice(0))
  }
  const spacing = new SpacingSampler()
  for await (const row of readRows({ ...o.csv, metrics }, metrics, stats)) {
    if (++rows % 50_000 === 0) o.onProgress?.(rows)
    spacing.add(row.entity, row.ts)
    if (life?.crossed(row.entity, row.ts)) engine.reset(row.entity)
    pick(row.values, values)
    const res = engine.push(row.entity, row.ts, values, out, groupOf(row.entity))
    if (res === 'late') late++
    if (res !== 'emitted') continue
    vectors++
    if (o.filter && !o.filter(row.entity, row.ts)) continue
    buf.set(out, pending.length * F)
    const scored: ScoredRow = { entity: entityOf(row.entity), ts: row.ts, score: Number.NaN }
    if (o.withRawTime) scored.rawTime = row.rawTime
    if (o.withValues) scored.values = Float64Array.from(values)
    pending.push(scored)
    if (pending.length === batch) await flush()
  }
  await flush()
  o.onProgress?.(rows)
  return { rows, vectors, late, offRegime: engine.offRegime, stats, interval: spacing.median() }
}
