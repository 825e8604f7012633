import { describe, expect, it } from 'vitest'
import type { ActionRecord, FailureRecord, FleetSim } from '../../src/sim/engine.js'
import { DEFAULT_ACTUATOR_PARAMS, DEFAULT_SIM_PARAMS } from '../../src/sim/model.js'
import { computeOutcome, formatOutcome } from '../../src/sim/outcome.js'

const HOUR = 3_600_000
const MIN = 60_000
const START = DEFAULT_SIM_PARAMS.startMs

function failure(over: Partial<FailureRecord>): FailureRecord {
  return {
    host: 'h1',
    ts: START + HOUR,
    mode: 'disk_degradation',
    kind: 'disk',
    predictable: true,
    onset: START,
    strength: 1,
    averted: false,
    outageMs: HOUR,
    recoveredTs: START + 2 * HOUR,
    detectMs: 2 * MIN,
    diagnoseMs: 10 * MIN,
    recoverMs: 48 * MIN,
    commandId: undefined,
    ...over,
  }
}

/** A hand-made run: 2 hosts × 10 h. */
function run(
  failures: FailureRecord[],
  actions: ActionRecord[] = [],
  plannedDowntimeMs = 0,
  cleared: FailureRecord[] = [],
): FleetSim {
  return {
    params: { ...DEFAULT_SIM_PARAMS, hosts: 2, durationMs: 10 * HOUR },
    endMs: START + 10 * HOUR,
    actuator: DEFAULT_ACTUATOR_PARAMS,
    failures,
    cleared,
    countFromMs: START,
    actions,
    plannedDowntimeMs,
    duplicatesIgnored: 0,
  } as unknown as FleetSim
}

describe('outcome arithmetic', () => {
  it('one outage of 1 h, 30 min planned: MTBF 18.5 h, MTTR 1 h, availability 18.5/19.5', () => {
    const o = computeOutcome(run([failure({})], [], 30 * MIN))
    expect(o.span.hostHours).toBe(20)
    expect(o.outages).toBe(1)
    expect(o.downtime).toEqual({ unplannedMs: HOUR, plannedMs: 30 * MIN })
    expect(o.mtbfMs).toBe(18.5 * HOUR)
    expect(o.mttrMs).toBe(HOUR)
    expect(o.availability).toBeCloseTo(18.5 / 19.5, 12)
    expect(o.incidents[0]!.selfHealingMs).toBe(60 * MIN)
    expect(o.selfHealing).toEqual({ incidents: 1, meanMs: 60 * MIN, medianMs: 60 * MIN })
  })

  it('two outages and one averted failure', () => {
    const o = computeOutcome(
      run([
        failure({ outageMs: 2 * HOUR, detectMs: MIN, diagnoseMs: MIN, recoverMs: 118 * MIN }),
        failure({ host: 'h2', outageMs: HOUR }),
        failure({
          host: 'h2',
          ts: START + 5 * HOUR,
          averted: true,
          outageMs: 0,
          detectMs: 0,
          diagnoseMs: 0,
          recoverMs: 4 * MIN,
        }),
      ]),
    )
    // uptime 20 − 3 = 17 h over 2 outages; MTTR 3 h / 2.
    expect(o.mtbfMs).toBe(8.5 * HOUR)
    expect(o.mttrMs).toBe(1.5 * HOUR)
    expect(o.availability).toBeCloseTo(8.5 / 10, 12)
    expect(o.outagesAverted).toBe(1)
    expect(o.failures.byMode['disk_degradation']).toEqual({ total: 3, predictable: 3, averted: 1 })
    expect(o.selfHealing.medianMs).toBe(60 * MIN)
    expect(o.selfHealing.meanMs).toBe(((120 + 60 + 4) * MIN) / 3)
  })

  it('a failure a restart cleared counts as averted where it was due, and the restart as necessary', () => {
    const restart: ActionRecord = {
      id: 'r',
      host: 'h2',
      action: 'restart',
      receivedTs: START + HOUR,
      dryRun: false,
      status: 'succeeded',
    }
    const leak = (ts: number) =>
      failure({
        host: 'h2',
        ts,
        mode: 'memory_leak',
        kind: 'memory',
        averted: true,
        outageMs: 0,
        detectMs: 20 * MIN,
        diagnoseMs: MIN,
        recoverMs: 5 * MIN,
        commandId: 'r',
        clearedBy: 'r',
      })
    // Due 8 h after the restart: past the 6 h necessary window, still necessary.
    const o = computeOutcome(run([failure({})], [restart], 0, [leak(START + 9 * HOUR)]))
    expect(o.failures).toMatchObject({ total: 2, predictable: 2, averted: 1, cleared: 1 })
    expect(o.failures.byMode['memory_leak']).toEqual({ total: 1, predictable: 1, averted: 1 })
    expect(o.outages).toBe(1)
    expect(o.actions).toMatchObject({ necessary: 1, unnecessary: 0 })
    expect(o.incidents.map((i) => i.ts)).toEqual([START + HOUR, START + 9 * HOUR])
    expect(formatOutcome(o)).toContain('(1 cleared by a restart before they were due)')
    // Due after the run: not a failure of this span, but the restart still needed.
    const late = computeOutcome(run([], [restart], 0, [leak(START + 11 * HOUR)]))
    expect(late.failures.total).toBe(0)
    expect(late.actions).toMatchObject({ necessary: 1, unnecessary: 0 })
  })

  it('counts from countFromMs (a backtest warm-up): earlier failures and actions are not in the outcome', () => {
    const sim = run(
      [failure({ ts: START + HOUR }), failure({ host: 'h2', ts: START + 5 * HOUR })],
      [
        { id: 'a', host: 'h1', action: 'drain', receivedTs: START + 30 * MIN, dryRun: false, status: 'succeeded' },
        { id: 'b', host: 'h2', action: 'drain', receivedTs: START + 3 * HOUR, dryRun: false, status: 'succeeded' },
      ],
    )
    ;(sim as { countFromMs: number }).countFromMs = START + 2 * HOUR
    const o = computeOutcome(sim)
    expect(o.span).toMatchObject({ startMs: START + 2 * HOUR, hostHours: 16 })
    expect(o.failures.total).toBe(1)
    expect(o.incidents.map((i) => i.host)).toEqual(['h2'])
    expect(o.actions).toMatchObject({ total: 1, necessary: 1, unnecessary: 0 })
  })

  it('no outage: availability 1, MTBF infinite (null), and actions judged necessary by what followed', () => {
    const actions: ActionRecord[] = [
      { id: 'a', host: 'h1', action: 'drain', receivedTs: START + 30 * MIN, dryRun: false, status: 'succeeded' },
      { id: 'b', host: 'h2', action: 'restart', receivedTs: START, dryRun: false, status: 'succeeded' },
      { id: 'c', host: 'h2', action: 'alert', receivedTs: START, dryRun: false, status: 'succeeded' },
      { id: 'd', host: 'h2', action: 'drain', receivedTs: START, dryRun: true, status: 'succeeded' },
    ]
    const o = computeOutcome(run([failure({ averted: true, outageMs: 0 })], actions))
    expect(o.mtbfMs).toBeNull()
    expect(o.availability).toBe(1)
    expect(o.actions).toMatchObject({ total: 4, necessary: 1, unnecessary: 1, dryRun: 1 })
    expect(formatOutcome(o)).toContain('availability 100.0000 %')
  })
})
