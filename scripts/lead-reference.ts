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
 * - *rate*: reads the level and its rate exactly, not the strength. For g(u) = u² the two give
 *   the time since the onset (e = 2 × level ÷ rate, whatever the strength) and the strength
 *   × u²; taking the strength for the fleet's median s̄ it estimates u as u·√(s/s̄), the course
 *   as e ÷ that, so the time to failure as the true one + D·(√(s̄/s) − 1). It pages at the
 *   first estimate ≤ τ, the highest τ whose premature pages stay within 1 − the target;
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
  strength: number
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
// The rate detector: at a threshold τ it pages with the true time to failure τ − D·(√(s̄/s) − 1),
// clamped to the course (at the onset at most, at the failure at least).
const sBar = median(failures.map((f) => f.strength)) ?? 1
const bias = failures.map((f) => (f.ts - f.precursor_onset!) * (Math.sqrt(sBar / f.strength) - 1))
const pagedAt = (tau: number) => spans.map((d, i) => Math.min(d, Math.max(0, tau - bias[i]!)))
let tau = 0
const step = 60_000
while (pagedAt(tau + step).filter((t) => t > horizon).length <= (1 - target) * spans.length && tau < 24 * 3_600_000)
  tau += step
const rate = pagedAt(tau)
const ratePremature = rate.filter((t) => t > horizon).length
console.log(
  `rate detector: pages at an estimated time to failure ≤ ${minutes(tau)}; ${ratePremature} premature (precision ${(1 - ratePremature / spans.length).toFixed(3)}); median lead ${minutes(median(rate.map((t) => Math.min(t, horizon))))}`,
)
console.log(`time detector: median lead ${minutes(median(spans.map((d) => Math.min(d, horizon))))}`)
