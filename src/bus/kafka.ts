import { randomUUID } from 'node:crypto'
import {
  type ICustomPartitioner,
  type Admin as KAdmin,
  Kafka,
  type KafkaMessage,
  type Consumer as KConsumer,
  type Producer as KProducer,
  type Transaction as KTransaction,
  type logLevel,
  type Message,
  Partitioners,
} from 'kafkajs'
import { isRetriable, PreemptError } from '../errors.js'
import { kafkaLogCreator, kafkaLogLevel, type Logger } from '../log.js'
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

export interface KafkaBusOptions {
  brokers: string[]
  /** Default 'preempt'. */
  clientId?: string
  logger: Logger
  /** TCP connect timeout, ms. Default 3000. */
  connectionTimeoutMs?: number
  /** Consumer session timeout, ms. Default 30000. */
  sessionTimeoutMs?: number
  /** Consumer heartbeat interval, ms. Default 3000. */
  heartbeatIntervalMs?: number
}

function fromKafka(topic: string, partition: number, m: KafkaMessage): BusMessage {
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key ? m.key.toString('utf8') : null,
    value: m.value,
    timestamp: Number(m.timestamp),
    headers: headersOf(m.headers),
  }
}

/** Most records have no headers: they share one frozen empty object. */
const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>

function headersOf(h: KafkaMessage['headers']): Record<string, string> {
  let out: Record<string, string> | undefined
  for (const k in h) {
    const v = h[k]
    out ??= {}
    out[k] = Array.isArray(v) ? String(v[0]) : String(v)
  }
  return out ?? NO_HEADERS
}

function toMessage(m: OutgoingMessage): Message {
  const out: Message = { key: m.key ?? null, value: m.value }
  if (m.partition !== undefined) out.partition = m.partition
  if (m.timestamp !== undefined) out.timestamp = String(m.timestamp)
  if (m.headers) out.headers = m.headers
  return out
}

function groupByTopic<T extends { topic: string }, U>(items: T[], map: (item: T) => U): [string, U[]][] {
  const groups = new Map<string, U[]>()
  for (const item of items) {
    const list = groups.get(item.topic) ?? []
    if (!list.length) groups.set(item.topic, list)
    list.push(map(item))
  }
  return [...groups]
}

/** Bytes per request at most: a partition's record batch must stay under the broker's message.max.bytes (1 MiB by default). */
const MAX_SEND_BYTES = 512 * 1024

/** Cuts messages into requests of at most MAX_SEND_BYTES, in order. */
function chunks(messages: OutgoingMessage[]): OutgoingMessage[][] {
  const res: OutgoingMessage[][] = []
  let cur: OutgoingMessage[] = []
  let bytes = 0
  for (const m of messages) {
    const size = (m.value?.length ?? 0) + (m.key?.length ?? 0) + 70
    if (cur.length && bytes + size > MAX_SEND_BYTES) {
      res.push(cur)
      cur = []
      bytes = 0
    }
    cur.push(m)
    bytes += size
  }
  if (cur.length) res.push(cur)
  return res
}

const byTopic = (messages: OutgoingMessage[]) =>
  groupByTopic(messages, toMessage).map(([topic, msgs]) => ({ topic, messages: msgs }))

const offsetsByTopic = (offsets: TopicPartitionOffset[]) =>
  groupByTopic(offsets, (o) => ({ partition: o.partition, offset: o.offset })).map(([topic, partitions]) => ({
    topic,
    partitions,
  }))

function wrap(code: 'PREEMPT_ERR_BUS_PRODUCE' | 'PREEMPT_ERR_BUS_TRANSACTION' | 'PREEMPT_ERR_BUS_ADMIN', what: string) {
  return (err: unknown): never => {
    throw new PreemptError(code, `${what}: ${(err as Error)?.message ?? err}`, { cause: err })
  }
}

class KafkaProducer implements Producer {
  constructor(private readonly p: KProducer) {}
  async send(messages: OutgoingMessage[]): Promise<void> {
    for (const part of chunks(messages))
      await this.p.sendBatch({ topicMessages: byTopic(part), acks: -1 }).catch(wrap('PREEMPT_ERR_BUS_PRODUCE', 'send'))
  }
  async close(): Promise<void> {
    await this.p.disconnect()
  }
}

class KafkaTransaction implements Transaction {
  constructor(private readonly tx: KTransaction) {}
  async send(messages: OutgoingMessage[]): Promise<void> {
    for (const part of chunks(messages))
      await this.tx
        .sendBatch({ topicMessages: byTopic(part), acks: -1 })
        .catch(wrap('PREEMPT_ERR_BUS_TRANSACTION', 'transactional send'))
  }
  async sendOffsets(groupId: string, offsets: TopicPartitionOffset[]): Promise<void> {
    if (!offsets.length) return
    await this.tx
      .sendOffsets({ consumerGroupId: groupId, topics: offsetsByTopic(offsets) })
      .catch(wrap('PREEMPT_ERR_BUS_TRANSACTION', 'sendOffsets'))
  }
  async commit(): Promise<void> {
    await this.tx.commit().catch(wrap('PREEMPT_ERR_BUS_TRANSACTION', 'commit'))
  }
  async abort(): Promise<void> {
    await this.tx.abort().catch(wrap('PREEMPT_ERR_BUS_TRANSACTION', 'abort'))
  }
}

class KafkaTransactionalProducer implements TransactionalProducer {
  constructor(private readonly p: KProducer) {}
  async begin(): Promise<Transaction> {
    return new KafkaTransaction(await this.p.transaction().catch(wrap('PREEMPT_ERR_BUS_TRANSACTION', 'begin')))
  }
  async close(): Promise<void> {
    await this.p.disconnect()
  }
}

/** Wait before a consumer kafkajs will not restart rejoins its group (and between tries), ms. */
const REJOIN_DELAY_MS = 1000

class KafkaConsumer implements Consumer {
  private assigned: TopicPartition[] = []
  /** Partitions the handler seeked in the batch in hand (their batch is not resolved). */
  private readonly seeked = new Set<string>()
  /** Rebalance callbacks, one after another: a revoke always finishes before the next assign. */
  private callbacks: Promise<void> = Promise.resolve()
  private closing = false
  private rejoinTimer: NodeJS.Timeout | undefined

  constructor(
    private readonly c: KConsumer,
    private readonly opts: ConsumerOptions,
    private readonly log: Logger,
  ) {}

  /** Runs the rebalance callbacks for a new assignment (kafkajs has no revoke callback). */
  private reassign(next: TopicPartition[]): void {
    const has = (list: TopicPartition[], tp: TopicPartition) =>
      list.some((x) => x.topic === tp.topic && x.partition === tp.partition)
    const lost = this.assigned.filter((tp) => !has(next, tp))
    const gained = next.filter((tp) => !has(this.assigned, tp))
    this.assigned = next
    this.callbacks = this.callbacks
      .then(async () => {
        if (lost.length) await this.opts.onPartitionsRevoked?.(lost)
        if (gained.length) await this.opts.onPartitionsAssigned?.(gained)
      })
      .catch((err) => this.log.error({ err }, 'rebalance callback failed'))
  }

  async run(handler: BatchHandler): Promise<void> {
    const joined = new Promise<void>((resolve) => {
      this.c.on(this.c.events.GROUP_JOIN, (e) => {
        this.reassign(
          Object.entries(e.payload.memberAssignment).flatMap(([topic, parts]) =>
            (parts as number[]).map((partition) => ({ topic, partition })),
          ),
        )
        resolve()
      })
    })
    const config: Parameters<KConsumer['run']>[0] = {
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.concurrency ?? 1,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        if (!isRunning() || isStale() || batch.messages.length === 0) return
        const messages: BusMessage[] = batch.messages.map((m) => fromKafka(batch.topic, batch.partition, m))
        const key = `${batch.topic}\u0000${batch.partition}`
        this.seeked.delete(key)
        await handler({
          topic: batch.topic,
          partition: batch.partition,
          messages,
          highWatermark: batch.highWatermark,
        })
        // Moves the in-memory position only (autoCommit is off): commits are explicit. A handler
        // that seeked wants the rest of the batch again: kafkajs drops it as stale and fetches
        // from the sought offset.
        if (this.seeked.delete(key)) {
          await heartbeat()
          return
        }
        resolveOffset(batch.lastOffset())
        await heartbeat()
      },
    }
    // kafkajs restarts a crashed consumer only when the error was retriable; after any other
    // (e.g. UNKNOWN_MEMBER_ID while it rejoins a busy group) the member is left out of its
    // group for good while the process lives on. Either way the member lost its partitions:
    // they are revoked now, and when kafkajs will not restart it, it rejoins here.
    this.c.on(this.c.events.CRASH, (e) => {
      if (this.closing) return
      this.reassign([])
      this.opts.onCrash?.({ error: e.payload.error, rejoin: e.payload.restart ? 'client' : 'bus' })
      if (e.payload.restart) return
      this.log.error(
        { err: e.payload.error, groupId: this.opts.groupId },
        'consumer crashed and kafkajs will not restart it: rejoining the group',
      )
      const rejoin = () => {
        this.rejoinTimer = undefined
        if (this.closing) return
        this.c
          .connect()
          .then(() => this.c.run(config))
          .catch((err) => {
            this.log.error({ err, groupId: this.opts.groupId }, 'rejoin failed; trying again')
            if (!this.closing) this.rejoinTimer = setTimeout(rejoin, REJOIN_DELAY_MS)
          })
      }
      this.rejoinTimer = setTimeout(rejoin, REJOIN_DELAY_MS)
    })
    await this.c.connect()
    await this.c.subscribe({ topics: this.opts.topics, fromBeginning: this.opts.fromBeginning ?? false })
    await this.c.run(config)
    await joined
  }

  async commit(offsets: TopicPartitionOffset[]): Promise<void> {
    if (offsets.length) await this.c.commitOffsets(offsets)
  }

  seek(target: TopicPartitionOffset): void {
    this.seeked.add(`${target.topic}\u0000${target.partition}`)
    this.c.seek(target)
  }

  assignment(): TopicPartition[] {
    return [...this.assigned]
  }

  async close(): Promise<void> {
    this.closing = true
    clearTimeout(this.rejoinTimer)
    await this.c.disconnect()
  }
}

/**
 * Admin reads right after a topic is created can meet a broker whose metadata is not there
 * yet (NOT_LEADER_FOR_PARTITION, UNKNOWN_TOPIC_OR_PARTITION): retriable, so retried with
 * backoff after refreshing the topic's metadata.
 */
async function withMetadataRetry<T>(a: KAdmin, topic: string, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (err) {
      if (attempt >= 8 || !isRetriable(err)) throw err
      await new Promise((r) => setTimeout(r, Math.min(2000, 50 * 2 ** attempt)))
      await a.fetchTopicMetadata({ topics: [topic] }).catch(() => {})
    }
  }
}

class KafkaAdmin implements Admin {
  constructor(private readonly a: KAdmin) {}

  async createTopics(specs: TopicSpec[]): Promise<void> {
    if (!specs.length) return
    await this.a
      .createTopics({
        waitForLeaders: true,
        topics: specs.map((s) => ({
          topic: s.topic,
          numPartitions: s.partitions ?? 1,
          configEntries: Object.entries({
            ...(s.compacted ? { 'cleanup.policy': 'compact' } : {}),
            ...(s.configs ?? {}),
          }).map(([name, value]) => ({ name, value })),
        })),
      })
      .catch(wrap('PREEMPT_ERR_BUS_ADMIN', 'createTopics'))
  }

  async deleteTopics(topics: string[]): Promise<void> {
    if (topics.length) await this.a.deleteTopics({ topics }).catch(wrap('PREEMPT_ERR_BUS_ADMIN', 'deleteTopics'))
  }

  async listTopics(): Promise<string[]> {
    return this.a.listTopics().catch(wrap('PREEMPT_ERR_BUS_ADMIN', 'listTopics'))
  }

  async offsetsForTimes(topic: string, timestampMs: number): Promise<{ partition: number; offset: string }[]> {
    const [byTime, ends] = await withMetadataRetry(this.a, topic, () =>
      Promise.all([this.a.fetchTopicOffsetsByTimestamp(topic, timestampMs), this.a.fetchTopicOffsets(topic)]),
    ).catch(wrap('PREEMPT_ERR_BUS_ADMIN', `offsetsForTimes(${topic})`))
    // Kafka answers -1 when no record is that recent: reading starts at the end then.
    return byTime
      .map(({ partition, offset }) => ({
        partition,
        offset: offset === '-1' ? (ends.find((e) => e.partition === partition)?.high ?? offset) : offset,
      }))
      .sort((a, b) => a.partition - b.partition)
  }

  async endOffsets(topic: string): Promise<PartitionOffsets[]> {
    const ends = await withMetadataRetry(this.a, topic, () => this.a.fetchTopicOffsets(topic)).catch(
      wrap('PREEMPT_ERR_BUS_ADMIN', `endOffsets(${topic})`),
    )
    return ends
      .map((e) => ({ partition: e.partition, low: e.low, high: e.high }))
      .sort((a, b) => a.partition - b.partition)
  }

  async committedOffsets(groupId: string, topic: string): Promise<{ partition: number; offset: string | null }[]> {
    const res = await this.a
      .fetchOffsets({ groupId, topics: [topic] })
      .catch(wrap('PREEMPT_ERR_BUS_ADMIN', `committedOffsets(${groupId}, ${topic})`))
    return (res[0]?.partitions ?? [])
      .map((p) => ({ partition: p.partition, offset: p.offset === '-1' ? null : p.offset }))
      .sort((a, b) => a.partition - b.partition)
  }

  async close(): Promise<void> {
    await this.a.disconnect()
  }
}

/**
 * kafkajs's default partitioner (murmur2 of the key, Java-compatible) with its answers kept
 * per topic and key: a host's records always go to one partition, and hashing every record
 * cost a tenth of the scorer's produce path. Records with a partition or no key go straight
 * through; the cache is dropped when a topic's partition count changes.
 */
export const cachedPartitioner: ICustomPartitioner = () => {
  const inner = Partitioners.DefaultPartitioner()
  const byTopic = new Map<string, { partitions: number; keys: Map<string, number> }>()
  return (args) => {
    const { message, topic, partitionMetadata } = args
    if (message.partition !== undefined && message.partition !== null) return message.partition
    const key = message.key
    if (typeof key !== 'string') return inner(args)
    let t = byTopic.get(topic)
    if (!t || t.partitions !== partitionMetadata.length) {
      t = { partitions: partitionMetadata.length, keys: new Map() }
      byTopic.set(topic, t)
    }
    let p = t.keys.get(key)
    if (p === undefined) {
      p = inner(args)
      if (t.keys.size >= 1_000_000) t.keys.clear()
      t.keys.set(key, p)
    }
    return p
  }
}

/** A Bus on a real Kafka cluster through kafkajs. Connects lazily, per client. */
export function createKafkaBus(opts: KafkaBusOptions): Bus {
  const log = opts.logger.child({ module: 'bus' })
  const kafka = new Kafka({
    clientId: opts.clientId ?? 'preempt',
    brokers: opts.brokers,
    connectionTimeout: opts.connectionTimeoutMs ?? 3000,
    logCreator: kafkaLogCreator(opts.logger),
    logLevel: kafkaLogLevel(opts.logger.level) as logLevel,
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 5000 },
  })
  const clients = new Set<{ close(): Promise<void> }>()
  const track = <T extends { close(): Promise<void> }>(c: T): T => {
    clients.add(c)
    const close = c.close.bind(c)
    c.close = async () => {
      clients.delete(c)
      await close()
    }
    return c
  }
  const connect = async (what: string, fn: () => Promise<void>) => {
    await fn().catch((err: unknown) => {
      throw new PreemptError(
        'PREEMPT_ERR_BUS_CONNECT',
        `${what}: cannot reach Kafka at ${opts.brokers.join(',')}: ${(err as Error)?.message}. Start one with \`npm run kafka:up\` or set KAFKA_BROKERS.`,
        { cause: err },
      )
    })
  }
  return {
    kind: 'kafka',
    async producer() {
      const p = kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: cachedPartitioner,
      })
      await connect('producer', () => p.connect())
      return track(new KafkaProducer(p))
    },
    async transactionalProducer({ transactionalId }) {
      const p = kafka.producer({
        transactionalId,
        idempotent: true,
        maxInFlightRequests: 1,
        createPartitioner: cachedPartitioner,
      })
      await connect('transactional producer', () => p.connect())
      // kafkajs only calls InitProducerId at the first transaction. Do it now, so that this
      // producer fences any zombie with the same id (and aborts its open transaction)
      // before it is handed out, as the port promises.
      const init = await p.transaction().catch(wrap('PREEMPT_ERR_BUS_TRANSACTION', 'init transactions'))
      await init.abort().catch(wrap('PREEMPT_ERR_BUS_TRANSACTION', 'init transactions'))
      return track(new KafkaTransactionalProducer(p))
    },
    async consumer(copts) {
      const c = kafka.consumer({
        groupId: copts.groupId,
        readUncommitted: (copts.isolation ?? 'read_committed') === 'read_uncommitted',
        sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
        heartbeatInterval: opts.heartbeatIntervalMs ?? 3000,
        maxWaitTimeInMs: copts.maxWaitMs ?? 100,
        maxBytesPerPartition: copts.maxBytesPerPartition ?? 1_048_576,
        allowAutoTopicCreation: false,
      })
      return track(new KafkaConsumer(c, copts, log))
    },
    async readPartition(topic, partition, range, onBatch) {
      const a = kafka.admin()
      await connect('admin', () => a.connect())
      const ends = await withMetadataRetry(a, topic, () => a.fetchTopicOffsets(topic)).catch(
        wrap('PREEMPT_ERR_BUS_ADMIN', `endOffsets(${topic})`),
      )
      await a.disconnect()
      const end = ends.find((e) => e.partition === partition)
      if (!end) throw new PreemptError('PREEMPT_ERR_BUS_UNKNOWN_TOPIC', `${topic} has no partition ${partition}`)
      const from = BigInt(range.from)
      const to = range.to === undefined || BigInt(range.to) > BigInt(end.high) ? BigInt(end.high) : BigInt(range.to)
      if (from >= to) return
      // kafkajs has no manual assignment: a throwaway group of one member, seeked to `from`.
      const c = kafka.consumer({
        groupId: `preempt-reader-${randomUUID()}`,
        readUncommitted: false,
        sessionTimeout: opts.sessionTimeoutMs ?? 30_000,
        heartbeatInterval: opts.heartbeatIntervalMs ?? 3000,
        maxWaitTimeInMs: 100,
        allowAutoTopicCreation: false,
      })
      let lastProgress = Date.now()
      let failure: unknown
      let finish!: () => void
      const finished = new Promise<void>((r) => {
        finish = r
      })
      try {
        await connect('reader', () => c.connect())
        await c.subscribe({ topics: [topic], fromBeginning: false })
        const joined = new Promise<void>((r) => c.on(c.events.GROUP_JOIN, () => r()))
        // Batches that are all aborted records or transaction markers never reach eachBatch,
        // but kafkajs reports their offsets here: the range is read once they pass `to`.
        c.on(c.events.END_BATCH_PROCESS, (e) => {
          if (e.payload.topic !== topic || e.payload.partition !== partition) return
          lastProgress = Date.now()
          if (BigInt(e.payload.lastOffset) + 1n >= to) finish()
        })
        await c.run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            if (batch.partition !== partition || !batch.messages.length) return
            const msgs = batch.messages.filter((m) => BigInt(m.offset) >= from && BigInt(m.offset) < to)
            lastProgress = Date.now()
            try {
              if (msgs.length) await onBatch(msgs.map((m) => fromKafka(topic, partition, m)))
            } catch (err) {
              failure = err
              return finish()
            }
            if (BigInt(batch.lastOffset()) + 1n >= to) finish()
          },
        })
        await joined
        c.seek({ topic, partition, offset: String(from) })
        lastProgress = Date.now()
        // Last resort when nothing more comes (e.g. `to` inside an open transaction): quiet = done.
        const idle = setInterval(() => {
          if (Date.now() - lastProgress > 5000) finish()
        }, 200)
        await finished
        clearInterval(idle)
      } finally {
        await c.disconnect().catch(() => {})
      }
      if (failure) throw failure
    },
    async admin() {
      const a = kafka.admin()
      await connect('admin', () => a.connect())
      return track(new KafkaAdmin(a))
    },
    async close() {
      await Promise.allSettled([...clients].map((c) => c.close()))
    },
  }
}
