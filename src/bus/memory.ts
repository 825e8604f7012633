import { Partitioners } from 'kafkajs'
import { PreemptError } from '../errors.js'
import type {
  Admin,
  BatchHandler,
  Bus,
  BusMessage,
  Consumer,
  ConsumerOptions,
  OutgoingMessage,
  PartitionOffsets,
  Producer,
  TopicPartition,
  TopicPartitionOffset,
  TopicSpec,
  Transaction,
  TransactionalProducer,
} from './types.js'

/**
 * In-memory twin of a Kafka cluster for unit tests: partitioned logs with Kafka's key
 * partitioner, transactions with markers that take offsets, read_committed isolation,
 * consumer groups with committed offsets and rebalancing, producer fencing by
 * transactional id. Not a simulation of timing or failures.
 */

interface TxnState {
  state: 'open' | 'committed' | 'aborted'
}

interface LogEntry {
  message: BusMessage
  control: boolean
  txn: TxnState | undefined
}

interface TopicLog {
  spec: Required<Pick<TopicSpec, 'partitions' | 'compacted'>>
  partitions: LogEntry[][]
  /** Per partition, records below this offset were trimmed. */
  trimmed: number[]
}

/** What a trimmed record becomes: invisible, like a transaction marker. */
const TRIMMED: LogEntry = {
  control: true,
  txn: undefined,
  message: { topic: '', partition: 0, offset: '0', key: null, value: null, timestamp: 0, headers: {} },
}

interface Member {
  consumer: MemoryConsumer
  assigned: TopicPartition[]
}

interface Group {
  committed: Map<string, string>
  members: Member[]
}

const tpKey = (topic: string, partition: number) => `${topic}\u0000${partition}`
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export interface MemoryBusOptions {
  /** Partitions of an auto-created topic. Default 1. */
  defaultPartitions?: number
  /** Messages handed over per batch at most. Default 500. */
  maxBatchSize?: number
  /** Clock for record timestamps, epoch ms. Default Date.now. */
  now?: () => number
}

export class MemoryCluster {
  readonly topics = new Map<string, TopicLog>()
  readonly groups = new Map<string, Group>()
  readonly txnEpochs = new Map<string, number>()
  readonly openTxns = new Map<string, MemoryTransaction>()
  private readonly partitioner = Partitioners.DefaultPartitioner()
  readonly defaultPartitions: number
  readonly maxBatchSize: number
  readonly now: () => number

  constructor(opts: MemoryBusOptions = {}) {
    this.defaultPartitions = opts.defaultPartitions ?? 1
    this.maxBatchSize = opts.maxBatchSize ?? 500
    this.now = opts.now ?? Date.now
  }

  topic(name: string, autoCreate = true): TopicLog {
    let t = this.topics.get(name)
    if (!t) {
      if (!autoCreate)
        throw new PreemptError('PREEMPT_ERR_BUS_UNKNOWN_TOPIC', `topic ${name} does not exist`, {
          details: { topic: name },
        })
      t = this.createTopic({ topic: name })
    }
    return t
  }

  createTopic(spec: TopicSpec): TopicLog {
    const existing = this.topics.get(spec.topic)
    if (existing) return existing
    const partitions = spec.partitions ?? this.defaultPartitions
    const t: TopicLog = {
      spec: { partitions, compacted: spec.compacted ?? false },
      partitions: Array.from({ length: partitions }, () => []),
      trimmed: [],
    }
    this.topics.set(spec.topic, t)
    for (const g of this.groups.values()) if (g.members.length) this.rebalance(g)
    return t
  }

  partitionFor(m: OutgoingMessage, t: TopicLog): number {
    if (m.partition !== undefined) {
      if (m.partition < 0 || m.partition >= t.partitions.length)
        throw new PreemptError('PREEMPT_ERR_BUS_PRODUCE', `${m.topic} has no partition ${m.partition}`)
      return m.partition
    }
    return this.partitioner({
      topic: m.topic,
      partitionMetadata: t.partitions.map((_, i) => ({
        partitionErrorCode: 0,
        partitionId: i,
        leader: 0,
        replicas: [0],
        isr: [0],
      })),
      message: { key: m.key ?? null, value: null },
    })
  }

  /** Appends one message; returns the partition it went to. */
  append(m: OutgoingMessage, txn?: TxnState): number {
    const t = this.topic(m.topic)
    const partition = this.partitionFor(m, t)
    const log = t.partitions[partition]!
    const value = m.value === null ? null : Buffer.isBuffer(m.value) ? m.value : Buffer.from(m.value)
    log.push({
      message: {
        topic: m.topic,
        partition,
        offset: String(log.length),
        key: m.key ?? null,
        value,
        timestamp: m.timestamp ?? this.now(),
        headers: { ...(m.headers ?? {}) },
      },
      control: false,
      txn,
    })
    return partition
  }

  /** Writes a transaction marker into every partition the transaction touched. */
  marker(tps: Iterable<string>, txn: TxnState): void {
    for (const key of tps) {
      const [topic, p] = key.split('\u0000') as [string, string]
      const log = this.topic(topic).partitions[Number(p)]!
      log.push({
        message: {
          topic,
          partition: Number(p),
          offset: String(log.length),
          key: null,
          value: null,
          timestamp: this.now(),
          headers: {},
        },
        control: true,
        txn,
      })
    }
  }

  group(id: string): Group {
    let g = this.groups.get(id)
    if (!g) {
      g = { committed: new Map(), members: [] }
      this.groups.set(id, g)
    }
    return g
  }

  /** Range-style assignment: each subscribed partition to one member, in member order. */
  rebalance(g: Group): void {
    const before = new Map(g.members.map((m) => [m, m.assigned]))
    for (const m of g.members) m.assigned = []
    const all = new Map<string, TopicPartition>()
    for (const m of g.members)
      for (const topic of m.consumer.opts.topics) {
        const t = this.topics.get(topic)
        if (!t) continue
        for (let p = 0; p < t.partitions.length; p++) all.set(tpKey(topic, p), { topic, partition: p })
      }
    const sorted = [...all.values()].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
    let i = 0
    for (const tp of sorted) {
      const eligible = g.members.filter((m) => m.consumer.opts.topics.includes(tp.topic))
      if (!eligible.length) continue
      eligible[i++ % eligible.length]!.assigned.push(tp)
    }
    for (const m of g.members) m.consumer.onRebalance(before.get(m) ?? [], m.assigned)
  }

  /**
   * Drops the records below `before` in every partition of a topic (offsets stay as they
   * are): for long in-process runs such as the backtest, where nobody reads them again.
   */
  trim(topic: string, before: (partition: number) => number): void {
    const t = this.topics.get(topic)
    if (!t) return
    t.partitions.forEach((log, p) => {
      const end = Math.min(before(p), log.length)
      for (let o = t.trimmed[p] ?? 0; o < end; o++) log[o] = TRIMMED
      t.trimmed[p] = Math.max(t.trimmed[p] ?? 0, end)
    })
  }

  /** Visible messages of one partition from `from`, honouring isolation. */
  read(topic: string, partition: number, from: number, committedOnly: boolean, max: number): BusMessage[] {
    const log = this.topic(topic).partitions[partition] ?? []
    const out: BusMessage[] = []
    for (let o = from; o < log.length && out.length < max; o++) {
      const e = log[o]!
      if (committedOnly && e.txn?.state === 'open') break // last stable offset
      if (e.control) continue
      if (committedOnly && e.txn?.state === 'aborted') continue
      out.push(e.message)
    }
    return out
  }

  /** First offset at or after `from` that is not a marker or (read_committed) an aborted record. */
  skipInvisible(topic: string, partition: number, from: number, committedOnly: boolean): number {
    const log = this.topic(topic).partitions[partition] ?? []
    let o = from
    while (o < log.length) {
      const e = log[o]!
      if (!(e.control || (committedOnly && e.txn?.state === 'aborted'))) break
      o++
    }
    return o
  }
}

class MemoryProducer implements Producer {
  private closed = false
  constructor(private readonly cluster: MemoryCluster) {}
  async send(messages: OutgoingMessage[]): Promise<void> {
    if (this.closed) throw new PreemptError('PREEMPT_ERR_BUS_CLOSED', 'producer is closed')
    for (const m of messages) this.cluster.append(m)
  }
  async close(): Promise<void> {
    this.closed = true
  }
}

class MemoryTransaction implements Transaction {
  readonly state: TxnState = { state: 'open' }
  readonly touched = new Set<string>()
  readonly offsets: { groupId: string; tpo: TopicPartitionOffset }[] = []
  constructor(
    private readonly cluster: MemoryCluster,
    private readonly owner: MemoryTransactionalProducer,
  ) {}

  private check(): void {
    this.owner.checkEpoch()
    if (this.state.state !== 'open')
      throw new PreemptError('PREEMPT_ERR_BUS_TRANSACTION', `transaction already ${this.state.state}`)
  }
  async send(messages: OutgoingMessage[]): Promise<void> {
    this.check()
    for (const m of messages) this.touched.add(tpKey(m.topic, this.cluster.append(m, this.state)))
  }
  async sendOffsets(groupId: string, offsets: TopicPartitionOffset[]): Promise<void> {
    this.check()
    for (const tpo of offsets) this.offsets.push({ groupId, tpo })
  }
  async commit(): Promise<void> {
    this.check()
    this.finish('committed')
    for (const { groupId, tpo } of this.offsets)
      this.cluster.group(groupId).committed.set(tpKey(tpo.topic, tpo.partition), tpo.offset)
  }
  async abort(): Promise<void> {
    this.check()
    this.finish('aborted')
  }
  finish(state: 'committed' | 'aborted'): void {
    this.state.state = state
    this.cluster.marker(this.touched, this.state)
    this.owner.current = undefined
  }
}

class MemoryTransactionalProducer implements TransactionalProducer {
  current: MemoryTransaction | undefined
  private readonly epoch: number
  private closed = false
  constructor(
    private readonly cluster: MemoryCluster,
    readonly transactionalId: string,
  ) {
    // A new producer with the same id fences the old one and aborts its open transaction,
    // as Kafka's InitProducerId does: the zombie can never commit.
    this.epoch = (cluster.txnEpochs.get(transactionalId) ?? -1) + 1
    cluster.txnEpochs.set(transactionalId, this.epoch)
    const zombie = cluster.openTxns.get(transactionalId)
    if (zombie && zombie.state.state === 'open') zombie.finish('aborted')
  }
  checkEpoch(): void {
    if (this.closed) throw new PreemptError('PREEMPT_ERR_BUS_CLOSED', 'transactional producer is closed')
    if (this.cluster.txnEpochs.get(this.transactionalId) !== this.epoch)
      throw new PreemptError(
        'PREEMPT_ERR_BUS_TRANSACTION',
        `producer fenced: another producer took transactional id ${this.transactionalId}`,
      )
  }
  async begin(): Promise<Transaction> {
    this.checkEpoch()
    if (this.current) throw new PreemptError('PREEMPT_ERR_BUS_TRANSACTION', 'a transaction is already open')
    this.current = new MemoryTransaction(this.cluster, this)
    this.cluster.openTxns.set(this.transactionalId, this.current)
    return this.current
  }
  async close(): Promise<void> {
    if (this.current && this.current.state.state === 'open') this.current.finish('aborted')
    this.closed = true
  }
}

class MemoryConsumer implements Consumer {
  private member: Member | undefined
  private running = false
  private loop: Promise<void> | undefined
  private readonly positions = new Map<string, number>()
  /** Partitions the handler seeked while it had their batch. */
  private readonly seeked = new Set<string>()
  private pendingRebalance: { lost: TopicPartition[]; gained: TopicPartition[] }[] = []
  private cursor = 0

  constructor(
    private readonly cluster: MemoryCluster,
    readonly opts: ConsumerOptions,
  ) {}

  onRebalance(before: TopicPartition[], after: TopicPartition[]): void {
    const has = (list: TopicPartition[], tp: TopicPartition) =>
      list.some((x) => x.topic === tp.topic && x.partition === tp.partition)
    const lost = before.filter((tp) => !has(after, tp))
    const gained = after.filter((tp) => !has(before, tp))
    for (const tp of lost) this.positions.delete(tpKey(tp.topic, tp.partition))
    if (lost.length || gained.length) this.pendingRebalance.push({ lost, gained })
  }

  async run(handler: BatchHandler): Promise<void> {
    if (this.running) throw new PreemptError('PREEMPT_ERR_BUS_CONNECT', 'consumer already running')
    for (const t of this.opts.topics) this.cluster.topic(t)
    const g = this.cluster.group(this.opts.groupId)
    this.member = { consumer: this, assigned: [] }
    g.members.push(this.member)
    this.cluster.rebalance(g)
    this.running = true
    await this.applyRebalances()
    this.loop = this.poll(handler)
  }

  private async applyRebalances(): Promise<void> {
    while (this.pendingRebalance.length) {
      const { lost, gained } = this.pendingRebalance.shift()!
      if (lost.length) await this.opts.onPartitionsRevoked?.(lost)
      if (gained.length) await this.opts.onPartitionsAssigned?.(gained)
    }
  }

  private position(tp: TopicPartition): number {
    const key = tpKey(tp.topic, tp.partition)
    let pos = this.positions.get(key)
    if (pos === undefined) {
      const committed = this.cluster.group(this.opts.groupId).committed.get(key)
      pos =
        committed !== undefined
          ? Number(committed)
          : this.opts.fromBeginning
            ? 0
            : this.cluster.topic(tp.topic).partitions[tp.partition]!.length
      this.positions.set(key, pos)
    }
    return pos
  }

  private async poll(handler: BatchHandler): Promise<void> {
    const committedOnly = (this.opts.isolation ?? 'read_committed') === 'read_committed'
    while (this.running) {
      await this.applyRebalances()
      const assigned = this.member?.assigned ?? []
      let handed = false
      for (let i = 0; i < assigned.length && this.running; i++) {
        const tp = assigned[(this.cursor + i) % assigned.length]!
        const from = this.position(tp)
        const messages = this.cluster.read(tp.topic, tp.partition, from, committedOnly, this.cluster.maxBatchSize)
        if (!messages.length) {
          // Skip markers and aborted records so the position does not stall behind them.
          const end = this.cluster.skipInvisible(tp.topic, tp.partition, from, committedOnly)
          if (end > from) this.positions.set(tpKey(tp.topic, tp.partition), end)
          continue
        }
        const log = this.cluster.topic(tp.topic).partitions[tp.partition]!
        this.seeked.delete(tpKey(tp.topic, tp.partition))
        try {
          await handler({
            topic: tp.topic,
            partition: tp.partition,
            messages,
            highWatermark: String(log.length),
          })
          // The handler may have seeked (even to where the batch began); only advance when it did not.
          const key = tpKey(tp.topic, tp.partition)
          if (!this.seeked.delete(key)) this.positions.set(key, Number(messages.at(-1)!.offset) + 1)
        } catch {
          // As kafkajs: a failed batch is fetched again after a pause.
          await sleep(50)
        }
        handed = true
        this.cursor = (this.cursor + i + 1) % Math.max(1, assigned.length)
        break
      }
      if (!handed) await sleep(Math.min(this.opts.maxWaitMs ?? 100, 5))
      else await new Promise<void>((r) => setImmediate(r))
    }
  }

  async commit(offsets: TopicPartitionOffset[]): Promise<void> {
    const g = this.cluster.group(this.opts.groupId)
    for (const o of offsets) g.committed.set(tpKey(o.topic, o.partition), o.offset)
  }

  seek(target: TopicPartitionOffset): void {
    this.seeked.add(tpKey(target.topic, target.partition))
    this.positions.set(tpKey(target.topic, target.partition), Number(target.offset))
  }

  assignment(): TopicPartition[] {
    return [...(this.member?.assigned ?? [])]
  }

  async close(): Promise<void> {
    if (!this.running) return
    this.running = false
    await this.loop
    const g = this.cluster.group(this.opts.groupId)
    g.members = g.members.filter((m) => m !== this.member)
    const lost = this.member?.assigned ?? []
    this.member = undefined
    if (lost.length) await this.opts.onPartitionsRevoked?.(lost)
    this.cluster.rebalance(g)
  }
}

class MemoryAdmin implements Admin {
  constructor(private readonly cluster: MemoryCluster) {}
  async createTopics(specs: TopicSpec[]): Promise<void> {
    for (const s of specs) this.cluster.createTopic(s)
  }
  async deleteTopics(topics: string[]): Promise<void> {
    for (const t of topics) this.cluster.topics.delete(t)
  }
  async listTopics(): Promise<string[]> {
    return [...this.cluster.topics.keys()]
  }
  async offsetsForTimes(topic: string, timestampMs: number): Promise<{ partition: number; offset: string }[]> {
    return this.cluster.topic(topic, false).partitions.map((log, partition) => {
      const hit = log.find((e) => !e.control && e.message.timestamp >= timestampMs)
      return { partition, offset: hit ? hit.message.offset : String(log.length) }
    })
  }
  async endOffsets(topic: string): Promise<PartitionOffsets[]> {
    return this.cluster
      .topic(topic, false)
      .partitions.map((log, partition) => ({ partition, low: '0', high: String(log.length) }))
  }
  async committedOffsets(groupId: string, topic: string): Promise<{ partition: number; offset: string | null }[]> {
    const g = this.cluster.group(groupId)
    return this.cluster
      .topic(topic, false)
      .partitions.map((_, partition) => ({ partition, offset: g.committed.get(tpKey(topic, partition)) ?? null }))
  }
  async close(): Promise<void> {}
}

/** A Bus backed by a MemoryCluster; several buses may share one cluster (several "processes"). */
export function createMemoryBus(cluster: MemoryCluster = new MemoryCluster()): Bus & { cluster: MemoryCluster } {
  const closers: (() => Promise<void>)[] = []
  const track = <T extends { close(): Promise<void> }>(c: T): T => {
    closers.push(() => c.close())
    return c
  }
  return {
    kind: 'memory',
    cluster,
    producer: async () => track(new MemoryProducer(cluster)),
    transactionalProducer: async ({ transactionalId }) =>
      track(new MemoryTransactionalProducer(cluster, transactionalId)),
    consumer: async (opts) => track(new MemoryConsumer(cluster, opts)),
    admin: async () => track(new MemoryAdmin(cluster)),
    async readPartition(topic, partition, range, onBatch) {
      const log = cluster.topic(topic, false).partitions[partition]
      if (!log) throw new PreemptError('PREEMPT_ERR_BUS_UNKNOWN_TOPIC', `${topic} has no partition ${partition}`)
      const to = Math.min(range.to === undefined ? log.length : Number(range.to), log.length)
      let pos = Number(range.from)
      while (pos < to) {
        const msgs = cluster
          .read(topic, partition, pos, true, cluster.maxBatchSize)
          .filter((m) => Number(m.offset) < to)
        if (!msgs.length) break
        await onBatch(msgs)
        pos = Number(msgs.at(-1)!.offset) + 1
      }
    },
    close: async () => {
      for (const c of closers.splice(0).reverse()) await c()
    },
  }
}
