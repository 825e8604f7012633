import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { HealingCommand } from '../../src/contracts/index.js'
import { DEFAULT_GUARDS, defaultPolicyOptions, PolicyEngine, type PolicyOverrides } from '../../src/policy/engine.js'

const MIN = 60_000
const T0 = Date.UTC(2026, 10, 1)
const model = { name: 'm', version: '1' }
const hw = [{ feature: 'disk_err_rate.mean.30m', contribution: 1 }]
const sw = [
  { feature: 'mem_used.slope.2h', contribution: 2 },
  { feature: 'temp_c.max.10m', contribution: 0.5 },
]

function engine(p: PolicyOverrides = {}) {
  return new PolicyEngine(defaultPolicyOptions({ thresholdHigh: 0.8, consecutive: 3, model, ...p }))
}
const labels = (i: number) => ({ zone: `z${i % 3}`, rack: `r${i % 7}`, service: 'web' })

describe('policy: state machine', () => {
  it('asks for a lazily given explanation only when it issues an action or records a new block', () => {
    const e = engine({ killSwitch: false, guards: { ...DEFAULT_GUARDS, maxConcurrent: 1, maxConcurrentFraction: 1 } })
    const asked: string[] = []
    const lazy = (host: string) => () => {
      asked.push(host)
      return sw
    }
    const obs = (host: string, ts: number, score: number) => e.observe({ host, ts, score, labels: {}, top: lazy(host) })
    // Hot, but not k in a row yet: nothing explained.
    obs('a', T0, 0.9)
    obs('a', T0 + MIN, 0.9)
    expect(asked).toEqual([])
    // The third in a row acts: the action (restart: software metrics) and the command read it.
    const r = obs('a', T0 + 2 * MIN, 0.9)
    expect(r.commands.map((c) => [c.action, c.reason.top])).toEqual([['restart', sw]])
    expect(asked.length).toBeGreaterThan(0)
    asked.length = 0
    // A second host at k in a row is blocked (one action at a time): recorded once, explained once.
    for (let i = 0; i < 6; i++) obs('b', T0 + i * MIN, 0.95)
    expect(e.counters.blocked['concurrency']).toBe(4)
    expect(asked).toEqual(['b'])
  })

  it('acts after k scores in a row at or above the threshold, with hysteresis on the way out', () => {
    const e = engine()
    const obs = (ts: number, score: number) => e.observe({ host: 'h1', ts, score, labels: labels(1), top: hw })
    expect(obs(T0, 0.9).risk).toBe('watch')
    expect(e.state('h1')!.state).toBe('at_risk')
    expect(obs(T0 + MIN, 0.7).commands).toEqual([]) // between lo (0.6) and hi: run resets, still at risk
    expect(e.state('h1')!.state).toBe('at_risk')
    expect(obs(T0 + 2 * MIN, 0.9).risk).toBe('watch')
    expect(obs(T0 + 3 * MIN, 0.95).risk).toBe('watch')
    const r = obs(T0 + 4 * MIN, 0.99)
    expect(r.risk).toBe('act')
    expect(r.commands.map((c) => c.action)).toEqual(['drain'])
    const c = r.commands[0]!
    expect(c).toMatchObject({ host: 'h1', episode: 1, issuedAt: T0 + 4 * MIN, expiresAt: T0 + 14 * MIN, dryRun: false })
    expect(c.reason).toMatchObject({ score: 0.99, threshold: 0.8, model, predictionTs: T0 + 4 * MIN })
    expect(e.state('h1')!.state).toBe('acting')
    // A second score goes nowhere while acting.
    expect(obs(T0 + 5 * MIN, 0.99).commands).toEqual([])
  })

  it('leaves at_risk below the low threshold only', () => {
    const e = engine()
    e.observe({ host: 'h', ts: T0, score: 0.85, labels: {}, top: hw })
    e.observe({ host: 'h', ts: T0 + 1, score: 0.61, labels: {}, top: hw })
    expect(e.state('h')!.state).toBe('at_risk')
    e.observe({ host: 'h', ts: T0 + 2, score: 0.59, labels: {}, top: hw })
    expect(e.state('h')!.state).toBe('healthy')
  })

  it('restarts when software metrics dominate the explanation, drains otherwise', () => {
    const e = engine({ consecutive: 1, guards: { maxConcurrentFraction: 1 } })
    expect(e.observe({ host: 'a', ts: T0, score: 0.9, labels: {}, top: sw }).commands[0]!.action).toBe('restart')
    expect(e.observe({ host: 'b', ts: T0, score: 0.9, labels: {}, top: hw }).commands[0]!.action).toBe('drain')
  })

  it('ladder: a host still at k in a row ladderAfterMs after a restart is drained, past the cooldown', () => {
    const run = (ladderAfterMs: number | null) => {
      const e = engine({ consecutive: 3, ladderAfterMs })
      const out: HealingCommand[] = []
      const obs = (ts: number, score: number) =>
        out.push(...e.observe({ host: 'h', ts, score, labels: {}, top: sw }).commands)
      for (let i = 0; i < 3; i++) obs(T0 + i * MIN, 0.9)
      const restart = out[0]!
      expect(restart.action).toBe('restart')
      e.onStatus({ commandId: restart.id, host: 'h', status: 'succeeded', ts: T0 + 5 * MIN })
      // Still hot every minute for the next 35 minutes (cooldown is 1 h from the restart).
      for (let m = 6; m <= 40; m++) obs(T0 + m * MIN, 0.9)
      return { e, out }
    }
    const on = run(30 * MIN)
    // Not before 30 min after the restart succeeded (T0 + 35 min) plus k in a row counted from there.
    expect(on.out.map((c) => [c.action, (c.issuedAt - T0) / MIN])).toEqual([
      ['restart', 2],
      ['drain', 37],
    ])
    expect(on.e.state('h')!.state).toBe('acting')
    expect(on.e.decisions.at(-1)!.detail).toMatch(/after a restart: the restart did not clear it/)
    // Off: the restarted host waits out recovery.
    const off = run(null)
    expect(off.out.map((c) => c.action)).toEqual(['restart'])
    expect(off.e.state('h')!.state).toBe('recovering')
  })

  it('gives the same command ids for the same stream (replay) and new ones per episode', () => {
    const run = () => {
      const e = engine({ consecutive: 1, guards: { cooldownMs: 0 } })
      const ids: string[] = []
      for (let i = 0; i < 3; i++) {
        const c = e.observe({ host: 'h', ts: T0 + i * 10 * MIN, score: 0.9, labels: {}, top: hw }).commands[0]!
        ids.push(c.id)
        e.onStatus({ commandId: c.id, host: 'h', status: 'failed', ts: T0 + i * 10 * MIN + 1 })
      }
      return ids
    }
    const a = run()
    expect(a).toEqual(run())
    expect(new Set(a).size).toBe(3)
  })

  it('follows statuses: succeeded → recovering → healthy after recoveryMs with a low score', () => {
    const e = engine({ consecutive: 1, recoveryMs: 60 * MIN })
    const c = e.observe({ host: 'h', ts: T0, score: 0.9, labels: {}, top: hw }).commands[0]!
    e.onStatus({ commandId: c.id, host: 'h', status: 'accepted', ts: T0 + 1000 })
    e.onStatus({ commandId: c.id, host: 'h', status: 'succeeded', ts: T0 + 60_000 })
    expect(e.state('h')!.state).toBe('recovering')
    e.observe({ host: 'h', ts: T0 + 30 * MIN, score: 0.1, labels: {}, top: hw })
    expect(e.state('h')!.state).toBe('recovering')
    e.observe({ host: 'h', ts: T0 + 62 * MIN, score: 0.1, labels: {}, top: hw })
    expect(e.state('h')!.state).toBe('healthy')
  })

  it('cancels an action whose risk falls below lo before the actuator accepted it; nothing follows it', () => {
    const e = engine({ consecutive: 1, guards: { cooldownMs: 0 } })
    const c = e.observe({ host: 'h', ts: T0, score: 0.9, labels: {}, top: hw }).commands[0]!
    expect(e.observe({ host: 'h', ts: T0 + 1000, score: 0.1, labels: {}, top: hw }).commands).toEqual([])
    expect(e.state('h')!.command!.status).toBe('cancelled')
    expect(e.decisions.at(-1)).toMatchObject({ outcome: 'cancelled', commandId: c.id })
    // A late failure report about the cancelled drain does not escalate to anything.
    expect(e.onStatus({ commandId: c.id, host: 'h', status: 'failed', ts: T0 + 2000 })).toEqual([])
    expect(e.state('h')!.state).toBe('healthy')
  })

  it('counts no status before expires_at as failed, and escalates to cordon + alert after repeated actions', () => {
    const e = engine({ consecutive: 1, guards: { cooldownMs: 0, maxActionsPerHostPerDay: 2 } })
    const c1 = e.observe({ host: 'h', ts: T0, score: 0.9, labels: {}, top: hw }).commands[0]!
    expect(e.tick(c1.expiresAt + 1, 0)).toEqual([])
    expect(e.state('h')!.command!.status).toBe('expired')
    expect(e.state('h')!.state).toBe('at_risk')
    const c2 = e.observe({ host: 'h', ts: c1.expiresAt + 2, score: 0.9, labels: {}, top: hw }).commands[0]!
    expect(c2.episode).toBe(2)
    const esc = e.onStatus({ commandId: c2.id, host: 'h', status: 'failed', ts: c2.issuedAt + 5000 })
    expect(esc.map((c) => c.action)).toEqual(['cordon', 'alert'])
    expect(e.state('h')!).toMatchObject({ state: 'escalated', cordoned: true })
    // Every cordon has an exit: after recovery with low scores, uncordon.
    const later = c2.issuedAt + 3 * 3_600_000
    const back = e.observe({ host: 'h', ts: later, score: 0.05, labels: {}, top: hw })
    expect(back.commands.map((c) => c.action)).toEqual(['uncordon'])
    expect(e.state('h')!).toMatchObject({ state: 'healthy', cordoned: false })
  })

  it('uncordons a cordoned host that failed, once it reports again', () => {
    const e = engine({ consecutive: 1, guards: { cooldownMs: 0, maxActionsPerHostPerDay: 1 } })
    const c1 = e.observe({ host: 'h', ts: T0, score: 0.9, labels: {}, top: hw }).commands[0]!
    expect(e.onStatus({ commandId: c1.id, host: 'h', status: 'failed', ts: T0 + 1 }).map((c) => c.action)).toEqual([
      'cordon',
      'alert',
    ])
    e.onFailure('h', T0 + MIN)
    const back = e.observe({ host: 'h', ts: T0 + 60 * MIN, score: 0.1, labels: {}, top: hw })
    expect(back.commands.map((c) => c.action)).toEqual(['uncordon'])
  })
})

describe('policy: guards', () => {
  it('with a time to failure: holds the action while the failure is expected later than actWithinMs', () => {
    const e = engine({ consecutive: 1, actWithinMs: 30 * MIN })
    const obs = (ts: number, ttf: number | null | undefined) =>
      e.observe({ host: 'h', ts, score: 0.99, labels: {}, top: hw, ttf })
    // "Someday": later than the model can tell, then in 2 h — held, recorded once.
    expect(obs(T0, null).commands).toEqual([])
    expect(e.decisions.at(-1)).toMatchObject({ outcome: 'blocked', guard: 'not_yet' })
    expect(obs(T0 + MIN, 120 * MIN).commands).toEqual([])
    expect(e.state('h')).toMatchObject({ state: 'at_risk', blockedBy: 'not_yet' })
    // Within the action's time plus margin: act.
    const r = obs(T0 + 2 * MIN, 20 * MIN)
    expect(r.commands.map((c) => c.action)).toEqual(['drain'])
    // A score without an estimate is never held; the gate off never holds.
    expect(
      engine({ consecutive: 1, actWithinMs: 30 * MIN }).observe({ host: 'g', ts: T0, score: 0.99, labels: {}, top: hw })
        .commands,
    ).toHaveLength(1)
    expect(
      engine({ consecutive: 1 }).observe({ host: 'g', ts: T0, score: 0.99, labels: {}, top: hw, ttf: null }).commands,
    ).toHaveLength(1)
  })

  it("with the page rule's gate: only scores whose median time to failure is within pageWithinMs count in a row", () => {
    const e = engine({ consecutive: 2, pageWithinMs: 2 * 60 * MIN })
    const obs = (ts: number, ttfMedian: number | null | undefined) =>
      e.observe({ host: 'h', ts, score: 0.99, labels: {}, top: hw, ttfMedian })
    // High scores, but the failure is "later than the model can tell", 5 h away, not estimated: not at risk.
    expect(obs(T0, null)).toMatchObject({ risk: 'watch', commands: [] })
    expect(obs(T0 + MIN, 5 * 60 * MIN).commands).toEqual([])
    expect(obs(T0 + 2 * MIN, undefined).commands).toEqual([])
    expect(e.state('h')).toMatchObject({ state: 'healthy', run: 0 })
    // Within 2 h: the first counts, the second in a row acts.
    expect(obs(T0 + 3 * MIN, 90 * MIN).commands).toEqual([])
    expect(e.state('h')).toMatchObject({ state: 'at_risk', run: 1 })
    expect(obs(T0 + 4 * MIN, 80 * MIN).commands.map((c) => c.action)).toEqual(['drain'])
    // Without the gate the same scores act on the second vector whatever the estimate.
    const plain = engine({ consecutive: 2 })
    plain.observe({ host: 'g', ts: T0, score: 0.99, labels: {}, top: hw, ttfMedian: null })
    expect(
      plain.observe({ host: 'g', ts: T0 + MIN, score: 0.99, labels: {}, top: hw, ttfMedian: null }).commands,
    ).toHaveLength(1)
  })

  it('kill switch: no command, the block recorded', () => {
    const e = engine({ consecutive: 1, killSwitch: true })
    expect(e.observe({ host: 'h', ts: T0, score: 0.99, labels: {}, top: hw }).commands).toEqual([])
    expect(e.decisions.at(-1)).toMatchObject({ outcome: 'blocked', guard: 'kill_switch' })
    e.update({ killSwitch: false })
    expect(e.observe({ host: 'h', ts: T0 + 1, score: 0.99, labels: {}, top: hw }).commands).toHaveLength(1)
  })

  it('dry run: the same commands, marked dry_run', () => {
    const e = engine({ consecutive: 1, dryRun: true })
    expect(e.observe({ host: 'h', ts: T0, score: 0.99, labels: {}, top: hw }).commands[0]!.dryRun).toBe(true)
  })

  it('storm: a fleet-wide rise gives one alert and no drain', () => {
    const e = engine({ consecutive: 2 })
    for (let i = 0; i < 100; i++) e.observe({ host: `h${i}`, ts: T0, score: 0.1, labels: labels(i), top: hw })
    const cmds: HealingCommand[] = []
    for (let step = 1; step <= 6; step++) {
      for (let i = 0; i < 40; i++)
        cmds.push(
          ...e.observe({ host: `h${i}`, ts: T0 + step * MIN, score: 0.95, labels: labels(i), top: hw }).commands,
        )
      cmds.push(...e.tick(T0 + step * MIN))
    }
    expect(cmds.filter((c) => c.action === 'drain' || c.action === 'restart')).toEqual([])
    expect(cmds.filter((c) => c.action === 'alert')).toHaveLength(1)
    expect(cmds[0]!.host).toBe('fleet')
    expect(e.counters.blocked['storm']).toBeGreaterThan(0)
  })

  it('property: under any score stream no guard is ever exceeded', () => {
    const guards = {
      maxConcurrent: 3,
      maxConcurrentFraction: 0.5,
      maxPerZone: 2,
      maxPerRack: 1,
      ratePerHour: 6,
      burst: 4,
      cooldownMs: 20 * MIN,
      maxActionsPerHostPerDay: 2,
      stormFraction: 0.4,
      stormMinHosts: 6,
      stormWindowMs: 20 * MIN,
    }
    const event = fc.record({
      host: fc.integer({ min: 0, max: 14 }),
      dt: fc.integer({ min: 0, max: 2 * MIN }),
      // Mostly calm, sometimes hot: scores from the bands the state machine distinguishes.
      score: fc.oneof(
        { weight: 3, arbitrary: fc.double({ min: 0, max: 0.6, noNaN: true }) },
        { weight: 1, arbitrary: fc.double({ min: 0.6, max: 0.8, noNaN: true }) },
        { weight: 2, arbitrary: fc.double({ min: 0.8, max: 1, noNaN: true }) },
      ),
      status: fc.constantFrom('none', 'none', 'accepted', 'succeeded', 'failed', 'rejected'),
      kill: fc.boolean(),
    })
    let actionsSeen = 0
    const blockedBy: Record<string, number> = {}
    fc.assert(
      fc.property(fc.array(event, { minLength: 50, maxLength: 400 }), fc.boolean(), (events, withKill) => {
        const e = engine({ consecutive: 2, guards, recoveryMs: 30 * MIN })
        let ts = T0
        const issuedAt = new Map<string, number[]>()
        const ids = new Set<string>()
        for (const ev of events) {
          ts += ev.dt
          const kill = withKill && ev.kill
          e.update({ killSwitch: kill })
          const host = `h${ev.host}`
          const out = [
            ...e.observe({ host, ts, score: ev.score, labels: labels(ev.host), top: hw }).commands,
            ...e.tick(ts),
          ]
          const cur = e.state(host)!
          if (ev.status !== 'none' && cur.command)
            out.push(...e.onStatus({ commandId: cur.command.id, host, status: ev.status, ts }))
          for (const c of out) {
            if (kill) return false // the kill switch stops everything
            expect(ids.has(c.id)).toBe(false)
            ids.add(c.id)
            if (c.action === 'drain' || c.action === 'restart') {
              expect(e.stormActive).toBe(false)
              const times = issuedAt.get(c.host) ?? []
              const last = times.at(-1)
              if (last !== undefined) expect(c.issuedAt - last).toBeGreaterThanOrEqual(guards.cooldownMs)
              times.push(c.issuedAt)
              actionsSeen++
              issuedAt.set(c.host, times)
              expect(times.filter((t) => t > c.issuedAt - 86_400_000).length).toBeLessThanOrEqual(
                guards.maxActionsPerHostPerDay,
              )
            }
          }
          // Capacity held at any time.
          const busy = [...e.states()].filter(
            (s) =>
              s.state === 'acting' ||
              s.state === 'escalated' ||
              s.cordoned ||
              (s.state === 'recovering' && s.command?.action === 'drain'),
          )
          // Escalations (cordon) are a person's call and exempt from the budget; actions are not.
          const acting = busy.filter((s) => s.state === 'acting' || s.state === 'recovering')
          expect(acting.length).toBeLessThanOrEqual(guards.maxConcurrent)
          for (const z of ['z0', 'z1', 'z2'])
            expect(acting.filter((s) => s.zone === z).length).toBeLessThanOrEqual(guards.maxPerZone)
          for (let r = 0; r < 7; r++)
            expect(acting.filter((s) => s.rack === `r${r}`).length).toBeLessThanOrEqual(guards.maxPerRack)
        }
        for (const [g, n] of Object.entries(e.counters.blocked)) blockedBy[g] = (blockedBy[g] ?? 0) + n
        // Token bucket: in any hour at most burst + rate actions.
        const all = [...issuedAt.values()].flat().sort((a, b) => a - b)
        for (let i = 0; i < all.length; i++) {
          const inHour = all.filter((t) => t >= all[i]! && t < all[i]! + 3_600_000).length
          expect(inHour).toBeLessThanOrEqual(guards.burst + guards.ratePerHour)
        }
        return true
      }),
      // A fixed seed keeps the coverage check below stable; change it to explore other streams.
      { numRuns: 300, endOnFailure: true, seed: 20261130 },
    )
    // The property is not vacuous: the streams did make the engine act.
    expect(actionsSeen).toBeGreaterThan(200)
    for (const g of ['storm', 'cooldown', 'concurrency', 'zone', 'rack', 'rate'])
      expect(blockedBy[g] ?? 0, `${g} in ${JSON.stringify(blockedBy)}`).toBeGreaterThan(0)
  })

  it('property: with the ladder on, every guard but the cooldown holds, and only a drain after a restart passes it', () => {
    const guards = { ...DEFAULT_GUARDS, maxConcurrent: 2, maxPerZone: 2, maxPerRack: 1, cooldownMs: 60 * MIN }
    const event = fc.record({
      host: fc.integer({ min: 0, max: 5 }),
      dt: fc.integer({ min: 0, max: 3 * MIN }),
      score: fc.oneof(
        { weight: 1, arbitrary: fc.double({ min: 0, max: 0.6, noNaN: true }) },
        { weight: 3, arbitrary: fc.double({ min: 0.8, max: 1, noNaN: true }) },
      ),
      status: fc.constantFrom('none', 'none', 'succeeded', 'succeeded', 'failed'),
      soft: fc.constantFrom(true, true, false),
    })
    let steps = 0
    fc.assert(
      fc.property(fc.array(event, { minLength: 50, maxLength: 300 }), (events) => {
        const e = engine({ consecutive: 2, guards, ladderAfterMs: 10 * MIN })
        let ts = T0
        const last = new Map<string, { action: string; at: number; id: string }>()
        const statusOf = new Map<string, string>()
        for (const ev of events) {
          ts += ev.dt
          const host = `h${ev.host}`
          const out = [
            ...e.observe({ host, ts, score: ev.score, labels: labels(ev.host), top: ev.soft ? sw : hw }).commands,
            ...e.tick(ts),
          ]
          const cur = e.state(host)!
          if (ev.status !== 'none' && cur.command)
            out.push(...e.onStatus({ commandId: cur.command.id, host, status: ev.status, ts }))
          const now = e.state(host)!.command
          if (now) statusOf.set(now.id, now.status)
          for (const c of out) {
            if (c.action !== 'drain' && c.action !== 'restart') continue
            const prev = last.get(c.host)
            if (prev && c.issuedAt - prev.at < guards.cooldownMs) {
              // Only the ladder passes the cooldown: a drain, after a restart that succeeded.
              expect([c.action, prev.action, statusOf.get(prev.id)]).toEqual(['drain', 'restart', 'succeeded'])
              steps++
            }
            last.set(c.host, { action: c.action, at: c.issuedAt, id: c.id })
          }
          const acting = [...e.states()].filter(
            (s) => s.state === 'acting' || (s.state === 'recovering' && s.command?.action === 'drain'),
          )
          expect(acting.length).toBeLessThanOrEqual(guards.maxConcurrent)
          for (let r = 0; r < 7; r++)
            expect(acting.filter((s) => s.rack === `r${r}`).length).toBeLessThanOrEqual(guards.maxPerRack)
        }
        return true
      }),
      { numRuns: 200, endOnFailure: true, seed: 20261130 },
    )
    expect(steps).toBeGreaterThan(0)
  })
})
