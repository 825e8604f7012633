/**
 * How much lead a page can have on a simulated fleet, from its ground truth alone (tooling, not
 * the product). A predictable failure's precursor runs from its onset to the failure, D later;
 * the simulator draws its signal as strength × g(u), u = (t − onset) / D the fraction of the
 * course run. Two detectors with no noise and no traps, judged as `evaluate` judges pages
 * (strict: a page earlier than the horizon before its failure is false; the failure still
 * counts as paged for, with a lead of the horizon, when the page stays open until it):
 *
 * - *progress*: knows u exactly, not D — what a perfect reading of the signal's level gives —
 *   and pages at the first u ≥ u*, the lowest u* whose premature pages stay within
 *   1 − the target precision;
 * - *time*: knows the time to failure, pages a horizon before it (or at the onset).
 *
 *   npx tsx scripts/lead-reference.ts MANIFEST.json [--horizon 2h] [--precision 0.9]
 */
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { median } from '../src/math/stats.js'
import { parseDuration } from '../src/time.js'

const { values: a, positionals } = parseArgs({
  allowPositionals: true,
  options: { horizon: { type: 'string', default: '2h' }, precision: { type: 'string', default: '0.9' } },
})
const file = positionals[0]
if (!file) throw new Error('usage: lead-reference.ts MANIFEST.json [--horizon 2h] [--precision 0.9]')
const horizon = parseDuration(a.horizon)
const target = Number(a.precision)
interface Failure {
  ts: number
  mode: string
  predictable: boolean
  precursor_onset: number | null
}
const failures = (JSON.parse(readFileSync(file, 'utf8')) as { failures: Failure[] }).failures.filter(
  (f) => f.predictable && f.precursor_onset !== null,
)
const spans = failures.map((f) => f.ts - f.precursor_onset!)
const minutes = (ms: number | null) => `${((ms ?? Number.NaN) / 60_000).toFixed(1)} min`

let u = 0
while (u < 1 && spans.filter((d) => (1 - u) * d > horizon).length > (1 - target) * spans.length) u += 0.005
const progress = spans.map((d) => Math.min((1 - u) * d, horizon))
const premature = spans.filter((d) => (1 - u) * d > horizon).length
console.log(
  `${spans.length} predictable failures; precursor ${minutes(Math.min(...spans))} … ${minutes(Math.max(...spans))}, median ${minutes(median(spans))}`,
)
console.log(
  `progress detector: pages at u ≥ ${u.toFixed(3)}; ${premature} premature (precision ${(1 - premature / spans.length).toFixed(3)}); median lead ${minutes(median(progress))}`,
)
console.log(`time detector: median lead ${minutes(median(spans.map((d) => Math.min(d, horizon))))}`)
