/**
 * Live fleet figures from what the API materialised (GET /v1/stats, /metrics), with the
 * same definitions as the simulator's outcome report where the topics allow them:
 *
 * - span: the prediction event times seen, first to newest; host time = hosts × span;
 * - downtime of a failure: recovered_ts − ts (a failure not recovered yet: until the
 *   newest event time); MTBF = (host time − downtime) / failures; MTTR = downtime /
 *   failures; availability = MTBF / (MTBF + MTTR), 1 with no failure. Every failure on the
 *   topic counts, also one whose host was drained in time (the topic cannot say which were
 *   averted): a pessimistic bound beside the simulator's outcome;
 * - per healing action (drain, restart) that succeeded, self-healing time = detect +
 *   diagnose + recover: detect from the onset of the host's risk (its first score at or
 *   above ¾ of the command's threshold in the unbroken run before the deciding score,
 *   found while the bounded score history still holds it; else the incident counts in
 *   `detectUnknown` and is left out of detect and the total) to the deciding score; diagnose from there to the actuator's
 *   `accepted`; recover from `accepted` to `succeeded`;
 * - fault-tolerance rate: healing actions that succeeded / (those + failures): the share
 *   of incidents met by a completed action rather than an outage;
 * - alerts are onsets of risk `act`; an alert is followed by a failure when its host fails
 *   within the horizon after it (precision), a failure was alerted when an alert came in
 *   the horizon before it (recall); lead time = failure ts − the first such alert. A
 *   successful action usually prevents the failure it was for, so in a healing fleet
 *   precision reads low by construction: `alertsActedOn` counts alerts a succeeded action
 *   followed.
 */
import { median } from '../math/stats.js'
import type { FleetView } from './view.js'

export interface StageTimes {
  incidents: number
  /** Incidents whose onset the bounded score history no longer held (left out of detect and the total). */
  detectUnknown: number
  detectMs: { mean: number | null; median: number | null }
  diagnoseMs: { mean: number | null; median: number | null }
  recoverMs: { mean: number | null; median: number | null }
  selfHealingMs: { mean: number | null; median: number | null }
}

export interface FleetStats {
  span: { fromTs: number | null; toTs: number | null; hosts: number; hostHours: number }
  failures: number
  downtimeMs: number
  mtbfMs: number | null
  mttrMs: number | null
  availability: number | null
  faultToleranceRate: number | null
  commands: { total: number; byAction: Record<string, number>; byStatus: Record<string, number>; dryRun: number }
  selfHealing: StageTimes
  alerts: {
    total: number
    followedByFailure: number
    actedOn: number
    precision: number | null
    recall: number | null
    failuresAlerted: number
    leadTimeMs: { mean: number | null; median: number | null; min: number | null }
  }
}

const HEALING = new Set(['drain', 'restart'])

function summary(xs: number[]): { mean: number | null; median: number | null } {
  return { mean: xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null, median: median(xs) }
}

export function fleetStats(view: FleetView): FleetStats {
  const hosts = view.hostCount
  const from = Number.isFinite(view.firstTs) ? view.firstTs : null
  const to = Number.isFinite(view.lastTs) ? view.lastTs : null
  const spanMs = from !== null && to !== null ? Math.max(0, to - from) : 0
  const hostMs = hosts * spanMs

  let downtime = 0
  for (const f of view.failures) downtime += Math.max(0, (f.recoveredTs ?? to ?? f.ts) - f.ts)
  const n = view.failures.length
  const mtbf = n ? Math.max(0, hostMs - downtime) / n : null
  const mttr = n ? downtime / n : null
  const availability = n ? (mtbf! + mttr! > 0 ? mtbf! / (mtbf! + mttr!) : null) : hostMs > 0 ? 1 : null

  const byAction: Record<string, number> = {}
  const byStatus: Record<string, number> = {}
  let dryRun = 0
  let total = 0
  const detect: number[] = []
  const diagnose: number[] = []
  const recover: number[] = []
  const healed: number[] = []
  const succeededAt = new Map<string, number[]>()
  let detectUnknown = 0
  for (const entry of view.allCommands()) {
    const { command: c, statuses } = entry
    total++
    byAction[c.action] = (byAction[c.action] ?? 0) + 1
    if (c.dryRun) dryRun++
    const last = statuses.at(-1)
    byStatus[last?.status ?? 'pending'] = (byStatus[last?.status ?? 'pending'] ?? 0) + 1
    if (!HEALING.has(c.action) || c.dryRun) continue
    const ok = statuses.find((s) => s.status === 'succeeded')
    if (!ok) continue
    const accepted = statuses.find((s) => s.status === 'accepted') ?? ok
    const onset = view.onsetOf(entry)
    const g = Math.max(0, accepted.ts - c.reason.predictionTs)
    const r = Math.max(0, ok.ts - accepted.ts)
    diagnose.push(g)
    recover.push(r)
    if (onset === undefined) detectUnknown++
    else {
      const d = c.reason.predictionTs - onset
      detect.push(d)
      healed.push(d + g + r)
    }
    const list = succeededAt.get(c.host) ?? []
    list.push(c.reason.predictionTs)
    succeededAt.set(c.host, list)
  }

  // Alerts against failures, per host.
  const horizon = view.horizonMs
  const failuresOf = new Map<string, number[]>()
  for (const f of view.failures) {
    const l = failuresOf.get(f.host) ?? []
    l.push(f.ts)
    failuresOf.set(f.host, l)
  }
  const alertsOf = new Map<string, number[]>()
  let followed = 0
  let actedOn = 0
  for (const a of view.alerts) {
    const l = alertsOf.get(a.host) ?? []
    l.push(a.ts)
    alertsOf.set(a.host, l)
    if ((failuresOf.get(a.host) ?? []).some((t) => t >= a.ts && t <= a.ts + horizon)) followed++
    if ((succeededAt.get(a.host) ?? []).some((t) => t >= a.ts && t <= a.ts + horizon)) actedOn++
  }
  const leads: number[] = []
  for (const f of view.failures) {
    const first = (alertsOf.get(f.host) ?? []).filter((t) => t <= f.ts && t >= f.ts - horizon)
    if (first.length) leads.push(f.ts - Math.min(...first))
  }
  const lead = summary(leads)

  return {
    span: { fromTs: from, toTs: to, hosts, hostHours: hostMs / 3_600_000 },
    failures: n,
    downtimeMs: downtime,
    mtbfMs: mtbf,
    mttrMs: mttr,
    availability,
    faultToleranceRate: recover.length + n ? recover.length / (recover.length + n) : null,
    commands: { total, byAction, byStatus, dryRun },
    selfHealing: {
      incidents: recover.length,
      detectUnknown,
      detectMs: summary(detect),
      diagnoseMs: summary(diagnose),
      recoverMs: summary(recover),
      selfHealingMs: summary(healed),
    },
    alerts: {
      total: view.alerts.length,
      followedByFailure: followed,
      actedOn,
      precision: view.alerts.length ? followed / view.alerts.length : null,
      recall: n ? leads.length / n : null,
      failuresAlerted: leads.length,
      leadTimeMs: { ...lead, min: leads.length ? Math.min(...leads) : null },
    },
  }
}
