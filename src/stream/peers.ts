/**
 * Peer features across partitions (features/peers.ts has the definitions). A host's peers
 * arrive on other input partitions, possibly at another scorer instance, so every partition
 * publishes its hosts' bucket means on its state partition (in the batch's transaction), and
 * every instance merges what all partitions published into one PeerTable:
 *
 * - partition p *closes* bucket b once its event time passes end(b) + lateness + grace; it
 *   then publishes b's values of its hosts and `through` = the newest bucket it closed
 *   (an absent bucket = none of its hosts had a sample there);
 * - a vector at event time t reads bucket b* = peerBucketOf(t); it is computed only when
 *   every partition's `through` ≥ b*. Otherwise the scorer commits what it has, seeks back to
 *   the sample and lets other partitions run (their b* − 1 never waits on this one: no cycle);
 * - a partition that keeps the others waiting longer than `waitMs` of wall time (idle, or
 *   unassigned mid-rebalance) is *stalled*: left out of "every partition" until it publishes
 *   again. Vectors read while it is stalled lack its hosts (counted in `incomplete`);
 * - a sample counted into an already closed bucket (its host lagged its partition by more
 *   than lateness + grace) re-publishes that bucket (counted in `amended`); vectors read
 *   before the amendment lacked it.
 *
 * The bound: when no partition stalls and no bucket is amended, the merged table is the
 * offline table of the same samples, and the stream's peer features equal `preempt score`'s
 * exactly (test/stream/peers.test.ts, and the peers parity test against the broker).
 */
import type { OutgoingMessage } from '../bus/index.js'
import { PeerAccumulator, type PeerPartial, type PeerSpecV1, PeerTable, peerBucketOf } from '../features/peers.js'
import type { FeatureSpecV1 } from '../features/spec.js'
import { encodePeers, encodePeersThrough, PEERS_RING, PEERS_THROUGH_KEY, type PeersRecord, peersKey } from './state.js'

/** Closed buckets a partition keeps the sums of, for amendments. */
const KEEP_BUCKETS = 16

interface PeerLane {
  acc: PeerAccumulator
  /** bucket → hosts with samples there. */
  touched: Map<number, Set<string>>
  /** Newest bucket this partition closed. */
  through: number
  /** Event time at which the next bucket closes. */
  nextCloseTs: number
  /** Newest event time seen on the partition. */
  maxTs: number
  /** Closed buckets counted into again (to re-publish). */
  dirty: Set<number>
}

export interface PeerExchangeStats {
  /** Times a partition stopped on a bucket other partitions had not closed. */
  waits: number
  /** Times a wait ran out and partitions were marked stalled. */
  timeouts: number
  /** Buckets re-published because a sample arrived after they closed. */
  amended: number
  /** Vectors read while some partition was stalled. */
  incomplete: number
  /** Samples of a bucket closed more than KEEP_BUCKETS ago: not counted for peers (offline counts them). */
  tooLate: number
  /** Samples without the group label (`spec.by`): no peers of their own, their peer features missing. */
  ungrouped: number
  /** Partitions stalled now. */
  stalled: number[]
}

export class PeerExchange {
  readonly table: PeerTable
  readonly spec: PeerSpecV1
  private readonly lateness: number
  /** Input partitions (every one must close a bucket before it is read). */
  partitions = 0
  private readonly through = new Map<number, number>()
  private readonly stalled = new Set<number>()
  private readonly lanes = new Map<number, PeerLane>()
  private readonly metricIdx: number[]
  private readonly vals: Float64Array
  readonly stats: PeerExchangeStats = {
    waits: 0,
    timeouts: 0,
    amended: 0,
    incomplete: 0,
    tooLate: 0,
    ungrouped: 0,
    stalled: [],
  }

  constructor(
    featureSpec: FeatureSpecV1,
    /** Wall time a partition may keep the others waiting before it counts as stalled, ms. */
    readonly waitMs: number,
  ) {
    if (!featureSpec.peers) throw new RangeError('PeerExchange: the spec has no peer features')
    this.spec = featureSpec.peers
    this.lateness = featureSpec.lateness
    this.table = new PeerTable(this.spec)
    this.metricIdx = this.spec.metrics.map((m) => featureSpec.metrics.indexOf(m))
    this.vals = new Float64Array(this.spec.metrics.length)
  }

  /** The bucket a vector at `ts` reads. */
  bucketFor(ts: number): number {
    return peerBucketOf(ts, this.lateness, this.spec)
  }

  /** Every partition not stalled has closed `bucket`. */
  ready(bucket: number): boolean {
    for (let p = 0; p < this.partitions; p++)
      if (!this.stalled.has(p) && (this.through.get(p) ?? Number.NEGATIVE_INFINITY) < bucket) return false
    if (this.stalled.size) this.stats.incomplete++
    return true
  }

  /** Partitions that have not closed `bucket` (and are not stalled). */
  lagging(bucket: number): number[] {
    const out: number[] = []
    for (let p = 0; p < this.partitions; p++)
      if (!this.stalled.has(p) && (this.through.get(p) ?? Number.NEGATIVE_INFINITY) < bucket) out.push(p)
    return out
  }

  stall(partitions: number[]): void {
    for (const p of partitions) this.stalled.add(p)
    this.stats.timeouts++
    this.stats.stalled = [...this.stalled].sort((a, b) => a - b)
  }

  private lane(p: number): PeerLane {
    let l = this.lanes.get(p)
    if (!l) {
      l = {
        acc: new PeerAccumulator(this.spec, this.lateness),
        touched: new Map(),
        through: this.through.get(p) ?? Number.NEGATIVE_INFINITY,
        nextCloseTs: Number.NEGATIVE_INFINITY,
        maxTs: Number.NEGATIVE_INFINITY,
        dirty: new Set(),
      }
      this.lanes.set(p, l)
    }
    return l
  }

  /** A partition revoked: its sums go (whoever takes it over rebuilds them); what it published stays. */
  dropLane(p: number): void {
    this.lanes.delete(p)
  }

  /**
   * Counts a sample of partition p (`values` in the feature spec's metric order). `live`
   * false (a restore replay): a closed bucket is not re-published, it was before.
   */
  count(p: number, host: string, group: string, ts: number, values: ArrayLike<number>, live: boolean): void {
    const l = this.lane(p)
    if (Math.floor(ts / this.spec.bucketMs) <= l.through - KEEP_BUCKETS) {
      // Its sums are gone: a partial re-published from this sample alone would replace the whole bucket.
      if (live) this.stats.tooLate++
      return
    }
    for (let k = 0; k < this.metricIdx.length; k++) this.vals[k] = values[this.metricIdx[k]!]!
    const b = l.acc.add(host, group, ts, this.vals)
    if (b === undefined) return
    let hosts = l.touched.get(b)
    if (!hosts) {
      hosts = new Set()
      l.touched.set(b, hosts)
    }
    hosts.add(host)
    if (live && b <= l.through) l.dirty.add(b)
  }

  /**
   * Partition p has seen a sample at `ts`: closes the buckets its event time has passed and
   * answers their records for the state topic (partition p), already applied to the table.
   * `live` false (a restore replay): nothing is produced, the published state is caught up with.
   */
  close(p: number, ts: number, live: boolean, stateTopic: string): OutgoingMessage[] {
    const l = this.lane(p)
    if (ts > l.maxTs) l.maxTs = ts
    const maxTs = l.maxTs
    if (maxTs < l.nextCloseTs && !l.dirty.size) return []
    const { bucketMs, graceMs } = this.spec
    const limit = Math.floor((maxTs - this.lateness - graceMs) / bucketMs) - 1
    l.nextCloseTs = (limit + 2) * bucketMs + this.lateness + graceMs
    const out: OutgoingMessage[] = []
    const publish = (b: number) => {
      const part = this.partialOf(l, b)
      this.table.replace(String(p), b, part)
      if (live)
        out.push({
          topic: stateTopic,
          partition: p,
          key: peersKey(b),
          value: encodePeers(recordOf(b, bucketMs, part)),
          timestamp: (b + 1) * bucketMs,
        })
    }
    for (const b of [...l.dirty].sort((x, y) => x - y)) {
      this.stats.amended++
      publish(b)
    }
    l.dirty.clear()
    if (limit > l.through) {
      for (const b of [...l.touched.keys()].filter((x) => x > l.through && x <= limit).sort((x, y) => x - y)) publish(b)
      l.through = limit
      this.setThrough(p, limit)
      if (live)
        out.push({
          topic: stateTopic,
          partition: p,
          key: PEERS_THROUGH_KEY,
          value: encodePeersThrough(limit, bucketMs),
          timestamp: (limit + 1) * bucketMs,
        })
      const keepFrom = limit - KEEP_BUCKETS
      for (const b of l.touched.keys()) if (b < keepFrom) l.touched.delete(b)
      l.acc.dropBefore(keepFrom)
      this.prune()
    }
    return out
  }

  /** A peers record read from partition p of the state topic (restore, bootstrap, or another instance). */
  apply(p: number, rec: PeersRecord): void {
    if (rec.bucketMs !== this.spec.bucketMs) return
    this.table.replace(String(p), rec.bucket, {
      hosts: rec.hosts.map((h) => h.host),
      groups: rec.hosts.map((h) => h.group),
      values: rec.hosts.map((h) => h.values),
    })
  }

  applyThrough(p: number, through: number, bucketMs: number): void {
    if (bucketMs !== this.spec.bucketMs) return
    this.setThrough(p, through)
    if (!this.lanes.size) this.prune()
    const l = this.lanes.get(p)
    if (l && through > l.through) l.through = through
  }

  private setThrough(p: number, through: number): void {
    if (through > (this.through.get(p) ?? Number.NEGATIVE_INFINITY)) this.through.set(p, through)
    if (this.stalled.delete(p)) this.stats.stalled = [...this.stalled].sort((a, b) => a - b)
  }

  /**
   * Forgets buckets no vector will read: older than the slowest local partition's by more than
   * the ring; with no local partition (all owned elsewhere), older than the newest `through`
   * heard by twice the ring — else the side consumer's records would pile up.
   */
  private prune(): void {
    let min = Number.POSITIVE_INFINITY
    for (const l of this.lanes.values()) if (l.through < min) min = l.through
    if (Number.isFinite(min)) return this.table.dropBefore(min - PEERS_RING)
    let max = Number.NEGATIVE_INFINITY
    for (const t of this.through.values()) if (t > max) max = t
    if (Number.isFinite(max)) this.table.dropBefore(max - 2 * PEERS_RING)
  }

  private partialOf(l: PeerLane, b: number): PeerPartial {
    const part: PeerPartial = { hosts: [], groups: [], values: [] }
    for (const host of [...(l.touched.get(b) ?? [])].sort()) {
      const c = l.acc.current(host, b)
      if (!c) continue
      part.hosts.push(host)
      part.groups.push(c.group)
      part.values.push(c.means)
    }
    return part
  }
}

function recordOf(bucket: number, bucketMs: number, part: PeerPartial): PeersRecord {
  return {
    bucket,
    bucketMs,
    hosts: part.hosts.map((host, i) => ({ host, group: part.groups[i]!, values: part.values[i]! })),
  }
}
