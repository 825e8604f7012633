import { expect } from 'vitest'
import type { Bus, BusMessage, OutgoingMessage } from '../../src/bus/index.js'
import {
  decodeHealingCommand,
  decodeMetricSample,
  decodePrediction,
  encodeMetricSample,
} from '../../src/contracts/index.js'
import { FeatureEngine } from '../../src/features/engine.js'
import { PeerAccumulator, PeerTable } from '../../src/features/peers.js'
import { createFeatureSpec, featureNames } from '../../src/features/spec.js'
import { SIM_METRICS } from '../../src/sim/model.js'
import type { StreamModel } from '../../src/stream/model.js'
import type { ScorerTopics } from '../../src/stream/scorer.js'
import { uniqueName } from '../helpers/bus.js'

export const T0 = Date.UTC(2026, 10, 1)
const MIN = 60_000

export function topicsFor(prefix = 'st'): ScorerTopics {
  const n = uniqueName(prefix)
  return {
    metrics: `${n}.metrics`,
    failures: `${n}.failures`,
    predictions: `${n}.predictions`,
    commands: `${n}.commands`,
    commandStatus: `${n}.status`,
    deadLetter: `${n}.dlq`,
    state: `${n}.state`,
  }
}

/**
 * A model whose score is known: the mean of `err` over the 5-minute window / 10, clipped
 * (so a host ramping err to 20 scores 1), and whose explanation names `err` or `mem`.
 */
export function fakeModel(p: { threshold?: number; consecutive?: number; name?: string } = {}): StreamModel {
  const spec = createFeatureSpec({
    metrics: ['cpu', 'err', 'mem'],
    horizon: 30 * MIN,
    timeUnit: 'ms',
    windows: [5 * MIN, 15 * MIN],
  })
  const names = featureNames(spec)
  const errMean = names.indexOf('err.mean.5m')
  const memMean = names.indexOf('mem.mean.5m')
  const F = names.length
  return {
    name: p.name ?? 'fake',
    version: '1',
    spec,
    horizonMs: 30 * MIN,
    rule: { threshold: p.threshold ?? 0.5, consecutive: p.consecutive ?? 3 },
    score(x, rows, out) {
      for (let i = 0; i < rows; i++) {
        const v = x[i * F + errMean]!
        const m = x[i * F + memMean]!
        out[i] = Math.min(1, Math.max(0, (Number.isNaN(v) ? 0 : v) / 10 + (m > 0.9 ? 0.6 : 0)))
      }
      return out
    },
    explain(x, rows, k) {
      return Array.from({ length: rows }, (_, i) =>
        [
          { feature: 'err.mean.5m', contribution: +(x[i * F + errMean]! / 10).toFixed(4) },
          { feature: 'mem.mean.5m', contribution: x[i * F + memMean]! > 0.9 ? 1 : 0 },
        ]
          .sort((a, b) => b.contribution - a.contribution)
          .slice(0, k),
      )
    },
  }
}

export interface FleetOpts {
  hosts: number
  /** Samples per host (30 s apart). */
  steps: number
  /** Hosts whose err ramps to 20 over the last `rampSteps` samples. */
  failing: number[]
  rampSteps?: number
  /** Hosts whose memory climbs past 0.9 at the end (software-looking). */
  leaking?: number[]
}

/** Samples in time order, keyed by host, with record timestamps = event time. */
export function fleetRecords(topic: string, o: FleetOpts): OutgoingMessage[] {
  const out: OutgoingMessage[] = []
  const ramp = o.rampSteps ?? 40
  for (let s = 0; s < o.steps; s++)
    for (let h = 0; h < o.hosts; h++) {
      const host = `host-${String(h).padStart(3, '0')}`
      const ts = T0 + s * 30_000 + ((h * 137) % 1000)
      const into = s - (o.steps - ramp)
      const err = o.failing.includes(h) && into > 0 ? (20 * into) / ramp : ((h + s) % 7) * 0.01
      const mem = o.leaking?.includes(h) && into > 0 ? 0.8 + (0.19 * into) / ramp : 0.5
      out.push({
        topic,
        key: host,
        timestamp: ts,
        value: encodeMetricSample({
          host,
          ts,
          metrics: { cpu: 0.3 + ((h * 7 + s) % 10) / 100, err, mem },
          labels: { zone: `z${h % 3}`, rack: `r${h % 5}`, service: 'web' },
        }),
      })
    }
  return out
}

/** Every committed record of a topic, all partitions. */
export async function readAll(bus: Bus, topic: string): Promise<BusMessage[]> {
  const admin = await bus.admin()
  const parts = await admin.endOffsets(topic)
  await admin.close()
  const all: BusMessage[] = []
  for (const p of parts)
    await bus.readPartition(topic, p.partition, { from: p.low }, (msgs) => {
      all.push(...msgs)
    })
  return all
}

export async function outputs(bus: Bus, topics: ScorerTopics) {
  const preds = (await readAll(bus, topics.predictions)).map((m) => {
    const d = decodePrediction(m.value!)
    if (!d.ok) throw new Error(d.error.message)
    return d.value
  })
  const cmds = (await readAll(bus, topics.commands)).map((m) => {
    const d = decodeHealingCommand(m.value!)
    if (!d.ok) throw new Error(d.error.message)
    return d.value
  })
  const dlq = await readAll(bus, topics.deadLetter)
  return { preds, cmds, dlq }
}

/**
 * A hand-written rule over the simulator's metrics (no training): the mean over the shortest
 * window of disk errors, corrected ECC errors, NIC flaps, temperature and memory, each against
 * a level its precursor reaches. Enough to close the loop in tests; not a model to ship.
 */
export function simRuleModel(): StreamModel {
  const spec = createFeatureSpec({
    metrics: [...SIM_METRICS],
    horizon: 3_600_000,
    timeUnit: 'ms',
    windows: [10 * MIN, 30 * MIN],
  })
  const names = featureNames(spec)
  const at = (n: string) => names.indexOf(n)
  const rules = [
    { i: at('disk_err_rate.mean.10m'), level: 0.5, feature: 'disk_err_rate.mean.10m' },
    { i: at('ecc_corrected.mean.10m'), level: 1.5, feature: 'ecc_corrected.mean.10m' },
    { i: at('nic_link_flaps.mean.10m'), level: 0.15, feature: 'nic_link_flaps.mean.10m' },
    { i: at('temp_c.mean.10m'), level: 72, feature: 'temp_c.mean.10m' },
    { i: at('mem_used.mean.10m'), level: 0.95, feature: 'mem_used.mean.10m' },
  ]
  const F = names.length
  const ratio = (x: Float64Array, row: number) => rules.map((r) => (x[row * F + r.i] ?? 0) / r.level)
  return {
    name: 'sim-rules',
    version: '1',
    spec,
    horizonMs: 3_600_000,
    rule: { threshold: 0.5, consecutive: 3 },
    score(x, rows, out) {
      for (let i = 0; i < rows; i++) {
        const m = Math.max(...ratio(x, i).map((v) => (Number.isNaN(v) ? 0 : v)))
        out[i] = Math.min(1, m / 2)
      }
      return out
    },
    explain(x, rows, k) {
      return Array.from({ length: rows }, (_, i) =>
        ratio(x, i)
          .map((v, j) => ({ feature: rules[j]!.feature, contribution: Number.isNaN(v) ? 0 : +v.toFixed(4) }))
          .sort((a, b) => b.contribution - a.contribution)
          .slice(0, k),
      )
    },
  }
}

/**
 * A model on peer features whose score is known: `err.peer.dev` / 10, clipped (a host whose
 * err rises alone to 20 scores 1; a service-wide rise scores 0), explained by that feature.
 */
export function peerModel(p: { threshold?: number; consecutive?: number } = {}): StreamModel {
  const spec = createFeatureSpec({
    metrics: ['cpu', 'err', 'mem'],
    horizon: 30 * MIN,
    timeUnit: 'ms',
    windows: [5 * MIN, 15 * MIN],
    peers: { by: 'service' },
  })
  const F = featureNames(spec).length
  const dev = featureNames(spec).indexOf('err.peer.dev')
  const at = (x: Float64Array, i: number) => {
    const v = x[i * F + dev]!
    return Math.min(1, Math.max(0, Number.isNaN(v) ? 0 : v / 10))
  }
  return {
    name: 'peer-fake',
    version: '1',
    spec,
    horizonMs: 30 * MIN,
    rule: { threshold: p.threshold ?? 0.5, consecutive: p.consecutive ?? 3 },
    score(x, rows, out) {
      for (let i = 0; i < rows; i++) out[i] = at(x, i)
      return out
    },
    explain(x, rows, k) {
      return Array.from({ length: rows }, (_, i) => [{ feature: 'err.peer.dev', contribution: at(x, i) }].slice(0, k))
    },
  }
}

/** What `preempt score` computes for the same samples: the offline table, then the engine, per record in order. */
export function offlineScores(model: StreamModel, recs: OutgoingMessage[]): Map<string, number> {
  const spec = model.spec
  const p = spec.peers!
  const acc = new PeerAccumulator(p, spec.lateness)
  const table = new PeerTable(p)
  const samples = recs.map((r) => {
    const d = decodeMetricSample(r.value as Buffer)
    if (!d.ok) throw new Error(d.error.message)
    return d.value
  })
  for (const s of samples) {
    const g = s.labels['service']!
    if (
      acc.add(
        s.host,
        g,
        s.ts,
        p.metrics.map((m) => s.metrics[m] ?? Number.NaN),
      ) !== undefined
    )
      acc.takeFinal(s.host, (b, group, means) => table.add('csv', b, s.host, group, means))
  }
  acc.takeAll((host, b, group, means) => table.add('csv', b, host, group, means))
  const engine = new FeatureEngine(spec, table)
  const out = new Float64Array(engine.size)
  const one = new Float64Array(1)
  const scores = new Map<string, number>()
  for (const s of samples) {
    const v = spec.metrics.map((m) => s.metrics[m] ?? Number.NaN)
    if (engine.push(s.host, s.ts, v, out, s.labels['service']) === 'emitted')
      scores.set(`${s.host}@${s.ts}`, model.score(out, 1, one)[0]!)
  }
  return scores
}

/** Every offline vector has its prediction, and each score equals the offline one to 1e-9. */
export function expectOffline(preds: { host: string; ts: number; score: number }[], want: Map<string, number>) {
  expect(new Set(preds.map((p) => `${p.host}@${p.ts}`)).size).toBe(want.size)
  expect(preds).toHaveLength(want.size)
  let maxDiff = 0
  for (const p of preds) maxDiff = Math.max(maxDiff, Math.abs(p.score - want.get(`${p.host}@${p.ts}`)!))
  expect(maxDiff).toBeLessThanOrEqual(1e-9)
}
