import { describe, expect, it } from 'vitest'
import { FeatureEngine } from '../../src/features/engine.js'
import { fitRegimes, projectRegimes, RegimeNormalizer } from '../../src/features/regimes.js'
import { createFeatureSpec } from '../../src/features/spec.js'
import { Rng } from '../../src/math/random.js'

/**
 * A fleet under three operating settings (like C-MAPSS FD002): `alt` takes 0, 10 or 25 with
 * tiny noise; `temp` and `press` sit at a level set by the regime plus noise; `wear` drifts the
 * same in every regime; `toggle` is a sensor stuck between two readings (not a setting);
 * `flow` follows the setting linearly.
 */
const LEVEL: Record<number, [number, number]> = { 0: [500, 14], 10: [460, 10], 25: [400, 7] }
const METRICS = ['alt', 'temp', 'press', 'toggle', 'wear', 'flow'] as const

function fleetRows(n: number, seed = 1): number[][] {
  const rng = new Rng(seed)
  const rows: number[][] = []
  for (let i = 0; i < n; i++) {
    const alt = [0, 10, 25][rng.int(0, 3)]!
    const [t, p] = LEVEL[alt]!
    rows.push([
      alt + 0.003 * rng.normal(),
      t + 2 * rng.normal(),
      p + 0.1 * rng.normal(),
      rng.chance(0.5) ? 0.02 : 0.03,
      rng.uniform(0, 1),
      100 + 3 * alt + rng.normal(),
    ])
  }
  return rows
}

describe('operating regimes', () => {
  it('finds the setting, one regime per value, and reads the rest relative to it', () => {
    const fit = fitRegimes(fleetRows(6000), METRICS)
    expect(fit.regimes?.by).toEqual(['alt'])
    const r = fit.regimes!
    expect(r.centers.map((c) => Math.round(c[0]!))).toEqual([0, 10, 25])
    expect(r.scale[0]).toBeCloseTo(25, 1)
    // Per regime: temp's mean is its level, its std the noise (2).
    for (const [k, alt] of [0, 10, 25].entries()) {
      expect(r.mean[k]![1]).toBeCloseTo(LEVEL[alt]![0], 0)
      expect(r.std[k]![1]).toBeGreaterThan(1.85)
      expect(r.std[k]![1]).toBeLessThan(2.15)
      expect(r.mean[k]![0]).toBe(0) // the setting itself passes as it is
      expect(r.std[k]![0]).toBe(1)
    }
    expect(fit.r2).toBeGreaterThan(0.9) // temp and press are mostly the regime
    expect(fit.constantWithin).toEqual([])
    const norm = new RegimeNormalizer(r, METRICS)
    const out = new Float64Array(6)
    norm.apply([10.001, 464, 10.2, 0.02, 0.5, 130], out)
    expect(out[0]).toBe(10.001)
    expect(out[1]).toBeCloseTo((464 - r.mean[1]![1]!) / r.std[1]![1]!, 12)
    expect(out[1]).toBeGreaterThan(1.5) // 2 σ above normal for regime 10, far below regime 0's level
    // A missing setting: nothing else can be read.
    norm.apply([Number.NaN, 464, 10.2, 0.02, 0.5, 130], out)
    expect(Number.isNaN(out[0]!)).toBe(true)
    expect([...out.slice(1)].every(Number.isNaN)).toBe(true)
    // Off-center settings go to the nearest regime.
    norm.apply([23, 400, 7, 0.02, 0.5, 175], out)
    expect(Math.abs(out[1]!)).toBeLessThan(1)
    // 23 is 8 % of the setting's range from 25: farther than any training value was from its
    // group (it would have made a group of its own), so it is counted as off the regimes; a
    // sample close to a center and one with a missing setting are not.
    expect(norm.offRegime).toBe(1)
    norm.apply([24.1, 400, 7, 0.02, 0.5, 175], out)
    expect(norm.offRegime).toBe(1)
    norm.apply([60, 400, 7, 0.02, 0.5, 280], out)
    expect(norm.offRegime).toBe(2)
    expect(Number.isFinite(out[1]!)).toBe(true) // still read, relative to the nearest (25)
  })

  it('a second setting-like column joins only when it explains more, never a toggling sensor', () => {
    // `toggle` takes two tight values on half the rows each: setting-like, but it explains nothing.
    const fit = fitRegimes(fleetRows(6000), METRICS)
    expect(fit.regimes!.by).not.toContain('toggle')
    expect(fit.regimes!.centers).toHaveLength(3)
    // A sensor that only echoes the setting is dropped as constant within each regime.
    const echo = fleetRows(3000).map((r) => [...r, Math.round(r[0]!) * 2])
    const fit2 = fitRegimes(echo, [...METRICS, 'echo'])
    expect(fit2.regimes!.centers).toHaveLength(3)
    expect(fit2.regimes!.by).toHaveLength(1)
    expect(fit2.constantWithin).toEqual(fit2.regimes!.by[0] === 'echo' ? ['alt'] : ['echo'])
  })

  it('finds none in continuous metrics, in rare counter values, or where settings explain little', () => {
    const rng = new Rng(3)
    const cont = Array.from({ length: 4000 }, () => [rng.normal(), rng.uniform(0, 100), rng.normal() * 5])
    expect(fitRegimes(cont, ['a', 'b', 'c']).regimes).toBeUndefined()
    expect(fitRegimes(cont, ['a', 'b', 'c']).reason).toMatch(/no column takes a few separate values/)
    // An error counter: mostly 0, values 1–5 on well under 1 % of the rows each.
    const counter = cont.map((r, i) => [...r, i % 400 === 0 ? 1 + (i % 5) : 0])
    expect(fitRegimes(counter, ['a', 'b', 'c', 'err']).regimes).toBeUndefined()
    // A two-valued column that the other metrics ignore.
    const flag = cont.map((r, i) => [...r, i % 2])
    const f = fitRegimes(flag, ['a', 'b', 'c', 'flag'])
    expect(f.regimes).toBeUndefined()
    expect(f.reason).toMatch(/explain only \d+ %/)
    // Asked for by name, it is used anyway.
    expect(fitRegimes(flag, ['a', 'b', 'c', 'flag'], ['flag']).regimes?.centers).toHaveLength(2)
    expect(() => fitRegimes(flag, ['a', 'b', 'c', 'flag'], ['b'])).toThrow(/"b" does not take a few separate values/)
    expect(() => fitRegimes(flag, ['a', 'b', 'c', 'flag'], ['zz'])).toThrow(/"zz" is not among the metrics/)
  })

  it('the engine reads regime-relative values: same vectors as an engine fed the transformed values', () => {
    const rows = fleetRows(4000, 7)
    const fit = fitRegimes(rows, METRICS)
    const kept = METRICS.filter((m) => m !== 'toggle')
    const regimes = projectRegimes(fit.regimes!, METRICS, kept)
    const base = { metrics: kept, horizon: 30, timeUnit: 'step' as const }
    const withR = new FeatureEngine(createFeatureSpec({ ...base, regimes }))
    const plain = new FeatureEngine(createFeatureSpec(base))
    const norm = new RegimeNormalizer(regimes, kept)
    const a = new Float64Array(withR.size)
    const b = new Float64Array(plain.size)
    const x = new Float64Array(kept.length)
    let emitted = 0
    for (let i = 0; i < 400; i++) {
      const host = `h${i % 4}`
      const r = rows[i]!
      const v = [r[0]!, r[1]!, r[2]!, r[4]!, r[5]!]
      norm.apply(v, x)
      const oa = withR.push(host, i, v, a)
      const ob = plain.push(host, i, x, b)
      expect(oa).toBe(ob)
      if (oa !== 'emitted') continue
      emitted++
      for (let j = 0; j < a.length; j++) expect(Object.is(a[j], b[j]) || a[j] === b[j]).toBe(true)
    }
    expect(emitted).toBeGreaterThan(380)
    // And the feature means move far less across regimes than the raw ones would.
    expect(Math.abs(x[1]!)).toBeLessThan(6)
  })
})
