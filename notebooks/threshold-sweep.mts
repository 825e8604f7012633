/**
 * Exploration: how recall of predictable failures, page precision and lead time trade off
 * against the alert threshold and a "k consecutive vectors" rule, for a model on a
 * simulated fleet it never saw.
 *
 *   npx tsx notebooks/threshold-sweep.mts models/fleet data/eval-fleet
 *
 * (data dir: metrics.csv.gz + failures.csv + manifest.json from `preempt simulate`)
 */
import { loadFailuresCsv, loadPredictability } from '../src/data/labels.js'
import { eventIndexOf } from '../src/eval/evaluate.js'
import { loadModel } from '../src/model/artifact.js'
import { initBackend } from '../src/model/backend.js'
import { type ScoredRow, scoreCsv } from '../src/pipelines/score-csv.js'

const [model, dir] = process.argv.slice(2)
if (!model || !dir) throw new Error('usage: threshold-sweep.mts MODEL_DIR FLEET_DIR')
await initBackend()
const loaded = await loadModel(model)
const csv = {
  files: [`${dir}/metrics.csv.gz`],
  format: 'wide' as const,
  timeCol: 'timestamp',
  entityCol: 'host',
  timeUnit: 'ms' as const,
}
const failures = await loadFailuresCsv(`${dir}/failures.csv`, {
  timeCol: 'timestamp',
  entityCol: 'host',
  timeUnit: 'ms',
})
const rows: ScoredRow[] = []
await scoreCsv(loaded, { csv, failures }, (r) => {
  rows.push(...r)
})
const { index } = eventIndexOf(rows, failures, {
  horizon: loaded.meta.horizon,
  lead: loaded.meta.lead,
  dayLength: 86_400_000,
  predictable: await loadPredictability(`${dir}/failures.csv`),
})
for (const consecutive of [1, 3, 6, 12])
  for (const threshold of [0.3, 0.5, 0.7, 0.8]) {
    // Alert only once `consecutive` vectors of a host in a row are at or above the threshold.
    const m = index.evaluateRule({ threshold, consecutive })
    console.log(
      `k=${consecutive} threshold=${threshold} recall(predictable)=${m.predictableRecall?.toFixed(3)} pages=${m.precision?.toFixed(3)} (${m.trueEpisodes}/${m.trueEpisodes + m.falseAlarmEpisodes}, ${m.earlyEpisodes} early) vectors=${m.vectorPrecision?.toFixed(3)} lead=${((m.medianLeadTime ?? 0) / 60_000).toFixed(1)}m`,
    )
  }
