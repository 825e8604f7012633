/**
 * `preempt replay`: a metrics CSV published as MetricSampleV1 records (key = host, record
 * timestamp = event time), in file order, at a chosen rate; optionally the failures CSV as
 * FailureEventV1, each published once the replay has passed its time, and host labels
 * (zone, rack, service) from a hosts CSV. For tests, benchmarks and backfills.
 */
import type { Bus, OutgoingMessage } from '../bus/index.js'
import { encodeFailureEvent, encodeMetricSample } from '../contracts/index.js'
import { type CsvOptions, type CsvStats, discoverMetrics, readHostLabels, readRows } from '../data/csv.js'
import { loadFailuresCsv } from '../data/labels.js'

export interface ReplayOptions {
  bus: Bus
  csv: CsvOptions
  topics: { metrics: string; failures: string }
  /** Partitions of the metrics topic when replay creates it. Default 6. */
  partitions?: number
  /** Samples per second at most (0: as fast as possible). */
  rate?: number
  /** Event time per real time (e.g. 900: 15 min a second); Infinity or undefined: no pacing by time. */
  speed?: number
  failuresFile?: string
  /** hosts.csv with host and label columns (zone, rack, service …). */
  hostsFile?: string
  /** Records per send. Default 2000. */
  batch?: number
  onProgress?: (rows: number) => void
  signal?: AbortSignal
}

export interface ReplayResult {
  rows: number
  failures: number
  /** Rows whose time was before the previous row's (file not in time order). */
  backwards: number
  seconds: number
  stats: CsvStats
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export async function replayCsv(o: ReplayOptions): Promise<ReplayResult> {
  const t0 = Date.now()
  const metrics = o.csv.metrics ?? (await discoverMetrics(o.csv))
  const labels = o.hostsFile
    ? await readHostLabels(o.hostsFile, o.csv.entityCol)
    : new Map<string, Record<string, string>>()
  const table = o.failuresFile ? await loadFailuresCsv(o.failuresFile, o.csv) : undefined
  // The failures CSV's kind column is not kept by the table: published as 'other'.
  const failures = (table?.entities() ?? [])
    .flatMap((entity) => table!.of(entity).map((ts) => ({ entity, ts })))
    .sort((a, b) => a.ts - b.ts)
  const admin = await o.bus.admin()
  // Replayed history carries its own (old) timestamps: a topic replay creates keeps it
  // until deleted, or the broker's time retention would drop it minutes later.
  const keep = { 'retention.ms': '-1' }
  await admin.createTopics([
    { topic: o.topics.metrics, partitions: o.partitions ?? 6, configs: keep },
    { topic: o.topics.failures, partitions: 1, configs: keep },
  ])
  await admin.close()
  const producer = await o.bus.producer()
  const stats: CsvStats = { rows: 0, badRows: 0, badExamples: [] }
  const batchSize = o.batch ?? 2000
  let out: OutgoingMessage[] = []
  let rows = 0
  let sentFailures = 0
  let backwards = 0
  let prevTs = Number.NEGATIVE_INFINITY
  let firstTs: number | undefined
  const failureRecord = (f: { entity: string; ts: number }): OutgoingMessage => ({
    topic: o.topics.failures,
    key: f.entity,
    timestamp: f.ts,
    value: encodeFailureEvent({ host: f.entity, ts: f.ts, kind: 'other' }),
  })
  const flush = async () => {
    if (!out.length) return
    const b = out
    out = []
    await producer.send(b)
  }
  try {
    for await (const row of readRows({ ...o.csv, metrics }, metrics, stats)) {
      if (o.signal?.aborted) break
      if (row.ts < prevTs) backwards++
      prevTs = Math.max(prevTs, row.ts)
      firstTs ??= row.ts
      while (sentFailures < failures.length && failures[sentFailures]!.ts < row.ts) {
        out.push(failureRecord(failures[sentFailures++]!))
      }
      const m: Record<string, number | null> = {}
      for (let i = 0; i < metrics.length; i++) {
        const v = row.values[i]!
        m[metrics[i]!] = Number.isNaN(v) ? null : v
      }
      out.push({
        topic: o.topics.metrics,
        key: row.entity,
        timestamp: row.ts,
        value: encodeMetricSample({ host: row.entity, ts: row.ts, metrics: m, labels: labels.get(row.entity) ?? {} }),
      })
      rows++
      if (out.length >= batchSize) {
        await flush()
        o.onProgress?.(rows)
        // Pacing: by rate, or by event time at the given speed.
        const elapsed = Date.now() - t0
        let due = 0
        if (o.rate && o.rate > 0) due = (rows / o.rate) * 1000
        if (o.speed && Number.isFinite(o.speed)) due = Math.max(due, (row.ts - firstTs) / o.speed)
        if (due > elapsed) await sleep(due - elapsed)
      }
    }
    while (sentFailures < failures.length) out.push(failureRecord(failures[sentFailures++]!))
    await flush()
    o.onProgress?.(rows)
  } finally {
    await producer.close().catch(() => {})
  }
  return { rows, failures: sentFailures, backwards, seconds: (Date.now() - t0) / 1000, stats }
}
