/**
 * The streaming scorer (DESIGN.md section 8): a consumer-group member on the metrics topic
 * that turns MetricSampleV1 records into predictions and healing commands, exactly once.
 *
 * Per input batch (one partition, in offset order): decode → vectorize → feature engine →
 * one batched model call → policy → outputs. The batch's predictions, commands, policy-state
 * changes, checkpoint and dead letters are produced in ONE Kafka transaction together with
 * the batch's input offsets (sendOffsets). kafkajs has no KIP-447, so each assigned input
 * partition has its own transactional producer (id = prefix + topic + partition): a member
 * that takes a partition over fences the one that had it, and read_committed readers never
 * see the zombie's output.
 *
 * State: feature windows live in memory per host and are rebuilt on assignment by replaying
 * the partition from a little before its checkpoint's event time, with no output; the
 * policy's host states come from the compacted state topic (stream/state.ts). Ground-truth
 * failures reset a host's windows (a new life) at its first sample after the failure;
 * actuators' statuses drive the policy's acting → recovering → healthy.
 *
 * Time: the policy's clock is the event time of the samples; commands carry it.
 * Nothing here imports data/ or eval/: the offline half cannot leak into serving.
 */
import { randomUUID } from 'node:crypto'
import type { Admin, Bus, BusMessage, Consumer, OutgoingMessage, TransactionalProducer } from '../bus/index.js'
import {
  type CommandStatus,
  decodeCommandStatus,
  decodeFailureEvent,
  decodeMetricSample,
  encodeDeadLetter,
  encodeHealingCommand,
  encodePrediction,
  type HealingCommand,
  type MetricSample,
  type TtfEstimate,
} from '../contracts/index.js'
import { isRetriable, PreemptError } from '../errors.js'
import { FeatureEngine } from '../features/engine.js'
import type { FeatureSpecV1 } from '../features/spec.js'
import { sampleValues } from '../features/vectorize.js'
import type { Logger } from '../log.js'
import { defaultPolicyOptions, type HostPolicy, PolicyEngine, type PolicyOverrides } from '../policy/engine.js'
import { decodeKillSwitch, readKillSwitch } from './control.js'
import { type StreamModel, sameFeatures } from './model.js'
import { PeerExchange, type PeerExchangeStats } from './peers.js'
import { CHECKPOINT_KEY, decodeStateRecord, encodeCheckpoint, encodeHostState, type StateRecord } from './state.js'

export interface ScorerTopics {
  metrics: string
  failures: string
  predictions: string
  commands: string
  commandStatus: string
  deadLetter: string
  state: string
}

export interface ScorerConfig {
  topics: ScorerTopics
  /** Consumer group of the scorers. Default 'preempt-scorer'. */
  groupId?: string
  /** Prefix of the per-partition transactional ids. Default the group id. */
  transactionalIdPrefix?: string
  /** Partitions of the topics the scorer creates when missing (state: as many as the input). Default 6. */
  partitions?: number
  /** Where a partition with no committed offset starts. Default false (the end). */
  fromBeginning?: boolean
  /** How long start() waits for the input topic to exist, ms. Default 60 000. */
  waitForInputMs?: number
  /**
   * Windows replayed before a checkpoint on restore, in units of the longest window. The
   * EWMA's memory is infinite: 16 longest windows leave its start-up error below e⁻¹⁶.
   * Default 16 when the spec has EWMA features, else 1.
   */
  restoreWindows?: number
  /** Top feature contributions computed for a prediction at or above the policy's low threshold. Default 5. */
  explainTop?: number
  /**
   * Which of a host's vectors at or above the policy's low threshold are explained: the first
   * of each run of them and every `explainEvery`-th after it, and any the policy acts on (or
   * records a block for). An explanation costs 10–100 scores; in a storm every vector is hot.
   * Default 6 (a minute at 10-second samples); 1 explains every hot vector.
   */
  explainEvery?: number
  /** Policy: thresholds default to the model's alert rule; every other option to DEFAULT_GUARDS. */
  policy?: PolicyOverrides
  /** Attempts of a batch's transaction on retriable errors before the partition is restarted. Default 5. */
  transactionAttempts?: number
  /** Partitions whose batches are in hand at once (one computes while others commit). Default 4. */
  concurrency?: number
  /** Input bytes fetched per partition at most: bigger batches, fewer transactions. Default 4 MiB. */
  maxBytesPerPartition?: number
  /**
   * Peer features (stream/peers.ts): wall time a partition may keep the others waiting for a
   * bucket before it counts as stalled and vectors go on without its hosts, ms. Default 5 000.
   */
  peerWaitMs?: number
  /**
   * Peer features: how long a partition stopped on a bucket waits in hand before it lets the
   * consumer move on (and is fetched again), ms. Default 50; 0 for the in-memory twin, whose
   * one consumer loop would wait for nothing.
   */
  peerPollMs?: number
}

/** One prediction as emitted (for tests and the API). */
export interface EmittedPrediction {
  host: string
  ts: number
  score: number
  risk: 'ok' | 'watch' | 'act'
}

export interface ScorerStats {
  records: number
  vectors: number
  predictions: number
  commands: Record<string, number>
  deadLetters: Record<string, number>
  batches: number
  transactionsAborted: number
  partitionRestarts: number
  /** Times the consumer crashed and rejoined its group (its partitions restored anew). */
  consumerCrashes: number
  /**
   * Records delivered again that their lane had already taken (computed; committing or
   * committed), skipped: after a rebalance kafkajs fetches from the group's committed offset,
   * which lags while a transaction is still committing.
   */
  redelivered: number
  /** Samples whose operating settings were off every regime the model was trained on (regime models). */
  offRegime: number
  restores: number
  restoredRecords: number
  lastBatchMs: number
  /** Time spent computing batches (decode, features, model, policy, encode) and in their transactions, ms. */
  computeMs: number
  commitMs: number
  assigned: number[]
  /** Assigned partitions still restoring (no output until they are done). */
  restoring: number
  /** start() has joined the group. */
  started: boolean
  /** With a peer-feature model: waits, stalls and amendments of the peer exchange. */
  peers?: PeerExchangeStats
}

export interface ScorerDeps {
  bus: Bus
  model: StreamModel
  config: ScorerConfig
  log: Logger
  /** Called after each committed batch (for progress output, the API and tests). */
  onCommitted?: (info: {
    partition: number
    predictions: EmittedPrediction[]
    commands: HealingCommand[]
    /** From the batch in hand to its transaction committed. */
    ms: number
  }) => void
}

export interface Scorer {
  start(): Promise<void>
  /** Stops fetching, finishes and commits the batch in hand, closes within `deadlineMs`. */
  close(deadlineMs?: number): Promise<void>
  /** Activates another model without a restart (windows are rebuilt when its features differ). */
  activate(model: StreamModel): Promise<void>
  setKillSwitch(on: boolean): void
  readonly policy: PolicyEngine
  readonly model: StreamModel
  stats(): ScorerStats
}

interface Lane {
  partition: number
  producer: TransactionalProducer | undefined
  ready: Promise<void>
  /** Serialises this partition's transactions (batches and out-of-band flushes). */
  chain: Promise<void>
  /** Outputs waiting for this partition's next transaction (status-driven changes). */
  pending: OutgoingMessage[]
  maxTs: number
  closed: boolean
  /** Wall time this partition first stopped on the bucket it waits for (peer features). */
  waitSince?: number | undefined
  /**
   * After a restart: where the consumer was sent back to. A batch that begins later was
   * fetched before that seek and is dropped (its records come again).
   */
  from?: string | undefined
  /**
   * The first input offset this lane has not taken. A batch's records below it were computed
   * by this lane (their transaction committing or committed) and are skipped: after a
   * rebalance kafkajs fetches each partition from the group's committed offset, which lags
   * while a transaction is still committing (commits are pipelined, see handleBatch).
   */
  next?: bigint | undefined
}

const DEADLETTER_REASONS = {
  contract: 'PREEMPT_ERR_CONTRACT_INVALID',
  value: 'PREEMPT_ERR_STREAM_VALUE',
  late: 'PREEMPT_ERR_STREAM_LATE',
} as const

/** Payload bytes kept in a dead letter. */
const MAX_DEAD_PAYLOAD = 512 * 1024
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Builds the scorer; nothing connects until start(). */
export function createScorer(deps: ScorerDeps): Scorer {
  const { bus, config } = deps
  const log = deps.log.child({ module: 'stream' })
  const topics = config.topics
  const groupId = config.groupId ?? 'preempt-scorer'
  const txPrefix = config.transactionalIdPrefix ?? groupId
  const explainTop = config.explainTop ?? 5
  const explainEvery = Math.max(1, Math.floor(config.explainEvery ?? 6))
  /** Per host at or above the low threshold: how many vectors in a row (not restored: advisory only). */
  const hotRuns = new Map<string, number>()
  let batchX = new Float64Array(0)
  let model = deps.model
  if (model.spec.timeUnit === 'step')
    throw new PreemptError(
      'PREEMPT_ERR_MODEL_DATA',
      `model ${model.name} was trained on step data (--time-unit step); the streaming scorer reads epoch-ms samples. Train on timestamped data to serve it.`,
    )
  const exchangeFor = (spec: FeatureSpecV1) =>
    spec.peers ? new PeerExchange(spec, config.peerWaitMs ?? 5000) : undefined
  let peers = exchangeFor(model.spec)
  let engine = new FeatureEngine(model.spec, peers?.table)
  /** The engine's off-regime count already added to stats (per live batch) or passed over (restores). */
  let offRegimeSeen = 0
  const policy = new PolicyEngine(
    defaultPolicyOptions({
      thresholdHigh: model.rule.threshold,
      consecutive: model.rule.consecutive,
      pageWithinMs: model.rule.within ?? null,
      model: { name: model.name, version: model.version },
      actWithinMs: actWithinOf(model),
      ...config.policy,
    }),
  )
  const stats: ScorerStats = {
    records: 0,
    vectors: 0,
    predictions: 0,
    commands: {},
    deadLetters: {},
    batches: 0,
    transactionsAborted: 0,
    partitionRestarts: 0,
    consumerCrashes: 0,
    redelivered: 0,
    offRegime: 0,
    restores: 0,
    restoredRecords: 0,
    lastBatchMs: 0,
    computeMs: 0,
    commitMs: 0,
    assigned: [],
    restoring: 0,
    started: false,
  }
  const lanes = new Map<number, Lane>()
  /** Partition → the offset a restart sent the consumer back to, for the lane created next. */
  const resumeFrom = new Map<number, string>()
  /** Host → input partition (where its state is written). */
  const partitionOf = new Map<string, number>()
  /** Host → failure times not yet applied (a new life starts at the first sample after one). */
  const failures = new Map<string, number[]>()
  let consumer: Consumer | undefined
  let sideConsumer: Consumer | undefined
  let admin: Admin | undefined
  let flushTimer: NodeJS.Timeout | undefined
  let closing = false
  /** Partitions of the input topic (the denominator of this instance's share of the budget). */
  let metricsPartitions = 0
  const instance = randomUUID().slice(0, 8)
  let values = new Float64Array(model.spec.metrics.length)

  const restoreSpan = (spec: FeatureSpecV1) => {
    const wmax = spec.windows.at(-1) ?? 0
    return wmax * (config.restoreWindows ?? (spec.ewma ? 16 : 1)) + spec.lateness
  }

  function deadLetter(m: BusMessage, code: string, message: string, path: string | null): OutgoingMessage {
    const payload = m.value ?? Buffer.alloc(0)
    stats.deadLetters[code] = (stats.deadLetters[code] ?? 0) + 1
    return {
      topic: topics.deadLetter,
      key: m.key,
      value: encodeDeadLetter({
        source: { topic: m.topic, partition: m.partition, offset: m.offset, key: m.key },
        // A dead letter must fit in a Kafka record (1 MiB by default) after base64.
        error: {
          code,
          message:
            payload.length > MAX_DEAD_PAYLOAD
              ? `${message} (payload truncated to ${MAX_DEAD_PAYLOAD} of ${payload.length} bytes)`
              : message,
          path,
        },
        payload: payload.subarray(0, MAX_DEAD_PAYLOAD),
        ts: m.timestamp,
      }),
    }
  }

  /**
   * Applies a recorded failure when this sample is the host's first after it (a new life:
   * windows reset). The policy hears of it on the live path only; a restore replay has its
   * state from the changelog already.
   */
  function crossFailure(host: string, ts: number, live: boolean): boolean {
    const fs = failures.get(host)
    if (!fs?.length) return false
    const newest = engine.newest(host)
    let crossed = false
    while (fs.length && fs[0]! < ts) {
      const f = fs.shift()!
      if (newest === undefined || f >= newest) crossed = true
    }
    if (!fs.length) failures.delete(host)
    if (crossed) {
      engine.reset(host)
      if (live) policy.onFailure(host, ts)
    }
    return crossed
  }

  /**
   * Decodes and pushes one record into the feature engine: the one path of a record into
   * the windows, live and in a restore replay (`live` false: no dead letters, the policy is
   * not told). Answers the vector row it emitted (into `out`), or a dead letter, or nothing.
   */
  function ingest(
    m: BusMessage,
    out: Float64Array,
    lane: Lane,
    live = true,
    /** Where the peer exchange's records go (live only). */
    emit?: OutgoingMessage[],
  ): { sample: MetricSample } | { dead: OutgoingMessage } | { wait: number } | undefined {
    const d = decodeMetricSample(m.value ?? new Uint8Array(), { key: m.key })
    if (!d.ok) return live ? { dead: deadLetter(m, d.error.code, d.error.message, d.error.path || null) } : undefined
    const s = d.value
    const problem = sampleValues(model.spec.metrics, s, values)
    if (problem)
      return live ? { dead: deadLetter(m, DEADLETTER_REASONS.value, problem.message, problem.path) } : undefined
    let group: string | undefined
    if (peers) {
      // This sample's time closes the partition's older buckets (even if it must wait: the
      // others may be waiting for exactly that), then its vector reads a bucket every
      // partition must have closed (stream/peers.ts).
      const closed = peers.close(lane.partition, s.ts, live, topics.state)
      if (emit) for (const msg of closed) emit.push(msg)
      const b = peers.bucketFor(s.ts)
      if (live && !peers.ready(b)) return { wait: b }
      if (live && peers.stats.stalled.length) peers.stats.incomplete++
      group = s.labels[peers.spec.by]
      if (group !== undefined) peers.count(lane.partition, s.host, group, s.ts, values, live)
      else if (live) peers.stats.ungrouped++
    }
    crossFailure(s.host, s.ts, live)
    partitionOf.set(s.host, lane.partition)
    const res = engine.push(s.host, s.ts, values, out, group)
    if (res === 'late' && live)
      return {
        dead: deadLetter(
          m,
          DEADLETTER_REASONS.late,
          `sample at ${new Date(s.ts).toISOString()} is older than host ${s.host}'s newest (${new Date(engine.newest(s.host)!).toISOString()}) minus the allowed lateness (${model.spec.lateness} ms)`,
          '/ts',
        ),
      }
    if (s.ts > lane.maxTs) lane.maxTs = s.ts
    return res === 'emitted' ? { sample: s } : undefined
  }

  function commandMessage(c: HealingCommand): OutgoingMessage {
    stats.commands[c.action] = (stats.commands[c.action] ?? 0) + 1
    return { topic: topics.commands, key: c.host, value: encodeHealingCommand(c), timestamp: c.issuedAt }
  }

  /** Policy-state changes, each to its host's partition (a host of another lane is queued there). */
  function routeStateChanges(current: Lane | undefined): OutgoingMessage[] {
    const mine: OutgoingMessage[] = []
    for (const h of policy.takeChanged()) {
      const p = partitionOf.get(h.host)
      if (p === undefined) continue
      const msg: OutgoingMessage = { topic: topics.state, key: h.host, partition: p, value: encodeHostState(h) }
      if (current && p === current.partition) mine.push(msg)
      else lanes.get(p)?.pending.push(msg)
    }
    return mine
  }

  function routeCommands(cmds: HealingCommand[], current: Lane | undefined): OutgoingMessage[] {
    const mine: OutgoingMessage[] = []
    for (const c of cmds) {
      const p = partitionOf.get(c.host)
      const lane = p === undefined ? current : lanes.get(p)
      if (!lane || lane === current) mine.push(commandMessage(c))
      else lane.pending.push(commandMessage(c))
    }
    return mine
  }

  /** Scores one batch of a partition: the outputs of its transaction. */
  function processBatch(lane: Lane, messages: BusMessage[]) {
    const F = engine.size
    const out: OutgoingMessage[] = lane.pending.splice(0)
    const rows: MetricSample[] = []
    // One buffer for every batch's vectors, grown as needed (a batch is scored synchronously,
    // and nothing keeps it past this call); each vector is written in place.
    if (batchX.length < messages.length * F) batchX = new Float64Array(messages.length * F * 1.25)
    const x = batchX
    let stopped: { index: number; bucket: number } | undefined
    for (let i = 0; i < messages.length; i++) {
      const r = ingest(messages[i]!, x.subarray(rows.length * F, (rows.length + 1) * F), lane, true, out)
      if (r && 'wait' in r) {
        stopped = { index: i, bucket: r.wait }
        break
      }
      stats.records++
      if (!r) continue
      if ('dead' in r) {
        out.push(r.dead)
        continue
      }
      rows.push(r.sample)
    }
    stats.vectors += rows.length
    if (engine.offRegime !== offRegimeSeen) {
      if (!stats.offRegime)
        log.warn(
          { partition: lane.partition, settings: model.spec.regimes?.by },
          'samples with operating settings unlike every regime the model was trained on: read relative to the nearest one (counted in stats.offRegime)',
        )
      stats.offRegime += engine.offRegime - offRegimeSeen
      offRegimeSeen = engine.offRegime
    }
    const scores = model.score(x, rows.length, new Float64Array(rows.length))
    // An explanation costs 10–100 scores (a gradient or TreeSHAP per row). Of the vectors the
    // policy may act on (at or above its low threshold), a host's first of a run and every
    // explainEvery-th are explained here; the others only if the policy acts on them.
    const lo = policy.options.thresholdLow
    const hotIdx: number[] = []
    const eager: number[] = []
    for (let i = 0; i < rows.length; i++) {
      const host = rows[i]!.host
      if (scores[i]! >= lo) {
        hotIdx.push(i)
        const run = hotRuns.get(host) ?? 0
        if (run % explainEvery === 0) eager.push(i)
        hotRuns.set(host, run + 1)
      } else if (hotRuns.size) hotRuns.delete(host)
    }
    const tops = new Map<number, { feature: string; contribution: number }[]>()
    // …and so is the time to failure: it decides when the policy acts.
    const ttfs = new Map<number, TtfEstimate>()
    const rowsOf = (idx: number[]) => {
      const hx = new Float64Array(idx.length * F)
      for (let j = 0; j < idx.length; j++) hx.set(x.subarray(idx[j]! * F, (idx[j]! + 1) * F), j * F)
      return hx
    }
    if (hotIdx.length && model.ttf) {
      const t = model.ttf(rowsOf(hotIdx), hotIdx.length)
      for (let j = 0; j < hotIdx.length; j++) ttfs.set(hotIdx[j]!, t[j]!)
    }
    if (eager.length && explainTop > 0) {
      const explained = model.explain(rowsOf(eager), eager.length, explainTop)
      for (let j = 0; j < eager.length; j++) tops.set(eager[j]!, explained[j]!)
    }
    /** A hot vector's explanation: the one made above, or made now when the policy asks (kept for its prediction). */
    const explainRow = (i: number) => {
      let t = tops.get(i)
      if (!t) {
        t = explainTop > 0 ? (model.explain(x.subarray(i * F, (i + 1) * F), 1, explainTop)[0] ?? []) : []
        tops.set(i, t)
      }
      return t
    }
    const predictions: EmittedPrediction[] = []
    const commands: HealingCommand[] = []
    const scoredAt = Date.now()
    for (let i = 0; i < rows.length; i++) {
      const s = rows[i]!
      const score = Math.min(1, Math.max(0, scores[i]!))
      const ttf = ttfs.get(i)
      const r = policy.observe({
        host: s.host,
        ts: s.ts,
        score,
        labels: s.labels,
        top: scores[i]! >= lo ? () => explainRow(i) : [],
        ttf: ttf?.ifFailsMs,
        ttfMedian: ttf?.medianMs,
      })
      const top = tops.get(i) ?? []
      commands.push(...r.commands)
      predictions.push({ host: s.host, ts: s.ts, score, risk: r.risk })
      out.push({
        topic: topics.predictions,
        key: s.host,
        timestamp: s.ts,
        value: encodePrediction({
          host: s.host,
          ts: s.ts,
          scoredAt,
          score,
          risk: r.risk,
          model: { name: model.name, version: model.version },
          horizonMs: Math.max(1, Math.round(model.horizonMs)),
          top,
          ttf,
        }),
      })
    }
    if (Number.isFinite(lane.maxTs)) commands.push(...policy.tick(lane.maxTs))
    out.push(...routeCommands(commands, lane))
    out.push(...routeStateChanges(lane))
    const stop = stopped && { offset: messages[stopped.index]!.offset, bucket: stopped.bucket }
    if (stopped?.index === 0) return { out, next: undefined, predictions, commands, stopped: stop }
    lane.waitSince = undefined
    const next = stop ? stop.offset : String(BigInt(messages.at(-1)!.offset) + 1n)
    out.push({
      topic: topics.state,
      key: CHECKPOINT_KEY,
      partition: lane.partition,
      value: encodeCheckpoint({
        topic: topics.metrics,
        partition: lane.partition,
        offset: next,
        eventTs: Number.isFinite(lane.maxTs) ? lane.maxTs : 0,
      }),
    })
    return { out, next, predictions, commands, stopped: stop }
  }

  async function transact(lane: Lane, out: OutgoingMessage[], offset: string | undefined): Promise<void> {
    const attempts = config.transactionAttempts ?? 5
    for (let attempt = 1; ; attempt++) {
      if (!lane.producer) throw new PreemptError('PREEMPT_ERR_BUS_CLOSED', `partition ${lane.partition}: no producer`)
      const tx = await lane.producer.begin()
      try {
        await tx.send(out)
        if (offset !== undefined)
          await tx.sendOffsets(groupId, [{ topic: topics.metrics, partition: lane.partition, offset }])
        await tx.commit()
        return
      } catch (err) {
        stats.transactionsAborted++
        await tx.abort().catch(() => {})
        if (attempt >= attempts || !isRetriable(err)) throw err
        log.warn({ err, partition: lane.partition, attempt }, 'transaction failed; retrying')
        await sleep(Math.min(2000, 100 * 2 ** attempt))
      }
    }
  }

  /** Reads the state partition and replays the input: the partition's state as of its committed offset. */
  async function restore(lane: Lane): Promise<void> {
    const p = lane.partition
    const t0 = Date.now()
    admin ??= await bus.admin()
    const committed = (await admin.committedOffsets(groupId, topics.metrics)).find((c) => c.partition === p)?.offset
    // Read after this lane's producer fenced any other owner: everything below it is in the
    // state replayed here, whatever offset the consumer's own fetch of it (possibly earlier,
    // before a transaction in flight committed) starts from.
    if (committed != null) lane.next = BigInt(committed)
    let checkpoint: { eventTs: number; offset: string } | undefined
    const states: HostPolicy[] = []
    await bus.readPartition(topics.state, p, { from: '0' }, (msgs) => {
      for (const m of msgs) {
        const r = decodeStateRecord(m.value)
        if (!r) continue
        if (r.kind === 'checkpoint') checkpoint = r.checkpoint
        else if (r.kind === 'host') states.push(r.host)
        else applyPeers(p, r)
      }
    })
    const latest = new Map(states.map((s) => [s.host, s]))
    for (const s of latest.values()) {
      policy.restore(s)
      partitionOf.set(s.host, p)
    }
    if (committed == null || !checkpoint) {
      log.info({ partition: p, hosts: latest.size }, 'partition assigned: nothing committed yet, no window replay')
      return
    }
    const since = checkpoint.eventTs - restoreSpan(model.spec)
    await catchUpFailures(since)
    const from = (await admin.offsetsForTimes(topics.metrics, since)).find((o) => o.partition === p)?.offset ?? '0'
    const row = new Float64Array(engine.size)
    let replayed = 0
    await bus.readPartition(topics.metrics, p, { from, to: committed }, (msgs) => {
      const before = engine.offRegime
      for (const m of msgs) ingest(m, row, lane, false)
      // Replayed samples were counted when first seen live: not again.
      offRegimeSeen += engine.offRegime - before
      replayed += msgs.length
    })
    stats.restores++
    stats.restoredRecords += replayed
    log.info(
      { partition: p, hosts: latest.size, replayed, from, to: committed, ms: Date.now() - t0 },
      'partition restored: policy state and windows',
    )
  }

  /** A peers record of state partition p: into the merged table (any instance's, any partition's). */
  function applyPeers(p: number, r: StateRecord): void {
    if (!peers) return
    if (r.kind === 'peers') peers.apply(p, r.peers)
    else if (r.kind === 'peers_through') peers.applyThrough(p, r.through, r.bucketMs)
  }

  /** Every partition's published peer values, so vectors can be read before the side consumer catches up. */
  async function bootstrapPeers(): Promise<void> {
    if (!peers) return
    peers.partitions = metricsPartitions
    for (let p = 0; p < metricsPartitions; p++)
      await bus.readPartition(topics.state, p, { from: '0' }, (msgs) => {
        for (const m of msgs) {
          const r = decodeStateRecord(m.value)
          if (r) applyPeers(p, r)
        }
      })
  }

  /**
   * A partition stopped on a peer bucket others have not closed: the rest of its batch is
   * fetched again (seek), after a short wait; past `peerWaitMs` the laggards count as stalled.
   */
  async function waitForPeers(lane: Lane, stop: { offset: string; bucket: number }): Promise<void> {
    if (!peers) return
    consumer?.seek({ topic: topics.metrics, partition: lane.partition, offset: stop.offset })
    peers.stats.waits++
    lane.waitSince ??= Date.now()
    const since = lane.waitSince
    const until = Math.min(since + peers.waitMs, Date.now() + (config.peerPollMs ?? 50))
    while (Date.now() < until && !peers.ready(stop.bucket)) await sleep(5)
    if (peers.ready(stop.bucket) || Date.now() - since < peers.waitMs) return
    const lagging = peers.lagging(stop.bucket)
    peers.stall(lagging)
    lane.waitSince = undefined
    log.warn(
      { partition: lane.partition, bucket: stop.bucket, stalled: lagging, waitedMs: Date.now() - since },
      'peer features: partitions have not closed the bucket in time; going on without their hosts until they publish again',
    )
  }

  function ensureLane(p: number): Lane {
    let lane = lanes.get(p)
    if (lane && !lane.closed) return lane
    const fresh: Lane = {
      partition: p,
      producer: undefined,
      ready: Promise.resolve(),
      chain: Promise.resolve(),
      pending: [],
      maxTs: Number.NEGATIVE_INFINITY,
      closed: false,
      from: resumeFrom.get(p),
    }
    resumeFrom.delete(p)
    lane = fresh
    lanes.set(p, fresh)
    stats.assigned = [...lanes.keys()].sort((a, b) => a - b)
    fresh.ready = (async () => {
      // The producer first: it fences a zombie that still holds this partition.
      stats.restoring++
      try {
        fresh.producer = await bus.transactionalProducer({ transactionalId: `${txPrefix}-${topics.metrics}-${p}` })
        await restore(fresh)
        policy.update({ share: shareOf() })
      } finally {
        stats.restoring--
      }
    })()
    // A failed restore is handled by the next batch's handler (handleBatch), not the process.
    fresh.ready.catch(() => {})
    fresh.chain = fresh.ready
    return fresh
  }

  function shareOf(): number {
    const total = metricsPartitions || 1
    return Math.min(1, Math.max(1, lanes.size) / total)
  }

  /** `fromChain`: called by work on the lane's own chain, which must not wait for itself. */
  async function closeLane(p: number, fromChain = false): Promise<void> {
    const lane = lanes.get(p)
    if (!lane) return
    lane.closed = true
    lanes.delete(p)
    stats.assigned = [...lanes.keys()].sort((a, b) => a - b)
    if (!fromChain) await lane.chain.catch(() => {})
    await lane.producer?.close().catch(() => {})
    const hosts = [...partitionOf].filter(([, q]) => q === p).map(([h]) => h)
    for (const h of hosts) {
      engine.reset(h)
      partitionOf.delete(h)
    }
    peers?.dropLane(p)
    policy.forget(hosts)
    policy.update({ share: shareOf() })
  }

  /**
   * A partition whose transaction failed for good: new producer, state rebuilt from what was
   * committed, and the consumer sent back to `resumeAt` (the failed batch's first offset: the
   * lane's transactions are serial, so everything before it is committed). A lane closed
   * meanwhile (revoked, or the scorer closing) is not restarted.
   */
  async function restartLane(lane: Lane, err: unknown, resumeAt: string): Promise<void> {
    if (lane.closed || lanes.get(lane.partition) !== lane) return
    stats.partitionRestarts++
    log.error(
      { err, partition: lane.partition, resumeAt },
      'transaction failed for good: restarting the partition from its committed offset',
    )
    // Before anything awaits: a handler may create the next lane meanwhile, and it must know.
    resumeFrom.set(lane.partition, resumeAt)
    // Called from the failed batch's work on the lane's chain: waiting for the chain here
    // waited for itself (the partition hung; test/stream/scorer.test.ts).
    const closed = closeLane(lane.partition, true)
    consumer?.seek({ topic: topics.metrics, partition: lane.partition, offset: resumeAt })
    await closed
    // A restore that fails here is retried by the partition's next batch (handleBatch).
    if (!closing) await ensureLane(lane.partition).ready.catch(() => {})
  }

  function enqueue(lane: Lane, work: () => Promise<void>): Promise<void> {
    const run = lane.chain.then(work)
    lane.chain = run.catch(() => {})
    return run
  }

  /**
   * One input batch: computed at once, committed on the lane's chain. The handler returns
   * once the lane's previous transaction has committed, not this one: the consumer fetches
   * and the next batch computes while this one commits (kafkajs fetches again only when every
   * partition's handler has returned; waiting for each commit left the CPU idle for ~8 % of
   * the run). At most two batches of a partition are in hand: one committing, one computed.
   * Only while the partition has a backlog: a batch that reaches the end of the log commits
   * before the handler returns, as its samples' latency is then the figure that matters (a
   * commit behind the previous one adds up to one transaction to it). A batch that stops on a
   * peer bucket commits in the handler too, which then seeks.
   */
  async function handleBatch(batch: {
    partition: number
    messages: BusMessage[]
    highWatermark?: string
  }): Promise<void> {
    if (closing) throw new PreemptError('PREEMPT_ERR_BUS_CLOSED', 'scorer closing')
    const lane = ensureLane(batch.partition)
    try {
      await lane.ready
    } catch (err) {
      // A restore that failed (e.g. the group's coordinator moving during a rebalance) must not
      // leave the partition a lane that fails every batch for good: drop it; the batch is
      // fetched again and builds a new one (keeping where a restart sent the consumer).
      if (lanes.get(batch.partition) === lane) {
        if (lane.from !== undefined) resumeFrom.set(batch.partition, lane.from)
        log.warn({ err, partition: batch.partition }, 'partition restore failed; retrying with the batch')
        await closeLane(batch.partition)
      }
      throw err
    }
    // Restarted while this batch waited: the consumer was sent back, this batch is stale.
    if (lane.closed) return
    if (lane.from !== undefined) {
      if (BigInt(batch.messages[0]!.offset) > BigInt(lane.from)) {
        consumer?.seek({ topic: topics.metrics, partition: lane.partition, offset: lane.from })
        return
      }
      lane.from = undefined
    }
    let messages = batch.messages
    const taken = lane.next
    if (taken !== undefined && BigInt(messages[0]!.offset) < taken) {
      messages = messages.filter((m) => BigInt(m.offset) >= taken)
      stats.redelivered += batch.messages.length - messages.length
      if (!messages.length) return
    }
    const previous = lane.chain
    const t0 = performance.now()
    const { out, next, predictions, commands, stopped } = processBatch(lane, messages)
    stats.computeMs += performance.now() - t0
    if (next !== undefined) lane.next = BigInt(next)
    const resumeAt = messages[0]!.offset
    const committed = enqueue(lane, async () => {
      if (lane.closed) return
      const t1 = performance.now()
      try {
        if (out.length || next !== undefined) await transact(lane, out, next)
        stats.commitMs += performance.now() - t1
      } catch (err) {
        await restartLane(lane, err, resumeAt)
        return
      }
      stats.batches++
      stats.predictions += predictions.length
      stats.lastBatchMs = performance.now() - t0
      deps.onCommitted?.({ partition: lane.partition, predictions, commands, ms: stats.lastBatchMs })
    })
    if (stopped) {
      await committed
      if (!lane.closed) await waitForPeers(lane, stopped)
    } else if (backlog(batch)) await previous
    else await committed
  }

  /** More than a record (a transaction marker) after the batch in the log: the consumer is behind. */
  function backlog(batch: { messages: BusMessage[]; highWatermark?: string }): boolean {
    if (batch.highWatermark === undefined) return true
    return BigInt(batch.highWatermark) - BigInt(batch.messages.at(-1)!.offset) > 2n
  }

  async function flushPending(): Promise<void> {
    for (const lane of lanes.values()) {
      if (!lane.pending.length || lane.closed) continue
      void enqueue(lane, async () => {
        await lane.ready
        const out = lane.pending.splice(0)
        if (!out.length) return
        try {
          await transact(lane, out, undefined)
        } catch (err) {
          lane.pending.unshift(...out)
          log.warn({ err, partition: lane.partition }, 'could not flush status-driven outputs; will retry')
        }
      }).catch(() => {})
    }
  }

  function onStatus(s: CommandStatus): void {
    const cmds = policy.onStatus(s)
    // No current lane: everything is queued on its host's lane for the next transaction.
    routeCommands(cmds, undefined)
    routeStateChanges(undefined)
  }

  function onFailure(host: string, ts: number): void {
    const fs = failures.get(host) ?? []
    if (!fs.includes(ts)) fs.push(ts)
    fs.sort((a, b) => a - b)
    failures.set(host, fs)
  }

  /** Reads failures from `since` (event time) so a replay can reset windows as the live path did. */
  async function catchUpFailures(since: number): Promise<void> {
    admin ??= await bus.admin()
    const starts = await admin.offsetsForTimes(topics.failures, since).catch(() => [])
    for (const { partition, offset } of starts)
      await bus.readPartition(topics.failures, partition, { from: offset }, (msgs) => {
        for (const m of msgs) {
          const d = decodeFailureEvent(m.value ?? new Uint8Array(), { key: m.key })
          if (d.ok) onFailure(d.value.host, d.value.ts)
        }
      })
  }

  async function waitForInput(): Promise<void> {
    admin ??= await bus.admin()
    const deadline = Date.now() + (config.waitForInputMs ?? 60_000)
    let told = false
    for (;;) {
      const list = await admin.listTopics()
      if (list.includes(topics.metrics)) break
      if (Date.now() > deadline)
        throw new PreemptError(
          'PREEMPT_ERR_BUS_UNKNOWN_TOPIC',
          `input topic ${topics.metrics} does not exist after ${config.waitForInputMs ?? 60_000} ms. Create it, start a producer (e.g. \`preempt simulate --kafka\`), or set topics.metrics.`,
        )
      if (!told) log.info({ topic: topics.metrics }, 'waiting for the input topic')
      told = true
      await sleep(500)
    }
    metricsPartitions = (await admin.endOffsets(topics.metrics)).length
  }

  return {
    policy,
    get model() {
      return model
    },
    stats: () => ({
      ...stats,
      assigned: [...stats.assigned],
      ...(peers ? { peers: { ...peers.stats, stalled: [...peers.stats.stalled] } } : {}),
    }),
    setKillSwitch(on: boolean) {
      policy.update({ killSwitch: on })
      log.warn({ killSwitch: on }, on ? 'kill switch on: no actions' : 'kill switch off')
    },
    async start() {
      admin ??= await bus.admin()
      await waitForInput()
      const n = config.partitions ?? 6
      await admin.createTopics([
        { topic: topics.predictions, partitions: n, compacted: true },
        { topic: topics.commands, partitions: n },
        { topic: topics.commandStatus, partitions: n },
        { topic: topics.deadLetter, partitions: n },
        { topic: topics.failures, partitions: 1 },
        // State partition p holds the state of input partition p.
        { topic: topics.state, partitions: metricsPartitions, compacted: true },
      ])
      const stateParts = (await admin.endOffsets(topics.state)).length
      if (stateParts < metricsPartitions)
        throw new PreemptError(
          'PREEMPT_ERR_CONFIG_INVALID',
          `state topic ${topics.state} has ${stateParts} partitions but the input ${topics.metrics} has ${metricsPartitions}; give the state topic at least as many (kafka-topics --alter) or name a new one in topics.state.`,
        )
      const kill = await readKillSwitch(bus, topics.state)
      if (kill !== undefined && kill !== policy.options.killSwitch) {
        policy.update({ killSwitch: kill })
        log.warn({ killSwitch: kill }, 'kill switch from the state topic')
      }
      // Statuses, failures and controls: every instance reads all of them and applies those
      // of the hosts it owns.
      sideConsumer = await bus.consumer({
        groupId: `${groupId}-side-${instance}`,
        topics: [topics.commandStatus, topics.failures, topics.state],
        fromBeginning: false,
      })
      await sideConsumer.run(async (batch) => {
        for (const m of batch.messages) {
          if (batch.topic === topics.state) {
            if (peers && m.key?.startsWith('__peers')) {
              const r = decodeStateRecord(m.value)
              if (r) applyPeers(batch.partition, r)
              continue
            }
            const on = decodeKillSwitch(m.key, m.value)
            if (on !== undefined && on !== policy.options.killSwitch) {
              policy.update({ killSwitch: on })
              log.warn({ killSwitch: on }, on ? 'kill switch on: no actions' : 'kill switch off')
            }
          } else if (batch.topic === topics.failures) {
            const d = decodeFailureEvent(m.value ?? new Uint8Array(), { key: m.key })
            if (d.ok) onFailure(d.value.host, d.value.ts)
          } else {
            const d = decodeCommandStatus(m.value ?? new Uint8Array(), { key: m.key })
            if (d.ok && partitionOf.has(d.value.host)) onStatus(d.value)
          }
        }
      })
      // After the side consumer: what is published meanwhile reaches one or the other.
      await bootstrapPeers()
      consumer = await bus.consumer({
        groupId,
        topics: [topics.metrics],
        fromBeginning: config.fromBeginning ?? false,
        concurrency: config.concurrency ?? 4,
        maxBytesPerPartition: config.maxBytesPerPartition ?? 4 * 1_048_576,
        onPartitionsAssigned: (tps) => {
          for (const tp of tps) ensureLane(tp.partition)
          log.info({ partitions: tps.map((t) => t.partition) }, 'partitions assigned')
        },
        onPartitionsRevoked: async (tps) => {
          log.info({ partitions: tps.map((t) => t.partition) }, 'partitions revoked')
          for (const tp of tps) await closeLane(tp.partition)
        },
        onCrash: ({ error, rejoin }) => {
          stats.consumerCrashes++
          log.warn({ err: error, rejoin }, 'consumer crashed: its partitions are restored anew once it has rejoined')
        },
      })
      await consumer.run((batch) => handleBatch(batch))
      flushTimer = setInterval(() => void flushPending(), 250)
      flushTimer.unref()
      stats.started = true
      log.info({ group: groupId, input: topics.metrics, model: `${model.name}@${model.version}` }, 'scorer running')
    },
    async close(deadlineMs = 30_000) {
      if (closing) return
      closing = true
      const work = (async () => {
        if (flushTimer) clearInterval(flushTimer)
        // Stop fetching; the batch in hand finishes and commits first.
        await consumer?.close().catch((err) => log.warn({ err }, 'consumer close'))
        await flushPending()
        for (const lane of lanes.values()) await lane.chain.catch(() => {})
        for (const p of [...lanes.keys()]) await closeLane(p)
        await sideConsumer?.close().catch(() => {})
        await admin?.close().catch(() => {})
      })()
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<'timeout'>((r) => {
        timer = setTimeout(() => r('timeout'), deadlineMs)
      })
      const r = await Promise.race([work.then(() => 'done' as const), timeout])
      clearTimeout(timer)
      if (r === 'timeout') log.error({ deadlineMs }, 'scorer did not close within the deadline')
      else log.info(stats, 'scorer closed')
    },
    async activate(next: StreamModel) {
      const same = sameFeatures(model.spec, next.spec)
      // Wait for every partition's work in hand, then swap between batches.
      await Promise.all([...lanes.values()].map((l) => l.chain.catch(() => {})))
      model = next
      policy.update({
        thresholdHigh: next.rule.threshold,
        thresholdLow: config.policy?.thresholdLow ?? next.rule.threshold * 0.75,
        consecutive: next.rule.consecutive,
        pageWithinMs: next.rule.within ?? null,
        model: { name: next.name, version: next.version },
        actWithinMs: config.policy?.actWithinMs !== undefined ? config.policy.actWithinMs : actWithinOf(next),
      })
      if (!same) {
        peers = exchangeFor(next.spec)
        await bootstrapPeers()
        engine = new FeatureEngine(next.spec, peers?.table)
        offRegimeSeen = 0
        values = new Float64Array(next.spec.metrics.length)
        for (const lane of lanes.values()) await enqueue(lane, () => restore(lane))
      }
      log.info({ model: `${next.name}@${next.version}`, windowsRebuilt: !same }, 'model activated')
    },
  }
}

/** Default hold of actions: a model that says when acts when the failure is due within its horizon. */
function actWithinOf(model: StreamModel): number | null {
  return model.ttf ? model.horizonMs : null
}
