import { execFile, execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { type Bus, createKafkaBus, type OutgoingMessage } from '../src/bus/index.js'
import { decodeMetricSample } from '../src/contracts/index.js'
import { runBacktest } from '../src/eval/backtest.js'
import { createLogger } from '../src/log.js'
import { loadModel } from '../src/model/artifact.js'
import { initBackend } from '../src/model/backend.js'
import { DEFAULT_SIM_PARAMS } from '../src/sim/model.js'
import { streamModelOf } from '../src/stream/model.js'
import { createScorer } from '../src/stream/scorer.js'
import { trainedFixture } from '../test/stream/fixture.js'
import { topicsFor } from '../test/stream/helpers.js'
import { fleetSamples } from './fleet-samples.js'
import { type Bench, type Figure, timed } from './harness.js'
import type { LoadArgs, LoadResult } from './latency-load.js'

/**
 * The streaming scorer end to end on the local broker, transactions on: samples/s per
 * process beside raw kafkajs consume + decode on the same topic; produce → committed
 * prediction latency at half that rate (a command is committed in the same transaction as
 * the prediction behind it); backtest speed. With PREEMPT_BENCH_PEERS=DIR (the reference
 * pipelines' folder) the peers run on the same broker and the same input topic.
 *
 * The model has the peers' features: 16 metrics × windows 10m/30m/2h = 402 values.
 */
const log = createLogger({ level: 'silent' })
const HOSTS = 200

/** N samples of a 200-host simulated fleet at 10 s, 4 partitions. */
async function fill(bus: Bus, topic: string, n: number): Promise<void> {
  const admin = await bus.admin()
  await admin.createTopics([{ topic, partitions: 4, configs: { 'retention.ms': '-1' } }])
  await admin.close()
  const producer = await bus.producer()
  const next = fleetSamples(topic, HOSTS, 77)
  const out: OutgoingMessage[] = []
  for (let i = 0; i < n; i++) {
    out.push(next())
    if (out.length >= 5000) await producer.send(out.splice(0))
  }
  await producer.send(out)
  await producer.close()
}

/** bench/latency-load.ts in a child process (same Node, tsx loader). */
function runLoad(a: LoadArgs): Promise<LoadResult> {
  const script = new URL('./latency-load.ts', import.meta.url).pathname
  return new Promise((done, fail) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', script, JSON.stringify(a)],
      { maxBuffer: 256 * 2 ** 20, timeout: (a.warmup + a.seconds + a.drain + 60) * 1000 },
      (err, stdout, stderr) => {
        if (err) return fail(new Error(`latency load generator failed: ${stderr || err.message}`))
        try {
          done(JSON.parse(stdout.trim().split('\n').pop()!) as LoadResult)
        } catch (e) {
          fail(new Error(`latency load generator: unreadable result (${(e as Error).message}); stderr: ${stderr}`))
        }
      },
    )
  })
}

async function committedTotal(bus: Bus, group: string, topic: string): Promise<number> {
  const admin = await bus.admin()
  try {
    return (await admin.committedOffsets(group, topic)).reduce((s, o) => s + Number(o.offset ?? 0), 0)
  } finally {
    await admin.close()
  }
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN
}

const bench: Bench = {
  name: 'serve',
  description: 'streaming scorer: samples/s with transactions, vs raw consume + decode; latency; backtest speed',
  order: 50,
  async run(ctx) {
    const n = Math.round(300_000 * ctx.scale)
    const bus = createKafkaBus({ brokers: ctx.brokers, logger: log })
    const input = `bench-serve-${randomUUID().slice(0, 8)}`
    const made: string[] = [input]
    const figures: Record<string, Figure> = {}
    try {
      // As `preempt serve` does: without it the model runs on tfjs's plain-JS backend (10× slower).
      const backend = await initBackend()
      const modelDir = process.env['PREEMPT_BENCH_MODEL'] ?? (await trainedFixture()).modelDir
      const loaded = await loadModel(modelDir)
      const model = streamModelOf(loaded)
      ctx.log(
        `model ${modelDir} on ${backend.name}: ${model.spec.metrics.length} metrics, windows ${model.spec.windows.join('/')} ms`,
      )
      await fill(bus, input, n)
      ctx.log(`filled ${input} with ${n} samples of ${HOSTS} hosts`)

      // Raw: kafkajs consume + decode, nothing else.
      let seen = 0
      let first = 0
      const raw = await bus.consumer({ groupId: `bench-raw-${randomUUID()}`, topics: [input], fromBeginning: true })
      const [, rawS] = await timed(
        () =>
          new Promise<void>((done) => {
            void raw.run(async (b) => {
              first ||= performance.now()
              for (const m of b.messages) decodeMetricSample(m.value ?? new Uint8Array(), { key: m.key })
              seen += b.messages.length
              if (seen >= n) done()
            })
          }),
      )
      await raw.close()
      const rawRate = seen / ((performance.now() - first) / 1000)
      ctx.log(`raw consume + decode: ${Math.round(rawRate)} samples/s (${rawS.toFixed(1)} s with join)`)
      figures['raw_consume_decode_per_s'] = {
        value: rawRate,
        unit: 'samples/s',
        better: 'higher',
        note: 'kafkajs, read_committed, first batch → last',
      }

      // The scorer, transactions on.
      const topics = { ...topicsFor('bench-serve'), metrics: input }
      made.push(...Object.values(topics).slice(1))
      const group = `bench-serve-${randomUUID().slice(0, 8)}`
      let firstBatch = 0
      const scorer = createScorer({
        bus,
        model,
        log,
        config: { topics, groupId: group, fromBeginning: true, partitions: 4 },
        onCommitted: () => {
          firstBatch ||= performance.now()
        },
      })
      const rss0 = process.memoryUsage().rss
      await scorer.start()
      let done = 0
      while (done < n) {
        await new Promise((r) => setTimeout(r, 50))
        done = await committedTotal(bus, group, input)
      }
      const serveS = (performance.now() - firstBatch) / 1000
      const serveRate = n / serveS
      const st = scorer.stats()
      await scorer.close()
      ctx.log(
        `scorer: ${Math.round(serveRate)} samples/s, ${st.batches} transactions (compute ${(st.computeMs / 1000).toFixed(1)} s, commit ${(st.commitMs / 1000).toFixed(1)} s), commands ${JSON.stringify(st.commands)}`,
      )
      figures['serve_samples_per_s'] = {
        value: serveRate,
        unit: 'samples/s',
        better: 'higher',
        baseline: 'serve.raw_consume_decode_per_s',
        target: 50_000,
        note: `${n} samples, ${loaded.meta.featureNames.length} features, ${loaded.meta.kind === 'gbdt' ? `${loaded.meta.training['bestTrees'] ?? '?'} trees` : loaded.meta.kind}, one transaction per batch (${st.batches}), first commit → last`,
      }
      figures['serve_rss_mb'] = {
        value: process.memoryUsage().rss / 2 ** 20,
        unit: 'MiB',
        better: 'lower',
        note: `RSS after the run (before: ${(rss0 / 2 ** 20).toFixed(0)} MiB)`,
      }

      // Latency at half the measured rate: produce → the prediction committed (read_committed).
      const rate = Math.min(serveRate, rawRate) / 2
      const latTopic = `${input}-lat`
      const lt = { ...topics, metrics: latTopic, predictions: `${latTopic}.predictions`, state: `${latTopic}.state` }
      made.push(latTopic, lt.predictions, lt.state)
      const admin = await bus.admin()
      await admin.createTopics([{ topic: latTopic, partitions: 4 }])
      await admin.close()
      const lscorer = createScorer({
        bus,
        model,
        log,
        config: { topics: lt, groupId: `${group}-lat`, fromBeginning: true, partitions: 4 },
      })
      await lscorer.start()
      // The load generator and the reader run in a process of their own (bench/latency-load.ts),
      // as in a deployment: in this process they would compete with the scorer for its one
      // thread and the figure would be the bench's queueing, not the scorer's (measured so:
      // p99 5.7 s). The first seconds (transactional producers per partition, new topics,
      // JIT) are not the steady state: samples sent during the warm-up are scored, not timed.
      const warmup = 15
      const seconds = 15
      const load = await runLoad({
        brokers: ctx.brokers,
        input: latTopic,
        predictions: lt.predictions,
        hosts: HOSTS,
        rate,
        warmup,
        seconds,
        drain: 30,
      })
      const { latencies, expected } = load
      // Closing must not hold the report: the close gets a deadline.
      await Promise.race([lscorer.close(10_000), new Promise((r) => setTimeout(r, 15_000))])
      ctx.log(`latency at ${Math.round(rate)} samples/s: ${latencies.length} of ${expected} predictions timed`)
      figures['latency_p50_ms'] = {
        value: percentile(latencies, 0.5),
        unit: 'ms',
        better: 'lower',
        note: `produce → committed prediction seen by a read_committed reader (load and reader in their own process), at ${Math.round(rate)} samples/s (half the rate), ${seconds} s after ${warmup} s of warm-up`,
      }
      figures['latency_p99_ms'] = { value: percentile(latencies, 0.99), unit: 'ms', better: 'lower', target: 1000 }

      // Backtest speed.
      const [bt, btS] = await timed(() =>
        runBacktest({
          model,
          params: { ...DEFAULT_SIM_PARAMS, hosts: 100, durationMs: 12 * 3_600_000, seed: 3 },
          naive: false,
          log,
        }),
      )
      figures['backtest_host_hours_per_s'] = {
        value: bt.hostHoursPerSecond,
        unit: 'host-h/s',
        better: 'higher',
        note: `100 hosts × 12 h at 10 s, scored run only (${btS.toFixed(1)} s with the bare fleet)`,
      }

      // The reference pipelines on the same broker and input topic.
      const peersDir = process.env['PREEMPT_BENCH_PEERS']
      if (peersDir && existsSync(join(peersDir, 'run_peers.sh'))) {
        const outDir = resolve('.cache/peers/runs', `bench-${Date.now()}`)
        ctx.log(`peers: ${peersDir} on ${input}`)
        execFileSync('bash', [join(peersDir, 'run_peers.sh'), ctx.brokers.join(','), String(n)], {
          env: { ...process.env, INPUT_TOPIC: input, FILL: '0', KEEP_TOPICS: '1', PEERS_OUT: outDir, PEERS_NICE: '0' },
          stdio: ['ignore', 'inherit', 'inherit'],
        })
        const lines = readFileSync(join(outDir, 'results.jsonl'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l))
        let fastest = 0
        for (const r of lines) {
          if (!r.peer) continue
          const rps = Number(r.rate)
          if (!Number.isFinite(rps)) continue
          const name = String(r.peer ?? r.name)
          figures[`peer_${name.replace(/[^a-z0-9]+/gi, '_')}_per_s`] = {
            value: rps,
            unit: 'records/s',
            better: 'higher',
            note: 'same broker, same input topic',
          }
          if (name !== 'raw') fastest = Math.max(fastest, rps)
        }
        if (fastest > 0)
          figures['serve_vs_fastest_peer'] = {
            value: serveRate / fastest,
            unit: '×',
            better: 'higher',
            target: 1.5,
            note: 'the scorer over the faster reference pipeline',
          }
      } else ctx.log('peers: set PREEMPT_BENCH_PEERS to the reference pipelines folder to run them on the same topic')
      return figures
    } finally {
      const admin = await bus.admin()
      await admin.deleteTopics(made).catch(() => {})
      await admin.close()
      await bus.close()
    }
  },
}
export default bench
