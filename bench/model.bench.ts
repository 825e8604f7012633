import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createLogger } from '../src/log.js'
import { type LoadedModel, loadModel } from '../src/model/artifact.js'
import { type BackendName, initBackend } from '../src/model/backend.js'
import { buildGru } from '../src/model/mlp.js'
import { Scorer } from '../src/model/scorer.js'
import { trainFromCsv } from '../src/pipelines/train.js'
import { runSimulationToCsv } from '../src/sim/csv.js'
import { DEFAULT_SIM_PARAMS } from '../src/sim/model.js'
import { type Bench, type Figure, timed } from './harness.js'

const HOUR = 3_600_000

/** Training time and peak memory on a 1M-row CSV (MLP and trees); scoring rows/s on each backend that starts, and of the trees. */
const bench: Bench = {
  name: 'model',
  description:
    'train the MLP and 200 boosted trees on a 1M-row simulated CSV (time, peak RSS); scoring rows/s per TensorFlow.js backend and for the trees',
  order: 30,
  async run(ctx) {
    const dir = mkdtempSync(join(tmpdir(), 'preempt-bench-model-'))
    try {
      const hosts = 100
      const durationMs = Math.round((1_000_000 * ctx.scale * 10_000) / hosts)
      const sim = await runSimulationToCsv(
        { ...DEFAULT_SIM_PARAMS, hosts, durationMs, mtbfMs: 2 * 86_400_000, seed: 11 },
        join(dir, 'fleet'),
      )
      ctx.log(`CSV: ${sim.samples} rows, ${sim.failures} failures`)
      const best = (await initBackend()).name
      const csv = {
        files: [join(dir, 'fleet', 'metrics.csv.gz')],
        format: 'wide' as const,
        timeCol: 'timestamp',
        entityCol: 'host',
        timeUnit: 'ms' as const,
      }
      const common = {
        csv,
        labels: { failuresFile: join(dir, 'fleet', 'failures.csv') },
        horizon: HOUR,
        lead: 120_000,
        name: 'bench',
        split: 'entity' as const,
        seed: 1,
        targetPrecision: 0.9,
        // The figures are the score model's (their baselines predate the time-to-failure head).
        hazard: false,
        costModel: { unplanned: 4 * HOUR, planned: 600_000, falseAlarm: 1_800_000, success: 0.9 },
        logger: createLogger({ level: 'silent' }),
        progress: (phase: string, detail: string) => {
          if ((phase === 'train' && !/ trees,/.test(detail)) || phase === 'clean') ctx.log(`${phase}: ${detail}`)
        },
      }
      /** Trains with a peak-RSS sampler of its own. */
      const measured = async (cfg: Parameters<typeof trainFromCsv>[0]) => {
        let peak = process.memoryUsage().rss
        const sampler = setInterval(() => {
          peak = Math.max(peak, process.memoryUsage().rss)
        }, 200)
        const [res, s] = await timed(() => trainFromCsv(cfg))
        clearInterval(sampler)
        return { res, s, peak }
      }
      // Trees first (a clean heap for their peak): exactly 200 trees (no early stopping), the
      // size the scoring target names.
      const trees = await measured({
        ...common,
        out: join(dir, 'gbdt'),
        kind: 'gbdt',
        classWeight: 'none',
        gbdt: { trees: 200, patience: 1_000_000, truncate: false },
      })
      const epochs = 8
      const net = await measured({ ...common, out: join(dir, 'model'), kind: 'mlp', classWeight: 'balanced', epochs })
      const res = net.res
      const trainS = net.s
      const peak = net.peak
      const figures: Record<string, Figure> = {
        train_seconds: {
          value: trainS,
          unit: 's',
          better: 'lower',
          note: `${sim.samples} rows → ${res.meta.featureNames.length} features, ≤ 200k training rows, ≤ ${epochs} epochs, backend ${res.meta.backend}; ${res.cleaning && !res.cleaning.skipped ? 'incl. label cleaning (two half-set networks × 3 epochs), ' : `label cleaning skipped (${res.cleaning?.skipped ?? 'off'}), `}3 passes over the CSV and test scoring`,
        },
        train_peak_rss_mb: {
          value: peak / 2 ** 20,
          unit: 'MiB',
          better: 'lower',
          note: 'measured after the trees trained in the same process: an upper bound',
        },
        gbdt_train_seconds: {
          value: trees.s,
          unit: 's',
          better: 'lower',
          baseline: 'model.train_seconds',
          target: 300,
          note: `the same CSV and passes, 200 trees of ≤ 15 leaves on ${trees.res.meta.featureNames.length} features, no class weighting`,
        },
        gbdt_train_peak_rss_mb: { value: trees.peak / 2 ** 20, unit: 'MiB', better: 'lower', target: 2048 },
      }
      const gbdt = await loadModel(join(dir, 'gbdt'))
      const Fg = gbdt.meta.featureNames.length
      const xt = Float64Array.from({ length: 4096 * Fg }, (_, i) => (i % 7 === 0 ? Number.NaN : Math.sin(i * 0.37)))
      figures['gbdt_score_rows_per_s'] = {
        value: await scoringRate(new Scorer(gbdt), xt, Math.round(200_000 * ctx.scale)),
        unit: 'rows/s',
        better: 'higher',
        target: 500_000,
        note: `${(gbdt.model as { trees: number }).trees} trees, batches of 4096 × ${Fg} features (1 in 7 missing), calibrated`,
      }
      // The same batch through LightGBM's C++ predictor (one thread), where its venv exists.
      const py = resolve('.cache/peers/venv/bin/python')
      if (existsSync(py)) {
        const batch = join(dir, 'batch.f64')
        writeFileSync(batch, Buffer.from(xt.buffer, xt.byteOffset, xt.byteLength))
        try {
          const out = execFileSync(py, [resolve('bench/lightgbm_predict.py'), batch, String(Fg)], { encoding: 'utf8' })
          const r = JSON.parse(out.trim().split('\n').at(-1)!) as { trees: number; rows_per_s: number; version: string }
          figures['lightgbm_score_rows_per_s'] = {
            value: r.rows_per_s,
            unit: 'rows/s',
            better: 'higher',
            note: `reference: LightGBM ${r.version} predict, one thread, ${r.trees} trees of ≤ 15 leaves, the same batch`,
          }
          figures['gbdt_score_vs_lightgbm'] = {
            value: figures['gbdt_score_rows_per_s'].value / r.rows_per_s,
            unit: '×',
            better: 'higher',
            note: 'ours ÷ LightGBM on the same batch, same machine, same run',
          }
        } catch (err) {
          ctx.log(`lightgbm reference: not measured (${(err as Error).message.split('\n')[0]})`)
        }
      } else ctx.log('lightgbm reference: not measured (no .cache/peers/venv: scripts/gbdt_peer.py makes it)')
      const phiRows = 200
      const [, shapS] = await timed(async () => {
        new Scorer(gbdt).explain(xt, phiRows, 5)
      })
      figures['gbdt_explain_rows_per_s'] = {
        value: phiRows / shapS,
        unit: 'rows/s',
        better: 'higher',
        note: 'exact TreeSHAP, top 5 features',
      }
      const loaded = await loadModel(join(dir, 'model'))
      const F = loaded.meta.featureNames.length
      const n = Math.round(50_000 * ctx.scale)
      const x = Float64Array.from({ length: 4096 * F }, (_, i) => Math.sin(i * 0.37))
      for (const name of ['tensorflow', 'wasm', 'cpu'] as BackendName[]) {
        try {
          await initBackend(name)
        } catch {
          ctx.log(`backend ${name}: not available here`)
          continue
        }
        figures[`score_rows_per_s_${name}`] = {
          value: await scoringRate(new Scorer(loaded), x, n),
          unit: 'rows/s',
          better: 'higher',
          note: `batches of 4096 × ${F} features, calibrated`,
          ...(name !== 'wasm' ? { baseline: 'model.score_rows_per_s_wasm' } : {}),
        }
      }
      loaded.model.dispose()
      // The choice is once per process unless one is asked for by name: back to the best.
      await initBackend(best)
      // The sequence model: scoring cost does not depend on the weights, so an untrained GRU
      // of the default shape (24 buckets × 2 channels × 16 metrics) stands in for a trained one.
      const steps = 24
      const G = steps * 2 * 16
      const gru: LoadedModel = {
        model: buildGru(G, steps, [24, 16], 1, 1e-3),
        meta: {
          ...loaded.meta,
          kind: 'gru',
          featureNames: Array.from({ length: G }, (_, i) => `f${i}`),
          normalization: { mean: new Array(G).fill(0), std: new Array(G).fill(1) },
        },
        dir: '',
      }
      const xg = Float64Array.from({ length: 4096 * G }, (_, i) => Math.sin(i * 0.37))
      figures[`score_rows_per_s_gru_${best}`] = {
        value: await scoringRate(new Scorer(gru), xg, Math.round(20_000 * ctx.scale)),
        unit: 'rows/s',
        better: 'higher',
        note: `GRU over ${steps} buckets × ${G / steps} channels, batches of 4096`,
        baseline: `model.score_rows_per_s_${best}`,
      }
      gru.model.dispose()
      return figures
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  },
}
export default bench

/** Rows per second scoring `rows` rows in batches of 4096 from `x` (one batch to warm up first). */
async function scoringRate(scorer: Scorer, x: Float64Array, rows: number): Promise<number> {
  scorer.score(x, 4096)
  const [, s] = await timed(async () => {
    for (let done = 0; done < rows; done += 4096) scorer.score(x, Math.min(4096, rows - done))
  })
  return rows / s
}
