/**
 * The closed-loop backtest (DESIGN.md section 6): the fleet simulator and the streaming
 * scorer in one process on the in-memory bus, on the simulator's virtual clock. The
 * simulator publishes samples, failures and the actuator's statuses; the scorer, with the
 * very policy code `preempt serve` runs, answers with commands that the simulator's
 * actuator obeys. Judged by the simulator's outcome, beside the same fleet (same seed) with
 * no scorer and beside a naive static-threshold policy behind the same guards.
 *
 * Sync: every `syncMs` of simulated time the simulator waits until the scorer has consumed
 * what it published, then delivers the commands issued meanwhile, so a command reaches the
 * actuator at most `syncMs` (default 1 min) of simulated time after the sample behind it.
 */
import type { OutgoingMessage } from '../bus/index.js'
import { createMemoryBus, MemoryCluster } from '../bus/index.js'
import { DefaultTopics, decodeHealingCommand } from '../contracts/index.js'
import { featureNames } from '../features/spec.js'
import type { Logger } from '../log.js'
import type { GuardDecision, PolicyCounters, PolicyOverrides } from '../policy/engine.js'
import { FleetSim } from '../sim/engine.js'
import { busSink } from '../sim/kafka-mode.js'
import { type ActuatorParams, DEFAULT_ACTUATOR_PARAMS, FailureModes, type SimParams } from '../sim/model.js'
import { computeOutcome, type OutcomeReport } from '../sim/outcome.js'
import type { StreamModel } from '../stream/model.js'
import { createScorer, type ScorerStats } from '../stream/scorer.js'
import { formatDuration } from '../time.js'

export interface BacktestOptions {
  model: StreamModel
  params: SimParams
  actuator?: ActuatorParams
  policy?: PolicyOverrides
  /** Simulated time between syncs of simulator and scorer, ms. Default 60 000. */
  syncMs?: number
  /** Also run the naive static-threshold policy (costs a second scored run). Default true. */
  naive?: boolean
  /**
   * Outcomes count after this much simulated time, in every run (scored or not): the scorer
   * starts with the fleet, and a failure before its windows hold history says nothing of the
   * model (in production the scorer restores its windows). Default: the model's longest window.
   */
  warmupMs?: number
  log: Logger
  onProgress?: (phase: string, fraction: number) => void
}

export interface PolicyRun {
  label: string
  outcome: OutcomeReport
  summary: BacktestSummary
  scorer?: { stats: ScorerStats; policy: PolicyCounters }
  /** With a scorer: each predictable failure it did not avert, and why. */
  missed?: Miss[]
  seconds: number
}

/**
 * Why a predictable failure was not averted, from what the scorer did between the precursor's
 * onset and the failure:
 * - never_acted: no command and no blocked try — the page rule did not fire in time (the model);
 * - blocked: the policy wanted to act and a guard said no (`guard`: the last one that did);
 * - too_late: a drain went out but was not done before the failure (`leadMs`: from the first
 *   command to the failure);
 * - wrong_action: only restarts, which cannot clear a hardware fault;
 * - action_failed: the actuator failed, rejected or let expire every command.
 */
export type MissCause = 'never_acted' | 'blocked' | 'too_late' | 'wrong_action' | 'action_failed'

export interface Miss {
  host: string
  mode: string
  ts: number
  /** When its precursor began. */
  onset: number
  cause: MissCause
  guard?: string
  leadMs?: number
}

/** Each predictable failure of the run not averted, with its cause (see MissCause). */
export function missedFailures(sim: FleetSim, decisions: readonly GuardDecision[]): Miss[] {
  const misses: Miss[] = []
  for (const f of sim.failures) {
    if (!f.predictable || f.averted || f.ts >= sim.endMs || f.ts < sim.countFromMs) continue
    const during = (ts: number) => ts >= f.onset && ts <= f.ts
    const cmds = sim.actions.filter(
      (a) => a.host === f.host && !a.dryRun && (a.action === 'drain' || a.action === 'restart') && during(a.receivedTs),
    )
    const miss: Miss = { host: f.host, mode: f.mode, ts: f.ts, onset: f.onset, cause: 'never_acted' }
    if (cmds.length) {
      miss.leadMs = f.ts - cmds[0]!.receivedTs
      const carried = cmds.filter((a) => a.status === 'succeeded' || a.status === 'accepted')
      if (!carried.length) miss.cause = 'action_failed'
      else if (carried.every((a) => a.action === 'restart') && !FailureModes[f.mode].software)
        miss.cause = 'wrong_action'
      else miss.cause = 'too_late'
    } else {
      const blocked = decisions.filter((d) => d.host === f.host && d.outcome === 'blocked' && during(d.ts))
      if (blocked.length) {
        miss.cause = 'blocked'
        miss.guard = blocked[blocked.length - 1]!.guard ?? undefined
      }
    }
    misses.push(miss)
  }
  return misses
}

/** "never acted 12 (memory_leak 7, …), blocked 3 (rack 2, …), …" */
export function formatMisses(misses: readonly Miss[]): string {
  const by = (list: readonly Miss[], key: (m: Miss) => string) => {
    const n = new Map<string, number>()
    for (const m of list) n.set(key(m), (n.get(key(m)) ?? 0) + 1)
    return [...n].sort((a, b) => b[1] - a[1])
  }
  return by(misses, (m) => m.cause)
    .map(([cause, n]) => {
      const list = misses.filter((m) => m.cause === cause)
      const detail = by(list, (m) => (cause === 'blocked' ? (m.guard ?? '?') : m.mode))
      return `${cause.replace('_', ' ')} ${n} (${detail.map(([k, c]) => `${k} ${c}`).join(', ')})`
    })
    .join(', ')
}

export interface BacktestSummary {
  predictable: number
  avertedPredictable: number
  /** averted predictable / predictable. */
  avertedShare: number | null
  unneededActions: number
  /** Unneeded drains and restarts per host-month (730 h). */
  unneededPerHostMonth: number
  /** Outages averted per unneeded action (∞ as null when none was unneeded). */
  avertedPerUnneeded: number | null
  availability: number
}

export interface BacktestResult {
  withScorer: PolicyRun
  withoutScorer: PolicyRun
  naive?: PolicyRun
  /** Simulated host-hours per wall-clock second of the scored run. */
  hostHoursPerSecond: number
  /** Simulated time before outcomes count (the scorer fills its windows). */
  warmupMs: number
}

export function summarize(o: OutcomeReport): BacktestSummary {
  const predictable = o.incidents.filter((i) => i.predictable).length
  const avertedPredictable = o.incidents.filter((i) => i.predictable && i.averted).length
  const months = o.span.hostHours / 730
  return {
    predictable,
    avertedPredictable,
    avertedShare: predictable ? avertedPredictable / predictable : null,
    unneededActions: o.actions.unnecessary,
    unneededPerHostMonth: months > 0 ? o.actions.unnecessary / months : 0,
    avertedPerUnneeded: o.actions.unnecessary ? o.outagesAverted / o.actions.unnecessary : null,
    availability: o.availability,
  }
}

/**
 * The naive policy: a score of 1 while a host's disk error rate stands above 3 (the best
 * single static threshold on the simulator, see docs/model.md), else 0, behind the same
 * policy and guards. It needs the `disk_err_rate.last` feature of the model's spec.
 */
export function naiveModel(model: StreamModel): StreamModel {
  const names = featureNames(model.spec)
  const idx = names.findIndex((n) => n.startsWith('disk_err_rate.last.'))
  const F = names.length
  return {
    ...model,
    name: 'naive-disk_err_rate>3',
    version: '1',
    rule: { threshold: 0.5, consecutive: 3 },
    score(x, rows, out) {
      for (let i = 0; i < rows; i++) out[i] = idx >= 0 && x[i * F + idx]! > 3 ? 1 : 0
      return out
    },
    explain: (_x, rows) => Array.from({ length: rows }, () => [{ feature: 'disk_err_rate.last', contribution: 1 }]),
  }
}

const tick = () => new Promise<void>((r) => setImmediate(r))

/** The warm-up before outcomes count: asked for, or the model's longest window (never past the run). */
export function warmupOf(o: Pick<BacktestOptions, 'warmupMs' | 'model' | 'params'>): number {
  return Math.min(o.warmupMs ?? Math.max(...o.model.spec.windows), o.params.durationMs)
}

async function runScored(
  label: string,
  model: StreamModel,
  o: BacktestOptions,
  onProgress?: (f: number) => void,
): Promise<PolicyRun> {
  const t0 = Date.now()
  const cluster = new MemoryCluster({ maxBatchSize: 20_000 })
  const bus = createMemoryBus(cluster)
  const topics = { ...DefaultTopics }
  const admin = await bus.admin()
  await admin.createTopics([
    { topic: topics.metrics, partitions: 6 },
    { topic: topics.failures },
    { topic: topics.commands, partitions: 6 },
    { topic: topics.commandStatus, partitions: 6 },
  ])
  const out: OutgoingMessage[] = []
  const sink = busSink(topics, (m) => out.push(m))
  const sim = new FleetSim(o.params, sink, o.actuator ?? DEFAULT_ACTUATOR_PARAMS)
  sim.countFromMs = o.params.startMs + warmupOf(o)
  const scorer = createScorer({
    bus,
    model,
    log: o.log,
    config: {
      topics,
      groupId: 'preempt-backtest',
      fromBeginning: true,
      partitions: 6,
      policy: o.policy,
      // One consumer loop in the twin: a partition waiting for peers lets the others run at once.
      peerPollMs: 0,
    },
  })
  const decisions: GuardDecision[] = []
  scorer.policy.onDecision = (d) => decisions.push(d)
  await scorer.start()
  const producer = await bus.producer()
  const cursor = new Map<number, number>()
  const commandLog = cluster.topics.get(topics.commands)!
  const syncMs = o.syncMs ?? 60_000
  const span = o.params.durationMs
  let nextSync = o.params.startMs + syncMs
  const sync = async () => {
    if (out.length) await producer.send(out.splice(0))
    // Wait for the scorer to take in everything published (and the statuses with it).
    while (scorer.stats().records < sink.samples) await tick()
    for (let i = 0; i < 3; i++) await tick()
    commandLog.partitions.forEach((log, p) => {
      for (let off = cursor.get(p) ?? 0; off < log.length; off++) {
        const e = log[off]!
        if (e.control || e.txn?.state !== 'committed') {
          if (e.txn?.state === 'open') break
          continue
        }
        const d = decodeHealingCommand(e.message.value ?? new Uint8Array(), { key: e.message.key })
        if (d.ok) sim.submit(d.value)
        cursor.set(p, off + 1)
      }
    })
    const committed = cluster.groups.get('preempt-backtest')?.committed
    const done = (topic: string) => (p: number) => Number(committed?.get(`${topic}\u0000${p}`) ?? 0)
    cluster.trim(topics.metrics, done(topics.metrics))
    cluster.trim(topics.predictions, () => Number.MAX_SAFE_INTEGER)
    cluster.trim(topics.deadLetter, () => Number.MAX_SAFE_INTEGER)
  }
  while (!sim.done) {
    sim.tick()
    if (sim.now >= nextSync) {
      await sync()
      nextSync += syncMs
      onProgress?.((sim.now - o.params.startMs) / span)
    }
  }
  sim.finish()
  await sync()
  await scorer.close(10_000)
  await bus.close()
  const outcome = computeOutcome(sim)
  return {
    label,
    outcome,
    summary: summarize(outcome),
    scorer: { stats: scorer.stats(), policy: structuredClone(scorer.policy.counters) },
    missed: missedFailures(sim, decisions),
    seconds: (Date.now() - t0) / 1000,
  }
}

export async function runBacktest(o: BacktestOptions): Promise<BacktestResult> {
  const t0 = Date.now()
  const bare = new FleetSim(o.params, { sample() {} }, o.actuator ?? DEFAULT_ACTUATOR_PARAMS)
  bare.countFromMs = o.params.startMs + warmupOf(o)
  bare.runToEnd()
  const baseOutcome = computeOutcome(bare)
  const withoutScorer: PolicyRun = {
    label: 'no scorer',
    outcome: baseOutcome,
    summary: summarize(baseOutcome),
    seconds: (Date.now() - t0) / 1000,
  }
  const withScorer = await runScored(`${o.model.name}@${o.model.version}`, o.model, o, (f) =>
    o.onProgress?.('model', f),
  )
  const naive =
    o.naive === false
      ? undefined
      : await runScored('naive: disk_err_rate > 3', naiveModel(o.model), o, (f) => o.onProgress?.('naive', f))
  return {
    withScorer,
    withoutScorer,
    naive,
    hostHoursPerSecond: (o.params.hosts * o.params.durationMs) / 3_600_000 / withScorer.seconds,
    warmupMs: warmupOf(o),
  }
}

const pct = (x: number | null) => (x === null ? '–' : `${(x * 100).toFixed(1)} %`)

export function formatBacktest(r: BacktestResult): string {
  const runs = [r.withScorer, r.withoutScorer, ...(r.naive ? [r.naive] : [])]
  const rows = runs.map((run) => {
    const s = run.summary
    const o = run.outcome
    return `  ${run.label.padEnd(28)} averted ${String(s.avertedPredictable).padStart(3)}/${s.predictable} predictable (${pct(s.avertedShare)}), outages ${o.outages}, unneeded actions ${s.unneededActions} (${s.unneededPerHostMonth.toFixed(3)}/host-month), availability ${(o.availability * 100).toFixed(4)} %, MTTR ${o.mttrMs === null ? '–' : `${(o.mttrMs / 60_000).toFixed(1)} min`}, self-healing median ${o.selfHealing.medianMs === null ? '–' : `${(o.selfHealing.medianMs / 60_000).toFixed(1)} min`}`
  })
  const st = r.withScorer.scorer
  return [
    `preempt backtest — ${r.withScorer.outcome.span.hosts} hosts, ${(r.withScorer.outcome.span.hostHours / r.withScorer.outcome.span.hosts / 24).toFixed(1)} days counted after a warm-up of ${formatDuration(r.warmupMs)}, ${r.hostHoursPerSecond.toFixed(0)} simulated host-hours/s`,
    ...rows,
    st
      ? `  scorer: ${st.stats.records} samples, commands ${JSON.stringify(st.stats.commands)}, blocked ${JSON.stringify(st.policy.blocked)}, storms ${st.policy.storms}, escalations ${st.policy.escalated}, expired ${st.policy.expired}`
      : '',
    st?.stats.peers
      ? `  peer features: ${st.stats.peers.waits} waits for other partitions, ${st.stats.peers.timeouts} stalls, ${st.stats.peers.amended} buckets amended, ${st.stats.peers.incomplete} vectors read while a partition was stalled`
      : '',
    r.withScorer.missed?.length
      ? `  predictable failures the scorer did not avert: ${formatMisses(r.withScorer.missed)}`
      : '',
  ]
    .filter(Boolean)
    .join('\n')
}
