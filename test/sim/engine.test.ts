import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type CommandStatus, commandId, type HealingCommand } from '../../src/contracts/index.js'
import { runSimulationToCsv } from '../../src/sim/csv.js'
import { type FailureRecord, FleetSim } from '../../src/sim/engine.js'
import { DEFAULT_ACTUATOR_PARAMS, DEFAULT_SIM_PARAMS, M, type SimParams } from '../../src/sim/model.js'
import { computeOutcome } from '../../src/sim/outcome.js'

const MIN = 60_000
const HOUR = 3_600_000
const START = DEFAULT_SIM_PARAMS.startMs

/** A quiet fleet: no random failures, no gaps, no missing values, so planted events are all there is. */
function quietParams(over: Partial<SimParams> = {}): SimParams {
  return {
    ...DEFAULT_SIM_PARAMS,
    hosts: 4,
    durationMs: 12 * HOUR,
    mtbfMs: 1e15,
    gapsPerDay: 0,
    missingRate: 0,
    outOfOrderRate: 0,
    seed: 11,
    ...over,
  }
}

interface Recorded {
  samples: { host: string; ts: number; values: number[] }[]
  failures: FailureRecord[]
  statuses: CommandStatus[]
}

function recordingSim(params: SimParams, actuator = DEFAULT_ACTUATOR_PARAMS) {
  const rec: Recorded = { samples: [], failures: [], statuses: [] }
  const sim = new FleetSim(
    params,
    {
      sample: (h, ts, v) => rec.samples.push({ host: h.name, ts, values: Array.from(v) }),
      failure: (f) => rec.failures.push(f),
      status: (s) => rec.statuses.push(s),
    },
    actuator,
  )
  return { sim, rec }
}

function runUntil(sim: FleetSim, ts: number) {
  while (!sim.done && sim.now < ts) sim.tick()
}

function command(host: string, action: HealingCommand['action'], issuedAt: number, over: Partial<HealingCommand> = {}) {
  return {
    id: commandId(host, action, 1),
    host,
    action,
    issuedAt,
    expiresAt: issuedAt + 10 * MIN,
    dryRun: false,
    episode: 1,
    reason: { score: 0.9, threshold: 0.7, model: { name: 't', version: '1' }, predictionTs: issuedAt, top: [] },
    ...over,
  } satisfies HealingCommand
}

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')

describe('simulator determinism', () => {
  it('writes byte-identical files for the same seed, different ones for another', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'preempt-sim-'))
    try {
      const p = { ...DEFAULT_SIM_PARAMS, hosts: 12, durationMs: 6 * HOUR, mtbfMs: 2 * 86_400_000, seed: 5 }
      const a = await runSimulationToCsv(p, join(dir, 'a'))
      await runSimulationToCsv(p, join(dir, 'b'))
      await runSimulationToCsv({ ...p, seed: 6 }, join(dir, 'c'))
      expect(a.samples).toBeGreaterThan(12 * 6 * 360 * 0.95)
      for (const f of ['metrics.csv.gz', 'failures.csv', 'hosts.csv', 'manifest.json'])
        expect(sha(join(dir, 'b', f))).toBe(sha(join(dir, 'a', f)))
      expect(sha(join(dir, 'c', 'metrics.csv.gz'))).not.toBe(sha(join(dir, 'a', 'metrics.csv.gz')))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('failures and precursors', () => {
  it('raises the precursor signature between onset and failure, then the host goes silent until repaired', () => {
    const { sim, rec } = recordingSim(quietParams())
    const host = sim.hosts[0]!.name
    const fails = START + 6 * HOUR
    sim.plantFailure(host, 'memory_leak', fails, 2 * HOUR, 1)
    runUntil(sim, sim.endMs)
    const mine = rec.samples.filter((s) => s.host === host)
    const mem = (from: number, to: number) => {
      const xs = mine.filter((s) => s.ts >= from && s.ts < to).map((s) => s.values[M.mem_used]!)
      return xs.reduce((a, b) => a + b, 0) / xs.length
    }
    const before = mem(fails - 3 * HOUR, fails - 2 * HOUR)
    const late = mem(fails - 10 * MIN, fails)
    expect(late - before).toBeGreaterThan(0.2)
    expect(late).toBeGreaterThan(0.9)
    expect(rec.failures).toHaveLength(1)
    const f = rec.failures[0]!
    expect(f).toMatchObject({ host, mode: 'memory_leak', kind: 'memory', predictable: true, averted: false })
    expect(f.ts).toBe(fails)
    expect(f.onset).toBe(fails - 2 * HOUR)
    // Silent from the failure until recovery (ticks are 10 s; jitter ±1 s).
    const silent = mine.filter((s) => s.ts > fails + 1000 && s.ts < f.recoveredTs - 1000)
    expect(silent).toEqual([])
    expect(mine.some((s) => s.ts >= f.recoveredTs)).toBe(true)
    expect(f.outageMs).toBe(f.recoveredTs - f.ts)
  })

  it('gives each predictable mode its own signature', () => {
    const signature = {
      disk_degradation: M.disk_err_rate,
      fan_failure: M.temp_c,
      ecc_errors: M.ecc_corrected,
      nic_flapping: M.nic_link_flaps,
    } as const
    for (const [mode, metric] of Object.entries(signature)) {
      const { sim, rec } = recordingSim(quietParams({ hosts: 1 }))
      const host = sim.hosts[0]!.name
      const fails = START + 8 * HOUR
      sim.plantFailure(host, mode as keyof typeof signature, fails, 3 * HOUR, 1)
      runUntil(sim, fails)
      const avg = (from: number, to: number) => {
        const xs = rec.samples.filter((s) => s.ts >= from && s.ts < to).map((s) => s.values[metric]!)
        return xs.reduce((a, b) => a + b, 0) / xs.length
      }
      expect(avg(fails - 30 * MIN, fails), mode).toBeGreaterThan(avg(fails - 5 * HOUR, fails - 3 * HOUR) * 2 + 0.05)
    }
  })

  it('strikes without warning for sudden modes', () => {
    const { sim, rec } = recordingSim(quietParams({ hosts: 1 }))
    const f = sim.plantFailure(sim.hosts[0]!.name, 'power_loss', START + 2 * HOUR)
    expect(f.onset).toBe(f.ts)
    runUntil(sim, sim.endMs)
    expect(rec.failures[0]).toMatchObject({ predictable: false, kind: 'other' })
  })
})

describe('actuator', () => {
  it('drain in time averts the outage; statuses accepted then succeeded', () => {
    const { sim, rec } = recordingSim(quietParams(), { ...DEFAULT_ACTUATOR_PARAMS, actionFailRate: 0 })
    const host = sim.hosts[1]!.name
    const fails = START + 4 * HOUR
    sim.plantFailure(host, 'disk_degradation', fails, 2 * HOUR)
    runUntil(sim, fails - HOUR)
    const cmd = command(host, 'drain', sim.now)
    sim.submit(cmd)
    runUntil(sim, sim.endMs)
    expect(rec.statuses.filter((s) => s.commandId === cmd.id).map((s) => s.status)).toEqual(['accepted', 'succeeded'])
    expect(rec.failures[0]).toMatchObject({ host, averted: true, outageMs: 0, commandId: cmd.id })
    const o = computeOutcome(sim)
    expect(o).toMatchObject({ outages: 0, outagesAverted: 1, availability: 1 })
    expect(o.actions.necessary).toBe(1)
    expect(o.downtime.plannedMs).toBeGreaterThan(HOUR)
  })

  it('a drain issued too late does not avert the outage', () => {
    const { sim, rec } = recordingSim(quietParams())
    const host = sim.hosts[1]!.name
    const fails = START + 4 * HOUR
    sim.plantFailure(host, 'disk_degradation', fails, 2 * HOUR)
    runUntil(sim, fails - 20_000)
    sim.submit(command(host, 'drain', sim.now))
    runUntil(sim, sim.endMs)
    expect(rec.failures[0]).toMatchObject({ averted: false })
    expect(rec.failures[0]!.outageMs).toBeGreaterThan(0)
  })

  it('restart clears a memory leak but not a failing disk', () => {
    for (const [mode, cleared] of [
      ['memory_leak', true],
      ['disk_degradation', false],
    ] as const) {
      const { sim, rec } = recordingSim(quietParams(), {
        ...DEFAULT_ACTUATOR_PARAMS,
        actionFailRate: 0,
      })
      const host = sim.hosts[2]!.name
      const fails = START + 5 * HOUR
      sim.plantFailure(host, mode, fails, 3 * HOUR)
      runUntil(sim, fails - HOUR)
      const cmd = command(host, 'restart', sim.now)
      sim.submit(cmd)
      runUntil(sim, sim.endMs)
      expect(
        rec.failures.filter((f) => f.ts === fails),
        mode,
      ).toHaveLength(cleared ? 0 : 1)
      const done = rec.statuses.find((s) => s.commandId === cmd.id && s.status === 'succeeded')
      expect(done?.detail, mode).toBe(cleared ? 'restarted; memory leak cleared' : 'restarted')
      // The cleared failure is kept where it was due, averted by that restart, and is no FailureEventV1.
      expect(
        sim.cleared.map((f) => [f.host, f.ts, f.mode, f.averted, f.clearedBy]),
        mode,
      ).toEqual(cleared ? [[host, fails, mode, true, cmd.id]] : [])
      const o = computeOutcome(sim)
      expect(o.failures.cleared, mode).toBe(cleared ? 1 : 0)
      expect(o.actions.necessary, mode).toBe(1)
    }
  })

  it('ignores duplicates by id and answers expired commands with expired', () => {
    const { sim, rec } = recordingSim(quietParams())
    const host = sim.hosts[0]!.name
    runUntil(sim, START + HOUR)
    const cmd = command(host, 'cordon', sim.now)
    sim.submit(cmd)
    sim.submit({ ...cmd })
    const stale = command(host, 'drain', sim.now - HOUR, { id: 'c-stale', expiresAt: sim.now - 1 })
    sim.submit(stale)
    runUntil(sim, START + 2 * HOUR)
    expect(rec.statuses.filter((s) => s.commandId === cmd.id).map((s) => s.status)).toEqual(['accepted', 'succeeded'])
    expect(rec.statuses.filter((s) => s.commandId === 'c-stale').map((s) => s.status)).toEqual(['expired'])
    expect(sim.duplicatesIgnored).toBe(1)
    expect(sim.hosts[0]!.drained).toBe(false)
    expect(sim.hosts[0]!.cordoned).toBe(true)
  })

  it('rejects commands for unknown hosts and does nothing on dry runs', () => {
    const { sim, rec } = recordingSim(quietParams())
    runUntil(sim, START + HOUR)
    sim.submit(command('nobody-here', 'drain', sim.now, { id: 'c-unknown' }))
    sim.submit(command(sim.hosts[0]!.name, 'drain', sim.now, { id: 'c-dry', dryRun: true }))
    runUntil(sim, START + 2 * HOUR)
    expect(rec.statuses.find((s) => s.commandId === 'c-unknown')).toMatchObject({
      status: 'rejected',
      detail: 'unknown host',
    })
    expect(rec.statuses.filter((s) => s.commandId === 'c-dry').map((s) => s.status)).toEqual(['accepted', 'succeeded'])
    expect(sim.hosts[0]!.drained).toBe(false)
  })

  it('returns a drained host to service after maxDrainMs when nothing fails (an unnecessary action)', () => {
    const { sim } = recordingSim(quietParams(), { ...DEFAULT_ACTUATOR_PARAMS, actionFailRate: 0, maxDrainMs: HOUR })
    const host = sim.hosts[3]!
    runUntil(sim, START + HOUR)
    sim.submit(command(host.name, 'drain', sim.now))
    runUntil(sim, START + 1.5 * HOUR)
    expect(host.drained).toBe(true)
    runUntil(sim, START + 3 * HOUR)
    expect(host.drained).toBe(false)
    const o = computeOutcome(sim)
    expect(o.actions).toMatchObject({ necessary: 0, unnecessary: 1 })
    expect(o.downtime.plannedMs).toBeGreaterThan(HOUR - 1000)
    expect(o.downtime.plannedMs).toBeLessThan(HOUR + 3 * MIN)
  })
})
