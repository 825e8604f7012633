/**
 * The outcome of a simulated run: what failed, what commands did about it, and what the
 * fleet's availability was.
 *
 * Definitions (fleet-wide, over hosts × simulated span):
 * - outage: a failure that was not averted (the host was not drained when it failed);
 * - unplanned downtime: the outages' durations; planned downtime: drains, restarts, and
 *   repairs of hosts that had been drained in time;
 * - MTBF = uptime / outages, with uptime = host time − unplanned − planned downtime;
 * - MTTR = unplanned downtime / outages;
 * - availability = MTBF / (MTBF + MTTR) (1 when there was no outage);
 * - per incident, self-healing time = detect + diagnose + recover, where detect runs from
 *   the fault's onset (precursor start, or the failure) to the first command about it (or
 *   the silence alarm), diagnose to the action starting, recover to the service being whole.
 * - an action is necessary when its host fails within `necessaryWindowMs` after it, or when
 *   it cleared the fault (a restart of a leaking host: the failure never comes, and counts as
 *   averted where it was due).
 */
import { median } from '../math/stats.js'
import type { ActionRecord, FailureRecord, FleetSim } from './engine.js'
import type { FailureMode } from './model.js'

export interface IncidentReport {
  host: string
  mode: FailureMode
  ts: number
  predictable: boolean
  averted: boolean
  detectMs: number
  diagnoseMs: number
  recoverMs: number
  selfHealingMs: number
  commandId: string | null
}

export interface OutcomeReport {
  span: { startMs: number; endMs: number; hosts: number; hostHours: number }
  failures: {
    total: number
    predictable: number
    sudden: number
    averted: number
    /** Of the averted, those a restart cleared before they were due (counted where they were due). */
    cleared: number
    byMode: Record<string, { total: number; predictable: number; averted: number }>
  }
  actions: {
    total: number
    byAction: Record<string, number>
    byStatus: Record<string, number>
    necessary: number
    unnecessary: number
    dryRun: number
    duplicatesIgnored: number
  }
  outagesAverted: number
  outages: number
  downtime: { unplannedMs: number; plannedMs: number }
  /** null when there was no outage (infinite). */
  mtbfMs: number | null
  mttrMs: number | null
  availability: number
  selfHealing: { incidents: number; meanMs: number | null; medianMs: number | null }
  incidents: IncidentReport[]
}

/** Whether an action was needed: its host failed within the window after it. */
export function isNecessary(a: ActionRecord, failures: FailureRecord[], windowMs: number): boolean {
  return failures.some(
    (f) => f.host === a.host && (f.clearedBy === a.id || (f.ts >= a.receivedTs && f.ts <= a.receivedTs + windowMs)),
  )
}

/**
 * The outcome over [countFrom, untilMs): countFrom is the sim's `countFromMs` (the start, or
 * after a backtest's warm-up); untilMs by default the end (less for a run stopped early).
 */
export function computeOutcome(sim: FleetSim, untilMs: number = sim.endMs): OutcomeReport {
  const { params } = sim
  const fromMs = sim.countFromMs
  const endMs = Math.min(untilMs, sim.endMs)
  const hostMs = params.hosts * (endMs - fromMs)
  const counted = (ts: number) => ts >= fromMs && ts < endMs
  // A failure a restart cleared counts where it was due: predictable, averted, no outage.
  const cleared = sim.cleared
  const failures = [...sim.failures, ...cleared].filter((f) => counted(f.ts)).sort((a, b) => a.ts - b.ts)
  const byMode: OutcomeReport['failures']['byMode'] = {}
  for (const f of failures) {
    const e = byMode[f.mode] ?? { total: 0, predictable: 0, averted: 0 }
    byMode[f.mode] = e
    e.total++
    if (f.predictable) e.predictable++
    if (f.averted) e.averted++
  }
  const actions = sim.actions.filter((a) => a.receivedTs >= fromMs)
  const real = actions.filter((a) => !a.dryRun)
  const byAction: Record<string, number> = {}
  const byStatus: Record<string, number> = {}
  for (const a of actions) {
    byAction[a.action] = (byAction[a.action] ?? 0) + 1
    byStatus[a.status] = (byStatus[a.status] ?? 0) + 1
  }
  // Only actions that do something to a host can be (un)necessary; alerts page a person.
  const effective = real.filter(
    (a) => (a.action === 'drain' || a.action === 'restart') && (a.status === 'succeeded' || a.status === 'accepted'),
  )
  // A restart that cleared a fault was needed even when the failure was due after the window or the run.
  const judged = [...failures, ...cleared.filter((f) => f.ts >= endMs)]
  const necessary = effective.filter((a) => isNecessary(a, judged, sim.actuator.necessaryWindowMs)).length
  const outages = failures.filter((f) => !f.averted)
  const unplannedMs = outages.reduce((s, f) => s + f.outageMs, 0)
  const plannedMs = sim.plannedDowntimeMs
  const uptime = Math.max(0, hostMs - unplannedMs - plannedMs)
  const mtbfMs = outages.length ? uptime / outages.length : null
  const mttrMs = outages.length ? unplannedMs / outages.length : null
  const incidents: IncidentReport[] = failures.map((f) => ({
    host: f.host,
    mode: f.mode,
    ts: f.ts,
    predictable: f.predictable,
    averted: f.averted,
    detectMs: f.detectMs,
    diagnoseMs: f.diagnoseMs,
    recoverMs: f.recoverMs,
    selfHealingMs: f.detectMs + f.diagnoseMs + f.recoverMs,
    commandId: f.commandId ?? null,
  }))
  const heal = incidents.map((i) => i.selfHealingMs)
  return {
    span: { startMs: fromMs, endMs, hosts: params.hosts, hostHours: hostMs / 3_600_000 },
    failures: {
      total: failures.length,
      predictable: failures.filter((f) => f.predictable).length,
      sudden: failures.filter((f) => !f.predictable).length,
      averted: failures.filter((f) => f.averted).length,
      cleared: failures.filter((f) => f.clearedBy !== undefined).length,
      byMode,
    },
    actions: {
      total: actions.length,
      byAction,
      byStatus,
      necessary,
      unnecessary: effective.length - necessary,
      dryRun: actions.length - real.length,
      duplicatesIgnored: sim.duplicatesIgnored,
    },
    outagesAverted: failures.length - outages.length,
    outages: outages.length,
    downtime: { unplannedMs, plannedMs },
    mtbfMs,
    mttrMs,
    availability: mtbfMs === null || mttrMs === null ? 1 : mtbfMs / (mtbfMs + mttrMs),
    selfHealing: {
      incidents: incidents.length,
      meanMs: heal.length ? heal.reduce((a, b) => a + b, 0) / heal.length : null,
      medianMs: median(heal),
    },
    incidents,
  }
}

const h = (ms: number | null) => (ms === null ? '∞' : `${(ms / 3_600_000).toFixed(2)} h`)
const m = (ms: number | null) => (ms === null ? '-' : `${(ms / 60_000).toFixed(1)} min`)

/** The readable summary printed at the end of a run. */
export function formatOutcome(o: OutcomeReport): string {
  const modes = Object.entries(o.failures.byMode)
    .sort((a, b) => b[1].total - a[1].total)
    .map(([mode, e]) => `    ${mode.padEnd(18)} ${String(e.total).padStart(4)}  (averted ${e.averted})`)
  return [
    `preempt simulate — ${o.span.hosts} hosts, ${(o.span.hostHours / o.span.hosts / 24).toFixed(1)} days`,
    `  failures: ${o.failures.total} (${o.failures.predictable} predictable, ${o.failures.sudden} without precursor)`,
    ...modes,
    `  outages: ${o.outages}, averted by commands: ${o.outagesAverted}${o.failures.cleared ? ` (${o.failures.cleared} cleared by a restart before they were due)` : ''}`,
    `  actions: ${o.actions.total} (${
      Object.entries(o.actions.byAction)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none'
    }); necessary ${o.actions.necessary}, unnecessary ${o.actions.unnecessary}, duplicates ignored ${o.actions.duplicatesIgnored}`,
    `  downtime: unplanned ${h(o.downtime.unplannedMs)}, planned ${h(o.downtime.plannedMs)}`,
    `  MTBF ${h(o.mtbfMs)}, MTTR ${m(o.mttrMs)}, availability ${(o.availability * 100).toFixed(4)} %`,
    `  self-healing (detect + diagnose + recover): mean ${m(o.selfHealing.meanMs)}, median ${m(o.selfHealing.medianMs)} over ${o.selfHealing.incidents} incidents`,
  ].join('\n')
}
