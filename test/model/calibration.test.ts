import { describe, expect, it } from 'vitest'
import { calibrate, fitPlatt } from '../../src/model/mlp.js'

describe('Platt calibration', () => {
  it('stays finite on separable data and maps to probabilities near the smoothed targets', () => {
    const raw = [...Array(50).fill(0.001), ...Array(50).fill(0.999)]
    const y = [...Array(50).fill(0), ...Array(50).fill(1)]
    const c = fitPlatt(raw, y, Array(100).fill(1))
    expect(Number.isFinite(c.a) && Number.isFinite(c.b)).toBe(true)
    expect(calibrate(0.999, c)).toBeGreaterThan(0.95)
    expect(calibrate(0.001, c)).toBeLessThan(0.05)
  })

  it('recovers the base rate when the raw score says nothing', () => {
    const raw = Array(400).fill(0.5)
    const y = Array.from({ length: 400 }, (_, i) => (i % 4 === 0 ? 1 : 0))
    const c = fitPlatt(raw, y, Array(400).fill(1))
    expect(calibrate(0.5, c)).toBeCloseTo(0.25, 2)
  })

  it('honours weights: a kept negative standing for 3 lowers the probability', () => {
    const raw = [0.3, 0.3, 0.7, 0.7]
    const y = [0, 1, 0, 1]
    const even = fitPlatt(raw, y, [1, 1, 1, 1])
    const heavy = fitPlatt(raw, y, [3, 1, 3, 1])
    expect(calibrate(0.7, heavy)).toBeLessThan(calibrate(0.7, even))
  })
})
