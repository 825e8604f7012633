/**
 * What `preempt inspect` prints, and its inspect.html: the same charts as report.html
 * (inline SVG, no scripts, no network).
 */
import type { InspectReport } from '../pipelines/inspect.js'
import { formatSpan, type TimeUnit } from '../time.js'
import { barChart, esc, lineChart, tickLabel } from './report.js'

const num = (x: number | null) => (x === null ? '–' : tickLabel(x))
const pct = (x: number) => `${(x * 100).toFixed(x < 0.01 && x > 0 ? 2 : 1)} %`
const time = (t: number, unit: string) =>
  unit === 'step' ? `step ${t}` : new Date(t).toISOString().replace('.000Z', 'Z')

export function formatInspect(r: InspectReport): string {
  const unit = r.timeUnit as TimeUnit
  const span = (x: number) => formatSpan(x, unit)
  const out: string[] = []
  out.push(
    `${r.files.join(', ')}: ${r.rows.toLocaleString('en-US')} rows, ${r.hosts} hosts${r.badRows ? `, ${r.badRows} bad rows skipped` : ''}`,
  )
  out.push(`  time: ${time(r.span.from, unit)} → ${time(r.span.to, unit)} (${span(r.span.to - r.span.from)})`)
  out.push(
    `  sampling: every ${r.interval.median === null ? '–' : span(r.interval.median)} (median of the hosts' medians)${
      r.interval.strays.length
        ? `; sampled otherwise: ${r.interval.strays
            .slice(0, 5)
            .map((h) => `${h.host} ${span(h.median)}`)
            .join(', ')}${r.interval.strays.length > 5 ? ` and ${r.interval.strays.length - 5} more` : ''}`
        : ''
    }`,
  )
  out.push(`  metrics (${r.metrics.length}):`)
  const w = Math.max(6, ...r.metrics.map((m) => m.name.length))
  out.push(
    `    ${'metric'.padEnd(w)}  ${'missing'.padStart(8)}  ${'mean'.padStart(9)}  ${'std'.padStart(9)}  ${'min'.padStart(9)}  ${'p50'.padStart(9)}  ${'max'.padStart(9)}`,
  )
  for (const m of r.metrics) {
    const miss = m.missing / Math.max(1, m.missing + m.count)
    const flag = m.constant
      ? '  constant (train drops it)'
      : m.nearConstant
        ? `  near-constant (${pct(m.modeShare ?? 0)} one value)`
        : ''
    out.push(
      `    ${m.name.padEnd(w)}  ${pct(miss).padStart(8)}  ${num(m.mean).padStart(9)}  ${num(m.std).padStart(9)}  ${num(m.min).padStart(9)}  ${num(m.p50).padStart(9)}  ${num(m.max).padStart(9)}${flag}`,
    )
  }
  out.push(
    r.regimes.count
      ? `  operating regimes: ${r.regimes.reason}: train reads every other metric relative to its regime (--regimes none: as it comes)${r.regimes.echoes.length ? `; only echo the setting (train drops them): ${r.regimes.echoes.join(', ')}` : ''}`
      : `  operating regimes: none (${r.regimes.reason})`,
  )
  const l = r.labels
  if (!l) {
    out.push(
      '  labels: none given (--failures FILE, --label-col NAME or --run-to-failure, with --horizon) — no class balance or splits',
    )
    return out.join('\n')
  }
  out.push(
    `  failures: ${l.failures} on ${l.hostsWithFailures} of ${r.hosts} hosts; most: ${
      l.perHost
        .slice(0, 5)
        .map((h) => `${h.host} (${h.failures})`)
        .join(', ') || '–'
    }`,
  )
  const b = l.balance
  out.push(
    `  class balance at horizon ${span(l.horizon)}${l.lead ? `, lead ${span(l.lead)}` : ''}: ${b.positive.toLocaleString('en-US')} positive, ${b.negative.toLocaleString('en-US')} negative rows (${pct(b.positiveShare)} positive; ${b.dropped.toLocaleString('en-US')} inside the lead, dropped)`,
  )
  for (const s of l.splits)
    out.push(
      `  failures per split by ${s.by.padEnd(6)} (60/20/20): train ${s.train}, validation ${s.val}, test ${s.test}${Math.min(s.val, s.test) < 1 ? '  — too few: train refuses a split with none' : Math.min(s.val, s.test) < 10 ? '  — under 10 in a split: its figures will be rough' : ''}`,
    )
  const top = l.aroundFailures.filter((a) => a.deviation > 0).slice(0, 5)
  if (top.length)
    out.push(
      `  metrics that move before failures (largest mean z-score in the horizon before one): ${top.map((a) => `${a.name} ${a.deviation.toFixed(2)}`).join(', ')}`,
    )
  if (r.suggestedWindows) out.push(`  suggested windows: ${r.suggestedWindows.map(span).join(', ')} (train --windows)`)
  return out.join('\n')
}

export function renderInspect(r: InspectReport): string {
  const unit = r.timeUnit as TimeUnit
  const figs: string[] = []
  const l = r.labels
  if (l) {
    const scale = unit === 'step' ? 1 : r.span.to - r.span.from > 3 * 86_400_000 ? 86_400_000 : 3_600_000
    const label = unit === 'step' ? 'steps' : scale === 86_400_000 ? 'days' : 'hours'
    figs.push(
      barChart(
        'Failures over time',
        l.overTime.map((b) => tickLabel((b.from - r.span.from) / scale)),
        [{ values: l.overTime.map((b) => b.failures), color: '#d33', label: 'failures' }],
        { yLabel: 'failures', xLabel: `${label} since the first row` },
      ),
    )
    const width = l.horizon / l.aroundFailures[0]!.buckets.length
    const tScale = unit === 'step' ? 1 : 60_000
    const colors = ['#3b7dd8', '#d33', '#e90', '#393', '#939', '#888']
    figs.push(
      lineChart(
        'Metrics before a failure vs their mean (top 4 by deviation)',
        l.aroundFailures.slice(0, 4).map((a, i) => ({
          points: a.buckets
            .map((v, b): [number, number] | null => (v === null ? null : [-((b + 0.5) * width) / tScale, v]))
            .filter((p): p is [number, number] => p !== null)
            .sort((p, q) => p[0] - q[0]),
          color: colors[i]!,
          label: a.name,
        })),
        {
          xLabel: `${unit === 'step' ? 'steps' : 'minutes'} before the failure`,
          yLabel: 'mean z-score (0: its mean over all rows)',
        },
      ),
    )
  }
  for (const m of r.metrics.filter((x) => !x.constant && x.sample.length > 1).slice(0, 18)) {
    const lo = m.p01 ?? 0
    const hi = m.p99 ?? 1
    const bins = new Array(20).fill(0)
    for (const v of m.sample) if (v >= lo && v <= hi) bins[Math.min(19, Math.floor(((v - lo) / (hi - lo || 1)) * 20))]++
    figs.push(
      barChart(
        `${m.name} (p1–p99)`,
        bins.map((_, i) => tickLabel(lo + (i * (hi - lo)) / 20)),
        [
          {
            values: bins,
            color: '#3b7dd8',
            label: `sampled values; missing ${pct(m.missing / Math.max(1, m.missing + m.count))}`,
          },
        ],
        { yLabel: 'rows (sample)', xLabel: m.name },
      ),
    )
  }
  const rows = r.metrics
    .map(
      (m) =>
        `<tr><th>${esc(m.name)}</th><td>${m.count}</td><td>${pct(m.missing / Math.max(1, m.missing + m.count))}</td><td>${num(m.mean)}</td><td>${num(m.std)}</td><td>${num(m.min)}</td><td>${num(m.p50)}</td><td>${num(m.max)}</td><td>${m.constant ? 'constant' : m.nearConstant ? 'near-constant' : ''}</td></tr>`,
    )
    .join('')
  return `<!doctype html><html><head><meta charset="utf-8"><title>preempt inspect</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}figure{display:inline-block;margin:8px;vertical-align:top}figcaption{font-weight:600;font-size:13px}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f4f4f4}pre{background:#f7f7f7;padding:12px}</style></head><body>
<h1>preempt inspect</h1><pre>${esc(formatInspect(r))}</pre>
<h3>Metrics</h3><table><tr><th>metric</th><th>values</th><th>missing</th><th>mean</th><th>std</th><th>min</th><th>p50</th><th>max</th><th></th></tr>${rows}</table>
<div>${figs.join('\n')}</div></body></html>`
}
