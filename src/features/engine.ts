/**
 * The one feature engine (pure, no I/O), used unchanged by training, offline scoring and the
 * streaming scorer.
 *
 * Per host it keeps the samples of its longest window in a ring buffer and, per window and
 * metric, running sums (n, Σv, Σv², Σt, Σt², Σtv) and monotonic deques for min and max, so an
 * in-order sample costs O(windows × metrics) amortised. A sample up to `lateness` older than
 * the host's newest is inserted in order and the host's state is rebuilt from its ring (rare);
 * an older one is refused as late. Running sums are rebuilt from the ring every few window
 * lengths, so rounding error cannot accumulate over a long life.
 *
 * Window w at time t holds the samples with ts in (t − w, t], t being the host's newest ts.
 */
import { type PeerView, peerBucketOf } from './peers.js'
import { RegimeNormalizer } from './regimes.js'
import { type FeatureSpecV1, featureCount, hasTrend, slopeScale } from './spec.js'

export const PushOutcome = { emitted: 'emitted', warming: 'warming', late: 'late' } as const
export type PushOutcome = (typeof PushOutcome)[keyof typeof PushOutcome]

const AGG_INDEX = { mean: 0, std: 1, min: 2, max: 3, last: 4, slope: 5, count: 6 } as const
// Offsets of the running sums of one (window, metric).
const S_N = 0
const S_V = 1
const S_VV = 2
const S_T = 3
const S_TT = 4
const S_TV = 5
const S_SIZE = 6

/**
 * Min and max deques of every metric of one host, packed in two typed arrays (one slab of
 * `cap` slots per deque) so a sample's 2·M deque updates stay in a few cache lines. A deque
 * holds (sample index, value) pairs, indices increasing; one min and one max deque per metric
 * serve every window, because windows are suffixes of the longest one: the extreme of a
 * window is the first entry at or after the window's start.
 */
class Deques {
  cap = 8
  idx: Int32Array
  val: Float64Array
  /** Logical head and tail per deque (2·M of them: min of m at 2m, max at 2m + 1). */
  readonly head: Int32Array
  readonly tail: Int32Array

  constructor(readonly count: number) {
    this.idx = new Int32Array(count * this.cap)
    this.val = new Float64Array(count * this.cap)
    this.head = new Int32Array(count)
    this.tail = new Int32Array(count)
  }

  /** Pushes (i, v) on deque d, dropping the entries v dominates (≥ v for min, ≤ v for max). */
  push(d: number, i: number, v: number, isMax: boolean): void {
    const cap = this.cap
    const mask = cap - 1
    const base = d * cap
    let t = this.tail[d]!
    const h = this.head[d]!
    if (isMax) while (t > h && this.val[base + ((t - 1) & mask)]! <= v) t--
    else while (t > h && this.val[base + ((t - 1) & mask)]! >= v) t--
    if (t - h === cap) {
      this.tail[d] = t
      this.grow()
      return this.push(d, i, v, isMax)
    }
    this.idx[base + (t & mask)] = i
    this.val[base + (t & mask)] = v
    this.tail[d] = t + 1
  }

  private grow(): void {
    const cap = this.cap * 2
    const idx = new Int32Array(this.count * cap)
    const val = new Float64Array(this.count * cap)
    const oldMask = this.cap - 1
    for (let d = 0; d < this.count; d++) {
      const h = this.head[d]!
      const t = this.tail[d]!
      for (let j = h; j < t; j++) {
        idx[d * cap + (j - h)] = this.idx[d * this.cap + (j & oldMask)]!
        val[d * cap + (j - h)] = this.val[d * this.cap + (j & oldMask)]!
      }
      this.head[d] = 0
      this.tail[d] = t - h
    }
    this.idx = idx
    this.val = val
    this.cap = cap
  }

  /** Drops entries with index below `start` from the front of every deque. */
  trim(start: number): void {
    const mask = this.cap - 1
    for (let d = 0; d < this.count; d++) {
      const base = d * this.cap
      let h = this.head[d]!
      const t = this.tail[d]!
      while (h < t && this.idx[base + (h & mask)]! < start) h++
      this.head[d] = h
    }
  }

  /** Value at the front of deque d, or NaN when empty. */
  front(d: number): number {
    return this.head[d]! < this.tail[d]! ? this.val[d * this.cap + (this.head[d]! & (this.cap - 1))]! : Number.NaN
  }

  /** Value of deque d's first entry with index ≥ start (the window's extreme), or NaN. */
  extremeFrom(d: number, start: number): number {
    const mask = this.cap - 1
    const base = d * this.cap
    let lo = this.head[d]!
    let hi = this.tail[d]!
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.idx[base + (mid & mask)]! < start) lo = mid + 1
      else hi = mid
    }
    return lo < this.tail[d]! ? this.val[base + (lo & mask)]! : Number.NaN
  }

  bytes(): number {
    return this.count * (this.cap * 12 + 8) + 64
  }

  clear(): void {
    this.head.fill(0)
    this.tail.fill(0)
  }
}

class HostState {
  cap = 16
  mask = 15
  ts = new Float64Array(16)
  vals: Float64Array
  /** Logical index of the oldest retained sample, and one past the newest. */
  seqStart = 0
  seqEnd = 0
  /** Per window: logical index of its first sample. */
  wStart: number[]
  sums: Float64Array
  /** Per metric: min (2m) and max (2m + 1) deques over the longest window. */
  dq: Deques
  ewma: Float64Array
  ewmaTs: Float64Array
  newest = Number.NEGATIVE_INFINITY
  /** Samples accepted in this life. */
  count = 0
  tRef = 0
  appendsSinceRebuild = 0
  /** Sequence buckets (ring of `B` indexed by absolute bucket number): sums and counts per metric. */
  bucketSum: Float64Array
  bucketCnt: Float64Array
  /** Absolute number of the newest bucket. */
  bucket = Number.NEGATIVE_INFINITY

  constructor(
    readonly M: number,
    readonly W: number,
    readonly B = 0,
  ) {
    this.bucketSum = new Float64Array(B * M)
    this.bucketCnt = new Float64Array(B * M)
    this.vals = new Float64Array(16 * M)
    this.wStart = new Array(W).fill(0)
    this.sums = new Float64Array(W * M * S_SIZE)
    this.dq = new Deques(2 * M)
    this.ewma = new Float64Array(M).fill(Number.NaN)
    this.ewmaTs = new Float64Array(M)
  }

  /** Approximate bytes held, for the bench's memory-per-host figure. */
  bytes(): number {
    return (
      this.cap * 8 * (1 + this.M) +
      this.W * this.M * S_SIZE * 8 +
      this.dq.bytes() +
      this.M * 16 +
      this.B * this.M * 16 +
      200
    )
  }

  grow(): void {
    const cap = this.cap * 2
    const mask = cap - 1
    const ts = new Float64Array(cap)
    const vals = new Float64Array(cap * this.M)
    for (let s = this.seqStart; s < this.seqEnd; s++) {
      const o = s & this.mask
      const n = s & mask
      ts[n] = this.ts[o]!
      vals.set(this.vals.subarray(o * this.M, o * this.M + this.M), n * this.M)
    }
    this.ts = ts
    this.vals = vals
    this.cap = cap
    this.mask = mask
  }
}

/** Least-squares slope from running sums; NaN under two samples or with no spread in time. */
function slopeOf(n: number, t: number, tt: number, v: number, tv: number): number {
  if (n < 1.5) return Number.NaN
  const d = n * tt - t * t
  return d > 1e-12 * n * n ? (n * tv - t * v) / d : Number.NaN
}

export class FeatureEngine {
  readonly size: number
  private readonly hosts = new Map<string, HostState>()
  private readonly M: number
  private readonly W: number
  private readonly windows: number[]
  private readonly wmax: number
  private readonly aggIdx: number[]
  /** The default aggregate list, in AGG_INDEX order: the vector is written without indirection. */
  private readonly allAggregates: boolean
  private readonly tScale: number
  private readonly trend: boolean
  private readonly agg = new Float64Array(7)
  /** Sequence buckets and their width (0: no sequence). */
  private readonly B: number
  private readonly bucketWidth: number

  /** Peer metrics (each with dev and z in the vector; 0 without peer features). */
  private readonly P: number
  /** Operating regimes: each sample read relative to its regime first (into `regimeValues`). */
  private readonly regimes: RegimeNormalizer | undefined
  private readonly regimeValues: Float64Array

  /**
   * `peers`: where a spec with peer features reads its groups' statistics (the offline table,
   * or the stream's merged one); without it those features are missing (NaN).
   */
  constructor(
    readonly spec: FeatureSpecV1,
    readonly peers?: PeerView,
  ) {
    this.P = spec.peers?.metrics.length ?? 0
    if (spec.peers?.metrics.some((m) => !spec.metrics.includes(m)))
      throw new RangeError('feature spec: a peer metric is not among the metrics')
    this.M = spec.metrics.length
    this.W = spec.windows.length
    this.windows = [...spec.windows]
    this.wmax = this.windows[this.W - 1] ?? 0
    this.aggIdx = spec.aggregates.map((a) => AGG_INDEX[a])
    this.allAggregates = this.aggIdx.length === 7 && this.aggIdx.every((a, i) => a === i)
    this.size = featureCount(spec)
    this.tScale = slopeScale(spec.timeUnit)
    this.trend = hasTrend(spec)
    this.B = spec.sequence ?? 0
    this.bucketWidth = this.B ? this.wmax / this.B : 0
    this.regimes = spec.regimes ? new RegimeNormalizer(spec.regimes, spec.metrics) : undefined
    this.regimeValues = new Float64Array(this.regimes ? this.M : 0)
  }

  get hostCount(): number {
    return this.hosts.size
  }

  /** Approximate bytes of state across hosts. */
  stateBytes(): number {
    let b = 0
    for (const h of this.hosts.values()) b += h.bytes()
    return b
  }

  /** Samples whose operating settings were off every regime seen in training (0 without regimes). */
  get offRegime(): number {
    return this.regimes?.offRegime ?? 0
  }

  /** Forgets a host's history: after a failure the host starts a new life. */
  reset(host: string): void {
    this.hosts.delete(host)
  }

  /** The newest ts accepted for a host, or undefined. */
  newest(host: string): number | undefined {
    return this.hosts.get(host)?.newest
  }

  /**
   * Adds one sample (`values` in spec.metrics order, NaN = missing). When a vector is due,
   * writes it into `out` (length `size`) and answers 'emitted'; before `minHistory` or off
   * the stride, 'warming'; a sample older than newest − lateness changes nothing: 'late'.
   * `group`: the host's peer group (its `spec.peers.by` label), for specs with peer features.
   */
  push(host: string, ts: number, values: ArrayLike<number>, out: Float64Array, group?: string): PushOutcome {
    let h = this.hosts.get(host)
    if (!h) {
      h = new HostState(this.M, this.W, this.B)
      h.tRef = ts
      this.hosts.set(host, h)
    }
    const prevNewest = h.newest
    if (ts < h.newest - this.spec.lateness) return PushOutcome.late
    if (this.regimes) {
      this.regimes.apply(values, this.regimeValues)
      values = this.regimeValues
    }
    if (ts < h.newest) {
      this.insertLate(h, ts, values)
    } else {
      this.append(h, ts, values)
      this.updateEwma(h, ts, values)
    }
    if (this.B) this.addToBucket(h, ts, values)
    h.count++
    const { minHistory, stride } = this.spec
    if (h.count < minHistory || (h.count - minHistory) % stride !== 0) return PushOutcome.warming
    const j = this.vector(h, values, Number.isFinite(prevNewest) ? Math.max(0, ts - prevNewest) : 0, out)
    if (this.spec.peers) this.peerFeatures(host, ts, group, out, j)
    return PushOutcome.emitted
  }

  /** The peer block at out[j…]: per peer metric dev and z, then the peer count (NaN when unknown). */
  private peerFeatures(host: string, ts: number, group: string | undefined, out: Float64Array, j: number): void {
    const p = this.spec.peers!
    const P = this.P
    const s = group === undefined ? undefined : this.peers?.stats(group, peerBucketOf(ts, this.spec.lateness, p))
    const own = s?.own(host)
    for (let k = 0; k < P; k++) {
      if (!s || !own) {
        out[j + 2 * k] = Number.NaN
        out[j + 2 * k + 1] = Number.NaN
        continue
      }
      const med = s.median[k]!
      const dev = own[k]! - med
      out[j + 2 * k] = dev
      out[j + 2 * k + 1] = dev / (s.spread[k]! + 1e-6 * Math.max(1, Math.abs(med)))
    }
    out[j + 2 * P] = s ? s.count : Number.NaN
  }

  /** Adds a sample to its event-time bucket (late ones too, while their bucket is kept). */
  private addToBucket(h: HostState, ts: number, values: ArrayLike<number>): void {
    const B = this.B
    const M = this.M
    const b = Math.floor(ts / this.bucketWidth)
    if (b > h.bucket) {
      // Newer buckets start empty; ones older than B buckets drop out of the ring.
      const from = Number.isFinite(h.bucket) ? Math.max(h.bucket + 1, b - B + 1) : b - B + 1
      for (let k = from; k <= b; k++) {
        const o = (((k % B) + B) % B) * M
        h.bucketSum.fill(0, o, o + M)
        h.bucketCnt.fill(0, o, o + M)
      }
      h.bucket = b
    } else if (b <= h.bucket - B) return
    const o = (((b % B) + B) % B) * M
    for (let m = 0; m < M; m++) {
      const v = values[m]
      if (v === undefined || v === null || Number.isNaN(v)) continue
      h.bucketSum[o + m]! += v
      h.bucketCnt[o + m]! += 1
    }
  }

  /** The sequence block: per bucket (oldest first) the means, then the means minus each metric's mean. */
  private sequence(h: HostState, out: Float64Array, j: number): void {
    const B = this.B
    const M = this.M
    for (let m = 0; m < M; m++) {
      let sum = 0
      let n = 0
      for (let i = 0; i < B; i++) {
        const o = ((((h.bucket - B + 1 + i) % B) + B) % B) * M + m
        const c = h.bucketCnt[o]!
        const mean = c > 0 ? h.bucketSum[o]! / c : Number.NaN
        out[j + i * 2 * M + m] = mean
        if (c > 0) {
          sum += mean
          n++
        }
      }
      const avg = n ? sum / n : Number.NaN
      for (let i = 0; i < B; i++) out[j + i * 2 * M + M + m] = out[j + i * 2 * M + m]! - avg
    }
  }

  private updateEwma(h: HostState, ts: number, values: ArrayLike<number>): void {
    const tau = this.wmax > 0 ? this.wmax : 1
    for (let m = 0; m < this.M; m++) {
      const v = values[m]!
      if (Number.isNaN(v)) continue
      if (Number.isNaN(h.ewma[m]!)) h.ewma[m] = v
      else {
        const alpha = 1 - Math.exp(-(ts - h.ewmaTs[m]!) / tau)
        h.ewma[m] = h.ewma[m]! + alpha * (v - h.ewma[m]!)
      }
      h.ewmaTs[m] = ts
    }
  }

  private append(h: HostState, ts: number, values: ArrayLike<number>): void {
    if (h.seqEnd - h.seqStart === h.cap) h.grow()
    const s = h.seqEnd++
    const pos = s & h.mask
    h.ts[pos] = ts
    const M = this.M
    const base = pos * M
    for (let m = 0; m < M; m++) {
      const v = values[m]
      h.vals[base + m] = v === undefined || v === null ? Number.NaN : v
    }
    h.newest = ts
    const t = (ts - h.tRef) / this.tScale
    const sums = h.sums
    for (let m = 0; m < M; m++) {
      const v = h.vals[base + m]!
      if (Number.isNaN(v)) continue
      const tv = t * v
      const vv = v * v
      const tt = t * t
      for (let w = 0; w < this.W; w++) {
        const o = (w * M + m) * S_SIZE
        sums[o + S_N]! += 1
        sums[o + S_V]! += v
        sums[o + S_VV]! += vv
        sums[o + S_T]! += t
        sums[o + S_TT]! += tt
        sums[o + S_TV]! += tv
      }
      this.pushDeque(h, m, s, v)
    }
    for (let w = 0; w < this.W; w++) this.evict(h, w, ts)
    h.seqStart = h.wStart[this.W - 1]!
    h.dq.trim(h.seqStart)
    if (++h.appendsSinceRebuild > Math.max(64, 2 * (h.seqEnd - h.seqStart))) this.rebuild(h)
  }

  private pushDeque(h: HostState, m: number, s: number, v: number): void {
    h.dq.push(2 * m, s, v, false)
    h.dq.push(2 * m + 1, s, v, true)
  }

  /** Drops from window w the samples with ts ≤ newest − w. */
  private evict(h: HostState, w: number, newest: number): void {
    const limit = newest - this.windows[w]!
    let start = h.wStart[w]!
    const M = this.M
    while (start < h.seqEnd && h.ts[start & h.mask]! <= limit) {
      const base = (start & h.mask) * M
      const t = (h.ts[start & h.mask]! - h.tRef) / this.tScale
      for (let m = 0; m < M; m++) {
        const v = h.vals[base + m]!
        if (Number.isNaN(v)) continue
        const o = (w * M + m) * S_SIZE
        const sums = h.sums
        sums[o + S_N]! -= 1
        sums[o + S_V]! -= v
        sums[o + S_VV]! -= v * v
        sums[o + S_T]! -= t
        sums[o + S_TT]! -= t * t
        sums[o + S_TV]! -= t * v
      }
      start++
    }
    h.wStart[w] = start
  }

  /** Inserts a late sample in ts order, then rebuilds the host's window state from its ring. */
  private insertLate(h: HostState, ts: number, values: ArrayLike<number>): void {
    if (h.seqEnd - h.seqStart === h.cap) h.grow()
    const M = this.M
    let s = h.seqEnd
    // Shift newer samples up by one (late samples are rare and only `lateness` old).
    while (s > h.seqStart && h.ts[(s - 1) & h.mask]! > ts) {
      const from = (s - 1) & h.mask
      const to = s & h.mask
      h.ts[to] = h.ts[from]!
      h.vals.copyWithin(to * M, from * M, from * M + M)
      s--
    }
    const pos = s & h.mask
    h.ts[pos] = ts
    for (let m = 0; m < M; m++) {
      const v = values[m]
      h.vals[pos * M + m] = v === undefined || v === null ? Number.NaN : v
    }
    h.seqEnd++
    this.rebuild(h)
  }

  /** Recomputes sums and deques of every window from the ring (exact; resets rounding error). */
  private rebuild(h: HostState): void {
    h.appendsSinceRebuild = 0
    h.tRef = h.ts[h.seqStart & h.mask]!
    h.sums.fill(0)
    const M = this.M
    h.dq.clear()
    for (let w = 0; w < this.W; w++) {
      const limit = h.newest - this.windows[w]!
      let start = h.seqStart
      while (start < h.seqEnd && h.ts[start & h.mask]! <= limit) start++
      h.wStart[w] = start
      for (let s = start; s < h.seqEnd; s++) {
        const base = (s & h.mask) * M
        const t = (h.ts[s & h.mask]! - h.tRef) / this.tScale
        for (let m = 0; m < M; m++) {
          const v = h.vals[base + m]!
          if (Number.isNaN(v)) continue
          const k = w * M + m
          const o = k * S_SIZE
          h.sums[o + S_N]! += 1
          h.sums[o + S_V]! += v
          h.sums[o + S_VV]! += v * v
          h.sums[o + S_T]! += t
          h.sums[o + S_TT]! += t * t
          h.sums[o + S_TV]! += t * v
          if (w === this.W - 1) this.pushDeque(h, m, s, v)
        }
      }
    }
    h.seqStart = h.wStart[this.W - 1]!
  }

  /**
   * Slope over the second-longest window minus the slope over the rest of the longest (its
   * sums are the longest's minus the shorter's): NaN while either part has under two samples.
   */
  private trendOf(sums: Float64Array, m: number): number {
    const r = ((this.W - 2) * this.M + m) * S_SIZE
    const l = ((this.W - 1) * this.M + m) * S_SIZE
    const recent = slopeOf(sums[r + S_N]!, sums[r + S_T]!, sums[r + S_TT]!, sums[r + S_V]!, sums[r + S_TV]!)
    const older = slopeOf(
      sums[l + S_N]! - sums[r + S_N]!,
      sums[l + S_T]! - sums[r + S_T]!,
      sums[l + S_TT]! - sums[r + S_TT]!,
      sums[l + S_V]! - sums[r + S_V]!,
      sums[l + S_TV]! - sums[r + S_TV]!,
    )
    return recent - older
  }

  /** Writes the vector up to the peer block; answers where that block starts. */
  private vector(h: HostState, values: ArrayLike<number>, sincePrev: number, out: Float64Array): number {
    const M = this.M
    const agg = this.agg
    const aggIdx = this.aggIdx
    let j = 0
    let nL = 0
    let meanL = Number.NaN
    let stdL = Number.NaN
    for (let m = 0; m < M; m++) {
      // Every window ends at the newest sample: the latest reading is shared by all of them.
      let lastIdx = -1
      let lastVal = Number.NaN
      for (let s = h.seqEnd - 1; s >= h.seqStart; s--) {
        const v = h.vals[(s & h.mask) * M + m]!
        if (!Number.isNaN(v)) {
          lastIdx = s
          lastVal = v
          break
        }
      }
      const longest = this.W - 1
      for (let w = 0; w < this.W; w++) {
        const o = (w * M + m) * S_SIZE
        const sums = h.sums
        const n = sums[o + S_N]!
        if (n > 0) {
          const mean = sums[o + S_V]! / n
          agg[0] = mean
          agg[1] = n > 1 ? Math.sqrt(Math.max(0, (sums[o + S_VV]! - sums[o + S_V]! * mean) / (n - 1))) : 0
          const start = h.wStart[w]!
          // The deques are trimmed to the longest window: its extremes are their fronts.
          agg[2] = w === longest ? h.dq.front(2 * m) : h.dq.extremeFrom(2 * m, start)
          agg[3] = w === longest ? h.dq.front(2 * m + 1) : h.dq.extremeFrom(2 * m + 1, start)
          agg[4] = lastIdx >= start ? lastVal : Number.NaN
          // The window's slope; 0 (not missing) with one sample or no spread in time.
          const slope = slopeOf(n, sums[o + S_T]!, sums[o + S_TT]!, sums[o + S_V]!, sums[o + S_TV]!)
          agg[5] = Number.isNaN(slope) ? 0 : slope
        } else agg.fill(Number.NaN, 0, 6)
        agg[6] = n
        if (w === longest) {
          nL = n
          meanL = agg[0]!
          stdL = agg[1]!
        }
        if (this.allAggregates) {
          out[j] = agg[0]!
          out[j + 1] = agg[1]!
          out[j + 2] = agg[2]!
          out[j + 3] = agg[3]!
          out[j + 4] = agg[4]!
          out[j + 5] = agg[5]!
          out[j + 6] = n
          j += 7
        } else for (let a = 0; a < aggIdx.length; a++) out[j++] = agg[aggIdx[a]!]!
      }
      if (this.spec.ewma) {
        out[j++] = h.ewma[m]!
        // Delta over the longest window: newest minus oldest value still in it.
        let first = Number.NaN
        for (let s = h.seqStart; s < h.seqEnd && Number.isNaN(first); s++) first = h.vals[(s & h.mask) * M + m]!
        out[j++] = lastVal - first
      }
      if (this.spec.relative) {
        // A floor on the spread, so a flat-lined metric does not turn noise into huge z.
        const spread = stdL + 1e-6 * Math.max(1, Math.abs(meanL))
        for (let w = 0; w < this.W - 1; w++) {
          const o = (w * M + m) * S_SIZE
          const n = h.sums[o + S_N]!
          out[j++] = n > 0 && nL > 1 ? (h.sums[o + S_V]! / n - meanL) / spread : Number.NaN
        }
      }
      if (this.trend) out[j++] = this.trendOf(h.sums, m)
    }
    if (this.spec.hostFeatures) {
      out[j++] = sincePrev / this.tScale
      let missing = 0
      for (let m = 0; m < M; m++) {
        const v = values[m]
        if (v === undefined || v === null || Number.isNaN(v)) missing++
      }
      out[j++] = M ? missing / M : 0
    }
    if (this.B) this.sequence(h, out, j + (this.spec.peers ? 2 * this.P + 1 : 0))
    return j
  }
}
