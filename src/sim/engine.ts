/**
 * The fleet simulator's engine: a deterministic, time-stepped world of hosts whose failures
 * are sometimes preceded by signals, plus traps that look like trouble and are not, and an
 * actuator that obeys HealingCommandV1. CSV mode (csv.ts) and Kafka mode (kafka-mode.ts)
 * drive it; the outcome (outcome.ts) is computed from what it records.
 *
 * Same params + same seed + same commands at the same simulated times → the same world.
 */
import type { CommandStatus, CommandStatusKind, FailureKind, HealingCommand } from '../contracts/index.js'
import { Rng } from '../math/random.js'
import {
  type ActuatorParams,
  DEFAULT_ACTUATOR_PARAMS,
  type FailureMode,
  FailureModes,
  M,
  PREDICTABLE_MODES,
  SERVICES,
  type ServiceProfile,
  SIM_METRICS,
  type SimParams,
  SUDDEN_MODES,
  type TrapKind,
  ZONES,
} from './model.js'

const MIN = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000
const clamp = (x: number, lo: number, hi: number) => (x < lo ? lo : Math.min(x, hi))
const lerp = (a: number, b: number, t: number) => a + (b - a) * t

export interface ScheduledFailure {
  ts: number
  mode: FailureMode
  kind: FailureKind
  predictable: boolean
  /** Precursor onset (= ts for sudden failures). */
  onset: number
  /** Precursor strength multiplier. */
  strength: number
}

export interface SimHost {
  readonly idx: number
  readonly name: string
  readonly labels: { zone: string; rack: string; service: string }
  readonly service: ServiceProfile
  readonly ambient: number
  loadOffset: number
  memOffset: number
  /** 'up' reports; 'down' is failed (repair) or restarting. */
  state: 'up' | 'down'
  downUntil: number
  downPlanned: boolean
  failure: ScheduledFailure | undefined
  drained: boolean
  drainedAt: number
  draining: boolean
  cordoned: boolean
  gapUntil: number
  batchUntil: number
  batchIo: number
  eccBurstUntil: number
  eccBurstRate: number
  warmStart: number
  warmDur: number
  warmAmp: number
  deployAt: number
  held: { ts: number; values: Float64Array } | undefined
}

export interface FailureRecord extends ScheduledFailure {
  host: string
  averted: boolean
  /** Unplanned outage (0 when averted), ms. */
  outageMs: number
  /** When the host is back, epoch ms. */
  recoveredTs: number
  detectMs: number
  diagnoseMs: number
  recoverMs: number
  /** The command that detected it, when one did. */
  commandId: string | undefined
  /**
   * Set when the failure never happened because a restart cleared its cause first (a memory
   * leak restarted away): the record is the failure it would have been, `ts` when it was due.
   */
  clearedBy?: string
}

export interface ActionRecord {
  id: string
  host: string
  action: HealingCommand['action']
  receivedTs: number
  dryRun: boolean
  status: CommandStatusKind
  acceptedTs?: number
  doneTs?: number
}

export interface TrapRecord {
  kind: TrapKind
  start: number
  end: number
  /** host, service or rack name. */
  scope: string
}

export interface SimSink {
  /** One sample; `values` are in SIM_METRICS order, NaN = missing. Copy if you keep it. */
  sample(host: SimHost, ts: number, values: Float64Array): void
  failure?(f: FailureRecord): void
  status?(s: CommandStatus): void
}

interface Pending {
  due: number
  seq: number
  run: () => void
}

export class FleetSim {
  readonly hosts: SimHost[] = []
  readonly byName = new Map<string, SimHost>()
  readonly failures: FailureRecord[] = []
  /**
   * Failures a restart cleared before they were due (`clearedBy`): averted without an outage.
   * Not failures that happened — no FailureEventV1, not in failures.csv — but the outcome
   * counts them, or a restart that saved a host would look like an unneeded action.
   */
  readonly cleared: FailureRecord[] = []
  readonly actions: ActionRecord[] = []
  readonly traps: TrapRecord[] = []
  readonly endMs: number
  now: number
  duplicatesIgnored = 0
  plannedDowntimeMs = 0
  /**
   * Outcomes count from here (default the start): a backtest gives the scorer a warm-up to
   * fill its windows, as a scorer in production has history. Planned downtime before it is
   * not counted; `computeOutcome` skips failures and actions before it.
   */
  countFromMs: number
  private readonly rng: Rng
  private readonly values = new Float64Array(SIM_METRICS.length)
  private readonly pending: Pending[] = []
  private pendingSeq = 0
  private readonly seenCommands = new Set<string>()
  private readonly noise: number
  private readonly strengthMul: number
  private readonly trapMul: number
  private readonly suddenShare: number
  private readonly services: {
    profile: ServiceProfile
    hosts: SimHost[]
    nextDeploy: number
    nextBadDeploy: number
    nextSpike: number
    badUntil: number
    badErr: number
    spikeUntil: number
    spikeLoad: number
  }[]
  private readonly racks = new Map<string, { hosts: SimHost[]; next: number; until: number }>()

  constructor(
    readonly params: SimParams,
    private readonly sink: SimSink,
    readonly actuator: ActuatorParams = DEFAULT_ACTUATOR_PARAMS,
  ) {
    const d = clamp(params.difficulty, 0, 1)
    this.rng = new Rng(params.seed)
    this.noise = lerp(0.7, 1.5, d)
    this.strengthMul = lerp(1.5, 0.55, d)
    this.trapMul = lerp(0.5, 2, d)
    this.suddenShare = lerp(0.1, 0.35, d)
    this.now = params.startMs
    this.endMs = params.startMs + params.durationMs
    this.countFromMs = params.startMs
    const r = this.rng
    const racksPerZone = Math.max(1, Math.ceil(params.hosts / ZONES.length / 16))
    const hotRacks = new Set<string>()
    for (const z of ZONES)
      for (let k = 0; k < racksPerZone; k++) if (r.chance(0.15)) hotRacks.add(`${z}-r${String(k + 1).padStart(2, '0')}`)
    const weights = SERVICES.map((s) => s.weight)
    for (let i = 0; i < params.hosts; i++) {
      const service = SERVICES[r.weighted(weights)]!
      const zone = ZONES[i % ZONES.length]!
      const rack = `${zone}-r${String(r.int(0, racksPerZone) + 1).padStart(2, '0')}`
      const host: SimHost = {
        idx: i,
        name: `${service.name}-${String(i + 1).padStart(4, '0')}`,
        labels: { zone, rack, service: service.name },
        service,
        ambient: 24 + r.normal() * 1.5 + (hotRacks.has(rack) ? 7 : 0),
        loadOffset: r.normal() * 0.04,
        memOffset: r.normal() * 0.04,
        state: 'up',
        downUntil: 0,
        downPlanned: false,
        failure: undefined,
        drained: false,
        drainedAt: 0,
        draining: false,
        cordoned: false,
        gapUntil: 0,
        batchUntil: 0,
        batchIo: 0,
        eccBurstUntil: 0,
        eccBurstRate: 0,
        warmStart: 0,
        warmDur: 1,
        warmAmp: 0,
        deployAt: Number.POSITIVE_INFINITY,
        held: undefined,
      }
      this.hosts.push(host)
      this.byName.set(host.name, host)
      let rk = this.racks.get(rack)
      if (!rk) {
        rk = { hosts: [], next: 0, until: 0 }
        this.racks.set(rack, rk)
      }
      rk.hosts.push(host)
      this.scheduleFailure(host, this.now, true)
    }
    for (const rk of this.racks.values()) rk.next = this.now + r.exp((5 * DAY) / this.trapMul)
    this.services = SERVICES.map((profile) => ({
      profile,
      hosts: this.hosts.filter((h) => h.service === profile),
      nextDeploy: this.now + r.exp((36 * HOUR) / this.trapMul),
      nextBadDeploy: this.now + r.exp((5 * DAY) / this.trapMul),
      nextSpike: this.now + r.exp((2 * DAY) / this.trapMul),
      badUntil: 0,
      badErr: 0,
      spikeUntil: 0,
      spikeLoad: 0,
    }))
  }

  get done(): boolean {
    return this.now >= this.endMs
  }

  /** Plans a host's next failure; at boot, lives are already under way. */
  private scheduleFailure(h: SimHost, from: number, atBoot = false): void {
    const r = this.rng
    const p = this.params
    const ts = Math.round(from + (atBoot ? r.exp(p.mtbfMs) : Math.max(HOUR, r.exp(p.mtbfMs))))
    const sudden = r.chance(this.suddenShare)
    const modes = sudden ? SUDDEN_MODES : PREDICTABLE_MODES
    const mode = modes[r.weighted(modes.map((m) => FailureModes[m].weight))]!
    const spec = FailureModes[mode]
    let onset = ts
    if (spec.predictable) {
      const dur = r.logUniform(p.precursorMinMs, p.precursorMaxMs)
      onset = Math.round(Math.max(ts - dur, from + 10 * MIN))
      if (onset >= ts) onset = Math.round(ts - Math.min(p.precursorMinMs, ts - from) / 2)
    }
    h.failure = {
      ts,
      mode,
      kind: spec.kind,
      predictable: spec.predictable,
      onset,
      strength: r.uniform(0.7, 1.3) * this.strengthMul,
    }
  }

  /**
   * Replaces a host's next failure with a chosen one (scenarios, demos, tests). For a
   * predictable mode the precursor starts `precursorMs` before `ts`.
   */
  plantFailure(host: string, mode: FailureMode, ts: number, precursorMs = 0, strength = 1): ScheduledFailure {
    ts = Math.round(ts)
    precursorMs = Math.round(precursorMs)
    const h = this.byName.get(host)
    if (!h) throw new RangeError(`no host ${host}`)
    const spec = FailureModes[mode]
    h.failure = {
      ts,
      mode,
      kind: spec.kind,
      predictable: spec.predictable,
      onset: spec.predictable ? ts - precursorMs : ts,
      strength,
    }
    return h.failure
  }

  /** All simulated times are whole milliseconds (wire timestamps are integers). */
  private at(due: number, run: () => void): void {
    due = Math.round(due)
    const item = { due, seq: this.pendingSeq++, run }
    let i = this.pending.length
    while (
      i > 0 &&
      (this.pending[i - 1]!.due > due || (this.pending[i - 1]!.due === due && this.pending[i - 1]!.seq > item.seq))
    )
      i--
    this.pending.splice(i, 0, item)
  }

  private runPending(upTo: number): void {
    while (this.pending.length && this.pending[0]!.due <= upTo) {
      const p = this.pending.shift()!
      const saved = this.now
      this.now = Math.max(this.now, p.due)
      p.run()
      this.now = Math.max(saved, this.now)
    }
  }

  private emitStatus(a: ActionRecord, status: CommandStatusKind, ts: number, detail?: string): void {
    a.status = status
    if (status === 'accepted') a.acceptedTs = ts
    if (status === 'succeeded' || status === 'failed') a.doneTs = ts
    const s: CommandStatus = { commandId: a.id, host: a.host, status, ts }
    if (detail !== undefined) s.detail = detail
    this.sink.status?.(s)
  }

  /**
   * Hands a healing command to the actuator at the current simulated time. Duplicates (same
   * id) are ignored; commands past expires_at are answered 'expired'; others are accepted
   * after an ack delay and carried out with realistic timings.
   */
  submit(cmd: HealingCommand): void {
    if (this.seenCommands.has(cmd.id)) {
      this.duplicatesIgnored++
      return
    }
    this.seenCommands.add(cmd.id)
    const now = this.now
    const a: ActionRecord = {
      id: cmd.id,
      host: cmd.host,
      action: cmd.action,
      receivedTs: now,
      dryRun: cmd.dryRun,
      status: 'accepted',
    }
    this.actions.push(a)
    const h = this.byName.get(cmd.host)
    if (now > cmd.expiresAt)
      return this.emitStatus(a, 'expired', now, `expired at ${new Date(cmd.expiresAt).toISOString()}`)
    if (!h) return this.emitStatus(a, 'rejected', now, 'unknown host')
    if (h.state === 'down') return this.emitStatus(a, 'rejected', now, 'host is down')
    const r = this.rng
    const ack = Math.round(now + r.uniform(...this.actuator.ackDelayMs))
    this.at(ack, () => {
      if (h.state === 'down') return this.emitStatus(a, 'rejected', ack, 'host went down before the action started')
      this.emitStatus(a, 'accepted', ack)
      if (cmd.dryRun) return this.emitStatus(a, 'succeeded', ack, 'dry run: nothing done')
      switch (cmd.action) {
        case 'drain': {
          if (h.drained || h.draining) return this.emitStatus(a, 'succeeded', ack, 'already drained')
          h.draining = true
          const done = Math.round(ack + r.uniform(...this.actuator.drainDelayMs))
          const fails = r.chance(this.actuator.actionFailRate)
          this.at(done, () => {
            h.draining = false
            if (h.state === 'down') return this.emitStatus(a, 'failed', done, 'host failed while draining')
            if (fails) return this.emitStatus(a, 'failed', done, 'drain timed out: workloads would not move')
            h.drained = true
            h.drainedAt = done
            this.emitStatus(a, 'succeeded', done, 'drained')
            const drainedAt = done
            this.at(done + this.actuator.maxDrainMs, () => {
              if (h.drained && h.drainedAt === drainedAt && h.state === 'up') this.undrain(h, this.now)
            })
          })
          return
        }
        case 'restart': {
          if (r.chance(this.actuator.actionFailRate))
            return this.emitStatus(a, 'failed', ack, 'restart hung; host left as it was')
          const back = Math.round(ack + r.uniform(...this.actuator.restartMs))
          h.state = 'down'
          h.downPlanned = true
          h.downUntil = back
          this.plannedDowntimeMs += this.counted(ack, back)
          // A restart clears software degradation (a leak) but not a hardware fault.
          const f = h.failure
          const cleared = f !== undefined && FailureModes[f.mode].software && f.predictable && f.onset <= ack
          if (cleared) {
            this.cleared.push({
              ...f,
              host: h.name,
              averted: true,
              outageMs: 0,
              recoveredTs: back,
              detectMs: Math.max(0, a.receivedTs - f.onset),
              diagnoseMs: ack - a.receivedTs,
              recoverMs: back - ack,
              commandId: a.id,
              clearedBy: a.id,
            })
            this.scheduleFailure(h, back)
          }
          h.warmStart = back
          h.warmDur = r.uniform(HOUR, 2 * HOUR)
          h.warmAmp = -0.12
          this.at(back, () =>
            this.emitStatus(a, 'succeeded', back, cleared ? 'restarted; memory leak cleared' : 'restarted'),
          )
          return
        }
        case 'cordon':
          h.cordoned = true
          return this.emitStatus(a, 'succeeded', ack, 'cordoned')
        case 'uncordon':
          h.cordoned = false
          if (h.drained) this.undrain(h, ack)
          return this.emitStatus(a, 'succeeded', ack, 'uncordoned')
        case 'alert':
          return this.emitStatus(a, 'succeeded', ack, 'on-call paged')
      }
    })
  }

  /** The part of [from, to) within the counted span. */
  private counted(from: number, to: number): number {
    return Math.max(0, Math.min(to, this.endMs) - Math.max(from, this.countFromMs))
  }

  private undrain(h: SimHost, ts: number): void {
    this.plannedDowntimeMs += this.counted(h.drainedAt, ts)
    h.drained = false
  }

  /** Advances one sampling interval: fleet events, then every host. */
  tick(): void {
    const t = this.now
    this.runPending(t)
    this.fleetEvents(t)
    for (const h of this.hosts) this.stepHost(h, t)
    this.now = t + this.params.intervalMs
    this.runPending(this.now - 1)
  }

  /** Runs the simulation to its end (CSV mode). */
  runToEnd(onProgress?: (fraction: number) => void): void {
    const span = this.endMs - this.params.startMs
    let lastReport = 0
    while (!this.done) {
      this.tick()
      if (onProgress && this.now - lastReport >= span / 200) {
        lastReport = this.now
        onProgress((this.now - this.params.startMs) / span)
      }
    }
    this.finish()
    onProgress?.(1)
  }

  /** Closes open accounts at the end: drains still in force count as planned downtime. */
  finish(): void {
    for (const h of this.hosts) if (h.drained) this.undrain(h, Math.min(this.now, this.endMs))
    for (const h of this.hosts)
      if (h.held) {
        this.sink.sample(h, h.held.ts, h.held.values)
        h.held = undefined
      }
  }

  private fleetEvents(t: number): void {
    const r = this.rng
    for (const s of this.services) {
      if (t >= s.nextDeploy) {
        // A rolling deploy over 20 minutes: each host restarts its process once.
        for (const h of s.hosts) h.deployAt = t + r.uniform(0, 20 * MIN)
        this.traps.push({ kind: 'deploy', start: t, end: t + 23 * MIN, scope: s.profile.name })
        s.nextDeploy = t + r.exp((36 * HOUR) / this.trapMul)
      }
      if (t >= s.nextBadDeploy) {
        const dur = r.uniform(30 * MIN, 60 * MIN)
        s.badUntil = t + dur
        s.badErr = r.uniform(0.03, 0.12)
        this.traps.push({ kind: 'bad_deploy', start: t, end: t + dur, scope: s.profile.name })
        s.nextBadDeploy = t + r.exp((5 * DAY) / this.trapMul)
      }
      if (t >= s.nextSpike) {
        const dur = r.uniform(30 * MIN, 90 * MIN)
        s.spikeUntil = t + dur
        s.spikeLoad = r.uniform(0.15, 0.3)
        this.traps.push({ kind: 'traffic_spike', start: t, end: t + dur, scope: s.profile.name })
        s.nextSpike = t + r.exp((2 * DAY) / this.trapMul)
      }
    }
    for (const [name, rk] of this.racks)
      if (t >= rk.next) {
        const dur = r.uniform(3 * MIN, 10 * MIN)
        rk.until = t + dur
        this.traps.push({ kind: 'switch_maintenance', start: t, end: t + dur, scope: name })
        rk.next = t + r.exp((5 * DAY) / this.trapMul)
      }
  }

  private fail(h: SimHost, f: ScheduledFailure): void {
    const r = this.rng
    const a = this.actuator
    const averted = h.drained && h.drainedAt <= f.ts
    const hardware = !FailureModes[f.mode].software
    const fixMs = Math.round(
      hardware ? r.logNormal(4 * HOUR, 0.6, HOUR, DAY) : r.logNormal(10 * MIN, 0.5, 3 * MIN, 45 * MIN),
    )
    // The command that saw it coming: the first non-dry-run action on this host within the
    // window before the failure.
    const cmd = this.actions.find(
      (x) =>
        x.host === h.name &&
        !x.dryRun &&
        x.acceptedTs !== undefined &&
        x.receivedTs <= f.ts &&
        x.receivedTs >= f.ts - a.necessaryWindowMs,
    )
    let detectMs: number
    let diagnoseMs: number
    let recoverMs: number
    if (cmd) {
      detectMs = Math.max(0, cmd.receivedTs - f.onset)
      diagnoseMs = cmd.acceptedTs! - cmd.receivedTs
      recoverMs = averted ? Math.max(0, h.drainedAt - cmd.acceptedTs!) : fixMs
    } else {
      detectMs = a.detectSilenceMs
      diagnoseMs = Math.round(r.uniform(...a.manualDiagnoseMs))
      recoverMs = fixMs
    }
    // Unannounced, the outage lasts until someone notices, diagnoses and fixes it; a command
    // that saw it coming (but did not drain in time) leaves only the fix.
    const downMs = averted || cmd ? fixMs : detectMs + diagnoseMs + fixMs
    const recoveredTs = f.ts + downMs
    if (averted) {
      this.undrain(h, f.ts)
      this.plannedDowntimeMs += this.counted(f.ts, recoveredTs)
    }
    const rec: FailureRecord = {
      ...f,
      host: h.name,
      averted,
      outageMs: averted ? 0 : Math.min(recoveredTs, this.endMs) - f.ts,
      recoveredTs,
      detectMs,
      diagnoseMs,
      recoverMs,
      commandId: cmd?.id,
    }
    this.failures.push(rec)
    this.sink.failure?.(rec)
    h.state = 'down'
    h.downPlanned = false
    h.downUntil = recoveredTs
    h.failure = undefined
    h.held = undefined
  }

  /** A repaired host comes back fresh: new baselines, no traps, next failure planned. */
  private revive(h: SimHost, t: number): void {
    const r = this.rng
    h.state = 'up'
    h.drained = false
    h.draining = false
    h.cordoned = false
    if (!h.downPlanned) {
      h.loadOffset = r.normal() * 0.04
      h.memOffset = r.normal() * 0.04
      h.batchUntil = 0
      h.eccBurstUntil = 0
      h.warmStart = t
      h.warmDur = r.uniform(HOUR, 2 * HOUR)
      h.warmAmp = -0.12
    }
    if (!h.failure) this.scheduleFailure(h, t)
  }

  private stepHost(h: SimHost, t: number): void {
    const r = this.rng
    const p = this.params
    if (h.state === 'down') {
      if (t < h.downUntil) return
      this.revive(h, t)
    }
    const f = h.failure
    if (f && t >= f.ts) return this.fail(h, f)
    if (t < h.gapUntil) return
    if (r.chance((p.gapsPerDay * p.intervalMs) / DAY)) {
      h.gapUntil = t + r.uniform(MIN, 8 * MIN)
      return
    }
    // Host-level benign anomalies.
    const perTick = p.intervalMs / DAY
    if (t >= h.batchUntil && r.chance(0.5 * this.trapMul * perTick)) {
      const dur = r.uniform(45 * MIN, 150 * MIN)
      h.batchUntil = t + dur
      h.batchIo = r.uniform(0.15, 0.4)
      this.traps.push({ kind: 'batch_job', start: t, end: t + dur, scope: h.name })
    }
    if (t >= h.eccBurstUntil && r.chance(0.25 * this.trapMul * perTick)) {
      const dur = r.uniform(5 * MIN, 30 * MIN)
      h.eccBurstUntil = t + dur
      h.eccBurstRate = r.uniform(0.5, 3)
      this.traps.push({ kind: 'ecc_burst', start: t, end: t + dur, scope: h.name })
    }
    if (r.chance(0.3 * this.trapMul * perTick)) {
      h.warmStart = t
      h.warmDur = r.uniform(HOUR, 3 * HOUR)
      h.warmAmp = r.uniform(0.12, 0.26)
      this.traps.push({ kind: 'cache_warmup', start: t, end: t + h.warmDur, scope: h.name })
    }
    if (t >= h.deployAt) {
      h.deployAt = Number.POSITIVE_INFINITY
      h.warmStart = t
      h.warmDur = r.uniform(HOUR, 2 * HOUR)
      h.warmAmp = -0.1
    }
    this.computeMetrics(h, t)
    const v = this.values
    for (let i = 0; i < v.length; i++) if (r.chance(p.missingRate)) v[i] = Number.NaN
    const ts = Math.round(t + (r.next() * 2 - 1) * p.jitterMs)
    // A little out-of-order delivery: this sample is held back and sent after the next one.
    if (h.held) {
      this.sink.sample(h, ts, v)
      this.sink.sample(h, h.held.ts, h.held.values)
      h.held = undefined
    } else if (r.chance(p.outOfOrderRate)) h.held = { ts, values: Float64Array.from(v) }
    else this.sink.sample(h, ts, v)
  }

  private computeMetrics(h: SimHost, t: number): void {
    const r = this.rng
    const nm = this.noise
    const s = h.service
    const svc = this.services[SERVICES.indexOf(s)]!
    const f = h.failure
    const u = f?.predictable && t >= f.onset ? clamp((t - f.onset) / (f.ts - f.onset), 0, 1) : 0
    const st = f ? f.strength : 0
    const mode = u > 0 ? f!.mode : undefined
    const hour = (t / HOUR) % 24
    const diurnal = Math.sin((2 * Math.PI * (hour - s.peakHour + 6)) / 24)
    const inDeploy = h.warmAmp < 0 && t - h.warmStart < 3 * MIN
    const batch = t < h.batchUntil
    const spike = t < svc.spikeUntil ? svc.spikeLoad : 0
    const bad = t < svc.badUntil
    const rack = this.racks.get(h.labels.rack)!
    const switchMaint = t < rack.until

    let load = s.cpu + s.diurnal * diurnal + h.loadOffset + spike + (batch ? 0.3 : 0) + (inDeploy ? 0.2 : 0)
    if (h.drained) load *= 0.15
    const cpu = clamp(load + 0.03 * nm * r.normal(), 0.01, 1)

    const warmFrac = clamp((t - h.warmStart) / h.warmDur, 0, 1)
    const warm = h.warmAmp >= 0 ? h.warmAmp * warmFrac : h.warmAmp * (1 - warmFrac)
    const memBase = s.mem + h.memOffset + warm
    const leak = mode === 'memory_leak' ? (0.99 - memBase) * u ** 1.4 * Math.min(1, 0.55 + 0.45 * st) : 0
    const mem = clamp(memBase + 0.04 * cpu + leak + 0.006 * nm * r.normal(), 0, 1)
    const swap = clamp(Math.max(0, mem - 0.9) * 3 + Math.abs(0.002 * r.normal()), 0, 1)
    const gc = s.gcMs * (1 + 6 * Math.max(0, mem - 0.75)) * Math.exp(0.15 * nm * r.normal())

    const diskPre = mode === 'disk_degradation' ? st : 0
    const ioWait = clamp(
      0.015 + 0.04 * cpu + (batch ? h.batchIo : 0) + diskPre * 0.25 * u * u + 0.008 * nm * r.normal(),
      0,
      1,
    )
    const diskLat = s.diskLatencyMs * (1 + 3 * ioWait) * Math.exp(0.12 * nm * r.normal()) * (1 + diskPre * 4 * u * u)
    const diskErr = r.poisson(0.003 + (diskPre * 2.5 * (Math.exp(4 * u) - 1)) / (Math.E ** 4 - 1))

    const eccPre = mode === 'ecc_errors' ? st : 0
    const ecc = r.poisson(0.01 + (t < h.eccBurstUntil ? h.eccBurstRate : 0) + eccPre * 6 * u * u)

    const fanPre = mode === 'fan_failure' ? st : 0
    const temp = h.ambient + 22 * cpu + (batch ? 4 : 0) + fanPre * 38 * u ** 1.2 + 0.4 * nm * r.normal()
    const fanHealth = fanPre > 0 ? 1 - 0.75 * Math.min(1, u * 2) : 1
    const fan = (2400 + 90 * Math.max(0, temp - 35)) * fanHealth * (1 + 0.02 * nm * r.normal())

    const nicPre = mode === 'nic_flapping' ? st : 0
    const retrans =
      (0.0008 + 0.0015 * cpu) * Math.exp(0.3 * nm * r.normal()) + nicPre * 0.02 * u * u + (switchMaint ? 0.01 : 0)
    const flaps = r.poisson(0.0005 + nicPre * 0.6 * u * u + (switchMaint ? 0.5 : 0))

    const latency =
      s.latencyMs *
      (1 + 2.5 * Math.max(0, cpu - 0.65)) *
      (1 + 0.3 * ioWait) *
      (1 + 40 * retrans) *
      (1 + Math.max(0, gc - 3 * s.gcMs) / 200) *
      (inDeploy ? 1.6 : 1) *
      (bad ? 1.8 : 1) *
      Math.exp(0.1 * nm * r.normal())
    const err =
      s.errRate * (1 + 20 * Math.max(0, cpu - 0.85)) * Math.exp(0.3 * nm * r.normal()) * (inDeploy ? 8 : 1) +
      (bad ? svc.badErr : 0) +
      (mem > 0.96 ? 0.01 : 0)
    const fd = clamp(0.15 + 0.15 * cpu + leak * 0.4 + 0.01 * nm * r.normal(), 0, 1)

    const v = this.values
    v[M.cpu_util] = cpu
    v[M.mem_used] = mem
    v[M.swap_used] = swap
    v[M.gc_pause_ms] = gc
    v[M.load1] = Math.max(0, 8 * cpu * (1 + 0.08 * r.normal()) + 6 * ioWait)
    v[M.disk_io_wait] = ioWait
    v[M.disk_latency_ms] = diskLat
    v[M.disk_err_rate] = diskErr
    v[M.ecc_corrected] = ecc
    v[M.temp_c] = temp
    v[M.fan_rpm] = Math.max(0, fan)
    v[M.net_retrans] = retrans
    v[M.nic_link_flaps] = flaps
    v[M.req_latency_p99_ms] = latency
    v[M.error_rate_5xx] = clamp(err, 0, 1)
    v[M.fd_used] = fd
  }
}
