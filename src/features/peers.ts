/**
 * Peer features (DESIGN.md §5): how far a host sits from the other hosts of its group (the
 * `service` label by default) at the same event time — what an SRE looks at first ("is it
 * this host, or the whole service?"). A service-wide traffic spike or bad deploy moves every
 * peer; a leak or a failing disk moves one host.
 *
 * Time is cut into buckets of `bucketMs`. A host's value in a bucket is the mean of its
 * *counted* samples there, per peer metric; a sample counts when it is no older than the
 * host's newest counted sample minus the lateness (the engine's own rule, but never reset by
 * a new life, so the offline pass needs no failure table). The peer statistics of a
 * (group, bucket) are the median of its hosts' values and a robust spread (1.4826 × the
 * median absolute deviation), over the hosts with a value.
 *
 * A vector at event time t reads bucket `peerBucketOf(t)`: the newest one that ended at least
 * `lateness + graceMs` + one bucket before t. That lag is what lets the streaming scorer have
 * the bucket complete across partitions before it needs it (stream/peers.ts): a partition
 * publishes its hosts' values for bucket b once its own event time passes
 * end(b) + lateness + grace, and reading b only needs samples with t ≥ end(b) + lateness +
 * grace + one bucket, whose own publishing depends on b − 1 only — partitions can never wait
 * on each other in a circle.
 *
 * Shapes: values in and out are in the peer spec's metric order (`PeerSpecV1.metrics`, a
 * subset of the feature spec's metrics); a host value is a Float64Array of that length with
 * NaN where the host had no sample of the metric in the bucket. Values are rounded to
 * float32 where they are kept, so the offline table and the wire form of the online one hold
 * the very same numbers.
 */

export interface PeerSpecV1 {
  /** The sample label that names a host's group (default 'service'). */
  by: string
  /** Bucket width, ms (or steps). Default 1 minute (one step for step data). */
  bucketMs: number
  /** Extra wait past end + lateness before a partition publishes a bucket (default one bucket). */
  graceMs: number
  /** Metrics compared with peers, in feature-vector order. */
  metrics: string[]
  /** Fewer hosts with a value than this in a (group, bucket): the features are missing. Default 3. */
  minPeers: number
}

/** The bucket a vector at event time `ts` reads (see the header for why this lag). */
export function peerBucketOf(ts: number, lateness: number, p: PeerSpecV1): number {
  return Math.floor((ts - lateness - p.graceMs) / p.bucketMs) - 2
}

/** Median and robust spread of one (group, bucket), and each host's own value. */
export interface PeerStats {
  /** Hosts with a value in the bucket. */
  count: number
  /** Per peer metric: median over hosts (NaN when no host has the metric). */
  median: Float64Array
  /** Per peer metric: 1.4826 × median absolute deviation. */
  spread: Float64Array
  /** The host's own value (per peer metric), or undefined when it has none in this bucket. */
  own(host: string): Float32Array | undefined
}

export interface PeerView {
  stats(group: string, bucket: number): PeerStats | undefined
}

/** Per host: its newest counted ts and the sums of its open buckets. */
interface HostBuckets {
  newest: number
  group: string
  /** bucket → [sum per metric…, count per metric…] */
  open: Map<number, Float64Array>
}

/** The means of a host's bucket, float32-rounded (NaN where it had no sample of a metric). */
function meansOf(acc: Float64Array, M: number): Float32Array {
  const out = new Float32Array(M)
  for (let m = 0; m < M; m++) out[m] = acc[M + m]! > 0 ? acc[m]! / acc[M + m]! : Number.NaN
  return out
}

/**
 * The counting rule and the per-host bucket sums, shared by the offline table builder and the
 * streaming scorer's partitions, so both count the same samples into the same buckets.
 */
export class PeerAccumulator {
  private readonly hosts = new Map<string, HostBuckets>()
  private readonly M: number

  constructor(
    readonly spec: PeerSpecV1,
    readonly lateness: number,
  ) {
    this.M = spec.metrics.length
  }

  /**
   * Counts one sample (`values` in peer-metric order, NaN = missing). Answers its bucket, or
   * undefined when the sample does not count (older than the host's newest − lateness).
   */
  add(host: string, group: string, ts: number, values: ArrayLike<number>): number | undefined {
    let h = this.hosts.get(host)
    if (!h) {
      h = { newest: ts, group, open: new Map() }
      this.hosts.set(host, h)
    }
    if (ts < h.newest - this.lateness) return undefined
    if (ts > h.newest) h.newest = ts
    h.group = group
    const b = Math.floor(ts / this.spec.bucketMs)
    let acc = h.open.get(b)
    if (!acc) {
      acc = new Float64Array(2 * this.M)
      h.open.set(b, acc)
    }
    for (let m = 0; m < this.M; m++) {
      const v = values[m]!
      if (Number.isNaN(v)) continue
      acc[m]! += v
      acc[this.M + m]! += 1
    }
    return b
  }

  /** Buckets of this host that no counted sample can reach any more (end + lateness ≤ newest). */
  takeFinal(host: string, emit: (bucket: number, group: string, means: Float32Array) => void): void {
    const h = this.hosts.get(host)
    if (!h) return
    for (const [b, acc] of h.open)
      if ((b + 1) * this.spec.bucketMs + this.lateness <= h.newest) {
        emit(b, h.group, meansOf(acc, this.M))
        h.open.delete(b)
      }
  }

  /** Every open bucket of every host, then forgets them (end of an offline pass). */
  takeAll(emit: (host: string, bucket: number, group: string, means: Float32Array) => void): void {
    for (const [host, h] of this.hosts) {
      for (const [b, acc] of h.open) emit(host, b, h.group, meansOf(acc, this.M))
      h.open.clear()
    }
  }

  /** The current means of one host's bucket, when it has one open (the stream publishes these). */
  current(host: string, bucket: number): { group: string; means: Float32Array } | undefined {
    const h = this.hosts.get(host)
    const acc = h?.open.get(bucket)
    return h && acc ? { group: h.group, means: meansOf(acc, this.M) } : undefined
  }

  /** Forgets open buckets older than `bucket` (the stream keeps a few for amendments). */
  dropBefore(bucket: number): void {
    for (const h of this.hosts.values()) for (const b of h.open.keys()) if (b < bucket) h.open.delete(b)
  }
}

const MAD_SCALE = 1.4826

function medianOf(xs: number[]): number {
  if (!xs.length) return Number.NaN
  xs.sort((a, b) => a - b)
  const k = xs.length >> 1
  return xs.length % 2 ? xs[k]! : (xs[k - 1]! + xs[k]!) / 2
}

/** Median and spread per metric of a list of host values. */
export function peerStatsOf(
  values: readonly Float32Array[],
  M: number,
): { median: Float64Array; spread: Float64Array } {
  const median = new Float64Array(M)
  const spread = new Float64Array(M)
  const xs: number[] = []
  for (let m = 0; m < M; m++) {
    xs.length = 0
    for (const v of values) if (!Number.isNaN(v[m]!)) xs.push(v[m]!)
    const med = medianOf(xs)
    median[m] = med
    for (let i = 0; i < xs.length; i++) xs[i] = Math.abs(xs[i]! - med)
    spread[m] = MAD_SCALE * medianOf(xs)
  }
  return { median, spread }
}

/** One source's (a file's, or a partition's) host values in a bucket. */
export interface PeerPartial {
  hosts: string[]
  groups: string[]
  values: Float32Array[]
}

/**
 * Host values by bucket, from one or more sources (the offline pass is one source; each input
 * partition of the stream is one), with the statistics of every (group, bucket) computed when
 * first asked and recomputed when a source replaces its part of the bucket.
 */
export class PeerTable implements PeerView {
  private readonly buckets = new Map<number, Map<string, PeerPartial>>()
  private readonly cache = new Map<number, Map<string, PeerStats | null>>()
  private readonly index = new Map<number, Map<string, Float32Array>>()

  constructor(readonly spec: PeerSpecV1) {}

  /** The sources' parts of a bucket (created empty), its cached statistics dropped: it is about to change. */
  private partsOf(bucket: number): Map<string, PeerPartial> {
    let parts = this.buckets.get(bucket)
    if (!parts) {
      parts = new Map()
      this.buckets.set(bucket, parts)
    }
    this.invalidate(bucket)
    return parts
  }

  /** Appends one host's value to a source's part of a bucket (offline). */
  add(source: string, bucket: number, host: string, group: string, means: Float32Array): void {
    const parts = this.partsOf(bucket)
    let part = parts.get(source)
    if (!part) {
      part = { hosts: [], groups: [], values: [] }
      parts.set(source, part)
    }
    part.hosts.push(host)
    part.groups.push(group)
    part.values.push(means)
  }

  /** Replaces a source's part of a bucket (the stream: a partition's newest publication wins). */
  replace(source: string, bucket: number, part: PeerPartial): void {
    this.partsOf(bucket).set(source, part)
  }

  /** The sources that have published a bucket. */
  sources(bucket: number): string[] {
    return [...(this.buckets.get(bucket)?.keys() ?? [])]
  }

  /** Forgets buckets older than `bucket`. */
  dropBefore(bucket: number): void {
    for (const b of this.buckets.keys())
      if (b < bucket) {
        this.buckets.delete(b)
        this.invalidate(b)
      }
  }

  get bucketCount(): number {
    return this.buckets.size
  }

  private invalidate(bucket: number): void {
    this.cache.delete(bucket)
    this.index.delete(bucket)
  }

  stats(group: string, bucket: number): PeerStats | undefined {
    let byGroup = this.cache.get(bucket)
    if (!byGroup) {
      byGroup = new Map()
      this.cache.set(bucket, byGroup)
    }
    const hit = byGroup.get(group)
    if (hit !== undefined) return hit ?? undefined
    const parts = this.buckets.get(bucket)
    const values: Float32Array[] = []
    if (parts)
      for (const p of parts.values())
        for (let i = 0; i < p.hosts.length; i++) if (p.groups[i] === group) values.push(p.values[i]!)
    if (values.length < this.spec.minPeers) {
      byGroup.set(group, null)
      return undefined
    }
    const { median, spread } = peerStatsOf(values, this.spec.metrics.length)
    const own = (host: string) => {
      let idx = this.index.get(bucket)
      if (!idx) {
        idx = new Map()
        for (const p of parts!.values()) for (let i = 0; i < p.hosts.length; i++) idx.set(p.hosts[i]!, p.values[i]!)
        this.index.set(bucket, idx)
      }
      return idx.get(host)
    }
    const s: PeerStats = { count: values.length, median, spread, own }
    byGroup.set(group, s)
    return s
  }
}
