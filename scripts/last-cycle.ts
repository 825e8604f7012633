/**
 * How a model trained with `--run-to-failure --split entity` decides on its held-out units
 * (tooling, not the product): every held-out unit scored exactly as `preempt score` does, then
 *
 * - last cycle: each unit cut at random cycles (`--cuts` per unit, seeded; as C-MAPSS's test
 *   files cut units before they fail), judged at the cut: truth "fails within the horizon"
 *   (remaining life ≤ horizon), the model's `alert` column at that cycle; precision, recall, F1;
 * - every cycle: vector PR-AUC (labels as training: positive when the failure is after the
 *   lead and within the horizon);
 * - remaining life: RMSE of the hazard head's median time to failure against the true
 *   remaining life, both capped at the head's last edge (past it the head says "later").
 *
 *   npx tsx scripts/last-cycle.ts --model M --data D.csv --time-col cycle --entity-col unit [--cuts 10]
 *
 * With `--test T.csv --rul R.txt` it follows C-MAPSS's own test protocol instead: every unit
 * of T (cut before it fails, never seen in training) scored whole, judged at its last cycle
 * against R (line k: the remaining life of unit k) — alert F1 there, and the head's RMSE.
 */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { type SplitPlan, scanCsv, splitOf } from '../src/data/dataset.js'
import { Label, labelFor } from '../src/data/labels.js'
import { curves } from '../src/math/curves.js'
import { Rng } from '../src/math/random.js'
import { loadModel } from '../src/model/artifact.js'
import { initBackend } from '../src/model/backend.js'
import { type ScoredRow, scoreCsv } from '../src/pipelines/score-csv.js'
import { AlertTracker, alertRuleOf } from '../src/policy/alert.js'

const { values: a } = parseArgs({
  options: {
    model: { type: 'string' },
    data: { type: 'string' },
    'time-col': { type: 'string', default: 'cycle' },
    'entity-col': { type: 'string', default: 'unit' },
    cuts: { type: 'string', default: '10' },
    test: { type: 'string' },
    rul: { type: 'string' },
    seed: { type: 'string', default: '1' },
  },
})
if (!a.model || !(a.data || a.test))
  throw new Error(
    'usage: last-cycle.ts --model M (--data D.csv [--cuts N] | --test T.csv --rul R.txt) [--time-col C --entity-col E]',
  )
await initBackend()
const loaded = await loadModel(a.model)
const meta = loaded.meta
const plan = meta.training['split'] as SplitPlan
/** A confusion table of one decision, and its precision, recall and F1. */
const table = () => ({ tp: 0, fp: 0, fn: 0, tn: 0 })
type Table = ReturnType<typeof table>
const count = (t: Table, said: boolean, truth: boolean) => {
  if (said) truth ? t.tp++ : t.fp++
  else truth ? t.fn++ : t.tn++
}
const scored = (t: Table) => {
  const precision = t.tp + t.fp ? t.tp / (t.tp + t.fp) : 0
  const recall = t.tp + t.fn ? t.tp / (t.tp + t.fn) : 0
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0
  return { ...t, precision: +precision.toFixed(4), recall: +recall.toFixed(4), f1: +f1.toFixed(4) }
}
const rmse = (sq: number[]) => +Math.sqrt(sq.reduce((s, v) => s + v, 0) / sq.length).toFixed(2)
const lastEdge = meta.hazard ? meta.hazard.edges.at(-1)! : Number.NaN
if (a.test) {
  if (!a.rul) throw new Error('--test needs --rul (line k: the remaining life of unit k at its last cycle)')
  const rul = (await readFile(a.rul, 'utf8')).split(/\s+/).filter(Boolean).map(Number)
  const test = {
    files: [a.test],
    format: 'wide' as const,
    timeCol: a['time-col']!,
    entityCol: a['entity-col']!,
    timeUnit: 'step' as const,
  }
  const tracker = new AlertTracker(alertRuleOf(meta.thresholds))
  const last = new Map<string, { ts: number; alert: boolean; ttf: number }>()
  const seen: { entity: string; ts: number; score: number }[] = []
  const testScan = await scanCsv(test, {})
  await scoreCsv(loaded, { csv: { ...test, metrics: testScan.metrics }, withTtf: true }, (rs) => {
    for (const r of rs) {
      seen.push({ entity: r.entity, ts: r.ts, score: r.score })
      const alert = tracker.observe(r.entity, r.score)
      const prev = last.get(r.entity)
      if (!prev || r.ts > prev.ts) last.set(r.entity, { ts: r.ts, alert, ttf: r.ttf ?? Number.NaN })
    }
  })
  const byAlert = table()
  const byTtf = table()
  const sq: number[] = []
  for (const [unit, l] of last) {
    const life = rul[Number(unit) - 1]
    if (life === undefined) throw new Error(`${a.rul}: no remaining life for unit ${unit}`)
    count(byAlert, l.alert, life <= meta.horizon)
    if (!meta.hazard) continue
    count(byTtf, l.ttf <= meta.horizon, life <= meta.horizon)
    const e = (Number.isNaN(l.ttf) ? lastEdge : Math.min(lastEdge, l.ttf)) - Math.min(lastEdge, life)
    sq.push(e * e)
  }
  // Every cycle: the remaining life at cycle c is the unit's RUL plus its last cycle minus c.
  const scores: number[] = []
  const labels: number[] = []
  for (const r of seen) {
    const l = labelFor(rul[Number(r.entity) - 1]! + last.get(r.entity)!.ts - r.ts, meta.horizon, meta.lead)
    if (l === Label.drop) continue
    scores.push(r.score)
    labels.push(l)
  }
  const every = curves(scores, labels)
  console.log(
    JSON.stringify(
      {
        model: a.model,
        kind: meta.kind,
        everyCycle: { vectors: scores.length, prAuc: +every.prAuc.toFixed(4), rocAuc: +every.rocAuc.toFixed(4) },
        regimes: meta.featureSpec.regimes?.by ?? null,
        test: a.test,
        units: last.size,
        alertRule: alertRuleOf(meta.thresholds),
        lastCycle: scored(byAlert),
        ...(meta.hazard && { ttfWithinHorizon: scored(byTtf), rul: { cap: lastEdge, rmse: rmse(sq) } }),
      },
      null,
      1,
    ),
  )
  process.exit(0)
}
const csv = {
  files: [a.data!],
  format: 'wide' as const,
  timeCol: a['time-col']!,
  entityCol: a['entity-col']!,
  timeUnit: 'step' as const,
}
const scan = await scanCsv(csv, { runToFailure: true })
const failures = scan.failures
const rows: ScoredRow[] = []
await scoreCsv(
  loaded,
  {
    csv: { ...csv, metrics: scan.metrics },
    failures,
    withTtf: true,
    filter: (e, ts) => splitOf(plan, e, ts) === 'test',
  },
  (r) => {
    rows.push(...r)
  },
)
// The alert column as `preempt score` writes it (per entity, in order).
const tracker = new AlertTracker(alertRuleOf(meta.thresholds))
const alert = rows.map((r) => tracker.observe(r.entity, r.score))
const byUnit = new Map<string, number[]>()
rows.forEach((r, i) => {
  const l = byUnit.get(r.entity) ?? []
  l.push(i)
  byUnit.set(r.entity, l)
})
const life = (i: number) => failures.next(rows[i]!.entity, rows[i]!.ts)! - rows[i]!.ts
// Every cycle.
const scores: number[] = []
const labels: number[] = []
rows.forEach((r, i) => {
  const l = labelFor(life(i), meta.horizon, meta.lead)
  if (l === Label.drop) return
  scores.push(r.score)
  labels.push(l)
})
const every = curves(scores, labels)
// Cuts.
const rng = new Rng(Number(a.seed))
const cuts = Number(a.cuts)
const byAlert = table()
// The hazard head's own decision: median time to failure within the horizon (P(by it) ≥ ½).
const byTtf = table()
// Squared errors of the head's median against the remaining life (all cuts; cuts with life within the cap).
const err = { all: [] as number[], withinCap: [] as number[] }
for (const idx of byUnit.values())
  for (let c = 0; c < cuts; c++) {
    const i = idx[Math.floor(rng.next() * idx.length)]!
    const truth = life(i) <= meta.horizon
    count(byAlert, alert[i]!, truth)
    if (!meta.hazard) continue
    const ttf = rows[i]!.ttf!
    count(byTtf, ttf <= meta.horizon, truth)
    const e = (Number.isNaN(ttf) ? lastEdge : Math.min(lastEdge, ttf)) - Math.min(lastEdge, life(i))
    err.all.push(e * e)
    if (life(i) <= lastEdge) err.withinCap.push(e * e)
  }
console.log(
  JSON.stringify(
    {
      model: a.model,
      kind: meta.kind,
      units: byUnit.size,
      cycles: rows.length,
      alertRule: alertRuleOf(meta.thresholds),
      lastCycle: { cuts: byUnit.size * cuts, ...scored(byAlert) },
      everyCycle: { vectors: scores.length, prAuc: +every.prAuc.toFixed(4), rocAuc: +every.rocAuc.toFixed(4) },
      ...(meta.hazard && {
        ttfWithinHorizon: scored(byTtf),
        rul: {
          cap: lastEdge,
          rmse: rmse(err.all),
          rmseWhereLifeWithinCap: rmse(err.withinCap),
          cutsWithinCap: err.withinCap.length,
        },
      }),
    },
    null,
    1,
  ),
)
