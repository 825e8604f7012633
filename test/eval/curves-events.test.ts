import { describe, expect, it } from 'vitest'
import { FailureTable } from '../../src/data/labels.js'
import {
  chooseBaseline,
  evaluateScores,
  eventIndexOf,
  netSaving,
  OPERATING_THRESHOLDS,
  pageRule,
  pageRuleByOutcome,
  ttfAccuracy,
  verdicts,
} from '../../src/eval/evaluate.js'
import { consecutiveRuns, EventIndex } from '../../src/eval/events.js'
import { averagePrecision, bestF1, curves, prAucGapSe, thresholdForPrecision } from '../../src/math/curves.js'
import { Rng } from '../../src/math/random.js'
import { AlertTracker, alertRuleOf, describeRule, isHigh, pageRuleOf } from '../../src/policy/alert.js'
import { costModelOf } from '../../src/policy/cost.js'

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

describe('PR-AUC noise between candidates (entity bootstrap)', () => {
  it('averagePrecision is curves().prAuc, ties and weights included', () => {
    const rng = new Rng(3)
    const scores = Array.from({ length: 500 }, () => Math.round(rng.next() * 50) / 50)
    const labels = scores.map((s) => (rng.next() < s * 0.6 ? 1 : 0))
    const weights = labels.map((y) => (y ? 1 : 1 + Math.floor(rng.next() * 4)))
    expect(averagePrecision(scores, labels, weights)).toBeCloseTo(curves(scores, labels, weights).prAuc, 12)
    expect(averagePrecision([0.9, 0.7, 0.5, 0.3], [1, 0, 1, 0], [1, 1, 1, 1])).toBeCloseTo(5 / 6, 12)
    expect(averagePrecision([0.5, 0.4], [0, 0], [1, 1])).toBe(0)
  })

  /** Entities of `rows` rows each; the last `failing` rows of a failing entity are positive. */
  function fleet(entities: number, noise: number, seed: number) {
    const rng = new Rng(seed)
    const entity: string[] = []
    const labels: number[] = []
    const a: number[] = []
    const b: number[] = []
    for (let e = 0; e < entities; e++)
      for (let r = 0; r < 20; r++) {
        const y = e % 3 === 0 && r >= 15 ? 1 : 0
        entity.push(`h${e}`)
        labels.push(y)
        const signal = y + rng.normal() * 0.5
        a.push(signal)
        // b: the same signal, plus noise of its own.
        b.push(signal + rng.normal() * noise)
      }
    return { entity, labels, weights: labels.map(() => 1), a, b }
  }

  it('0 for the reference and for a scoring that ranks the same; more for a noisier one; less with more entities', () => {
    const f = fleet(30, 0.5, 1)
    const same = f.a.map((x) => 3 * x + 1)
    const se = prAucGapSe([f.a, same, f.b], f.labels, f.weights, f.entity, 0, { seed: 2 })
    expect(se[0]).toBe(0)
    expect(se[1]).toBe(0)
    expect(se[2]).toBeGreaterThan(0.005)
    expect(se[2]).toBeLessThan(0.2)
    // Same fleet shape, ten times the entities: the gap's standard error shrinks (~1/√10).
    const big = fleet(300, 0.5, 1)
    const seBig = prAucGapSe([big.a, big.b], big.labels, big.weights, big.entity, 0, { seed: 2 })
    expect(seBig[1]).toBeLessThan(se[2]! * 0.6)
    // Seeded: the same answer twice.
    expect(prAucGapSe([f.a, f.b], f.labels, f.weights, f.entity, 0, { seed: 2 })).toEqual([0, se[2]])
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
    // No false page was open when a host failed: covering precision is the same.
    expect(m.coveringPrecision).toBeCloseTo(1 / 4, 12)
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
    // It is counted false, and again as early: it stayed open until the host failed.
    expect(early).toMatchObject({ episodes: 1, trueEpisodes: 0, precision: 0, falseAlarmEpisodes: 1, earlyEpisodes: 1 })
    // Judged by what it covered, it was right.
    expect(early.coveringPrecision).toBe(1)
    expect(early.detected).toBe(1)
    expect(page(75)).toMatchObject({ episodes: 1, trueEpisodes: 1, precision: 1, falseAlarmEpisodes: 0 })
    // The blips of host 0 (t = 20) and host 1 closed long before any failure: not early.
    expect(m.earlyEpisodes).toBe(0)
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

describe('alert rule: k vectors in a row', () => {
  // Host 0 fails at 100 with a precursor from 75 on; hosts 1..4 have two-vector blips.
  const blips = (host: number, at: number) =>
    Array.from({ length: 100 }, (_, t) => ({ host, ts: t, score: t === at || t === at + 1 ? 0.95 : 0.1 }))
  const pts = [
    ...Array.from({ length: 100 }, (_, t) => ({ host: 0, ts: t, score: t >= 75 ? 0.8 : 0.1 })),
    ...[1, 2, 3, 4].flatMap((h) => blips(h, 10 * h)),
  ]
  const opts = { horizon: 30, lead: 5, dayLength: 10 }
  const idx = new EventIndex(pts, [{ host: 0, ts: 100 }], opts)

  it('counts recall per failure mode when modes are known', () => {
    const modal = new EventIndex(
      [
        ...Array.from({ length: 100 }, (_, t) => ({ host: 0, ts: t, score: t >= 80 ? 0.9 : 0.1 })),
        ...Array.from({ length: 100 }, (_, t) => ({ host: 1, ts: t, score: 0.1 })),
      ],
      [
        { host: 0, ts: 100, mode: 'memory_leak' },
        { host: 1, ts: 100, mode: 'memory_leak' },
      ],
      { horizon: 30, lead: 5, dayLength: 10 },
    )
    expect(modal.evaluate(0.5).byMode).toEqual([{ mode: 'memory_leak', failures: 2, detected: 1, predictable: true }])
    expect(idx.evaluate(0.5).byMode).toBeUndefined()
  })

  it('run lengths restart at each host and at each low score', () => {
    const runs = consecutiveRuns(
      [
        { host: 0, ts: 0, score: 0.9 },
        { host: 0, ts: 1, score: 0.9 },
        { host: 1, ts: 0, score: 0.9 },
        { host: 1, ts: 1, score: 0.1 },
        { host: 1, ts: 2, score: 0.5 },
      ],
      0.5,
    )
    expect([...runs]).toEqual([1, 2, 1, 0, 1])
  })

  it('one high vector pages on every blip; three in a row page only on the precursor', () => {
    const one = idx.evaluateRule({ threshold: 0.5, consecutive: 1 })
    expect(one).toMatchObject({ trueEpisodes: 1, falseAlarmEpisodes: 4, precision: 0.2, detected: 1, consecutive: 1 })
    expect(one.leadTimes).toEqual([25])
    const three = idx.evaluateRule({ threshold: 0.5, consecutive: 3 })
    // The first alert is the third high vector (t = 77): lead 23, one page, no false one.
    expect(three).toMatchObject({ trueEpisodes: 1, falseAlarmEpisodes: 0, precision: 1, detected: 1, consecutive: 3 })
    expect(three.leadTimes).toEqual([23])
  })

  it('pageRule picks the shortest run that reaches the target page precision', () => {
    const rows = pts.map((p) => ({ entity: `h${p.host}`, rawTime: String(p.ts), ts: p.ts, score: p.score }))
    const failures = new FailureTable()
    failures.add('h0', 100)
    failures.seal()
    const chosen = pageRule(rows, failures, { ...opts, target: 0.9, consecutive: [1, 2, 3, 6] })
    expect(chosen).toMatchObject({ consecutive: 3, precision: 1, recall: 1, medianLeadTime: 23 })
    // Runs longer than a sixth of the horizon (5 vectors here) are not tried.
    expect(pageRule(rows, failures, { ...opts, target: 0.9, consecutive: [6] })).toBeUndefined()
  })

  it('pageRuleByOutcome chooses the rule that saves most under the cost model, and none when acting never pays', () => {
    const rows = pts.map((p) => ({ entity: `h${p.host}`, rawTime: String(p.ts), ts: p.ts, score: p.score }))
    const failures = new FailureTable()
    failures.add('h0', 100)
    failures.seal()
    const cost = costModelOf({ unplanned: 100, planned: 10, falseAlarm: 30, success: 0.9 })
    // One page in time saves 0.9 × (100 − 10) = 81; each of the four blips' pages costs 30.
    expect(netSaving({ detected: 1, falseActions: 4 }, cost)).toBeCloseTo(81 - 120, 12)
    const chosen = pageRuleByOutcome(rows, failures, { ...opts, cost, consecutive: [1, 2, 3] })
    expect(chosen).toMatchObject({ consecutive: 3, detected: 1, falsePages: 0, precision: 1 })
    expect(chosen!.saving).toBeCloseTo(81, 12)
    // A host alerting all along (100 steps, horizon 30) costs an action per horizon: 4, not 1.
    const always = new EventIndex(
      Array.from({ length: 100 }, (_, t) => ({ host: 0, ts: t, score: 0.9 })),
      [],
      opts,
    )
    expect(always.evaluate(0.5)).toMatchObject({ falseAlarmEpisodes: 1, falseActions: 4 })
    // An action that never succeeds saves nothing: no rule.
    const futile = costModelOf({ unplanned: 100, planned: 10, falseAlarm: 30, success: 0 })
    expect(pageRuleByOutcome(rows, failures, { ...opts, cost: futile, consecutive: [1, 2, 3] })).toBeUndefined()
  })

  it('pageRule judges pages by their first alert; the covering precision is recorded, not chosen by', () => {
    // Host 0 fails at 100 after a precursor scoring 0.6 from t = 20 and 0.9 from t = 75; host 1 blips at 0.95.
    const rows = [
      ...Array.from({ length: 100 }, (_, t) => ({ host: 0, ts: t, score: t >= 75 ? 0.9 : t >= 20 ? 0.6 : 0.1 })),
      ...blips(1, 30),
    ].map((p) => ({ entity: `h${p.host}`, rawTime: String(p.ts), ts: p.ts, score: p.score }))
    const failures = new FailureTable()
    failures.add('h0', 100)
    failures.seal()
    const chosen = pageRule(rows, failures, { ...opts, target: 0.9, consecutive: [1, 3] })
    // Three in a row above 0.6 page at t = 77, inside the horizon: lead 23.
    expect(chosen).toMatchObject({ consecutive: 3, precision: 1, coveringPrecision: 1, recall: 1, medianLeadTime: 23 })
    expect(chosen!.threshold).toBeGreaterThan(0.6)
    // Three in a row at 0.6 would page at t = 22 — premature, though open until the failure:
    // right by what it covered, wrong by when it fired. An always-on rule would look as good by coverage.
    const { index } = eventIndexOf(rows, failures, opts)
    expect(index.evaluateRule({ threshold: 0.6, consecutive: 3 })).toMatchObject({
      precision: 0,
      coveringPrecision: 1,
      earlyEpisodes: 1,
    })
  })

  it('evaluateScores tabulates other rules on the same rows: every tried run length × threshold', () => {
    const rows = pts.map((p) => ({ entity: `h${p.host}`, rawTime: String(p.ts), ts: p.ts, score: p.score }))
    const failures = new FailureTable()
    failures.add('h0', 100)
    failures.seal()
    const costModel = { unplanned: 40, planned: 2, falseAlarm: 4, success: 0.9, minPrecision: 0.1 }
    const r = evaluateScores(rows, failures, { ...opts, rule: { threshold: 0.5, consecutive: 1 }, costModel })
    // Runs up to a sixth of the horizon (5 vectors at spacing 1): 1, 2, 3.
    expect([...new Set(r.operatingPoints.map((p) => p.consecutive))]).toEqual([1, 2, 3])
    expect(r.operatingPoints).toHaveLength(3 * OPERATING_THRESHOLDS.length)
    const at = (k: number, t: number) => r.operatingPoints.find((p) => p.consecutive === k && p.threshold === t)
    expect(at(1, 0.5)).toMatchObject({
      pages: 5,
      falsePages: 4,
      precision: 0.2,
      predictableRecall: 1,
      medianLeadTime: 25,
    })
    expect(at(3, 0.5)).toMatchObject({ pages: 1, falsePages: 0, precision: 1, medianLeadTime: 23 })
    // Above the precursor, at the blips: four false pages, the failure missed.
    expect(at(1, 0.95)).toMatchObject({ pages: 4, falsePages: 4, precision: 0, predictableRecall: 0 })
    expect(at(3, 0.9)).toMatchObject({ pages: 0, precision: null, predictableRecall: 0 })
  })

  describe('a gate on the time to failure', () => {
    // Host 0 fails at 100; its precursor scores 0.9 from t = 40 — 60 steps before, twice the
    // horizon — and the head's median time to failure reads it right (100 − t). Host 1 never
    // fails and scores 0.9 from 30 to 60 with no failure in the head's reach (NaN).
    const rows = [
      ...Array.from({ length: 100 }, (_, t) => ({ h: 0, t, score: t >= 40 ? 0.9 : 0.1, ttf: 100 - t })),
      ...Array.from({ length: 100 }, (_, t) => ({ h: 1, t, score: t >= 30 && t <= 60 ? 0.9 : 0.1, ttf: Number.NaN })),
    ].map((p) => ({ entity: `h${p.h}`, rawTime: String(p.t), ts: p.t, score: p.score, ttf: p.ttf }))
    const failures = new FailureTable()
    failures.add('h0', 100)
    failures.seal()
    const cost = costModelOf({ unplanned: 100, planned: 10, falseAlarm: 30, success: 0.9 })

    it('counts a vector as high only when its median time to failure is within the gate', () => {
      expect(isHigh({ threshold: 0.5, consecutive: 1, within: 30 }, 0.9, 30)).toBe(true)
      expect(isHigh({ threshold: 0.5, consecutive: 1, within: 30 }, 0.9, 31)).toBe(false)
      expect(isHigh({ threshold: 0.5, consecutive: 1, within: 30 }, 0.9, Number.NaN)).toBe(false)
      expect(isHigh({ threshold: 0.5, consecutive: 1, within: 30 }, 0.9, null)).toBe(false)
      expect(isHigh({ threshold: 0.5, consecutive: 1, within: 30 }, 0.4, 1)).toBe(false)
      expect(isHigh({ threshold: 0.5, consecutive: 1 }, 0.9, Number.NaN)).toBe(true)
      const { index } = eventIndexOf(rows, failures, opts)
      // The score alone pages host 0 at t = 40 (premature, open until the failure) and host 1 (false).
      expect(index.evaluateRule({ threshold: 0.5, consecutive: 1 })).toMatchObject({
        trueEpisodes: 0,
        falseAlarmEpisodes: 2,
        earlyEpisodes: 1,
        precision: 0,
        detected: 1,
      })
      // Gated at 30: host 0 pages at t = 70, in time (lead 30); host 1 never.
      const gated = index.evaluateRule({ threshold: 0.5, consecutive: 3, within: 30 })
      expect(gated).toMatchObject({ trueEpisodes: 1, falseAlarmEpisodes: 0, precision: 1, detected: 1 })
      expect(gated.leadTimes).toEqual([28])
      const t = new AlertTracker({ threshold: 0.5, consecutive: 2, within: 30 })
      expect([40, 20, 20, Number.NaN, 10].map((ttf) => t.observe('a', 0.9, ttf))).toEqual([
        false,
        false,
        true,
        false,
        false,
      ])
    })

    it('the rule search tries gates only when asked and the rows carry the estimate, and keeps one when it pays', () => {
      // On the score alone every rule pages host 0 too early and host 1 for nothing: none saves.
      expect(pageRuleByOutcome(rows, failures, { ...opts, cost, consecutive: [1] })).toBeUndefined()
      const chosen = pageRuleByOutcome(rows, failures, { ...opts, cost, consecutive: [1], gates: [15, 30, 60] })
      // Gate 60 pages host 0 at t = 40 (premature); 15 and 30 both page in time: the longer lead wins the tie.
      expect(chosen).toMatchObject({ within: 30, consecutive: 1, detected: 1, falsePages: 0, precision: 1 })
      expect(chosen!.medianLeadTime).toBe(30)
      expect(chosen!.saving).toBeCloseTo(81, 12)
      const strict = pageRule(rows, failures, { ...opts, target: 0.9, consecutive: [1], gates: [15, 30, 60] })
      expect(strict).toMatchObject({ within: 30, precision: 1, recall: 1 })
      // Rows without the head's estimate: no gate is tried.
      const bare = rows.map(({ ttf: _, ...r }) => r)
      expect(
        pageRuleByOutcome(bare, failures, { ...opts, cost, consecutive: [1], gates: [30] })?.within,
      ).toBeUndefined()
      // Every threshold up to 0.9 pages the same here: the highest is kept (fewer vectors for the head to read).
      expect(chosen!.threshold).toBe(0.9)
      expect(describeRule(chosen!, 2, (x) => `${x} steps`)).toBe('score ≥ 0.90 with time to failure ≤ 30 steps')
      expect(pageRuleOf({ alert: 0.3, page: { threshold: 0.8, consecutive: 6, within: 30 } })).toEqual({
        threshold: 0.8,
        consecutive: 6,
        within: 30,
      })
    })
  })

  it('AlertTracker alerts per entity on the k-th vector in a row, and old models alert on every high vector', () => {
    const t = new AlertTracker({ threshold: 0.5, consecutive: 2 })
    expect([0.9, 0.9, 0.9, 0.1, 0.9].map((s) => t.observe('a', s))).toEqual([false, true, true, false, false])
    expect(t.observe('b', 0.9)).toBe(false) // runs are per entity
    t.reset('a')
    expect(t.observe('a', 0.9)).toBe(false)
    expect(alertRuleOf({ alert: 0.7 })).toEqual({ threshold: 0.7, consecutive: 1 })
    // Older models page by their k-in-a-row alert; newer ones alert per vector and page by their own rule.
    const old = { alert: 0.7, alertConsecutive: 3 }
    expect(alertRuleOf(old)).toEqual({ threshold: 0.7, consecutive: 3 })
    expect(pageRuleOf(old)).toEqual({ threshold: 0.7, consecutive: 3 })
    const split = { alert: 0.3, page: { threshold: 0.8, consecutive: 6 } }
    expect(alertRuleOf(split)).toEqual({ threshold: 0.3, consecutive: 1 })
    expect(pageRuleOf(split)).toEqual({ threshold: 0.8, consecutive: 6 })
    expect(describeRule({ threshold: 0.7, consecutive: 6 }, 2)).toBe('6 vectors in a row ≥ 0.70')
  })
})

describe('split-aware failure counting', () => {
  it("charges a split's rows only with the failures they can speak to (a time split's test rows, hand-built)", () => {
    // Host a: test rows from t=1000 to 2000 (every 10). Failures: 500 (in the training
    // period), 1500 (inside), 2050 (within a horizon of 100 after the last row), 5000 (far after).
    const rows = Array.from({ length: 101 }, (_, i) => ({ entity: 'a', ts: 1000 + i * 10, score: 0.1 }))
    // Host b: no failure at all in the table; host c: rows 1000..1100, failure at 900 only.
    rows.push(...Array.from({ length: 11 }, (_, i) => ({ entity: 'b', ts: 1000 + i * 10, score: 0.1 })))
    rows.push(...Array.from({ length: 11 }, (_, i) => ({ entity: 'c', ts: 1000 + i * 10, score: 0.1 })))
    const failures = new FailureTable()
    for (const ts of [500, 1500, 2050, 5000]) failures.add('a', ts)
    failures.add('c', 900)
    failures.seal()
    const { failurePoints } = eventIndexOf(rows, failures, { horizon: 100, lead: 0, dayLength: 86_400_000 })
    expect(failurePoints.map((f) => f.ts).sort((x, y) => x - y)).toEqual([1500, 2050])
  })
})

describe('the naive baseline is chosen on validation, judged elsewhere', () => {
  // A metric that climbs before host 0 fails at 100; on the judged rows it climbs less.
  const rowsOf = (peak: number) =>
    [0, 1].flatMap((host) =>
      Array.from({ length: 100 }, (_, t) => ({
        entity: `h${host}`,
        ts: t,
        score: 0.1,
        values: Float64Array.of(host === 0 && t >= 75 ? peak : 1),
      })),
    )
  const failures = new FailureTable()
  failures.add('h0', 100)
  failures.seal()
  const window = { horizon: 30, lead: 5, dayLength: 10 }
  const cost = costModelOf({ unplanned: 100, planned: 10, falseAlarm: 30, success: 0.9 })

  it('keeps the validation rule on the judged rows instead of choosing again', () => {
    const rule = chooseBaseline(rowsOf(9), failures, { ...window, metrics: ['m'] })
    expect(rule).toMatchObject({ metric: 'm', direction: 'above' })
    expect(rule!.threshold).toBeGreaterThanOrEqual(1)
    const judged = rowsOf(5)
    const fixed = evaluateScores(judged, failures, {
      ...window,
      rule: { threshold: 0.5, consecutive: 1 },
      costModel: cost,
      metrics: ['m'],
      baselineRule: rule,
    })
    expect(fixed.baseline).toMatchObject({ chosenOn: 'validation', rule: `m > ${+rule!.threshold.toPrecision(5)}` })
    const fresh = evaluateScores(judged, failures, {
      ...window,
      rule: { threshold: 0.5, consecutive: 1 },
      costModel: cost,
      metrics: ['m'],
    })
    expect(fresh.baseline?.chosenOn).toBe('these rows')
  })
})

describe('time-to-failure accuracy', () => {
  it('compares the median with the remaining life, both capped, at the last row and over every row', () => {
    const failures = new FailureTable()
    failures.add('a', 100)
    failures.seal()
    const rows = [
      { entity: 'a', ts: 0, score: 0, ttf: Number.NaN }, // truth 100 → capped 50; "later" → 50: error 0
      { entity: 'a', ts: 60, score: 0, ttf: 30 }, // truth 40: error −10
      { entity: 'a', ts: 90, score: 0, ttf: 16 }, // truth 10: error 6 (the last row)
      { entity: 'b', ts: 90, score: 0, ttf: 5 }, // no failure after it: not judged
    ]
    const t = ttfAccuracy(rows, failures, 50)!
    expect(t.lastRow).toEqual({ entities: 1, rmse: 6, mae: 6 })
    expect(t.everyRow!.vectors).toBe(3)
    expect(t.everyRow!.rmse).toBeCloseTo(Math.sqrt((0 + 100 + 36) / 3), 12)
    expect(ttfAccuracy([{ entity: 'a', ts: 0, score: 0 }], failures, 50)).toBeUndefined()
  })
})

describe('verdicts', () => {
  it('says in words when a model is worse than chance or than the naive baseline', () => {
    const base = {
      rocAuc: 0.8,
      atThreshold: { eventRecall: 0.8, precision: 0.9 },
      baseline: { rule: 'disk_err_rate > 3', eventRecall: 0.5, precision: 0.7 },
    }
    expect(verdicts(base as never)).toEqual([])
    expect(verdicts({ ...base, rocAuc: 0.42 } as never)[0]).toMatch(/worse than chance \(ROC-AUC 0\.420/)
    const beaten = verdicts({ ...base, atThreshold: { eventRecall: 0.4, precision: 0.6 } } as never)
    expect(beaten).toHaveLength(1)
    expect(beaten[0]).toMatch(/naive baseline \(disk_err_rate > 3\) does better: it finds 50 % .* the model 40 %/)
  })
})
