/**
 * PolicyStateV1 on `preempt.state.v1` (compacted): the changelog the scorer restores from.
 * Written in the same Kafka transaction as the predictions, commands and input offsets of a
 * batch, to the partition number of the input partition the host's metrics arrive on, so
 * restoring input partition p reads state partition p alone.
 *
 *   key = host:            {"v":1,"kind":"host","host":{…HostPolicy}}
 *   key = "__checkpoint__": {"v":1,"kind":"checkpoint","topic":"fleet.metrics.v1",
 *                            "partition":3,"offset":"1207","event_ts":1764237600000}
 *
 * The checkpoint's event_ts is the newest event time the partition had processed; window
 * state is rebuilt by replaying the input from the records of a little before it.
 */
import type { HostPolicy } from '../policy/engine.js'

export const CHECKPOINT_KEY = '__checkpoint__'

export interface Checkpoint {
  topic: string
  partition: number
  /** Next input offset to process. */
  offset: string
  eventTs: number
}

export type StateRecord = { kind: 'host'; host: HostPolicy } | { kind: 'checkpoint'; checkpoint: Checkpoint }

export function encodeHostState(h: HostPolicy): Buffer {
  // JSON has no Infinity: a host never cooled down is written as null.
  const host = { ...h, cooldownUntil: Number.isFinite(h.cooldownUntil) ? h.cooldownUntil : null }
  return Buffer.from(JSON.stringify({ v: 1, kind: 'host', host }))
}

export function encodeCheckpoint(c: Checkpoint): Buffer {
  return Buffer.from(
    JSON.stringify({
      v: 1,
      kind: 'checkpoint',
      topic: c.topic,
      partition: c.partition,
      offset: c.offset,
      event_ts: c.eventTs,
    }),
  )
}

/** Decodes a state record; undefined for a record of another version or shape (skipped, logged by the caller). */
export function decodeStateRecord(value: Buffer | null): StateRecord | undefined {
  if (!value) return undefined
  let w: Record<string, unknown>
  try {
    w = JSON.parse(value.toString('utf8'))
  } catch {
    return undefined
  }
  if (w['v'] !== 1) return undefined
  if (w['kind'] === 'host' && typeof w['host'] === 'object' && w['host'] !== null) {
    const h = w['host'] as HostPolicy & { cooldownUntil: number | null }
    if (typeof h.host !== 'string' || typeof h.state !== 'string' || !Array.isArray(h.actions)) return undefined
    return {
      kind: 'host',
      host: {
        ...h,
        service: h.service ?? null,
        streak: h.streak ?? 0,
        cooldownUntil: h.cooldownUntil ?? Number.NEGATIVE_INFINITY,
      },
    }
  }
  if (w['kind'] === 'checkpoint' && typeof w['event_ts'] === 'number' && typeof w['offset'] === 'string')
    return {
      kind: 'checkpoint',
      checkpoint: {
        topic: String(w['topic']),
        partition: Number(w['partition']),
        offset: w['offset'],
        eventTs: w['event_ts'],
      },
    }
  return undefined
}
