/**
 * The API's read model: what every API instance materialises from the output topics, so
 * any instance answers for every host (no routing layer).
 *
 * - predictions (compacted): the latest per host, and a bounded history of scores per host
 *   (at most `historyPoints`, none older than `historyMs` behind the host's newest);
 * - policy state (compacted `preempt.state.v1`): each host's state, zone, rack, service,
 *   the guard that blocked its last try; the kill switch;
 * - commands and their statuses (at most `maxCommands`, oldest forgotten first);
 * - failures (ground truth) and alert onsets, for the live stats.
 *
 * Pure and synchronous: the materializer (materialize.ts) feeds it; tests feed it directly.
 * Lists are served from a snapshot sorted once and rebuilt at most every `snapshotMs` while
 * updates arrive, so a list request costs a binary search and a slice, not a sort of the
 * fleet; a host's own routes always read the newest state.
 */
import type { CommandStatus, FailureEvent, HealingCommand, Prediction, RiskLevel } from '../contracts/index.js'
import type { HostPolicy } from '../policy/engine.js'

export interface ViewOptions {
  historyPoints: number
  historyMs: number
  maxCommands: number
  /** Longest a list may lag behind the newest updates, ms. Default 1000; 0 = always fresh. */
  snapshotMs?: number
  /** Failures and alert onsets kept for the stats. Default 100 000 each. */
  maxEvents?: number
}

/** A command as the API shows it: the command, its statuses in arrival order. */
export interface CommandEntry {
  command: HealingCommand
  statuses: CommandStatus[]
  /**
   * Onset of the risk that led to the command (event time): its host's first score at or
   * above ¾ of the command's threshold in the unbroken run before the deciding score. Found
   * from the score history while it still holds the deciding score; undefined before (the
   * prediction not read yet) and if never (history rolled over first).
   */
  onset?: number
}

class History {
  private readonly ts: Float64Array
  private readonly score: Float32Array
  private start = 0
  size = 0
  constructor(readonly capacity: number) {
    this.ts = new Float64Array(capacity)
    this.score = new Float32Array(capacity)
  }
  push(ts: number, score: number): void {
    // Predictions of a host arrive in event-time order (one partition); a replayed one is skipped.
    if (this.size > 0 && ts <= this.ts[(this.start + this.size - 1) % this.capacity]!) return
    const i = (this.start + this.size) % this.capacity
    this.ts[i] = ts
    this.score[i] = score
    if (this.size < this.capacity) this.size++
    else this.start = (this.start + 1) % this.capacity
  }
  /** Points with from ≤ ts ≤ to, and not older than `minTs`. */
  range(from: number, to: number, minTs: number): { ts: number; score: number }[] {
    const out: { ts: number; score: number }[] = []
    for (let k = 0; k < this.size; k++) {
      const i = (this.start + k) % this.capacity
      const t = this.ts[i]!
      if (t >= from && t <= to && t >= minTs) out.push({ ts: t, score: this.score[i]! })
    }
    return out
  }
}

interface HostEntry {
  host: string
  prediction: Prediction | undefined
  /** The newest of its predictions that carried top features (the scorer explains only some). */
  explained: Pick<Prediction, 'ts' | 'score' | 'risk' | 'top'> | undefined
  policy: HostPolicy | undefined
  history: History | undefined
  /** Command ids of this host, newest last (at most COMMANDS_PER_HOST). */
  commands: string[]
  failures: FailureEvent[]
}

export type SortKey = 'score' | 'host'

export interface ListQuery {
  risk?: RiskLevel | undefined
  service?: string | undefined
  zone?: string | undefined
  sort?: SortKey | undefined
  limit: number
  cursor?: string | undefined
}

export interface ListPage {
  /** Entries as held (no copies: a page is built into its wire form by the caller). */
  items: { prediction: Prediction; policy: HostPolicy | undefined }[]
  next: string | null
  total: number
}

interface Snapshot {
  version: number
  builtAt: number
  byScore: HostEntry[]
  byHost: HostEntry[]
  byRisk: Record<RiskLevel, HostEntry[]>
}

const COMMANDS_PER_HOST = 20
const FAILURES_PER_HOST = 20

/** Orders: score descending then host; host ascending. */
function cmpScore(a: HostEntry, b: HostEntry): number {
  const d = (b.prediction?.score ?? -1) - (a.prediction?.score ?? -1)
  return d !== 0 ? d : a.host < b.host ? -1 : a.host > b.host ? 1 : 0
}
function cmpHost(a: HostEntry, b: HostEntry): number {
  return a.host < b.host ? -1 : a.host > b.host ? 1 : 0
}

/** Cursors are opaque to clients: base64url of the sort key of the last item returned. */
export function encodeCursor(sort: SortKey, e: { host: string; score: number }): string {
  return Buffer.from(JSON.stringify(sort === 'score' ? [e.score, e.host] : [e.host])).toString('base64url')
}

/** The cursor's key, or undefined when it is not one this API wrote (a 400 for the caller). */
export function decodeCursor(sort: SortKey, cursor: string): { host: string; score: number } | undefined {
  try {
    const k: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
    if (!Array.isArray(k)) return undefined
    if (sort === 'score' && k.length === 2 && typeof k[0] === 'number' && typeof k[1] === 'string')
      return { score: k[0], host: k[1] }
    if (sort === 'host' && k.length === 1 && typeof k[0] === 'string') return { host: k[0], score: 0 }
  } catch {}
  return undefined
}

export class FleetView {
  private readonly hosts = new Map<string, HostEntry>()
  private readonly commands = new Map<string, CommandEntry>()
  /** Statuses that arrived before their command (topics are read concurrently). */
  private readonly orphanStatuses = new Map<string, CommandStatus[]>()
  readonly failures: FailureEvent[] = []
  /** Alert onsets: a host's risk turning to `act` (ok/watch → act). */
  readonly alerts: { host: string; ts: number }[] = []
  killSwitch: boolean | undefined
  /** Newest and oldest prediction event times seen (the span the stats cover). */
  firstTs = Number.POSITIVE_INFINITY
  lastTs = Number.NEGATIVE_INFINITY
  horizonMs = 0
  private snapshot: Snapshot | undefined
  private dirty = true
  private readonly snapshotMs: number
  private readonly maxEvents: number
  counts = { predictions: 0, commands: 0, statuses: 0, failures: 0, states: 0 }

  constructor(readonly opts: ViewOptions) {
    this.snapshotMs = opts.snapshotMs ?? 1000
    this.maxEvents = opts.maxEvents ?? 100_000
  }

  private entry(host: string): HostEntry {
    let e = this.hosts.get(host)
    if (!e) {
      e = {
        host,
        prediction: undefined,
        explained: undefined,
        policy: undefined,
        history: undefined,
        commands: [],
        failures: [],
      }
      this.hosts.set(host, e)
      this.dirty = true
    }
    return e
  }

  get hostCount(): number {
    return this.hosts.size
  }

  applyPrediction(p: Prediction): void {
    this.counts.predictions++
    const e = this.entry(p.host)
    const prev = e.prediction
    if (prev && p.ts < prev.ts) {
      e.history?.push(p.ts, p.score)
      return
    }
    if (p.risk === 'act' && prev?.risk !== 'act') this.pushBounded(this.alerts, { host: p.host, ts: p.ts })
    e.prediction = p
    if (p.top.length) e.explained = { ts: p.ts, score: p.score, risk: p.risk, top: p.top }
    if (!e.history) e.history = new History(this.opts.historyPoints)
    e.history.push(p.ts, p.score)
    // A command read before its deciding prediction (topics are read concurrently).
    const lastCmd = e.commands.length ? this.commands.get(e.commands.at(-1)!) : undefined
    if (lastCmd && lastCmd.onset === undefined && lastCmd.command.reason.predictionTs === p.ts) this.onsetOf(lastCmd)
    if (p.ts < this.firstTs) this.firstTs = p.ts
    if (p.ts > this.lastTs) this.lastTs = p.ts
    this.horizonMs = p.horizonMs
    if (!prev || prev.score !== p.score || prev.risk !== p.risk) this.dirty = true
  }

  applyPolicy(h: HostPolicy): void {
    this.counts.states++
    const e = this.entry(h.host)
    if (e.policy?.zone !== h.zone || e.policy?.service !== h.service) this.dirty = true
    e.policy = h
  }

  applyCommand(c: HealingCommand): void {
    this.counts.commands++
    if (this.commands.has(c.id)) return
    const entry: CommandEntry = { command: c, statuses: this.orphanStatuses.get(c.id) ?? [] }
    this.orphanStatuses.delete(c.id)
    this.commands.set(c.id, entry)
    if (this.commands.size > this.opts.maxCommands) {
      const oldest = this.commands.keys().next().value
      if (oldest !== undefined) this.commands.delete(oldest)
    }
    const e = this.entry(c.host)
    e.commands.push(c.id)
    if (e.commands.length > COMMANDS_PER_HOST) e.commands.shift()
    this.onsetOf(entry)
  }

  applyStatus(s: CommandStatus): void {
    this.counts.statuses++
    const c = this.commands.get(s.commandId)
    if (c) c.statuses.push(s)
    else {
      const list = this.orphanStatuses.get(s.commandId) ?? []
      list.push(s)
      this.orphanStatuses.set(s.commandId, list)
      if (this.orphanStatuses.size > this.opts.maxCommands) {
        const oldest = this.orphanStatuses.keys().next().value
        if (oldest !== undefined) this.orphanStatuses.delete(oldest)
      }
    }
  }

  applyFailure(f: FailureEvent): void {
    this.counts.failures++
    this.pushBounded(this.failures, f)
    const e = this.entry(f.host)
    e.failures.push(f)
    if (e.failures.length > FAILURES_PER_HOST) e.failures.shift()
  }

  /** The onset of a command's risk (see CommandEntry.onset), computed once the history holds its deciding score. */
  onsetOf(entry: CommandEntry): number | undefined {
    if (entry.onset !== undefined) return entry.onset
    const c = entry.command
    const h = this.hosts.get(c.host)?.history
    if (!h) return undefined
    const pts = h.range(Number.NEGATIVE_INFINITY, c.reason.predictionTs, Number.NEGATIVE_INFINITY)
    if (pts.at(-1)?.ts !== c.reason.predictionTs) return undefined
    const lo = c.reason.threshold * 0.75
    let i = pts.length - 1
    while (i > 0 && pts[i - 1]!.score >= lo) i--
    // A run that reaches the oldest point kept may have started earlier: unknown.
    if (i === 0 && h.size === h.capacity) return undefined
    entry.onset = pts[i]!.ts
    return entry.onset
  }

  private pushBounded<T>(list: T[], item: T): void {
    list.push(item)
    if (list.length > this.maxEvents) list.splice(0, list.length - this.maxEvents)
  }

  // ---- reads ---------------------------------------------------------------------------

  host(host: string):
    | {
        prediction: Prediction | undefined
        explained: HostEntry['explained']
        policy: HostPolicy | undefined
        commands: CommandEntry[]
        failures: FailureEvent[]
      }
    | undefined {
    const e = this.hosts.get(host)
    if (!e) return undefined
    return {
      prediction: e.prediction,
      explained: e.explained,
      policy: e.policy,
      commands: e.commands.map((id) => this.commands.get(id)).filter((c): c is CommandEntry => c !== undefined),
      failures: e.failures,
    }
  }

  /** A host's scores with from ≤ ts ≤ to within the retention; undefined for an unknown host. */
  history(host: string, from: number, to: number): { ts: number; score: number }[] | undefined {
    const e = this.hosts.get(host)
    if (!e) return undefined
    if (!e.history || !e.prediction) return []
    return e.history.range(from, to, e.prediction.ts - this.opts.historyMs)
  }

  command(id: string): CommandEntry | undefined {
    return this.commands.get(id)
  }

  /** Commands newest first, filtered. */
  listCommands(q: { host?: string | undefined; action?: string | undefined; limit: number }): CommandEntry[] {
    const out: CommandEntry[] = []
    const all = q.host ? (this.hosts.get(q.host)?.commands ?? []) : [...this.commands.keys()]
    for (let i = all.length - 1; i >= 0 && out.length < q.limit; i--) {
      const c = this.commands.get(all[i]!)
      if (c && (!q.action || c.command.action === q.action)) out.push(c)
    }
    return out
  }

  get commandCount(): number {
    return this.commands.size
  }

  *allCommands(): IterableIterator<CommandEntry> {
    yield* this.commands.values()
  }

  *policies(): IterableIterator<HostPolicy> {
    for (const e of this.hosts.values()) if (e.policy) yield e.policy
  }

  private snap(now: number): Snapshot {
    if (this.snapshot && (!this.dirty || now - this.snapshot.builtAt < this.snapshotMs)) return this.snapshot
    const scored = [...this.hosts.values()].filter((e) => e.prediction !== undefined)
    const byScore = scored.slice().sort(cmpScore)
    const byHost = scored.slice().sort(cmpHost)
    const byRisk: Snapshot['byRisk'] = { ok: [], watch: [], act: [] }
    for (const e of byScore) byRisk[e.prediction!.risk].push(e)
    this.snapshot = { version: (this.snapshot?.version ?? 0) + 1, builtAt: now, byScore, byHost, byRisk }
    this.dirty = false
    return this.snapshot
  }

  /** Version of the lists' snapshot (rebuilt at most every snapshotMs): equal versions, equal pages. */
  listVersion(now = Date.now()): number {
    return this.snap(now).version
  }

  /** Latest prediction per host: filtered, sorted, one page after the cursor. */
  list(q: ListQuery, now = Date.now()): ListPage {
    const s = this.snap(now)
    const sort = q.sort ?? 'score'
    let rows: HostEntry[]
    if (sort === 'host') rows = q.risk ? s.byHost.filter((e) => e.prediction!.risk === q.risk) : s.byHost
    else rows = q.risk ? s.byRisk[q.risk] : s.byScore
    const cmp = sort === 'score' ? cmpScore : cmpHost
    let i = 0
    if (q.cursor) {
      const k = decodeCursor(sort, q.cursor)!
      const probe: HostEntry = {
        host: k.host,
        prediction: { score: k.score } as Prediction,
        explained: undefined,
        policy: undefined,
        history: undefined,
        commands: [],
        failures: [],
      }
      // First row strictly after the cursor's key (binary search; the order is total).
      let lo = 0
      let hi = rows.length
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if (cmp(rows[mid]!, probe) <= 0) lo = mid + 1
        else hi = mid
      }
      i = lo
    }
    const filtered = q.service !== undefined || q.zone !== undefined
    const items: ListPage['items'] = []
    let last: HostEntry | undefined
    for (; i < rows.length && items.length < q.limit; i++) {
      const e = rows[i]!
      if (q.service !== undefined && e.policy?.service !== q.service) continue
      if (q.zone !== undefined && e.policy?.zone !== q.zone) continue
      items.push({ prediction: e.prediction!, policy: e.policy })
      last = e
    }
    // More rows after this page? (with filters: one that matches)
    let more = false
    for (let j = i; j < rows.length; j++) {
      const e = rows[j]!
      if (
        !filtered ||
        ((q.service === undefined || e.policy?.service === q.service) &&
          (q.zone === undefined || e.policy?.zone === q.zone))
      ) {
        more = true
        break
      }
    }
    const total = filtered
      ? rows.filter(
          (e) =>
            (q.service === undefined || e.policy?.service === q.service) &&
            (q.zone === undefined || e.policy?.zone === q.zone),
        ).length
      : rows.length
    return {
      items,
      next: more && last ? encodeCursor(sort, { host: last.host, score: last.prediction!.score }) : null,
      total,
    }
  }
}
