import { describe, expect, it } from 'vitest'
import { FeatureEngine } from '../../src/features/engine.js'
import { PeerAccumulator, type PeerSpecV1, PeerTable, peerBucketOf } from '../../src/features/peers.js'
import { createFeatureSpec, featureNames } from '../../src/features/spec.js'
import { Rng } from '../../src/math/random.js'

const MIN = 60_000
const T0 = Date.UTC(2026, 10, 1)
const LATENESS = 60_000

interface Sample {
  host: string
  group: string
  ts: number
  values: number[]
}

/** 12 hosts in 3 groups, 10 s apart with jitter, some out of order (a few beyond the lateness), some values missing. */
function fleet(seed: number, steps = 240): Sample[] {
  const r = new Rng(seed)
  const out: Sample[] = []
  for (let s = 0; s < steps; s++)
    for (let h = 0; h < 12; h++) {
      const ts = T0 + s * 10_000 + Math.round(r.uniform(-1500, 1500))
      const values = [r.uniform(0, 1) + (h % 3), r.chance(0.05) ? Number.NaN : r.uniform(10, 20)]
      out.push({ host: `h${h}`, group: `g${h % 3}`, ts, values })
    }
  // Out-of-order delivery: some samples swapped with one 30 s (within lateness) or 3 min (beyond) later.
  for (let i = 0; i + 200 < out.length; i += 97) {
    const j = i + (i % 2 ? 36 : 216)
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

const spec: PeerSpecV1 = { by: 'service', bucketMs: MIN, graceMs: MIN, metrics: ['a', 'b'], minPeers: 3 }

function buildTable(samples: Sample[]): PeerTable {
  const acc = new PeerAccumulator(spec, LATENESS)
  const table = new PeerTable(spec)
  for (const s of samples) {
    if (acc.add(s.host, s.group, s.ts, s.values) === undefined) continue
    acc.takeFinal(s.host, (b, g, means) => table.add('csv', b, s.host, g, means))
  }
  acc.takeAll((host, b, g, means) => table.add('csv', b, host, g, means))
  return table
}

/** The same statistics computed the slow, obvious way. */
function bruteForce(samples: Sample[]) {
  const newest = new Map<string, number>()
  const sums = new Map<string, { group: string; sum: number[]; n: number[] }>()
  for (const s of samples) {
    const nw = newest.get(s.host) ?? Number.NEGATIVE_INFINITY
    if (s.ts < nw - LATENESS) continue
    newest.set(s.host, Math.max(nw, s.ts))
    const key = `${s.host}|${Math.floor(s.ts / MIN)}`
    const e = sums.get(key) ?? { group: s.group, sum: [0, 0], n: [0, 0] }
    s.values.forEach((v, m) => {
      if (!Number.isNaN(v)) {
        e.sum[m]! += v
        e.n[m]! += 1
      }
    })
    sums.set(key, e)
  }
  const byGroup = new Map<string, number[][]>()
  const own = new Map<string, number[]>()
  for (const [key, e] of sums) {
    const [host, b] = key.split('|')
    const means = e.sum.map((x, m) => (e.n[m]! ? Math.fround(x / e.n[m]!) : Number.NaN))
    own.set(`${host}|${b}`, means)
    const gk = `${e.group}|${b}`
    byGroup.set(gk, [...(byGroup.get(gk) ?? []), means])
  }
  const median = (xs: number[]) => {
    const v = [...xs].sort((a, b) => a - b)
    const k = v.length >> 1
    return v.length % 2 ? v[k]! : (v[k - 1]! + v[k]!) / 2
  }
  const stats = new Map<string, { count: number; median: number[]; spread: number[] }>()
  for (const [gk, rows] of byGroup) {
    const med = [0, 1].map((m) => median(rows.map((r) => r[m]!).filter((x) => !Number.isNaN(x))))
    const spread = [0, 1].map(
      (m) => 1.4826 * median(rows.map((r) => Math.abs(r[m]! - med[m]!)).filter((x) => !Number.isNaN(x))),
    )
    stats.set(gk, { count: rows.length, median: med, spread })
  }
  return { stats, own }
}

describe('peer table', () => {
  it('equals a direct recomputation of every (group, bucket): counting rule, float32 means, median and MAD', () => {
    const samples = fleet(3)
    const table = buildTable(samples)
    const want = bruteForce(samples)
    let checked = 0
    for (const [gk, w] of want.stats) {
      const [g, b] = gk.split('|')
      const got = table.stats(g!, Number(b))
      if (w.count < 3) {
        expect(got).toBeUndefined()
        continue
      }
      expect(got!.count).toBe(w.count)
      for (let m = 0; m < 2; m++) {
        expect(got!.median[m]).toBeCloseTo(w.median[m]!, 12)
        expect(got!.spread[m]).toBeCloseTo(w.spread[m]!, 12)
      }
      for (let h = 0; h < 12; h++) {
        const o = want.own.get(`h${h}|${b}`)
        const mine = got!.own(`h${h}`)
        if (!o || `g${h % 3}` !== g) continue
        expect(Array.from(mine!)).toEqual(o)
      }
      checked++
    }
    expect(checked).toBeGreaterThan(100)
  })

  it('does not depend on how hosts interleave (time order, or one host after another)', () => {
    const samples = fleet(5)
    const byHost = [...samples].sort((a, b) => a.host.localeCompare(b.host))
    const a = buildTable(samples)
    const b = buildTable(byHost)
    for (let bucket = Math.floor(T0 / MIN); bucket < Math.floor(T0 / MIN) + 40; bucket++)
      for (const g of ['g0', 'g1', 'g2']) {
        const x = a.stats(g, bucket)
        const y = b.stats(g, bucket)
        expect(x?.count).toBe(y?.count)
        if (x) expect(Array.from(x.median)).toEqual(Array.from(y!.median))
      }
  })

  it('reads a bucket that ended lateness + grace + one bucket before the vector', () => {
    const t = T0 + 10 * MIN + 5_000
    // 10:05 − 1 min lateness − 1 min grace = 08:05 → bucket 8, minus 2 → bucket 6 (ends 7:00, ≥ 3 min before t).
    expect(peerBucketOf(t, LATENESS, spec)).toBe(Math.floor(T0 / MIN) + 6)
  })
})

describe('peer features in the engine', () => {
  const featureSpec = createFeatureSpec({
    metrics: ['a', 'b'],
    horizon: 30 * MIN,
    timeUnit: 'ms',
    windows: [5 * MIN, 15 * MIN],
    peers: { by: 'service' },
  })
  const names = featureNames(featureSpec)

  function run(shift: (host: number, step: number) => number) {
    const samples: Sample[] = []
    for (let s = 0; s < 180; s++)
      for (let h = 0; h < 8; h++)
        samples.push({ host: `h${h}`, group: 'web', ts: T0 + s * 10_000 + h, values: [1 + 0.01 * h + shift(h, s), 5] })
    const table = buildTable(samples)
    const engine = new FeatureEngine(featureSpec, table)
    const out = new Float64Array(engine.size)
    const last = new Map<string, Float64Array>()
    for (const s of samples)
      if (engine.push(s.host, s.ts, s.values, out, s.group) === 'emitted') last.set(s.host, Float64Array.from(out))
    return last
  }

  it('names its features after the host features', () => {
    expect(names.slice(-5)).toEqual(['a.peer.dev', 'a.peer.z', 'b.peer.dev', 'b.peer.z', 'peer.count'])
    expect(names.length).toBe(new FeatureEngine(featureSpec).size)
  })

  it('a host that rises alone deviates from its peers; a whole service that rises does not', () => {
    const dev = names.indexOf('a.peer.dev')
    const z = names.indexOf('a.peer.z')
    const count = names.indexOf('peer.count')
    const alone = run((h, s) => (h === 2 && s > 60 ? 3 : 0))
    // Its 4.02 against the median of 1.00, 1.01, 1.03 … 1.07, 4.02: (1.04 + 1.05) / 2.
    expect(alone.get('h2')![dev]).toBeCloseTo(4.02 - 1.045, 5)
    expect(alone.get('h2')![z]).toBeGreaterThan(50)
    expect(Math.abs(alone.get('h5')![dev]!)).toBeLessThan(0.05)
    expect(alone.get('h2')![count]).toBe(8)
    const all = run((_, s) => (s > 60 ? 3 : 0))
    expect(Math.abs(all.get('h2')![dev]!)).toBeLessThan(0.05)
  })

  it('is missing without a group, or without a table', () => {
    const dev = names.indexOf('a.peer.dev')
    const engine = new FeatureEngine(featureSpec)
    const out = new Float64Array(engine.size)
    for (let s = 0; s < 40; s++) engine.push('h0', T0 + s * 10_000, [1, 2], out, 'web')
    expect(out[dev]).toBeNaN()
    expect(out[names.indexOf('peer.count')]).toBeNaN()
    // The rest of the vector is as without peers.
    const plain = new FeatureEngine(
      createFeatureSpec({ metrics: ['a', 'b'], horizon: 30 * MIN, timeUnit: 'ms', windows: [5 * MIN, 15 * MIN] }),
    )
    const o2 = new Float64Array(plain.size)
    for (let s = 0; s < 40; s++) plain.push('h0', T0 + s * 10_000, [1, 2], o2)
    expect(Array.from(out.subarray(0, plain.size))).toEqual(Array.from(o2))
  })
})
