import { describe, expect, it } from 'vitest'
import { FailureTable, Label, LifeTracker } from '../../src/data/labels.js'

describe('labels', () => {
  const t = new FailureTable()
  t.add('h1', 1000)
  t.add('h1', 5000)
  t.add('h2', 300)
  t.seal()
  const H = 100
  const L = 10

  it('positive when t + lead < f ≤ t + horizon', () => {
    expect(t.label('h1', 900, H, L)).toBe(Label.positive) // f − t = 100 = horizon
    expect(t.label('h1', 989, H, L)).toBe(Label.positive) // f − t = 11 > lead
    expect(t.label('h1', 899, H, L)).toBe(Label.negative) // 101 > horizon
  })

  it('drops vectors within lead of the failure, and the failure instant itself', () => {
    expect(t.label('h1', 990, H, L)).toBe(Label.drop) // f − t = lead
    expect(t.label('h1', 1000, H, L)).toBe(Label.drop) // t = f
  })

  it('looks at the next failure after one has passed; unknown hosts are negative', () => {
    expect(t.label('h1', 1001, H, L)).toBe(Label.negative)
    expect(t.label('h1', 4950, H, L)).toBe(Label.positive)
    expect(t.label('h1', 6000, H, L)).toBe(Label.negative)
    expect(t.label('nobody', 1, H, L)).toBe(Label.negative)
  })

  it('finds an entity’s next failure at or after a time', () => {
    expect(t.next('h1', 0)).toBe(1000)
    expect(t.next('h1', 1000)).toBe(1000)
    expect(t.next('h1', 1001)).toBe(5000)
    expect(t.next('h1', 5001)).toBeUndefined()
    expect(t.next('nobody', 0)).toBeUndefined()
  })

  it('says when an entity starts a new life (first row after each failure)', () => {
    const life = new LifeTracker(t)
    expect([900, 1000, 1010, 1020, 4000, 5000, 5001].map((ts) => life.crossed('h1', ts))).toEqual([
      false,
      false,
      true,
      false,
      false,
      false,
      true,
    ])
    expect(life.crossed('h3', 10)).toBe(false)
  })
})

describe('SampleSet (bounded memory)', async () => {
  const { SampleSet } = await import('../../src/data/dataset.js')
  const { Rng } = await import('../../src/math/random.js')
  it('keeps at most its capacity, all positives while they fit, and weights what it dropped', () => {
    const s = new SampleSet(2, 100, new Rng(1), 0.3)
    const v = new Float64Array(2)
    for (let i = 0; i < 10_000; i++) {
      v[0] = i
      v[1] = i % 7 === 0 ? 1 : 0
      s.add(v, i % 7 === 0 && i < 200, `h${i % 5}`, i)
    }
    s.seal()
    expect(s.size).toBe(s.positives + s.negatives)
    expect(s.positives).toBe(29) // i % 7 === 0 and i < 200: all fit in 30 slots
    expect(s.negatives).toBe(70)
    expect(s.positiveWeight).toBe(1)
    expect(s.negativeWeight).toBeCloseTo((10_000 - 29) / 70, 9)
    // Rows are packed: positives first, then negatives, labels beside their features.
    for (let i = 0; i < s.size; i++) expect(s.y[i]).toBe(i < 29 ? 1 : 0)
    for (let i = 0; i < 29; i++) expect(s.x[i * 2]! % 7).toBe(0)
    const w = s.weights()
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(10_000, 2) // float32 weights
    expect(s.entity).toHaveLength(s.size)
  })
})

describe('bounded evaluation memory', async () => {
  const { entitySampler } = await import('../../src/pipelines/train.js')
  it('keeps every entity while the rows fit, else a stable share of whole entities', () => {
    expect(Array.from({ length: 100 }, (_, i) => entitySampler(1000, 900, 1)(`h${i}`)).every(Boolean)).toBe(true)
    const keep = entitySampler(1000, 4000, 1)
    const kept = Array.from({ length: 2000 }, (_, i) => keep(`host-${i}`)).filter(Boolean).length
    expect(kept).toBeGreaterThan(400)
    expect(kept).toBeLessThan(600)
    expect(keep('host-7')).toBe(entitySampler(1000, 4000, 1)('host-7'))
  })

  it("train's evaluation keeps validation whole while it fits, sampling test from what is left (never below a quarter of the budget)", async () => {
    const { evalSampler } = await import('../../src/pipelines/train.js')
    const plan = { train: 0.6, val: 0.2 }
    const share = (keep: ReturnType<typeof evalSampler>, split: 'val' | 'test') =>
      Array.from({ length: 4000 }, (_, i) => keep(`host-${i}`, split)).filter(Boolean).length / 4000
    // 10 000 rows: 2 000 validation, 2 000 test. A cap of 3 000 keeps validation whole, half of test.
    const some = evalSampler(3000, 10_000, plan, 1)
    expect(some.fractions).toEqual({ val: 1, test: 0.5 })
    expect(share(some, 'val')).toBe(1)
    expect(share(some, 'test')).toBeGreaterThan(0.45)
    expect(share(some, 'test')).toBeLessThan(0.55)
    // A cap below validation's rows samples both, test keeping a quarter of the budget.
    const tight = evalSampler(1000, 10_000, plan, 1)
    expect(tight.fractions).toEqual({ val: 0.375, test: 0.125 })
    expect(share(tight, 'val')).toBeGreaterThan(0.33)
    expect(share(tight, 'val')).toBeLessThan(0.42)
    expect(share(tight, 'test')).toBeGreaterThan(0.1)
    expect(share(tight, 'test')).toBeLessThan(0.15)
    // Everything fits: everything kept.
    expect(evalSampler(5000, 10_000, plan, 1).fractions).toEqual({ val: 1, test: 1 })
  })
})
