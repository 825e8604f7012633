import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createKafkaBus } from '../src/bus/index.js'
import { EventIndex, type FailurePoint, type ScoredPoint, staticThresholdBaseline } from '../src/eval/events.js'
import { createLogger } from '../src/log.js'
import { runSimulationToCsv } from '../src/sim/csv.js'
import { FleetSim } from '../src/sim/engine.js'
import { runSimulationOnKafka } from '../src/sim/kafka-mode.js'
import { DEFAULT_SIM_PARAMS, SIM_METRICS } from '../src/sim/model.js'
import { type Bench, timed } from './harness.js'

const HOUR = 3_600_000
const DAY = 86_400_000

const bench: Bench = {
  name: 'sim',
  description:
    'simulator: CSV generation rate, Kafka publish rate, and the static-threshold baseline it leaves room above',
  order: 10,
  async run(ctx) {
    const dir = mkdtempSync(join(tmpdir(), 'preempt-bench-sim-'))
    try {
      const csvParams = { ...DEFAULT_SIM_PARAMS, hosts: 200, durationMs: DAY * ctx.scale, seed: 7 }
      const [csv, csvS] = await timed(() => runSimulationToCsv(csvParams, dir))
      ctx.log(`CSV: ${csv.samples} samples in ${csvS.toFixed(2)} s`)

      let engineSamples = 0
      const [, engineS] = await timed(async () => {
        const sim = new FleetSim(csvParams, { sample: () => void engineSamples++ })
        while (!sim.done) sim.tick()
      })

      const bus = createKafkaBus({ brokers: ctx.brokers, logger: createLogger({ level: 'silent' }) })
      const id = randomUUID().slice(0, 8)
      const topics = {
        metrics: `bench-sim-metrics-${id}`,
        failures: `bench-sim-failures-${id}`,
        commands: `bench-sim-commands-${id}`,
        commandStatus: `bench-sim-status-${id}`,
      }
      const [kafka, kafkaS] = await timed(() =>
        runSimulationOnKafka({
          bus,
          topics,
          logger: createLogger({ level: 'silent' }),
          params: { ...DEFAULT_SIM_PARAMS, hosts: 200, durationMs: 3 * HOUR * ctx.scale, seed: 7 },
          speed: Number.POSITIVE_INFINITY,
        }),
      )
      const admin = await bus.admin()
      await admin.deleteTopics(Object.values(topics)).catch(() => {})
      await bus.close()
      ctx.log(`Kafka: ${kafka.samples} samples in ${kafkaS.toFixed(2)} s`)

      // The naive baseline on a default-difficulty fleet: one static threshold on one metric.
      const points: ScoredPoint[] = []
      const cols = SIM_METRICS.map(() => [] as number[])
      const sim = new FleetSim(
        { ...DEFAULT_SIM_PARAMS, hosts: 100, durationMs: 4 * DAY * ctx.scale, mtbfMs: 8 * DAY, seed: 21 },
        {
          sample(h, ts, v) {
            points.push({ host: h.idx, ts, score: 0 })
            for (let m = 0; m < v.length; m++) cols[m]!.push(v[m]!)
          },
        },
      )
      sim.runToEnd()
      const order = points
        .map((_, i) => i)
        .sort((a, b) => points[a]!.host - points[b]!.host || points[a]!.ts - points[b]!.ts)
      const sorted = order.map((i) => points[i]!)
      const values = cols.map((c) => Float64Array.from(order, (i) => c[i]!))
      const failures: FailurePoint[] = sim.failures.map((f) => ({
        host: sim.byName.get(f.host)!.idx,
        ts: f.ts,
        predictable: f.predictable,
      }))
      const index = new EventIndex(sorted, failures, { horizon: HOUR, lead: 2 * 60_000, dayLength: DAY })
      const baseline = staticThresholdBaseline(index, SIM_METRICS, values)
      const top = baseline[0]!
      for (const b of baseline.slice(0, 5))
        ctx.log(
          `baseline ${b.metric} ${b.direction} ${b.threshold.toPrecision(4)}: precision ${b.best.precision?.toFixed(3)}, predictable recall ${b.best.predictableRecall?.toFixed(3)}, recall@P≥0.9 ${b.recallAtPrecision90.toFixed(3)}`,
        )
      const bestAt90 = Math.max(...baseline.map((b) => b.recallAtPrecision90))
      return {
        csv_samples_per_s: {
          value: csv.samples / csvS,
          unit: 'samples/s',
          better: 'higher',
          target: 200_000,
          note: `200 hosts × 1 d, 16 metrics, gzip level 1 (${csv.samples} samples)`,
        },
        engine_samples_per_s: {
          value: engineSamples / engineS,
          unit: 'samples/s',
          better: 'higher',
          note: 'engine alone, no output',
        },
        kafka_publish_samples_per_s: {
          value: kafka.samples / kafkaS,
          unit: 'samples/s',
          better: 'higher',
          baseline: 'kafka.produce_msgs_per_s',
          note: 'Kafka mode at --speed max, one send per tick (200 records)',
        },
        baseline_best_f1_precision: {
          value: top.best.precision ?? 0,
          unit: '',
          better: 'higher',
          note: `best static rule: ${top.metric} ${top.direction === 'above' ? '>' : '<'} ${top.threshold.toPrecision(4)} (horizon 1 h, lead 2 min, ${failures.length} failures)`,
        },
        baseline_best_f1_recall: {
          value: top.best.predictableRecall ?? 0,
          unit: '',
          better: 'higher',
          note: 'of predictable failures',
        },
        baseline_recall_at_precision_0_9: {
          value: bestAt90,
          unit: '',
          better: 'higher',
          note: 'best over all metrics and thresholds: the room a model has to beat',
        },
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  },
}
export default bench
