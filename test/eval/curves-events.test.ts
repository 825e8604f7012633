import { describe, expect, it } from 'vitest'
import { bestF1, curves, thresholdForPrecision } from '../../src/eval/curves.js'
import { EventIndex } from '../../src/eval/events.js'

describe('curves', () => {
  it('perfect ranking: PR-AUC 1 and ROC-AUC 1; reversed: ROC-AUC 0', () => {
    expect(curves([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0])).toMatchObject({ prAuc: 1, rocAuc: 1 })
    expect(curves([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0]).rocAuc).toBe(0)
  })

  it('a hand-checked mixed case, with weights', () => {
    // Ranked: 1 0 1 0 → AP = (1/2)·1 + (1/2)·(2/3) = 0.8333; ROC-AUC = 0.75.
    const c = curves([0.9, 0.7, 0.5, 0.3], [1, 0, 1, 0])
    expect(c.prAuc).toBeCloseTo(5 / 6, 12)
    expect(c.rocAuc).toBeCloseTo(0.75, 12)
    // A negative that stands for 3: precision at 0.7 is 1/(1+3).
    const w = curves([0.9, 0.7, 0.5], [1, 0, 1], [1, 3, 1])
    expect(w.points[1]!.precision).toBeCloseTo(0.25, 12)
    expect(thresholdForPrecision(c, 0.9)!.threshold).toBe(0.9)
    expect(bestF1(c).threshold).toBe(0.5)
  })
})

describe('event metrics', () => {
  // Host 0 fails at 100; host 1 never; horizon 30, lead 5; one point a step.
  const pts = [
    ...Array.from({ length: 100 }, (_, t) => ({ host: 0, ts: t, score: t >= 80 ? 0.9 : t === 20 ? 0.95 : 0.1 })),
    ...Array.from({ length: 100 }, (_, t) => ({ host: 1, ts: t, score: t === 50 || t === 51 || t === 90 ? 0.9 : 0.1 })),
  ]
  const idx = new EventIndex(pts, [{ host: 0, ts: 100 }], { horizon: 30, lead: 5, dayLength: 10 })

  it('counts detection, lead time, precision and false-alarm episodes by hand', () => {
    const m = idx.evaluate(0.5)
    // Useful alerts of host 0: t in [70, 95] and ≥ 0.5 → 80..94 (15 TP); 95..99 are too late (ignored).
    expect(m.truePositiveAlerts).toBe(15)
    // False: host 0 at t = 20; host 1 at 50, 51, 90 → 4, in 3 episodes (50 and 51 are one).
    expect(m.falsePositiveAlerts).toBe(4)
    expect(m.vectorPrecision).toBeCloseTo(15 / 19, 12)
    // Episodes: host 0: {20}, {80..99}; host 1: {50, 51}, {90} → 1 true, 3 false.
    expect(m.episodes).toBe(4)
    expect(m.trueEpisodes).toBe(1)
    expect(m.precision).toBeCloseTo(1 / 4, 12)
    expect(m.eventRecall).toBe(1)
    expect(m.leadTimes).toEqual([20])
    expect(m.falseAlarmEpisodes).toBe(3)
    // A page is judged when it goes out: one that fires 60 before the failure is premature
    // (false) even though it stays on into the useful window; one at 25 before is right.
    const page = (from: number) =>
      new EventIndex(
        Array.from({ length: 100 }, (_, t) => ({ host: 0, ts: t, score: t >= from ? 1 : 0 })),
        [{ host: 0, ts: 100 }],
        { horizon: 30, lead: 5, dayLength: 10 },
      ).evaluate(0.5)
    const early = page(40)
    expect(early).toMatchObject({ episodes: 1, trueEpisodes: 0, precision: 0, falseAlarmEpisodes: 1, detected: 1 })
    expect(page(75)).toMatchObject({ episodes: 1, trueEpisodes: 1, precision: 1, falseAlarmEpisodes: 0 })
    expect(early.vectorPrecision).toBeCloseTo(25 / 55, 12) // 70..94 true, 40..69 false, 95..99 too late
    expect(m.hostDays).toBeCloseTo((99 + 99) / 10, 12)
  })

  it('misses the failure when alerts come only too late', () => {
    const late = new EventIndex(
      Array.from({ length: 100 }, (_, t) => ({ host: 0, ts: t, score: t >= 96 ? 1 : 0 })),
      [{ host: 0, ts: 100 }],
      { horizon: 30, lead: 5, dayLength: 10 },
    )
    // The too-late episode is neither true nor false: no precision at all.
    expect(late.evaluate(0.5)).toMatchObject({ detected: 0, eventRecall: 0, alerts: 0, episodes: 1, precision: null })
  })
})
