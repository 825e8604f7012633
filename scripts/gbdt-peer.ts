/**
 * Our boosted trees beside LightGBM on exactly the same feature vectors (tooling, not the
 * product): builds train / validation / test vectors as `preempt train` does (same feature
 * spec, split and sampling; no label cleaning, so both see the same rows), trains our trees
 * (class weighting none and balanced, defaults otherwise), writes every matrix and our test
 * scores to OUT, and scripts/gbdt_peer.py trains LightGBM on the same files and scores all
 * test PR-AUCs with one function.
 *
 *   npx tsx scripts/gbdt-peer.ts OUT --data D.csv [--failures F | --run-to-failure]
 *     [--time-col C --entity-col E --time-unit ms|step] --horizon H --lead L [--regimes auto|none]
 * (durations in the time unit: ms, or steps; operating regimes found as `train` finds them,
 * so both sides read the same regime-relative windows)
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { buildDataset, type SampleSet, scanCsv } from '../src/data/dataset.js'
import { resolveFailures } from '../src/data/labels.js'
import { createFeatureSpec } from '../src/features/spec.js'
import { trainGbdt } from '../src/model/gbdt.js'
import { REGIME_SAMPLE, regimesFor } from '../src/pipelines/train.js'

const { values: a, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    data: { type: 'string' },
    failures: { type: 'string' },
    'run-to-failure': { type: 'boolean' },
    'time-col': { type: 'string', default: 'timestamp' },
    'entity-col': { type: 'string', default: 'host' },
    'time-unit': { type: 'string', default: 'ms' },
    horizon: { type: 'string' },
    lead: { type: 'string', default: '0' },
    regimes: { type: 'string', default: 'auto' },
  },
})
const out = positionals[0]
if (!out || !a.data || !a.horizon) throw new Error('usage: gbdt-peer.ts OUT --data D.csv --horizon H [--lead L] …')
mkdirSync(out, { recursive: true })
const csv = {
  files: [a.data],
  format: 'wide' as const,
  timeCol: a['time-col']!,
  entityCol: a['entity-col']!,
  timeUnit: a['time-unit'] as 'ms' | 'step',
}
const horizon = Number(a.horizon)
const lead = Number(a.lead)
const labels = { failuresFile: a.failures, runToFailure: a['run-to-failure'] }
const scan = await scanCsv(
  csv,
  { runToFailure: labels.runToFailure },
  undefined,
  a.regimes === 'none' ? undefined : REGIME_SAMPLE,
)
const failures = await resolveFailures(labels, csv, scan.failures)
const plan = { by: 'entity' as const, train: 0.6, val: 0.2, seed: 1, tMin: scan.tMin, tMax: scan.tMax, horizon }
// The regimes as `train` finds them, so both sides read the same regime-relative windows.
const found = regimesFor(
  a.regimes === 'none' ? 'none' : 'auto',
  scan.metrics.filter((m) => !scan.constant.includes(m)),
  scan,
  plan,
)
console.log(`regimes: ${a.regimes === 'none' ? 'off' : (found.say ?? 'none')}`)
const { metrics, regimes } = found
const spec = createFeatureSpec({ metrics, horizon, timeUnit: csv.timeUnit, regimes })
const common = { csv, metrics: scan.metrics, spec, failures, horizon, lead }
const ds = await buildDataset({ ...common, plan, maxTrainRows: 200_000, maxValRows: 100_000 })
// The test split (hash ≥ 0.8) is the validation part of a 0.8 / 0.2 plan (sampled past 1M rows; weights keep it unbiased).
const held = await buildDataset({
  ...common,
  plan: { ...plan, train: 0.8, val: 0.2 },
  maxTrainRows: 1,
  maxValRows: 1_000_000,
})
const test = held.val

function dump(name: string, s: SampleSet): void {
  writeFileSync(join(out!, `${name}.x.f32`), Buffer.from(s.x.buffer, s.x.byteOffset, s.size * s.width * 4))
  writeFileSync(join(out!, `${name}.y.u8`), Buffer.from(s.y.buffer, s.y.byteOffset, s.size))
  const w = s.weights()
  writeFileSync(join(out!, `${name}.w.f32`), Buffer.from(w.buffer, w.byteOffset, s.size * 4))
}
dump('train', ds.train)
dump('val', ds.val)
dump('test', test)
const info: Record<string, unknown> = {
  features: spec.metrics.length,
  width: ds.train.width,
  rows: { train: ds.train.size, val: ds.val.size, test: test.size },
  positives: { train: ds.train.positives, val: ds.val.positives, test: test.positives },
  ours: {} as Record<string, unknown>,
}
for (const cw of ['none', 'balanced'] as const) {
  const t0 = Date.now()
  const r = trainGbdt(ds.train, ds.val, { seed: 1, classWeight: cw })
  const p = r.model.predict(test.x, test.size)
  writeFileSync(join(out, `ours-${cw}.test.f32`), Buffer.from(p.buffer, p.byteOffset, test.size * 4))
  const v = r.model.predict(ds.val.x, ds.val.size)
  writeFileSync(join(out, `ours-${cw}.val.f32`), Buffer.from(v.buffer, v.byteOffset, ds.val.size * 4))
  ;(info['ours'] as Record<string, unknown>)[cw] = { trees: r.bestTrees, seconds: (Date.now() - t0) / 1000 }
  console.log(`ours (${cw}): ${r.bestTrees} trees in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
}
writeFileSync(join(out, 'info.json'), JSON.stringify(info, null, 1))
console.log(JSON.stringify(info))
