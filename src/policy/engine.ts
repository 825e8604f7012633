/**
 * The healing policy (DESIGN.md section 7): pure, no I/O, no tfjs. Scores in, healing
 * commands and guard decisions out. The streaming scorer, the backtest and the tests all
 * decide through this one engine.
 *
 * Per host, a state machine on event time:
 *
 *   healthy ──score ≥ hi──► at_risk ──k in a row ≥ hi, guards pass──► acting
 *      ▲                      │  ▲                                       │ status
 *      └──score < lo──────────┘  └──failed / rejected / expired──────────┤
 *      ▲                                                                 ▼ succeeded
 *      └──── recoveryMs passed and score < lo (or the host failed) ◄─ recovering
 *
 * Repeated failed actions (maxActionsPerHostPerDay) escalate: cordon + alert to a person,
 * state `escalated`, and the host is uncordoned once it is healthy again (every cordon has
 * an exit). A score that falls below `lo` before the actuator accepted the command cancels
 * it (recorded; a cancelled drain is never followed by a restart).
 *
 * Guards, all checked before a command is emitted, each recording why it blocked: kill
 * switch, storm breaker (too many hosts hot at once → one alert, no drains), per-host
 * cooldown, concurrency (absolute and fraction of known hosts), per-zone and per-rack caps,
 * and a token bucket. Dry run emits the same commands marked `dry_run`.
 *
 * Time is the event time of the samples scored (`observe`'s ts, `tick`'s now): a replay
 * makes the same decisions, and command ids (host + action + episode) come out the same.
 * Cost per observe: O(1) amortised, plus O(in-flight hosts) when an action is tried.
 */
import { commandId, type HealingAction, type HealingCommand } from '../contracts/healing-command.js'
import { type AlertRule, isHigh } from './alert.js'

export const HostStates = ['healthy', 'at_risk', 'acting', 'recovering', 'escalated'] as const
export type HostStateName = (typeof HostStates)[number]

export const Guards = [
  'kill_switch',
  'storm',
  'not_yet',
  'cooldown',
  'concurrency',
  'concurrency_fraction',
  'zone',
  'rack',
  'rate',
] as const
export type GuardName = (typeof Guards)[number]

export interface GuardOptions {
  /** Hosts acting, drained or cordoned at once, at most. Default 10. */
  maxConcurrent: number
  /** …and at most this fraction of the known hosts (at least one host). Default 0.05. */
  maxConcurrentFraction: number
  /** Per zone label, at most. Default 5. */
  maxPerZone: number
  /** Per rack label, at most. Default 2. */
  maxPerRack: number
  /** Token bucket: actions per hour on average. Default 30. */
  ratePerHour: number
  /** Token bucket: burst size. Default 10. */
  burst: number
  /** After an action on a host, no other for this long, ms. Default 1 h. */
  cooldownMs: number
  /** Actions (drain, restart) per host per 24 h before escalating to cordon + alert. Default 3. */
  maxActionsPerHostPerDay: number
  /** Storm: this fraction of the known hosts hot at once… Default 0.2. */
  stormFraction: number
  /** …and at least this many. Default 5. */
  stormMinHosts: number
  /** A host is hot while its last score (within this long) is ≥ hi, ms. Default 10 min. */
  stormWindowMs: number
}

export interface PolicyOptions {
  /** Enter at_risk at or above this score; the k-in-a-row rule counts scores ≥ it. */
  thresholdHigh: number
  /** Leave at_risk (and cancel an action not yet accepted) below this score. */
  thresholdLow: number
  /** Scores in a row ≥ thresholdHigh before acting (the model's alert rule). */
  consecutive: number
  /**
   * The page rule's gate on the time to failure (`thresholds.page.within`): a score counts
   * toward `consecutive` (and makes a host at risk) only when the observation's `ttfMedian` is
   * at most this, ms — "fails soon", not "someday"; none (null or absent): it does not. null:
   * the score alone. Default null.
   */
  pageWithinMs: number | null
  /** Model id carried in commands. */
  model: { name: string; version: string }
  /** Metrics whose precursors look like software (restart clears them); others → drain. */
  softwareMetrics: readonly string[]
  /** A command is void after this long, ms. Default 10 min. */
  commandTtlMs: number
  /** Time in `recovering` or `escalated` before a host may be healthy again, ms. Default 2 h. */
  recoveryMs: number
  /**
   * The ladder's next step: this long after a restart succeeded, a host still at k scores in a
   * row ≥ hi (counted from then) is drained — the restart did not clear it (a hardware fault
   * whose top features looked like software). Past the per-host cooldown (the same episode,
   * one step further); every other guard applies. null: a restarted host waits out
   * `recoveryMs`. Default 30 min (measured: docs/streaming.md).
   */
  ladderAfterMs: number | null
  /**
   * With a time-to-failure estimate: act only when the failure, if it comes, is due (the
   * observation's `ttf`) within this long — the action's own duration plus a margin — not merely "someday"; an estimate
   * past it holds the action (guard `not_yet`) until a later score brings it closer. null: the
   * k-in-a-row rule alone. Scores without an estimate are never held. Default null.
   */
  actWithinMs: number | null
  /** Emit commands marked dry_run (the actuator reports, does nothing). Default false. */
  dryRun: boolean
  /** No action at all while on. Default false. */
  killSwitch: boolean
  guards: GuardOptions
  /**
   * Share of the fleet this engine decides for (owned partitions / all partitions): absolute
   * caps are scaled by it (floor, at least 1) so instances that split a fleet stay within the
   * fleet-wide budget together. Default 1.
   */
  share: number
}

export const DEFAULT_GUARDS: GuardOptions = {
  maxConcurrent: 10,
  maxConcurrentFraction: 0.05,
  maxPerZone: 5,
  maxPerRack: 2,
  ratePerHour: 30,
  burst: 10,
  cooldownMs: 3_600_000,
  maxActionsPerHostPerDay: 3,
  stormFraction: 0.2,
  stormMinHosts: 5,
  stormWindowMs: 600_000,
}

export const DEFAULT_SOFTWARE_METRICS = ['mem_used', 'swap_used', 'gc_pause_ms', 'fd_used'] as const

/** Options as callers give them: any subset, guards too. */
export type PolicyOverrides = Partial<Omit<PolicyOptions, 'guards'>> & { guards?: Partial<GuardOptions> }

export function defaultPolicyOptions(
  p: Pick<PolicyOptions, 'thresholdHigh' | 'consecutive' | 'model'> & PolicyOverrides,
): PolicyOptions {
  return {
    thresholdLow: p.thresholdHigh * 0.75,
    softwareMetrics: DEFAULT_SOFTWARE_METRICS,
    commandTtlMs: 600_000,
    recoveryMs: 2 * 3_600_000,
    ladderAfterMs: 30 * 60_000,
    actWithinMs: null,
    pageWithinMs: null,
    dryRun: false,
    killSwitch: false,
    share: 1,
    ...p,
    guards: { ...DEFAULT_GUARDS, ...p.guards },
  }
}

/** A host's policy state: what the state topic holds per host (PolicyStateV1 `host`). */
export interface HostPolicy {
  host: string
  state: HostStateName
  zone: string | null
  rack: string | null
  /** The host's `service` label (for the API's filters). */
  service: string | null
  /** Scores in a row ≥ hi since the last action attempt (what acting counts). */
  run: number
  /** Scores in a row ≥ hi, whatever the policy did: the alert rule behind `risk` (as `preempt score`'s alert). */
  streak: number
  /** Incremented per action episode; part of every command id. */
  episode: number
  lastScore: number
  lastTs: number
  /** Entered the current state at (event time). */
  since: number
  cooldownUntil: number
  /** Event times of the actions (drain, restart) issued over the last 24 h. */
  actions: number[]
  cordoned: boolean
  /** Uncordon once the host reports again (it failed while cordoned). */
  uncordonDue: boolean
  command: {
    id: string
    action: HealingAction
    issuedAt: number
    expiresAt: number
    status: 'sent' | 'accepted' | 'succeeded' | 'failed' | 'rejected' | 'expired' | 'cancelled'
  } | null
  /** The guard that blocked this host's last try (cleared when an action goes out). */
  blockedBy: GuardName | null
}

/** A host's state when the policy first hears of it. */
export function newHostPolicy(host: string, ts: number, labels: Readonly<Record<string, string>>): HostPolicy {
  return {
    host,
    state: 'healthy',
    zone: labels['zone'] ?? null,
    rack: labels['rack'] ?? null,
    service: labels['service'] ?? null,
    run: 0,
    streak: 0,
    episode: 0,
    lastScore: 0,
    lastTs: ts,
    since: ts,
    cooldownUntil: Number.NEGATIVE_INFINITY,
    actions: [],
    cordoned: false,
    uncordonDue: false,
    command: null,
    blockedBy: null,
  }
}

export interface GuardDecision {
  ts: number
  host: string
  action: HealingAction
  /** 'issued', 'blocked' (guard says which), 'cancelled', 'escalated', 'storm'. */
  outcome: 'issued' | 'blocked' | 'cancelled' | 'escalated' | 'storm'
  guard: GuardName | null
  detail: string
  commandId: string | null
}

export type TopFeatures = readonly { feature: string; contribution: number }[]

/** An observation's top features, computed now when they were left for later. */
export function topOf(o: Pick<Observation, 'top'>): TopFeatures {
  return typeof o.top === 'function' ? o.top() : o.top
}

export interface Observation {
  host: string
  /** Event time of the sample scored, epoch ms. */
  ts: number
  score: number
  labels: Readonly<Record<string, string>>
  /**
   * The score's top feature contributions (name `metric.agg.window`), or how to compute them:
   * a function is called only when an action is chosen or recorded (explanations cost far
   * more than a score; the scorer explains most hot vectors on demand).
   */
  top: TopFeatures | (() => TopFeatures)
  /** When the failure is due if it comes (the median given a failure), ms; null: none within the model's reach; absent: no estimate. */
  ttf?: number | null | undefined
  /** The median time to failure (not given a failure), ms; null: later than the model's reach; absent: no estimate. For `pageWithinMs`. */
  ttfMedian?: number | null | undefined
}

export type Risk = 'ok' | 'watch' | 'act'

export interface ObserveResult {
  /** act: the k-in-a-row alert rule fires (as `preempt score`'s alert column); watch: this score ≥ hi; ok otherwise. */
  risk: Risk
  commands: HealingCommand[]
}

const DAY = 86_400_000

/** Counts of what the guards did, by outcome and guard (for /metrics and the backtest). */
export interface PolicyCounters {
  issued: Record<string, number>
  blocked: Record<string, number>
  cancelled: number
  escalated: number
  storms: number
  expired: number
}

/** The page rule the options describe: thresholdHigh, consecutive and the ttf gate. */
function pageRuleOfOptions(o: PolicyOptions): AlertRule {
  return { threshold: o.thresholdHigh, consecutive: o.consecutive, within: o.pageWithinMs ?? undefined }
}

export class PolicyEngine {
  private readonly hosts = new Map<string, HostPolicy>()
  /** Hosts that hold capacity: acting, recovering after a drain, escalated (cordoned). */
  private readonly busy = new Set<string>()
  /** Hosts whose last score is ≥ hi (storm breaker). */
  private readonly hot = new Set<string>()
  private readonly changed = new Set<string>()
  private tokens: number
  private tokensAt = Number.NEGATIVE_INFINITY
  private stormSince: number | null = null
  private stormAlerted = false
  private now = Number.NEGATIVE_INFINITY
  readonly decisions: GuardDecision[] = []
  /** Most recent decisions kept (ring). */
  readonly maxDecisions = 10_000
  readonly counters: PolicyCounters = { issued: {}, blocked: {}, cancelled: 0, escalated: 0, storms: 0, expired: 0 }
  private opts: PolicyOptions
  /** The page rule of `opts`, built once per options change (observe is per record). */
  private pageRule: AlertRule

  constructor(opts: PolicyOptions) {
    this.opts = opts
    this.pageRule = pageRuleOfOptions(opts)
    this.tokens = this.capacity('burst')
  }

  get options(): Readonly<PolicyOptions> {
    return this.opts
  }

  /** Changes options at run time (kill switch, dry run, a new model's thresholds). */
  update(patch: PolicyOverrides): void {
    this.opts = { ...this.opts, ...patch, guards: { ...this.opts.guards, ...patch.guards } }
    this.pageRule = pageRuleOfOptions(this.opts)
  }

  get knownHosts(): number {
    return this.hosts.size
  }

  get stormActive(): boolean {
    return this.stormSince !== null
  }

  state(host: string): Readonly<HostPolicy> | undefined {
    return this.hosts.get(host)
  }

  *states(): IterableIterator<Readonly<HostPolicy>> {
    yield* this.hosts.values()
  }

  /** Hosts whose state changed since the last call (to write to the state changelog). */
  takeChanged(): HostPolicy[] {
    const out = [...this.changed].map((h) => this.hosts.get(h)!).filter(Boolean)
    this.changed.clear()
    return out
  }

  /** Restores a host's state (from the changelog) before any observation of it. */
  restore(s: HostPolicy): void {
    this.hosts.set(s.host, { ...s, actions: [...s.actions], command: s.command ? { ...s.command } : null })
    this.index(s.host)
    this.now = Math.max(this.now, s.lastTs)
    // The bucket is not logged: rebuild it from the actions the hosts record.
    this.tokensAt = Number.NEGATIVE_INFINITY
  }

  /** Forgets hosts (their partition moved to another instance). */
  forget(hosts: Iterable<string>): void {
    for (const h of hosts) {
      this.hosts.delete(h)
      this.busy.delete(h)
      this.hot.delete(h)
      this.changed.delete(h)
    }
  }

  private stormTrigger(): number {
    const g = this.opts.guards
    return Math.max(g.stormMinHosts, Math.ceil(g.stormFraction * this.hosts.size))
  }

  private capacity(which: 'burst' | 'maxConcurrent' | 'maxPerZone' | 'maxPerRack'): number {
    return Math.max(1, Math.floor(this.opts.guards[which] * this.opts.share))
  }

  private index(host: string): void {
    const s = this.hosts.get(host)!
    const holds =
      s.state === 'acting' ||
      s.state === 'escalated' ||
      s.cordoned ||
      (s.state === 'recovering' && s.command?.action === 'drain')
    if (holds) this.busy.add(host)
    else this.busy.delete(host)
    // Hot: the last score was high (under a time-to-failure gate, the last observation was).
    const hot = this.opts.pageWithinMs === null ? s.lastScore >= this.opts.thresholdHigh : (s.streak ?? 0) > 0
    if (hot) this.hot.add(host)
    else this.hot.delete(host)
  }

  private touch(s: HostPolicy): void {
    this.index(s.host)
    this.changed.add(s.host)
  }

  private enter(s: HostPolicy, state: HostStateName, ts: number): void {
    s.state = state
    s.since = ts
  }

  /** Hears every decision as it is made (the ring above keeps only the newest; the backtest needs them all). */
  onDecision: ((d: GuardDecision) => void) | undefined

  private record(d: GuardDecision): void {
    this.onDecision?.(d)
    this.decisions.push(d)
    if (this.decisions.length > this.maxDecisions) this.decisions.splice(0, this.decisions.length - this.maxDecisions)
  }

  private command(s: HostPolicy, action: HealingAction, ts: number, score: number, o: Observation | undefined) {
    const cmd: HealingCommand = {
      id: commandId(s.host, action, s.episode),
      host: s.host,
      action,
      issuedAt: ts,
      expiresAt: ts + this.opts.commandTtlMs,
      dryRun: this.opts.dryRun,
      episode: s.episode,
      reason: {
        score: Math.min(1, Math.max(0, score)),
        threshold: this.opts.thresholdHigh,
        model: { ...this.opts.model },
        predictionTs: ts,
        top: (o ? topOf(o) : []).slice(0, 8).map((c) => ({ feature: c.feature, contribution: c.contribution })),
      },
    }
    this.counters.issued[action] = (this.counters.issued[action] ?? 0) + 1
    return cmd
  }

  /** drain for hardware-looking precursors, restart when software metrics dominate the explanation. */
  chooseAction(top: TopFeatures): HealingAction {
    let soft = 0
    let all = 0
    for (const c of top) {
      const w = Math.abs(c.contribution)
      all += w
      if (this.opts.softwareMetrics.includes(c.feature.split('.')[0]!)) soft += w
    }
    return all > 0 && soft / all > 0.5 ? 'restart' : 'drain'
  }

  /** Scores one vector of a host (in the host's event-time order). */
  observe(o: Observation): ObserveResult {
    const { thresholdHigh: hi, thresholdLow: lo, consecutive } = this.opts
    this.now = Math.max(this.now, o.ts)
    let s = this.hosts.get(o.host)
    if (!s) {
      s = newHostPolicy(o.host, o.ts, o.labels)
      this.hosts.set(o.host, s)
      this.changed.add(o.host)
    }
    if (o.labels['zone']) s.zone = o.labels['zone']
    if (o.labels['rack']) s.rack = o.labels['rack']
    if (o.labels['service']) s.service = o.labels['service']
    const commands: HealingCommand[] = []
    const prevState = s.state
    const prevRun = s.run
    const prevStreak = s.streak
    // Expiry first, at the command's own expiry time: the same decision whether a tick or
    // this observation finds it, whatever the batch boundaries.
    commands.push(...this.expireIfDue(s, o.ts))
    s.lastScore = o.score
    s.lastTs = o.ts
    // High under the page rule: the score, and with a gate the time to failure too.
    const high = isHigh(this.pageRule, o.score, o.ttfMedian)
    s.run = high ? s.run + 1 : 0
    s.streak = high ? (s.streak ?? 0) + 1 : 0
    // Counted hot before any action is tried, so the storm breaker sees this score too.
    if (high) this.hot.add(s.host)
    else this.hot.delete(s.host)
    const kill = this.opts.killSwitch
    if (s.uncordonDue && !kill) {
      // The host reports again after failing while cordoned: give it back.
      s.uncordonDue = false
      s.cordoned = false
      commands.push(this.command(s, 'uncordon', o.ts, o.score, o))
    }
    switch (s.state) {
      case 'healthy':
        if (high) this.enter(s, 'at_risk', o.ts)
        break
      case 'at_risk':
        if (o.score < lo) {
          if (s.blockedBy)
            this.record({
              ts: o.ts,
              host: s.host,
              action: 'drain',
              outcome: 'cancelled',
              guard: null,
              detail: `score ${o.score.toFixed(3)} fell below ${lo} while blocked by ${s.blockedBy}`,
              commandId: null,
            })
          s.blockedBy = null
          this.enter(s, 'healthy', o.ts)
        }
        break
      case 'acting':
        if (o.score < lo && s.command?.status === 'sent') {
          // Not yet started: cancel. The actuator may still receive it; nothing follows it.
          s.command.status = 'cancelled'
          this.counters.cancelled++
          this.record({
            ts: o.ts,
            host: s.host,
            action: s.command.action,
            outcome: 'cancelled',
            guard: null,
            detail: `score ${o.score.toFixed(3)} fell below ${lo} before the actuator accepted it`,
            commandId: s.command.id,
          })
          this.enter(s, 'healthy', o.ts)
        }
        break
      case 'recovering':
      case 'escalated':
        if (
          s.state === 'recovering' &&
          this.opts.ladderAfterMs !== null &&
          s.command?.action === 'restart' &&
          s.command.status === 'succeeded'
        ) {
          // Scores in a row count from the settle time on: before it the windows still hold the fault's past.
          if (o.ts - s.since < this.opts.ladderAfterMs) s.run = 0
          else if (s.run >= consecutive) {
            commands.push(...this.tryAct(s, o, 'drain'))
            break
          }
        }
        // Under the kill switch a cordoned host stays so (no command at all) until it is off.
        if (o.ts - s.since >= this.opts.recoveryMs && o.score < lo && !(kill && s.cordoned)) {
          if (s.cordoned) {
            s.cordoned = false
            commands.push(this.command(s, 'uncordon', o.ts, o.score, o))
          }
          this.enter(s, 'healthy', o.ts)
        }
        break
    }
    if (s.state === 'at_risk' && s.run >= consecutive) commands.push(...this.tryAct(s, o))
    if (s.state !== prevState || commands.length || s.run !== prevRun || s.streak !== prevStreak) this.touch(s)
    else this.index(s.host)
    const risk: Risk = s.streak >= consecutive ? 'act' : o.score >= hi ? 'watch' : 'ok'
    return { risk, commands }
  }

  private refill(now: number): void {
    const g = this.opts.guards
    const cap = this.capacity('burst')
    const perMs = (g.ratePerHour * this.opts.share) / 3_600_000
    if (!Number.isFinite(this.tokensAt)) {
      // Rebuild from the recorded actions (after a restore): replay them through the bucket.
      const times = [...this.hosts.values()].flatMap((h) => h.actions).sort((a, b) => a - b)
      this.tokens = cap
      let at = times[0] ?? now
      for (const t of times) {
        this.tokens = Math.min(cap, this.tokens + (t - at) * perMs) - 1
        at = t
      }
      this.tokensAt = at
    }
    if (now > this.tokensAt) {
      this.tokens = Math.min(cap, this.tokens + (now - this.tokensAt) * perMs)
      this.tokensAt = now
    }
  }

  /** The first guard that blocks an action on `s` now, with why; undefined when all pass. */
  private blockingGuard(
    s: HostPolicy,
    now: number,
    ttf?: number | null,
    pastCooldown = false,
  ): { guard: GuardName; detail: string } | undefined {
    const g = this.opts.guards
    if (this.opts.killSwitch) return { guard: 'kill_switch', detail: 'kill switch is on' }
    const within = this.opts.actWithinMs
    if (within !== null && ttf !== undefined && (ttf === null || ttf > within))
      return {
        guard: 'not_yet',
        detail: `failure expected ${ttf === null ? 'later than the model can tell' : `in ${Math.round(ttf / 60_000)} min`}, acting within ${Math.round(within / 60_000)} min`,
      }
    // Checked here too, not only per tick: in a fleet-wide event the first hosts to reach k
    // in a row must not be drained before the tick sees the storm.
    if (this.stormSince === null && this.hot.size >= this.stormTrigger()) this.stormSince = now
    if (this.stormSince !== null)
      return { guard: 'storm', detail: `storm since ${new Date(this.stormSince).toISOString()}` }
    if (now < s.cooldownUntil && !pastCooldown)
      return { guard: 'cooldown', detail: `host cooling down until ${new Date(s.cooldownUntil).toISOString()}` }
    const maxAbs = this.capacity('maxConcurrent')
    if (this.busy.size >= maxAbs)
      return { guard: 'concurrency', detail: `${this.busy.size} hosts in action (max ${maxAbs})` }
    const maxFrac = Math.max(1, Math.floor(g.maxConcurrentFraction * this.hosts.size))
    if (this.busy.size >= maxFrac)
      return {
        guard: 'concurrency_fraction',
        detail: `${this.busy.size} of ${this.hosts.size} hosts in action (max ${g.maxConcurrentFraction * 100} %)`,
      }
    if (s.zone !== null) {
      const inZone = [...this.busy].filter((h) => this.hosts.get(h)?.zone === s.zone).length
      if (inZone >= this.capacity('maxPerZone'))
        return { guard: 'zone', detail: `${inZone} hosts in action in zone ${s.zone}` }
    }
    if (s.rack !== null) {
      const inRack = [...this.busy].filter((h) => this.hosts.get(h)?.rack === s.rack).length
      if (inRack >= this.capacity('maxPerRack'))
        return { guard: 'rack', detail: `${inRack} hosts in action in rack ${s.rack}` }
    }
    this.refill(now)
    if (this.tokens < 1) return { guard: 'rate', detail: `token bucket empty (${g.ratePerHour}/h)` }
    return undefined
  }

  /** An action on a host at k in a row; `ladder`: the step after a restart that did not help (past the cooldown). */
  private tryAct(s: HostPolicy, o: Observation, ladder?: 'drain'): HealingCommand[] {
    const now = o.ts
    s.actions = s.actions.filter((t) => t > now - DAY)
    if (s.actions.length >= this.opts.guards.maxActionsPerHostPerDay) return this.escalate(s, now, o.score, o)
    // The action reads the explanation: chosen only when it is issued or a new block recorded.
    const actionOf = () => ladder ?? this.chooseAction(topOf(o))
    const blocked = this.blockingGuard(s, now, o.ttf, ladder !== undefined)
    if (blocked) {
      this.counters.blocked[blocked.guard] = (this.counters.blocked[blocked.guard] ?? 0) + 1
      if (s.blockedBy !== blocked.guard)
        this.record({
          ts: now,
          host: s.host,
          action: actionOf(),
          outcome: 'blocked',
          guard: blocked.guard,
          detail: blocked.detail,
          commandId: null,
        })
      s.blockedBy = blocked.guard
      this.changed.add(s.host)
      return []
    }
    const action = actionOf()
    this.tokens -= 1
    s.episode++
    s.blockedBy = null
    const cmd = this.command(s, action, now, o.score, o)
    s.command = { id: cmd.id, action, issuedAt: now, expiresAt: cmd.expiresAt, status: 'sent' }
    s.actions.push(now)
    s.cooldownUntil = now + this.opts.guards.cooldownMs
    this.enter(s, 'acting', now)
    this.record({
      ts: now,
      host: s.host,
      action,
      outcome: 'issued',
      guard: null,
      detail: ladder
        ? `${s.run} scores in a row ≥ ${this.opts.thresholdHigh} ${Math.round(this.opts.ladderAfterMs! / 60_000)} min after a restart: the restart did not clear it`
        : `${s.run} scores in a row ≥ ${this.opts.thresholdHigh}`,
      commandId: cmd.id,
    })
    return [cmd]
  }

  /** Too many actions on one host: take it out of rotation and ask a person. */
  private escalate(s: HostPolicy, now: number, score: number, o?: Observation): HealingCommand[] {
    if (this.opts.killSwitch) return []
    s.episode++
    s.cordoned = true
    s.command = null
    s.blockedBy = null
    this.enter(s, 'escalated', now)
    this.counters.escalated++
    const cordon = this.command(s, 'cordon', now, score, o)
    const alert = this.command(s, 'alert', now, score, o)
    this.record({
      ts: now,
      host: s.host,
      action: 'cordon',
      outcome: 'escalated',
      guard: null,
      detail: `${s.actions.length} actions in 24 h: cordoned, a person is paged`,
      commandId: cordon.id,
    })
    this.touch(s)
    return [cordon, alert]
  }

  /** An actuator's answer about a command. Answers about other commands are ignored. */
  onStatus(st: { commandId: string; host: string; status: string; ts: number }): HealingCommand[] {
    const s = this.hosts.get(st.host)
    if (!s?.command || s.command.id !== st.commandId || s.state !== 'acting') return []
    const c = s.command
    if (c.status === 'cancelled') return []
    switch (st.status) {
      case 'accepted':
        c.status = 'accepted'
        break
      case 'succeeded':
        c.status = 'succeeded'
        this.enter(s, 'recovering', st.ts)
        break
      case 'failed':
      case 'rejected':
      case 'expired': {
        c.status = st.status
        this.touch(s)
        return this.afterFailedAction(s, st.ts)
      }
      default:
        return []
    }
    this.touch(s)
    return []
  }

  private expireIfDue(s: HostPolicy, now: number): HealingCommand[] {
    const c = s.command
    if (s.state !== 'acting' || !c || !(c.status === 'sent' || c.status === 'accepted') || now <= c.expiresAt) return []
    c.status = 'expired'
    this.counters.expired++
    this.touch(s)
    return this.afterFailedAction(s, c.expiresAt)
  }

  private afterFailedAction(s: HostPolicy, now: number): HealingCommand[] {
    s.actions = s.actions.filter((t) => t > now - DAY)
    if (s.actions.length >= this.opts.guards.maxActionsPerHostPerDay) return this.escalate(s, now, s.lastScore)
    s.run = 0
    this.enter(s, 'at_risk', now)
    this.touch(s)
    return []
  }

  /** A host failed (ground truth): it starts a new life; a cordoned one is given back when it reports. */
  onFailure(host: string, ts: number): void {
    const s = this.hosts.get(host)
    if (!s) return
    s.run = 0
    s.blockedBy = null
    if (s.cordoned) s.uncordonDue = true
    if (s.command && (s.command.status === 'sent' || s.command.status === 'accepted')) s.command.status = 'failed'
    this.enter(s, 'healthy', ts)
    this.touch(s)
  }

  /**
   * Advances event time: commands with no answer by their expiry count as failed (and may
   * escalate); the storm breaker opens or closes. Returns commands to send (escalations,
   * one storm alert).
   */
  tick(now: number, graceMs = 120_000): HealingCommand[] {
    this.now = Math.max(this.now, now)
    const out: HealingCommand[] = []
    // Hosts of other partitions run on their own clocks: a grace keeps a tick from expiring
    // a command before the host's own samples up to its expiry have been seen.
    for (const h of [...this.busy]) out.push(...this.expireIfDue(this.hosts.get(h)!, now - graceMs))

    const g = this.opts.guards
    for (const h of this.hot) {
      const s = this.hosts.get(h)!
      if (s.lastTs < this.now - g.stormWindowMs) this.hot.delete(h)
    }
    const known = this.hosts.size
    const hot = this.hot.size
    const trigger = this.stormTrigger()
    if (this.stormSince === null && hot >= trigger) this.stormSince = this.now
    if (this.stormSince !== null && !this.stormAlerted) {
      this.stormAlerted = true
      this.counters.storms++
      const alert: HealingCommand = {
        id: commandId('fleet', 'alert', this.stormSince),
        host: 'fleet',
        action: 'alert',
        issuedAt: this.now,
        expiresAt: this.now + this.opts.commandTtlMs,
        dryRun: this.opts.dryRun,
        episode: this.stormSince,
        reason: {
          score: Math.min(1, hot / Math.max(1, known)),
          threshold: g.stormFraction,
          model: { ...this.opts.model },
          predictionTs: this.now,
          top: [],
        },
      }
      this.record({
        ts: this.now,
        host: 'fleet',
        action: 'alert',
        outcome: 'storm',
        guard: 'storm',
        detail: `${hot} of ${known} hosts at risk at once: a shared cause or a bad model; no drains until it passes`,
        commandId: alert.id,
      })
      if (!this.opts.killSwitch) out.push(alert)
    } else if (this.stormSince !== null && hot < trigger / 2) {
      this.stormSince = null
      this.stormAlerted = false
    }
    return out
  }
}
