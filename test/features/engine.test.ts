import { describe, expect, it } from 'vitest'
import { FeatureEngine } from '../../src/features/engine.js'
import { createFeatureSpec, type FeatureSpecV1, featureNames } from '../../src/features/spec.js'
import { Rng } from '../../src/math/random.js'

/**
 * The engine against a direct recomputation: for every emitted vector, recompute every
 * aggregate from the accepted samples in each window, the slow and obvious way.
 */
interface Sample {
  ts: number
  values: number[]
}

function reference(spec: FeatureSpecV1, accepted: Sample[], ewma: number[], sincePrev: number, current: number[]) {
  const newest = Math.max(...accepted.map((s) => s.ts))
  const scale = spec.timeUnit === 'step' ? 1 : 1000
  const out: number[] = []
  spec.metrics.forEach((_, m) => {
    for (const w of spec.windows) {
      const inWin = accepted.filter((s) => s.ts > newest - w && s.ts <= newest)
      const pts = inWin.filter((s) => !Number.isNaN(s.values[m]!)).map((s) => ({ t: s.ts / scale, v: s.values[m]! }))
      const n = pts.length
      const agg: Record<string, number> = { count: n }
      if (n === 0) Object.assign(agg, { mean: NaN, std: NaN, min: NaN, max: NaN, last: NaN, slope: NaN })
      else {
        const mean = pts.reduce((a, p) => a + p.v, 0) / n
        agg.mean = mean
        agg.std = n > 1 ? Math.sqrt(pts.reduce((a, p) => a + (p.v - mean) ** 2, 0) / (n - 1)) : 0
        agg.min = Math.min(...pts.map((p) => p.v))
        agg.max = Math.max(...pts.map((p) => p.v))
        agg.last = pts.at(-1)!.v
        const tm = pts.reduce((a, p) => a + p.t, 0) / n
        const sxx = pts.reduce((a, p) => a + (p.t - tm) ** 2, 0)
        agg.slope = n > 1 && sxx > 1e-12 ? pts.reduce((a, p) => a + (p.t - tm) * (p.v - mean), 0) / sxx : 0
      }
      for (const a of spec.aggregates) out.push(agg[a]!)
    }
    const longest = accepted.filter((s) => s.ts > newest - spec.windows.at(-1)! && !Number.isNaN(s.values[m]!))
    out.push(ewma[m]!, longest.length ? longest.at(-1)!.values[m]! - longest[0]!.values[m]! : NaN)
    if (spec.relative) {
      const xs = longest.map((s) => s.values[m]!)
      const meanL = xs.reduce((a, b) => a + b, 0) / xs.length
      const stdL = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - meanL) ** 2, 0) / (xs.length - 1)) : NaN
      for (const w of spec.windows.slice(0, -1)) {
        const ys = accepted.filter((s) => s.ts > newest - w && !Number.isNaN(s.values[m]!)).map((s) => s.values[m]!)
        const mean = ys.reduce((a, b) => a + b, 0) / ys.length
        out.push(ys.length && xs.length > 1 ? (mean - meanL) / (stdL + 1e-6 * Math.max(1, Math.abs(meanL))) : NaN)
      }
    }
    if (spec.trend) {
      // Least squares over (newest − S, newest] minus over (newest − L, newest − S].
      const [S, L] = spec.windows.slice(-2) as [number, number]
      const slope = (lo: number, hi: number) => {
        const pts = accepted
          .filter((s) => s.ts > lo && s.ts <= hi && !Number.isNaN(s.values[m]!))
          .map((s) => ({ t: s.ts / scale, v: s.values[m]! }))
        const n = pts.length
        if (n < 2) return NaN
        const tm = pts.reduce((a, p) => a + p.t, 0) / n
        const vm = pts.reduce((a, p) => a + p.v, 0) / n
        const sxx = pts.reduce((a, p) => a + (p.t - tm) ** 2, 0)
        return sxx > 1e-12 ? pts.reduce((a, p) => a + (p.t - tm) * (p.v - vm), 0) / sxx : NaN
      }
      out.push(slope(newest - S, newest) - slope(newest - L, newest - S))
    }
  })
  out.push(sincePrev / scale, current.filter((v) => Number.isNaN(v)).length / spec.metrics.length)
  return out
}

function close(a: number, b: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b)
  return Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b))
}

function randomStream(seed: number, n: number, opts: { lateRate: number; gapRate: number; missingRate: number }) {
  const r = new Rng(seed)
  const out: { host: string; ts: number; values: number[] }[] = []
  const clocks = new Map<string, number>()
  for (let i = 0; i < n; i++) {
    const host = `h${r.int(0, 3)}`
    let t = (clocks.get(host) ?? 1_700_000_000_000) + r.uniform(5000, 15_000)
    if (r.chance(opts.gapRate)) t += r.uniform(60_000, 1_800_000)
    clocks.set(host, t)
    let ts = Math.round(t)
    if (r.chance(opts.lateRate)) ts -= Math.round(r.uniform(1000, 120_000)) // some within lateness, some beyond
    const values = [0, 1, 2].map((m) =>
      r.chance(opts.missingRate)
        ? Number.NaN
        : m === 0
          ? 1000 + r.normal() * 5
          : m === 1
            ? r.next()
            : 1e-3 * r.normal(),
    )
    out.push({ host, ts, values })
  }
  return out
}

describe('feature engine', () => {
  const spec = createFeatureSpec({
    metrics: ['fan_rpm', 'cpu', 'tiny'],
    horizon: 1_800_000,
    timeUnit: 'ms',
    windows: [60_000, 300_000, 1_800_000],
    minHistory: 2,
    lateness: 60_000,
  })

  it('names every feature, in vector order', () => {
    const names = featureNames(spec)
    expect(names).toHaveLength(new FeatureEngine(spec).size)
    expect(names.slice(0, 8)).toEqual([
      'fan_rpm.mean.1m',
      'fan_rpm.std.1m',
      'fan_rpm.min.1m',
      'fan_rpm.max.1m',
      'fan_rpm.last.1m',
      'fan_rpm.slope.1m',
      'fan_rpm.count.1m',
      'fan_rpm.mean.5m',
    ])
    expect(names.slice(-6)).toEqual([
      'tiny.ewma',
      'tiny.delta',
      'tiny.z.1m',
      'tiny.z.5m',
      'host.since_prev',
      'host.missing_frac',
    ])
  })

  const specDefault = spec
  const withTrend = { ...spec, trend: true }
  for (const [label, opts, spec] of [
    ['in order, no gaps', { lateRate: 0, gapRate: 0, missingRate: 0 }, specDefault],
    ['out of order, gaps and missing values', { lateRate: 0.05, gapRate: 0.02, missingRate: 0.05 }, specDefault],
    [
      'with trend features, out of order, gaps, missing',
      { lateRate: 0.05, gapRate: 0.02, missingRate: 0.05 },
      withTrend,
    ],
  ] as const)
    it(`matches a direct recomputation on random streams (${label})`, () => {
      for (const seed of [1, 2, 3]) {
        const engine = new FeatureEngine(spec)
        const out = new Float64Array(engine.size)
        const accepted = new Map<string, Sample[]>()
        const ewma = new Map<string, { v: number[]; t: number[] }>()
        const newest = new Map<string, number>()
        let emitted = 0
        let late = 0
        for (const s of randomStream(seed, 3000, opts)) {
          const res = engine.push(s.host, s.ts, s.values, out)
          const prev = newest.get(s.host)
          if (prev !== undefined && s.ts < prev - spec.lateness) {
            expect(res).toBe('late')
            late++
            continue
          }
          const list = accepted.get(s.host) ?? []
          list.push({ ts: s.ts, values: s.values })
          list.sort((a, b) => a.ts - b.ts)
          accepted.set(s.host, list)
          const e = ewma.get(s.host) ?? { v: [NaN, NaN, NaN], t: [0, 0, 0] }
          ewma.set(s.host, e)
          if (prev === undefined || s.ts >= prev) {
            s.values.forEach((v, m) => {
              if (Number.isNaN(v)) return
              if (Number.isNaN(e.v[m]!)) e.v[m] = v
              else e.v[m] = e.v[m]! + (1 - Math.exp(-(s.ts - e.t[m]!) / 1_800_000)) * (v - e.v[m]!)
              e.t[m] = s.ts
            })
            newest.set(s.host, s.ts)
          }
          if (list.length < spec.minHistory) {
            expect(res).toBe('warming')
            continue
          }
          expect(res).toBe('emitted')
          emitted++
          const want = reference(spec, list, e.v, prev === undefined ? 0 : Math.max(0, s.ts - prev), s.values)
          const names = featureNames(spec)
          for (let i = 0; i < want.length; i++)
            if (!close(out[i]!, want[i]!))
              expect.fail(`seed ${seed}, ${s.host} @${s.ts}: ${names[i]} = ${out[i]}, direct recomputation ${want[i]}`)
        }
        expect(emitted).toBeGreaterThan(2500)
        if (opts.lateRate > 0) expect(late).toBeGreaterThan(0)
      }
    })

  it('trend: ≈ 0 while a metric keeps rising at one rate, negative once it levels off, NaN without an older part', () => {
    const ts = createFeatureSpec({
      metrics: ['mem'],
      horizon: 3_600_000,
      timeUnit: 'ms',
      windows: [600_000, 1_800_000, 7_200_000],
      trend: true,
    })
    const names = featureNames(ts)
    expect(names.filter((n) => n.endsWith('.trend'))).toEqual(['mem.trend'])
    const at = names.indexOf('mem.trend')
    expect(at).toBe(names.indexOf('mem.z.30m') + 1)
    const run = (value: (minute: number) => number) => {
      const e = new FeatureEngine(ts)
      const out = new Float64Array(e.size)
      const seen: number[] = []
      for (let i = 0; i <= 120; i++) {
        e.push('h', 1_700_000_000_000 + i * 60_000, [value(i)], out)
        seen.push(out[at]!)
      }
      return seen
    }
    const leak = run((i) => 0.3 + 0.004 * i)
    const warmup = run((i) => 0.3 + 0.004 * Math.min(i, 60))
    // Under 30 min of history there is no older part.
    expect(Number.isNaN(leak[20]!)).toBe(true)
    expect(Math.abs(leak[120]!)).toBeLessThan(1e-9)
    // Levelled off for the last hour: the recent 30 min are flat, the older 90 min rose 0.004/min.
    expect(warmup[120]!).toBeLessThan(0)
    // Least squares over minutes 1–90 of 0.3 + 0.004·min(i, 60), per second (worked by hand):
    // 4.888943765e-5; the recent half's slope is 0.
    expect(warmup[120]!).toBeCloseTo(-4.888943765e-5, 12)
  })

  it('sequence block: bucket means and deviations match a direct recomputation (out of order, gaps, missing)', () => {
    const seq = createFeatureSpec({
      metrics: ['fan_rpm', 'cpu', 'tiny'],
      horizon: 1_800_000,
      timeUnit: 'ms',
      windows: [60_000, 1_800_000],
      minHistory: 2,
      lateness: 60_000,
      sequence: 6,
    })
    expect(seq).toMatchObject({ windows: [1_800_000], aggregates: [], sequence: 6, hostFeatures: false })
    const names = featureNames(seq)
    const engine = new FeatureEngine(seq)
    expect(names).toHaveLength(engine.size)
    expect(names.slice(0, 6)).toEqual([
      'fan_rpm.seq.now-5',
      'cpu.seq.now-5',
      'tiny.seq.now-5',
      'fan_rpm.seqdev.now-5',
      'cpu.seqdev.now-5',
      'tiny.seqdev.now-5',
    ])
    expect(names.at(-1)).toBe('tiny.seqdev.now')
    const bw = 300_000
    const out = new Float64Array(engine.size)
    const accepted = new Map<string, Sample[]>()
    let checked = 0
    for (const s of randomStream(4, 3000, { lateRate: 0.05, gapRate: 0.02, missingRate: 0.05 })) {
      const res = engine.push(s.host, s.ts, s.values, out)
      if (res === 'late') continue
      const list = accepted.get(s.host) ?? []
      list.push({ ts: s.ts, values: s.values })
      accepted.set(s.host, list)
      if (res !== 'emitted') continue
      const now = Math.floor(Math.max(...list.map((x) => x.ts)) / bw)
      for (let m = 0; m < 3; m++) {
        const means = Array.from({ length: 6 }, (_, i) => {
          const xs = list
            .filter((x) => Math.floor(x.ts / bw) === now - 5 + i && !Number.isNaN(x.values[m]!))
            .map((x) => x.values[m]!)
          return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN
        })
        const present = means.filter((v) => !Number.isNaN(v))
        const avg = present.reduce((a, b) => a + b, 0) / present.length
        for (let i = 0; i < 6; i++) {
          if (!close(out[i * 6 + m]!, means[i]!))
            expect.fail(`${s.host} @${s.ts}: ${names[i * 6 + m]} = ${out[i * 6 + m]}, want ${means[i]}`)
          if (!close(out[i * 6 + 3 + m]!, means[i]! - avg))
            expect.fail(`${s.host} @${s.ts}: ${names[i * 6 + 3 + m]} = ${out[i * 6 + 3 + m]}, want ${means[i]! - avg}`)
        }
      }
      checked++
    }
    expect(checked).toBeGreaterThan(2500)
  })

  it('matches the recomputation with a subset of aggregates in another order', () => {
    const sub = { ...spec, aggregates: ['slope', 'max', 'mean'] as FeatureSpecV1['aggregates'] }
    const engine = new FeatureEngine(sub)
    const out = new Float64Array(engine.size)
    const accepted: Sample[] = []
    const ewma = [NaN, NaN, NaN]
    const ewmaT = [0, 0, 0]
    let prev: number | undefined
    for (const s of randomStream(9, 400, { lateRate: 0, gapRate: 0.01, missingRate: 0.02 }).filter(
      (x) => x.host === 'h0',
    )) {
      const res = engine.push('h0', s.ts, s.values, out)
      accepted.push({ ts: s.ts, values: s.values })
      s.values.forEach((v, m) => {
        if (Number.isNaN(v)) return
        ewma[m] = Number.isNaN(ewma[m]!)
          ? v
          : ewma[m]! + (1 - Math.exp(-(s.ts - ewmaT[m]!) / 1_800_000)) * (v - ewma[m]!)
        ewmaT[m] = s.ts
      })
      if (res === 'emitted') {
        const want = reference(sub, accepted, ewma, prev === undefined ? 0 : s.ts - prev, s.values)
        want.forEach((w, i) => {
          expect(close(out[i]!, w), `${featureNames(sub)[i]}`).toBe(true)
        })
      }
      prev = s.ts
    }
  })

  it('starts a new life after reset, and honours minHistory and stride', () => {
    const s2 = { ...spec, minHistory: 3, stride: 2 }
    const engine = new FeatureEngine(s2)
    const out = new Float64Array(engine.size)
    const results = Array.from({ length: 7 }, (_, i) => engine.push('h', i * 10_000, [1, 2, 3], out))
    expect(results).toEqual(['warming', 'warming', 'emitted', 'warming', 'emitted', 'warming', 'emitted'])
    engine.reset('h')
    expect(engine.push('h', 100_000, [1, 2, 3], out)).toBe('warming')
    expect(engine.newest('h')).toBe(100_000)
  })

  it('works on step data (cycles) with slopes per step', () => {
    const s = createFeatureSpec({ metrics: ['x'], horizon: 30, timeUnit: 'step', windows: [5, 10], minHistory: 1 })
    const engine = new FeatureEngine(s)
    const out = new Float64Array(engine.size)
    for (let c = 1; c <= 12; c++) engine.push('u1', c, [2 * c + 1], out)
    const names = featureNames(s)
    const get = (n: string) => out[names.indexOf(n)]
    expect(get('x.slope.5')).toBeCloseTo(2, 12)
    expect(get('x.count.5')).toBe(5)
    expect(get('x.mean.10')).toBeCloseTo(2 * 7.5 + 1, 12)
    expect(get('x.delta')).toBe(25 - 7)
    expect(get('host.since_prev')).toBe(1)
  })
})
