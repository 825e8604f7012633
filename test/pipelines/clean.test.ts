import { beforeAll, describe, expect, it } from 'vitest'
import { SampleSet } from '../../src/data/dataset.js'
import { FailureTable } from '../../src/data/labels.js'
import { Rng } from '../../src/math/random.js'
import { initBackend, tf } from '../../src/model/backend.js'
import { dropUnsupportedFailures } from '../../src/pipelines/clean.js'

beforeAll(async () => {
  await initBackend()
})

/**
 * 24 hosts, one failure each at t = 1000: the even hosts show a precursor (feature 0 rises over
 * the 100 s before), the odd ones fail out of the blue. Horizon 100, lead 0, a vector per second.
 */
function fleet(precursor = (h: number) => h % 2 === 0) {
  const rng = new Rng(5)
  const failures = new FailureTable()
  const set = new SampleSet(4, 20_000, rng, 0.5)
  const v = new Float64Array(4)
  for (let h = 0; h < 24; h++) {
    const host = `h${String(h).padStart(2, '0')}`
    failures.add(host, 1000)
    for (let t = 400; t < 1000; t++) {
      const positive = t > 900
      for (let f = 0; f < 4; f++) v[f] = rng.normal()
      if (positive && precursor(h)) v[0]! += 2 + (3 * (t - 900)) / 100
      set.add(v, positive, host, t)
    }
  }
  failures.seal()
  return { set: set.seal(), failures }
}

describe('label cleaning', () => {
  it('drops the failures nothing preceded and keeps those with a precursor', async () => {
    const { set, failures } = fleet()
    const before = tf.memory().numTensors
    const { set: clean, report } = await dropUnsupportedFailures(set, failures, {
      seed: 3,
      minFailures: 20,
    })
    expect(tf.memory().numTensors).toBe(before)
    expect(report.failures).toBe(24)
    const droppedHosts = report.dropped.map((d) => d.entity).sort()
    // Every sudden failure goes, every precursor stays.
    expect(droppedHosts).toEqual(['h01', 'h03', 'h05', 'h07', 'h09', 'h11', 'h13', 'h15', 'h17', 'h19', 'h21', 'h23'])
    expect(report.kept).toBe(12)
    expect(report.positivesDropped).toBe(12 * 99)
    expect(clean.positives).toBe(set.positives - 12 * 99)
    expect(clean.negatives).toBe(set.negatives)
    // No positive of a dropped host is left; each kept row is a row of the original.
    for (let i = 0; i < clean.size; i++) {
      const host = clean.entity[i]!
      if (clean.y[i]) expect(Number(host.slice(1)) % 2).toBe(0)
    }
    expect(clean.negativeWeight).toBeCloseTo(set.negativeWeight, 9)
  })

  it('keeps every failure when there are too few to learn what is usual from', async () => {
    const { set, failures } = fleet()
    const { set: out, report } = await dropUnsupportedFailures(set, failures, { seed: 3 })
    expect(out).toBe(set)
    expect(report).toMatchObject({ failures: 24, kept: 24, dropped: [], positivesDropped: 0 })
    expect(report.skipped).toMatch(/too few training failures \(24\).*needs 40/)
  })

  it('keeps every failure when more than half look unsupported: the fit, not the failures, is suspect', async () => {
    // A precursor before one failure in four: dropping the other 18 would leave 6 to learn from.
    const { set, failures } = fleet((h) => h % 4 === 0)
    const { set: out, report } = await dropUnsupportedFailures(set, failures, { seed: 3, minFailures: 20 })
    expect(out).toBe(set)
    expect(report).toMatchObject({ failures: 24, kept: 24, dropped: [], positivesDropped: 0 })
    expect(report.skipped).toMatch(/would drop 18 of 24 training failures/)
    // Allowed to drop up to 80 %, it drops exactly the sudden ones.
    const { report: r2 } = await dropUnsupportedFailures(set, failures, { seed: 3, minFailures: 20, maxDropShare: 0.8 })
    expect(r2.dropped).toHaveLength(18)
    expect(r2.dropped.every((d) => Number(d.entity.slice(1)) % 4 !== 0)).toBe(true)
  })

  it('leaves a set it cannot cross-fit unchanged', async () => {
    const rng = new Rng(1)
    const set = new SampleSet(2, 100, rng)
    const f = new FailureTable()
    f.add('only', 100)
    f.seal()
    for (let t = 0; t < 100; t++) set.add(Float64Array.of(t, 0), t > 90, 'only', t)
    set.seal()
    const { set: out, report } = await dropUnsupportedFailures(set, f, { seed: 1, minFailures: 1 })
    expect(out).toBe(set)
    expect(report.dropped).toEqual([])
    expect(report.skipped).toMatch(/two halves/)
  })
})

describe('SampleSet.select', () => {
  it('copies the rows asked for with their labels, times and weights', () => {
    const s = new SampleSet(2, 4, new Rng(1), 0.5)
    for (let i = 0; i < 10; i++) s.add(Float64Array.of(i, -i), i % 3 === 0, `e${i}`, i * 10)
    s.seal()
    const picked = s.select([s.size - 1, 0])
    expect(picked.size).toBe(2)
    expect(Array.from(picked.x)).toEqual([s.x[(s.size - 1) * 2], s.x[(s.size - 1) * 2 + 1], s.x[0], s.x[1]])
    expect(picked.entity).toEqual([s.entity[s.size - 1], s.entity[0]])
    expect(picked.ts[0]).toBe(s.ts[s.size - 1])
    expect(picked.positiveWeight).toBeCloseTo(s.positiveWeight, 12)
    expect(picked.negativeWeight).toBeCloseTo(s.negativeWeight, 12)
    expect(() => s.select([99])).toThrow(/row 99/)
  })
})
