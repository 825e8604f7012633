/**
 * The Kafka port: just what preempt needs from a log. The kafkajs adapter (kafka.ts) talks
 * to a real cluster; the in-memory twin (memory.ts) behaves the same for unit tests. One
 * conformance suite (test/bus/conformance.ts) runs against both.
 *
 * Offsets are decimal strings (Kafka offsets are 64-bit). A committed offset is the next
 * offset to read. Offsets are not contiguous: transaction markers take offsets too.
 */

export interface BusMessage {
  topic: string
  partition: number
  offset: string
  key: string | null
  value: Buffer | null
  /** Record timestamp, epoch ms (producer create time). */
  timestamp: number
  headers: Record<string, string>
}

export interface OutgoingMessage {
  topic: string
  key?: string | null
  value: Buffer | string | null
  /** Explicit partition; default: Kafka's murmur2 partitioner on the key. */
  partition?: number
  /** Record timestamp, epoch ms. Default: now. */
  timestamp?: number
  headers?: Record<string, string>
}

export interface TopicPartition {
  topic: string
  partition: number
}

export interface TopicPartitionOffset extends TopicPartition {
  /** Next offset to read. */
  offset: string
}

export interface Producer {
  /** Writes messages with acks=all; resolves when every one is durable. */
  send(messages: OutgoingMessage[]): Promise<void>
  close(): Promise<void>
}

export interface Transaction {
  send(messages: OutgoingMessage[]): Promise<void>
  /** Commits consumer offsets for `groupId` atomically with this transaction's records. */
  sendOffsets(groupId: string, offsets: TopicPartitionOffset[]): Promise<void>
  commit(): Promise<void>
  abort(): Promise<void>
}

export interface TransactionalProducer {
  /** Starts a transaction; one at a time per producer. */
  begin(): Promise<Transaction>
  close(): Promise<void>
}

export interface ConsumerBatch {
  topic: string
  partition: number
  /** In offset order; never empty. */
  messages: BusMessage[]
  /** The partition's high watermark when fetched (end of the readable log). */
  highWatermark: string
}

export const Isolation = { readCommitted: 'read_committed', readUncommitted: 'read_uncommitted' } as const
export type Isolation = (typeof Isolation)[keyof typeof Isolation]

export interface ConsumerOptions {
  groupId: string
  topics: string[]
  /** Where a partition with no committed offset starts. Default false (the end). */
  fromBeginning?: boolean
  /** Default read_committed: records of open or aborted transactions are never seen. */
  isolation?: Isolation
  /** Called after a rebalance with the partitions this member gained. */
  onPartitionsAssigned?: (partitions: TopicPartition[]) => void | Promise<void>
  /** Called after a rebalance with the partitions this member lost. */
  onPartitionsRevoked?: (partitions: TopicPartition[]) => void | Promise<void>
  /**
   * Called when the client crashed and is rejoining (its partitions already revoked): by the
   * client's own restart, or — after an error it would not restart on — by the bus.
   */
  onCrash?: (info: { error: unknown; rejoin: 'client' | 'bus' }) => void
  /** Longest a fetch waits for data, ms. Default 100. */
  maxWaitMs?: number
  /**
   * Batches of different partitions handled at once (each partition still one at a time, in
   * order): lets one partition's transaction commit while another's batch is computed.
   * Default 1.
   */
  concurrency?: number
  /** Bytes fetched per partition at most (bigger batches, fewer transactions). Default 1 MiB. */
  maxBytesPerPartition?: number
}

export type BatchHandler = (batch: ConsumerBatch) => Promise<void>

export interface Consumer {
  /**
   * Starts consuming; resolves once the member has joined its group. Batches of one
   * partition are handed over one at a time, in order. When the handler resolves, the
   * consumer's position moves past the batch (nothing is committed: call commit, or
   * sendOffsets in a transaction). When it throws, the batch is fetched again.
   */
  run(handler: BatchHandler): Promise<void>
  commit(offsets: TopicPartitionOffset[]): Promise<void>
  /** Moves the read position of an assigned partition. */
  seek(target: TopicPartitionOffset): void
  /** Partitions currently assigned to this member. */
  assignment(): TopicPartition[]
  close(): Promise<void>
}

export interface TopicSpec {
  topic: string
  /** Default 1. */
  partitions?: number
  /** cleanup.policy=compact (latest value per key is kept). Default false. */
  compacted?: boolean
  /** Other topic configs, e.g. { 'retention.ms': '86400000' }. */
  configs?: Record<string, string>
}

export interface PartitionOffsets {
  partition: number
  /** First offset still in the log. */
  low: string
  /** Next offset to be written. */
  high: string
}

export interface Admin {
  /** Creates topics that do not exist yet (existing ones are left as they are). */
  createTopics(specs: TopicSpec[]): Promise<void>
  deleteTopics(topics: string[]): Promise<void>
  listTopics(): Promise<string[]>
  /** Per partition, the earliest offset whose timestamp is ≥ ts (the end if none). */
  offsetsForTimes(topic: string, timestampMs: number): Promise<{ partition: number; offset: string }[]>
  endOffsets(topic: string): Promise<PartitionOffsets[]>
  /** Per partition, the group's committed offset, or null when it has none. */
  committedOffsets(groupId: string, topic: string): Promise<{ partition: number; offset: string | null }[]>
  close(): Promise<void>
}

export interface PartitionRange {
  /** First offset to read. */
  from: string
  /** One past the last offset to read. Default: the end of the log when the call starts. */
  to?: string
}

export interface Bus {
  /** Short name for logs: 'kafka' or 'memory'. */
  readonly kind: string
  /**
   * Reads the committed records of one partition with offsets in [from, to), in order,
   * outside any consumer group (nothing is committed): for state restore. Resolves once the
   * range is read; `onBatch` is awaited before the next batch.
   */
  readPartition(
    topic: string,
    partition: number,
    range: PartitionRange,
    onBatch: (messages: BusMessage[]) => void | Promise<void>,
  ): Promise<void>
  producer(): Promise<Producer>
  transactionalProducer(opts: { transactionalId: string }): Promise<TransactionalProducer>
  consumer(opts: ConsumerOptions): Promise<Consumer>
  admin(): Promise<Admin>
  /** Closes every client this bus created. */
  close(): Promise<void>
}
