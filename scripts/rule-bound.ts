/**
 * How far any page rule of the model's family reaches on one scored, labelled fleet (tooling,
 * not the product). It *chooses nothing*: every rule is judged on the data it is read on, so
 * the figures bound what a rule chosen elsewhere could reach there — they are not results.
 * Rules: threshold × vectors in a row × (optionally) the head's median time to failure ≤ a
 * gate, judged as `evaluate` judges pages (strict page precision, recall of predictable
 * failures, median lead).
 *
 *   preempt score --model M --data fleet/metrics.csv.gz --host-labels fleet/hosts.csv --out s.csv
 *   npx tsx scripts/rule-bound.ts s.csv fleet/manifest.json [--horizon 2h] [--lead 2m]
 *     [--recall 0.9] [--precision 0.9]
 *
 * 840 rules over 3.4 M vectors (200 hosts × 2 days) take about 8 min on one core.
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { type CsvOptions, readRows } from '../src/data/csv.js'
import { EventIndex, type FailurePoint, type ScoredPoint } from '../src/eval/events.js'
import { type AlertRule, describeRule } from '../src/policy/alert.js'
import { formatDuration, parseDuration } from '../src/time.js'

const { values: a, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    horizon: { type: 'string', default: '2h' },
    lead: { type: 'string', default: '2m' },
    recall: { type: 'string', default: '0.9' },
    precision: { type: 'string', default: '0.9' },
  },
})
const [scoresFile, manifestFile] = positionals
if (!scoresFile || !manifestFile)
  throw new Error(
    'usage: rule-bound.ts SCORES.csv MANIFEST.json [--horizon 2h] [--lead 2m] [--recall 0.9] [--precision 0.9]',
  )
const horizon = parseDuration(a.horizon)
const recallTarget = Number(a.recall)
const precisionTarget = Number(a.precision)

const hosts = new Map<string, number>()
const hostId = (h: string) => {
  const known = hosts.get(h)
  if (known !== undefined) return known
  hosts.set(h, hosts.size)
  return hosts.size - 1
}
// `preempt score` output: host,timestamp,score,alert[,ttf] (ttf empty: later than the head can tell).
const csv: CsvOptions = { files: [scoresFile], format: 'wide', timeCol: 'timestamp', entityCol: 'host', timeUnit: 'ms' }
const points: ScoredPoint[] = []
for await (const row of readRows(csv, ['score', 'ttf'], { rows: 0, badRows: 0, badExamples: [] }))
  points.push({ host: hostId(row.entity), ts: row.ts, score: row.values[0]!, ttf: row.values[1]! })
points.sort((p, q) => p.host - q.host || p.ts - q.ts)
const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as {
  failures: { host: string; ts: number; mode: string; predictable: boolean }[]
}
const failures: FailurePoint[] = manifest.failures.map((f) => ({
  host: hostId(f.host),
  ts: f.ts,
  predictable: f.predictable,
  mode: f.mode,
}))
const index = new EventIndex(points, failures, { horizon, lead: parseDuration(a.lead), dayLength: 86_400_000 })

interface Row {
  rule: AlertRule
  recall: number
  precision: number
  lead: number
}
const rows: Row[] = []
const gates = [undefined, ...[0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1, 1.5, 2].map((m) => m * horizon)]
for (const within of gates)
  for (const threshold of [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    for (const consecutive of [1, 2, 3, 6, 12, 24, 48]) {
      const m = index.evaluateRule({ threshold, consecutive, within })
      rows.push({
        rule: { threshold, consecutive, within },
        recall: m.predictableRecall ?? 0,
        precision: m.precision ?? 0,
        lead: m.medianLeadTime ?? 0,
      })
    }

const pct = (x: number) => `${(100 * x).toFixed(1)} %`
const show = (r: Row) =>
  `  ${describeRule(r.rule, 2, formatDuration)}: recall of predictable ${pct(r.recall)}, page precision ${pct(r.precision)}, median lead ${(r.lead / 60_000).toFixed(1)} min`
console.log(
  `${points.length} vectors, ${failures.filter((f) => f.predictable).length} predictable failures, ${rows.length} rules`,
)
const both = rows
  .filter((r) => r.recall >= recallTarget && r.precision >= precisionTarget)
  .sort((p, q) => q.lead - p.lead)
console.log(`longest median lead at recall ≥ ${recallTarget} and page precision ≥ ${precisionTarget}:`)
console.log(both.length ? both.slice(0, 5).map(show).join('\n') : '  none reaches both')
const precise = rows
  .filter((r) => r.precision >= precisionTarget)
  .sort((p, q) => q.recall - p.recall || q.lead - p.lead)
console.log(`most recall at page precision ≥ ${precisionTarget}:`)
console.log(precise.length ? precise.slice(0, 3).map(show).join('\n') : '  none')
