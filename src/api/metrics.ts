/**
 * GET /metrics: Prometheus text from a prom-client registry of its own (never the global
 * one, so two apps in one process never collide). Scorer counters are read at scrape time
 * (collect callbacks), never on the hot path; the batch-latency histogram is fed per
 * committed batch through `observeBatch`.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import type { Admin } from '../bus/index.js'
import type { Scorer } from '../stream/scorer.js'
import { fleetStats } from './stats.js'
import type { FleetView } from './view.js'

export interface ApiMetrics {
  registry: Registry
  observeBatch(seconds: number): void
}

export interface MetricsSources {
  view: FleetView
  scorer?: Scorer | undefined
  /** For the consumer lag of the scorer's group on the input topic. */
  lag?: { admin: () => Promise<Admin>; groupId: string; topic: string } | undefined
}

/** A counter that mirrors a running total read at scrape time. */
function mirror(c: Counter<string>, last: Map<string, number>, labels: Record<string, string>, total: number): void {
  const key = `${(c as unknown as { name: string }).name}${JSON.stringify(labels)}`
  const d = total - (last.get(key) ?? 0)
  if (d > 0) c.inc(labels, d)
  last.set(key, total)
}

export function createApiMetrics(src: MetricsSources): ApiMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'preempt_process_' })
  const seen = new Map<string, number>()
  const scorer = src.scorer

  /** A counter that mirrors scorer totals, read at scrape time. */
  const mirrored = (
    name: string,
    help: string,
    labelNames: string[],
    read: (sc: Scorer) => [Record<string, string>, number][],
  ) =>
    new Counter({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        if (scorer) for (const [labels, n] of read(scorer)) mirror(this, seen, labels, n)
      },
    })
  const by = (label: string, totals: Record<string, number>): [Record<string, string>, number][] =>
    Object.entries(totals).map(([k, n]) => [{ [label]: k }, n])
  // Plain totals of the scorer's stats, one counter each.
  const totals: [string, string, (st: ReturnType<Scorer['stats']>) => number][] = [
    ['preempt_records_total', 'Metric samples consumed by the scorer', (st) => st.records],
    ['preempt_predictions_total', 'Predictions emitted', (st) => st.predictions],
    [
      'preempt_off_regime_samples_total',
      'Samples whose operating settings were unlike every regime the model was trained on (read relative to the nearest)',
      (st) => st.offRegime,
    ],
    [
      'preempt_redelivered_records_total',
      'Records delivered again that the scorer had already taken, skipped',
      (st) => st.redelivered,
    ],
    [
      'preempt_consumer_crashes_total',
      "Times the scorer's consumer crashed and rejoined its group (its partitions restored anew)",
      (st) => st.consumerCrashes,
    ],
    [
      'preempt_partition_restarts_total',
      'Partitions restarted from their committed offset after a transaction failed for good',
      (st) => st.partitionRestarts,
    ],
  ]
  for (const [name, help, read] of totals) mirrored(name, help, [], (sc) => [[{}, read(sc.stats())]])
  mirrored('preempt_dead_letters_total', 'Records sent to the dead-letter topic, by reason', ['reason'], (sc) =>
    by('reason', sc.stats().deadLetters),
  )
  mirrored('preempt_commands_total', 'Healing commands sent, by action', ['action'], (sc) =>
    by('action', sc.stats().commands),
  )
  mirrored('preempt_guard_blocks_total', 'Actions the safety budget blocked, by guard', ['guard'], (sc) =>
    by('guard', sc.policy.counters.blocked),
  )
  let lastRate = { at: Date.now(), records: 0 }
  new Gauge({
    name: 'preempt_records_per_second',
    help: 'Samples consumed per second since the previous scrape',
    registers: [registry],
    collect() {
      if (!scorer) return
      const now = Date.now()
      const records = scorer.stats().records
      const dt = (now - lastRate.at) / 1000
      if (dt > 0) this.set((records - lastRate.records) / dt)
      lastRate = { at: now, records }
    },
  })
  new Gauge({
    name: 'preempt_model_info',
    help: 'The active model (value 1)',
    labelNames: ['name', 'version'],
    registers: [registry],
    collect() {
      this.reset()
      if (scorer) this.set({ name: scorer.model.name, version: scorer.model.version }, 1)
    },
  })
  new Gauge({
    name: 'preempt_kill_switch',
    help: '1 while the kill switch stops every action',
    registers: [registry],
    collect() {
      const on = scorer ? scorer.policy.options.killSwitch : src.view.killSwitch
      this.set(on ? 1 : 0)
    },
  })
  new Gauge({
    name: 'preempt_hosts',
    help: 'Hosts known to the API, by policy state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      this.reset()
      const by: Record<string, number> = {}
      for (const p of src.view.policies()) by[p.state] = (by[p.state] ?? 0) + 1
      for (const [state, n] of Object.entries(by)) this.set({ state }, n)
    },
  })
  new Gauge({
    name: 'preempt_self_healing_seconds',
    help: 'Incident stage times (detect, diagnose, recover, total), mean and median over the incidents the API knows',
    labelNames: ['stage', 'stat'],
    registers: [registry],
    collect() {
      this.reset()
      const s = fleetStats(src.view).selfHealing
      const stages = { detect: s.detectMs, diagnose: s.diagnoseMs, recover: s.recoverMs, total: s.selfHealingMs }
      for (const [stage, v] of Object.entries(stages)) {
        if (v.mean !== null) this.set({ stage, stat: 'mean' }, v.mean / 1000)
        if (v.median !== null) this.set({ stage, stat: 'median' }, v.median / 1000)
      }
    },
  })
  if (src.lag) {
    const lag = src.lag
    new Gauge({
      name: 'preempt_consumer_lag',
      help: "Records of the input topic not yet committed by the scorers' group, by partition",
      labelNames: ['partition'],
      registers: [registry],
      async collect() {
        try {
          const admin = await lag.admin()
          const [ends, committed] = await Promise.all([
            admin.endOffsets(lag.topic),
            admin.committedOffsets(lag.groupId, lag.topic),
          ])
          const c = new Map(committed.map((x) => [x.partition, x.offset]))
          this.reset()
          for (const e of ends) {
            const at = c.get(e.partition) ?? e.low
            this.set({ partition: String(e.partition) }, Number(BigInt(e.high) - BigInt(at)))
          }
        } catch {
          // A scrape never fails on a broker hiccup: the gauge keeps its last values.
        }
      },
    })
  }
  const batch = new Histogram({
    name: 'preempt_batch_seconds',
    help: 'Time from a batch in hand to its transaction committed',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  })
  return { registry, observeBatch: (s) => batch.observe(s) }
}
