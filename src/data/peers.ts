/**
 * The offline peer table (features/peers.ts): one pass over the CSV before the feature pass,
 * so the peer statistics of every (group, bucket) are known, whatever the file's row order
 * (time-sorted fleets or one entity after another). Memory: one float32 per peer metric per
 * (host, bucket) — for 200 hosts × 7 days of 1-minute buckets × 16 metrics, about 130 MB.
 */
import { PreemptError } from '../errors.js'
import { PeerAccumulator, PeerTable } from '../features/peers.js'
import type { FeatureSpecV1 } from '../features/spec.js'
import { projectValues } from '../features/vectorize.js'
import { type CsvOptions, type CsvStats, readHostLabels, readRows } from './csv.js'

/** Where an offline pass finds a host's peer group, and the table to read peers from. */
export interface OfflinePeers {
  table: PeerTable
  groupOf: (entity: string) => string | undefined
  /** Entities with no group in the labels file (their peer features are missing). */
  ungrouped: string[]
}

/** Reads the host-labels file and names the group of each entity by `by`. */
export async function groupsFrom(
  file: string | undefined,
  by: string,
  entityCol: string,
): Promise<(entity: string) => string | undefined> {
  if (!file)
    throw new PreemptError(
      'PREEMPT_ERR_CLI_USAGE',
      `the model compares hosts with their peers by the "${by}" label: pass --host-labels FILE (a CSV of ${entityCol},${by},… per host, as the simulator's hosts.csv).`,
    )
  const labels = await readHostLabels(file, entityCol)
  if (![...labels.values()].some((l) => by in l))
    throw new PreemptError(
      'PREEMPT_ERR_CLI_USAGE',
      `${file}: no "${by}" column. Peer features group hosts by it: add the column (when training, --peers names another label).`,
    )
  return (e) => {
    const g = labels.get(e)?.[by]
    return g ? g : undefined
  }
}

export async function buildPeerTable(o: {
  csv: CsvOptions
  /** Metric columns as read from the file. */
  metrics: string[]
  spec: FeatureSpecV1
  groupOf: (entity: string) => string | undefined
  onProgress?: (rows: number) => void
}): Promise<OfflinePeers> {
  const p = o.spec.peers
  if (!p) throw new RangeError('buildPeerTable: the spec has no peer features')
  const acc = new PeerAccumulator(p, o.spec.lateness)
  const table = new PeerTable(p)
  const pick = projectValues(o.metrics, p.metrics)
  const vals = new Float64Array(p.metrics.length)
  const stats: CsvStats = { rows: 0, badRows: 0, badExamples: [] }
  const ungrouped = new Set<string>()
  let rows = 0
  for await (const row of readRows(o.csv, o.metrics, stats)) {
    if (++rows % 50_000 === 0) o.onProgress?.(rows)
    const g = o.groupOf(row.entity)
    if (g === undefined) {
      ungrouped.add(row.entity)
      continue
    }
    pick(row.values, vals)
    if (acc.add(row.entity, g, row.ts, vals) === undefined) continue
    acc.takeFinal(row.entity, (b, group, means) => table.add('csv', b, row.entity, group, means))
  }
  acc.takeAll((host, b, group, means) => table.add('csv', b, host, group, means))
  return { table, groupOf: o.groupOf, ungrouped: [...ungrouped] }
}

/**
 * The peers of a spec for an offline pass over `csv`, or undefined when the spec has none:
 * the groups from the host-labels file, then the table (one extra pass over the data).
 */
export async function offlinePeersFor(
  spec: FeatureSpecV1,
  o: { csv: CsvOptions; metrics: string[]; onProgress?: (rows: number) => void },
): Promise<OfflinePeers | undefined> {
  if (!spec.peers) return undefined
  const groupOf = await groupsFrom(o.csv.hostLabels, spec.peers.by, o.csv.entityCol)
  return buildPeerTable({ csv: o.csv, metrics: o.metrics, spec, groupOf, onProgress: o.onProgress })
}

/** Before any long work: a model with peer features has its host-labels file, with its column. */
export async function checkPeerLabels(spec: FeatureSpecV1, csv: CsvOptions): Promise<void> {
  if (spec.peers) await groupsFrom(csv.hostLabels, spec.peers.by, csv.entityCol)
}
