import { describe, expect, it } from 'vitest'
import { formatMisses, missedFailures, runBacktest } from '../../src/eval/backtest.js'
import { createLogger } from '../../src/log.js'
import type { GuardDecision } from '../../src/policy/engine.js'
import type { ActionRecord, FailureRecord, FleetSim } from '../../src/sim/engine.js'
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
    // Outcomes count after the warm-up (the model's longest window), in both runs alike.
    const model = simRuleModel()
    expect(r.warmupMs).toBe(Math.max(...model.spec.windows))
    expect(w.outcome.span.startMs).toBe(params.startMs + r.warmupMs)
    expect(none.outcome.span.startMs).toBe(params.startMs + r.warmupMs)
    expect(w.outcome.incidents.every((i) => i.ts >= params.startMs + r.warmupMs)).toBe(true)
    // Every predictable failure not averted is accounted for, with a cause.
    expect(w.missed).toHaveLength(w.summary.predictable - w.summary.avertedPredictable)
    for (const m of w.missed!)
      expect(['never_acted', 'blocked', 'too_late', 'wrong_action', 'action_failed']).toContain(m.cause)
  }, 120_000)
})

describe('why a predictable failure was not averted', () => {
  const START = DEFAULT_SIM_PARAMS.startMs
  const failure = (host: string, mode: string, over: Partial<FailureRecord> = {}) =>
    ({
      host,
      mode,
      ts: START + 5 * HOUR,
      onset: START + 3 * HOUR,
      predictable: true,
      averted: false,
      ...over,
    }) as FailureRecord
  const action = (host: string, action: 'drain' | 'restart', h: number, status = 'succeeded'): ActionRecord =>
    ({ id: `${host}-${action}`, host, action, receivedTs: START + h * HOUR, dryRun: false, status }) as ActionRecord
  const sim = {
    endMs: START + 10 * HOUR,
    countFromMs: START,
    failures: [
      failure('quiet', 'memory_leak'),
      failure('blocked', 'fan_failure'),
      failure('late', 'disk_degradation'),
      failure('wrong', 'disk_degradation'),
      failure('broken', 'fan_failure'),
      failure('saved', 'fan_failure', { averted: true }),
      failure('sudden', 'kernel_panic', { predictable: false }),
      failure('after', 'fan_failure', { ts: START + 11 * HOUR }),
    ],
    actions: [
      action('late', 'drain', 4.99),
      action('wrong', 'restart', 4),
      action('broken', 'drain', 4, 'failed'),
      // Before the precursor: not about this failure.
      action('quiet', 'restart', 2),
    ],
  } as unknown as FleetSim
  const decisions: GuardDecision[] = [
    {
      ts: START + 4 * HOUR,
      host: 'blocked',
      action: 'drain',
      outcome: 'blocked',
      guard: 'cooldown',
      detail: '',
      commandId: null,
    },
    {
      ts: START + 4.5 * HOUR,
      host: 'blocked',
      action: 'drain',
      outcome: 'blocked',
      guard: 'rack',
      detail: '',
      commandId: null,
    },
  ]

  it('names the cause: never acted, blocked (last guard), too late (lead), wrong action, action failed', () => {
    const m = missedFailures(sim, decisions)
    expect(m.map((x) => [x.host, x.cause, x.guard ?? x.leadMs ?? null])).toEqual([
      ['quiet', 'never_acted', null],
      ['blocked', 'blocked', 'rack'],
      ['late', 'too_late', Math.round(0.01 * HOUR)],
      ['wrong', 'wrong_action', HOUR],
      ['broken', 'action_failed', HOUR],
    ])
    expect(formatMisses(m)).toBe(
      'never acted 1 (memory_leak 1), blocked 1 (rack 1), too late 1 (disk_degradation 1), wrong action 1 (disk_degradation 1), action failed 1 (fan_failure 1)',
    )
  })
})
