/**
 * Feeds the API's read model (view.ts) from the output topics. Each API instance reads
 * every partition of the predictions, commands, statuses, failures and state topics from
 * the beginning, read_committed, in a consumer group of its own (nothing is committed), so
 * every instance answers for every host and scale-out needs no routing layer.
 *
 * Ready once every partition has been read up to the end it had when the materializer
 * started (a partition whose log ends in a transaction marker counts as read when no batch
 * came for a second: markers take offsets but carry no record).
 */
import { randomUUID } from 'node:crypto'
import type { Admin, Bus, BusMessage, Consumer } from '../bus/index.js'
import {
  type Decoder,
  decodeCommandStatus,
  decodeFailureEvent,
  decodeHealingCommand,
  decodePrediction,
} from '../contracts/index.js'
import { PreemptError } from '../errors.js'
import type { Logger } from '../log.js'
import { decodeKillSwitch } from '../stream/control.js'
import { decodeStateRecord } from '../stream/state.js'
import type { FleetView } from './view.js'

export interface MaterializedTopics {
  predictions: string
  commands: string
  commandStatus: string
  failures: string
  state: string
}

export interface MaterializerDeps {
  bus: Bus
  topics: MaterializedTopics
  view: FleetView
  log: Logger
  /** How long start() waits for the topics to exist, ms. Default 60 000. */
  waitForTopicsMs?: number
}

export interface Materializer {
  start(): Promise<void>
  close(): Promise<void>
  /** Every partition read up to where it ended at start. */
  ready(): boolean
  /** Records read, and records that did not decode (skipped and counted: the scorer wrote them). */
  stats(): { records: number; undecodable: number; lastBatchAt: number }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export function createMaterializer(deps: MaterializerDeps): Materializer {
  const { bus, topics, view } = deps
  const log = deps.log.child({ module: 'api-view' })
  const all = [topics.predictions, topics.commands, topics.commandStatus, topics.failures, topics.state]
  let consumer: Consumer | undefined
  let admin: Admin | undefined
  /** `topic:partition` → offset to reach; removed once reached. */
  const behind = new Map<string, bigint>()
  let startedAt = 0
  let lastBatchAt = 0
  let records = 0
  let undecodable = 0
  let isReady = false

  /** Decodes a record of one topic into the view; answers why not when it cannot. */
  const via =
    <T>(decode: Decoder<T>, into: (v: T) => void) =>
    (value: Buffer, ctx: { key: string | null }): string | undefined => {
      const r = decode(value, ctx)
      if (!r.ok) return r.error.message
      into(r.value)
      return undefined
    }
  const byTopic = new Map([
    [topics.predictions, via(decodePrediction, (p) => view.applyPrediction(p))],
    [topics.commands, via(decodeHealingCommand, (c) => view.applyCommand(c))],
    [topics.commandStatus, via(decodeCommandStatus, (st) => view.applyStatus(st))],
    [topics.failures, via(decodeFailureEvent, (f) => view.applyFailure(f))],
  ])

  function apply(m: BusMessage): void {
    records++
    const ctx = { key: m.key }
    if (m.topic === topics.state) {
      const kill = decodeKillSwitch(m.key, m.value)
      if (kill !== undefined) {
        view.killSwitch = kill
        return
      }
      const rec = decodeStateRecord(m.value)
      if (rec?.kind === 'host') view.applyPolicy(rec.host)
      else if (!rec && m.value) undecodable++
      return
    }
    if (m.value === null) return
    const problem = byTopic.get(m.topic)?.(m.value, ctx)
    if (problem !== undefined) {
      undecodable++
      if (undecodable <= 10) log.warn({ topic: m.topic, offset: m.offset, reason: problem }, 'skipped a record')
    }
  }

  function checkReady(): void {
    if (isReady) return
    if (behind.size === 0 || (lastBatchAt > 0 ? Date.now() - lastBatchAt : Date.now() - startedAt) > 1000) {
      isReady = true
      log.info({ records, hosts: view.hostCount }, 'read model caught up')
    }
  }

  return {
    async start() {
      admin = await bus.admin()
      const deadline = Date.now() + (deps.waitForTopicsMs ?? 60_000)
      for (;;) {
        const have = new Set(await admin.listTopics())
        const missing = all.filter((t) => !have.has(t))
        if (!missing.length) break
        if (Date.now() > deadline)
          throw new PreemptError(
            'PREEMPT_ERR_BUS_UNKNOWN_TOPIC',
            `the API reads ${missing.join(', ')}, which do not exist; start \`preempt serve\` (it creates them) or fix topics.* in the config`,
          )
        await sleep(500)
      }
      for (const t of all)
        for (const p of await admin.endOffsets(t))
          if (BigInt(p.high) > BigInt(p.low)) behind.set(`${t}:${p.partition}`, BigInt(p.high))
      startedAt = Date.now()
      consumer = await bus.consumer({
        groupId: `preempt-api-${randomUUID()}`,
        topics: all,
        fromBeginning: true,
        maxBytesPerPartition: 4 * 1024 * 1024,
      })
      await consumer.run(async (batch) => {
        for (const m of batch.messages) apply(m)
        lastBatchAt = Date.now()
        const key = `${batch.topic}:${batch.partition}`
        const goal = behind.get(key)
        if (goal !== undefined && BigInt(batch.messages.at(-1)!.offset) + 1n >= goal) behind.delete(key)
        checkReady()
      })
      const t = setInterval(() => {
        checkReady()
        if (isReady) clearInterval(t)
      }, 250)
      t.unref()
    },
    async close() {
      await consumer?.close()
      await admin?.close()
    },
    ready() {
      checkReady()
      return isReady
    },
    stats: () => ({ records, undecodable, lastBatchAt }),
  }
}
