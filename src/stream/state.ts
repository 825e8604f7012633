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
 *
 * With a model that has peer features (stream/peers.ts), partition p also carries its hosts'
 * bucket means and how far they are final, read by every scorer instance:
 *
 *   key = "__peers__:<bucket mod 64>": {"v":1,"kind":"peers","bucket":29891520,"bucket_ms":60000,
 *                                        "hosts":[["web-0001","web",[0.41,null,…]],…]}
 *   key = "__peers_through__":          {"v":1,"kind":"peers_through","through":29891519,"bucket_ms":60000}
 *
 * Values are float32 numbers in the peer spec's metric order (null = no sample of it).
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

/** One partition's host values in one bucket (features/peers.ts). */
export interface PeersRecord {
  bucket: number
  bucketMs: number
  hosts: { host: string; group: string; values: Float32Array }[]
}

export const PEERS_THROUGH_KEY = '__peers_through__'
/** Partial records are keyed by bucket modulo this: compaction keeps the latest hour or so. */
export const PEERS_RING = 64

export type StateRecord =
  | { kind: 'host'; host: HostPolicy }
  | { kind: 'checkpoint'; checkpoint: Checkpoint }
  | { kind: 'peers'; peers: PeersRecord }
  | { kind: 'peers_through'; through: number; bucketMs: number }

export function peersKey(bucket: number): string {
  return `__peers__:${((bucket % PEERS_RING) + PEERS_RING) % PEERS_RING}`
}

export function encodePeers(r: PeersRecord): Buffer {
  const hosts = r.hosts.map((h) => [h.host, h.group, Array.from(h.values, (v) => (Number.isNaN(v) ? null : v))])
  return Buffer.from(JSON.stringify({ v: 1, kind: 'peers', bucket: r.bucket, bucket_ms: r.bucketMs, hosts }))
}

export function encodePeersThrough(through: number, bucketMs: number): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, kind: 'peers_through', through, bucket_ms: bucketMs }))
}

function decodePeers(w: Record<string, unknown>): StateRecord | undefined {
  const { bucket, bucket_ms: bucketMs, hosts } = w
  if (!Number.isInteger(bucket) || typeof bucketMs !== 'number' || !Array.isArray(hosts)) return undefined
  const out: PeersRecord['hosts'] = []
  for (const h of hosts) {
    if (!Array.isArray(h) || typeof h[0] !== 'string' || typeof h[1] !== 'string' || !Array.isArray(h[2]))
      return undefined
    out.push({
      host: h[0],
      group: h[1],
      values: Float32Array.from(h[2] as unknown[], (v) => (typeof v === 'number' ? v : Number.NaN)),
    })
  }
  return { kind: 'peers', peers: { bucket: bucket as number, bucketMs, hosts: out } }
}

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
  if (w['kind'] === 'peers') return decodePeers(w)
  if (w['kind'] === 'peers_through' && Number.isInteger(w['through']) && typeof w['bucket_ms'] === 'number')
    return { kind: 'peers_through', through: w['through'] as number, bucketMs: w['bucket_ms'] }
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
