import { describe, expect, it } from 'vitest'
import { runBacktest } from '../../src/eval/backtest.js'
import { createLogger } from '../../src/log.js'
import { DEFAULT_SIM_PARAMS } from '../../src/sim/model.js'
import { simRuleModel } from '../stream/helpers.js'

const HOUR = 3_600_000

describe('closed-loop backtest', () => {
  it('runs the simulator and the scorer together: commands reach the actuator and avert outages', async () => {
    const params = {
      ...DEFAULT_SIM_PARAMS,
      hosts: 30,
      durationMs: 36 * HOUR,
      intervalMs: 30_000,
      mtbfMs: 36 * HOUR,
      seed: 5,
    }
    const r = await runBacktest({
      model: simRuleModel(),
      params,
      policy: { guards: { maxConcurrentFraction: 0.3, maxPerRack: 5, maxPerZone: 10 } },
      log: createLogger({ level: 'silent' }),
    })
    const w = r.withScorer
    const none = r.withoutScorer
    // The same fleet, until actions change it (a restart clears a leak; the host lives on).
    expect(none.summary.predictable).toBeGreaterThan(5)
    expect(w.summary.predictable).toBeGreaterThan(5)
    expect(none.outcome.actions.total).toBe(0)
    expect(none.summary.avertedPredictable).toBe(0)
    // The loop is closed: every command the scorer sent reached the simulated actuator.
    const sent = Object.values(w.scorer!.stats.commands).reduce((a, b) => a + b, 0)
    expect(sent).toBeGreaterThan(0)
    expect(w.outcome.actions.total).toBe(sent)
    // And it matters: outages averted that the bare fleet suffered.
    expect(w.summary.avertedPredictable).toBeGreaterThan(0)
    expect(w.outcome.outages).toBeLessThan(none.outcome.outages)
    expect(w.outcome.availability).toBeGreaterThan(none.outcome.availability)
    expect(r.naive).toBeDefined()
    expect(r.hostHoursPerSecond).toBeGreaterThan(0)
  }, 120_000)
})
