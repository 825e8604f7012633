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
