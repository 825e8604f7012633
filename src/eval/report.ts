/**
 * report.html: one self-contained page (inline SVG, no scripts, no network) with what a
 * person wants to see of a model: PR and ROC curves, score distributions, lead times,
 * alerts over time for a few hosts, feature importances, the confusion table, and the
 * static-threshold baseline side by side.
 */
import { describeRule } from '../policy/alert.js'
import { type EvaluationReport, verdicts } from './evaluate.js'

interface Series {
  points: [number, number][]
  color: string
  label: string
  dashed?: boolean
  /** Break this line over silent periods (lineChart's gapOver). */
  gaps?: boolean
}

export const esc = (s: string) =>
  s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!)
const W = 420
const H = 260
const PAD = 42

/** Round tick values (steps of 1, 2, 2.5 or 5 × 10ⁿ) covering [lo, hi], about `n` of them. */
export function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo]
  const raw = (hi - lo) / n
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag
  const out: number[] = []
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) out.push(+t.toPrecision(12))
  return out
}

/** A tick label people read: 0.25, 30, 1,440 — never 1.4e+3. */
export function tickLabel(v: number): string {
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US')
  return String(+v.toPrecision(3))
}

/** Legend entries drawn above the plot, never over it. */
function legend(items: { label: string; color: string; dashed?: boolean }[]): string {
  let g = ''
  let x = PAD
  for (const it of items) {
    g += `<line x1="${x}" y1="9" x2="${x + 16}" y2="9" stroke="${it.color}" stroke-width="2"${it.dashed ? ' stroke-dasharray="4 3"' : ''}/><text x="${x + 20}" y="12" font-size="10" fill="#333">${esc(it.label)}</text>`
    x += 30 + it.label.length * 5.6
  }
  return g
}

/** Top of the plot area: room for the legend above it. */
const TOP = 22

function axes(xMin: number, xMax: number, yMin: number, yMax: number, xLabel: string, yLabel: string, xTicks = true) {
  const sx = (x: number) => PAD + ((x - xMin) / (xMax - xMin || 1)) * (W - PAD - 12)
  const sy = (y: number) => H - PAD + -((y - yMin) / (yMax - yMin || 1)) * (H - PAD - TOP)
  let g = `<line x1="${PAD}" y1="${H - PAD}" x2="${W - 12}" y2="${H - PAD}" stroke="#444"/><line x1="${PAD}" y1="${TOP}" x2="${PAD}" y2="${H - PAD}" stroke="#444"/>`
  if (xTicks)
    for (const t of niceTicks(xMin, xMax))
      g += `<line x1="${sx(t)}" y1="${H - PAD}" x2="${sx(t)}" y2="${H - PAD + 3}" stroke="#444"/><text x="${sx(t)}" y="${H - PAD + 14}" font-size="10" text-anchor="middle">${tickLabel(t)}</text>`
  for (const t of niceTicks(yMin, yMax, 4))
    g += `<line x1="${PAD - 3}" y1="${sy(t)}" x2="${PAD}" y2="${sy(t)}" stroke="#444"/><text x="${PAD - 5}" y="${sy(t) + 3}" font-size="10" text-anchor="end">${tickLabel(t)}</text>`
  g += `<text x="${(W + PAD) / 2}" y="${H - 6}" font-size="11" text-anchor="middle">${esc(xLabel)}</text>`
  g += `<text x="12" y="${H / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 12 ${H / 2})">${esc(yLabel)}</text>`
  return { sx, sy, g }
}

export function lineChart(
  title: string,
  series: Series[],
  o: {
    xLabel: string
    yLabel: string
    xRange?: [number, number]
    yRange?: [number, number]
    marks?: number[]
    marksLabel?: string
    /** Break a line where consecutive points are further apart than this (silent periods as gaps). */
    gapOver?: number
  },
): string {
  const xs = series.flatMap((s) => s.points.map((p) => p[0]))
  const ys = series.flatMap((s) => s.points.map((p) => p[1]))
  const [x0, x1] = o.xRange ?? [Math.min(...xs), Math.max(...xs)]
  const [y0, y1] = o.yRange ?? [Math.min(0, ...ys), Math.max(...ys)]
  const { sx, sy, g } = axes(x0, x1, y0, y1, o.xLabel, o.yLabel)
  let body = g
  for (const m of o.marks ?? [])
    body += `<line x1="${sx(m)}" y1="${TOP}" x2="${sx(m)}" y2="${H - PAD}" stroke="#c00" stroke-width="1.5"/>`
  for (const s of series) {
    const d = s.points
      .map((p, j) => {
        const jump = j === 0 || (s.gaps && o.gapOver !== undefined && p[0] - s.points[j - 1]![0] > o.gapOver)
        return `${jump ? 'M' : 'L'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`
      })
      .join('')
    body += `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.6"${s.dashed ? ' stroke-dasharray="4 3"' : ''}/>`
  }
  body += legend([
    ...series.map((s) => ({ label: s.label, color: s.color, ...(s.dashed ? { dashed: true } : {}) })),
    ...(o.marks?.length && o.marksLabel ? [{ label: o.marksLabel, color: '#c00' }] : []),
  ])
  return `<figure><figcaption>${esc(title)}</figcaption><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">${body}</svg></figure>`
}

export function barChart(
  title: string,
  labels: string[],
  groups: { values: number[]; color: string; label: string }[],
  o: { yLabel: string; xLabel?: string; log?: boolean; mark?: { at: number; label: string } },
) {
  const tr = (v: number) => (o.log ? Math.log10(1 + v) : v)
  const max = Math.max(1e-9, ...groups.flatMap((g) => g.values.map(tr)))
  const { sy, g } = axes(0, labels.length, 0, max, o.xLabel ?? '', o.log ? `log10(1 + ${o.yLabel})` : o.yLabel, false)
  const bw = (W - PAD - 12) / labels.length
  let body = g
  labels.forEach((l, i) => {
    groups.forEach((gr, k) => {
      const v = tr(gr.values[i] ?? 0)
      const w = bw / groups.length
      body += `<rect x="${PAD + i * bw + k * w}" y="${sy(v)}" width="${Math.max(1, w - 1)}" height="${H - PAD - sy(v)}" fill="${gr.color}"><title>${esc(l)}: ${gr.values[i]}</title></rect>`
    })
    const longest = Math.max(...labels.map((x) => x.length))
    if (i % Math.ceil(labels.length / (longest > 5 ? 5 : 10)) === 0)
      body += `<text x="${PAD + (i + 0.5) * bw}" y="${H - PAD + 14}" font-size="9" text-anchor="middle">${esc(l)}</text>`
  })
  if (o.mark) {
    const x = PAD + o.mark.at * bw
    body += `<line x1="${x}" y1="${TOP}" x2="${x}" y2="${H - PAD}" stroke="#222" stroke-width="1.5" stroke-dasharray="4 3"/>`
  }
  body += legend([
    ...groups.map((gr) => ({ label: gr.label, color: gr.color })),
    ...(o.mark ? [{ label: o.mark.label, color: '#222', dashed: true }] : []),
  ])
  return `<figure><figcaption>${esc(title)}${o.log ? ' (log scale)' : ''}</figcaption><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}">${body}</svg></figure>`
}

export function hbarChart(title: string, items: { label: string; value: number }[], xLabel: string): string {
  const h = 18 * items.length + 20
  const max = Math.max(1e-12, ...items.map((i) => i.value))
  let body = ''
  items.forEach((it, i) => {
    const w = (it.value / max) * 240
    body += `<text x="208" y="${14 + i * 18}" font-size="10" text-anchor="end">${esc(it.label)}</text><rect x="212" y="${4 + i * 18}" width="${w}" height="13" fill="#3b7dd8"/><text x="${216 + w}" y="${14 + i * 18}" font-size="9">${it.value.toPrecision(3)}</text>`
  })
  body += `<text x="332" y="${h - 2}" font-size="11" text-anchor="middle">${esc(xLabel)}</text>`
  return `<figure><figcaption>${esc(title)}</figcaption><svg viewBox="0 0 520 ${h + 14}" width="520" height="${h + 14}">${body}</svg></figure>`
}

export interface HostTrace {
  entity: string
  points: [number, number][]
  failures: number[]
}

export interface ReportInput {
  title: string
  subtitle: string
  summary: Record<string, string | number>
  evaluation: EvaluationReport
  /** Lead-time unit label and scale (divide by it). */
  timeLabel: string
  timeScale: number
  importances: { label: string; value: number }[]
  traces: HostTrace[]
  notes?: string[]
  /** Another model evaluated on the same rows, shown beside this one. */
  comparison?: { label: string; evaluation: EvaluationReport } | undefined
  /**
   * Training candidates' learning curves: validation PR-AUC (and the networks' training loss)
   * by epoch or by trees, and where each stopped.
   */
  learningCurves?: LearningCurve[] | undefined
}

export interface LearningCurve {
  label: string
  unit: 'epoch' | 'trees'
  valPrAuc: [number, number][]
  /** Training loss per epoch (networks). */
  loss?: [number, number][] | undefined
  /** The epoch or tree count kept. */
  best: number
}

const CURVE_COLORS = ['#3b7dd8', '#d8843b', '#3ba55d', '#9b59b6']

/** The values' range with a little room (a learning curve's changes are small beside 0…1). */
function spanOf(v: number[]): [number, number] {
  const ok = v.filter(Number.isFinite)
  const lo = Math.min(...ok)
  const hi = Math.max(...ok)
  const pad = Math.max(1e-3, (hi - lo) * 0.08)
  return [lo - pad, hi + pad]
}

/** One chart per unit (epochs, trees): validation PR-AUC of each candidate, the kept point marked. */
function learningCharts(curves: readonly LearningCurve[]): string[] {
  const out: string[] = []
  for (const unit of ['epoch', 'trees'] as const) {
    const cs = curves.filter((c) => c.unit === unit && c.valPrAuc.length)
    if (!cs.length) continue
    out.push(
      lineChart(
        `Learning curves: validation PR-AUC by ${unit === 'epoch' ? 'epoch' : 'trees'}`,
        cs.map((c, i) => ({
          points: c.valPrAuc,
          color: CURVE_COLORS[i % CURVE_COLORS.length]!,
          label: `${c.label} (kept ${c.best})`,
        })),
        {
          xLabel: unit === 'epoch' ? 'epoch' : 'trees',
          yLabel: 'validation PR-AUC',
          marks: cs.map((c) => c.best),
          marksLabel: 'kept',
          yRange: spanOf(cs.flatMap((c) => c.valPrAuc.map((p) => p[1]))),
        },
      ),
    )
    const losses = cs.filter((c) => c.loss?.length)
    if (losses.length)
      out.push(
        lineChart(
          'Learning curves: training loss by epoch',
          losses.map((c, i) => ({
            points: c.loss!,
            color: CURVE_COLORS[i % CURVE_COLORS.length]!,
            label: c.label,
            dashed: true,
          })),
          {
            xLabel: 'epoch',
            yLabel: 'training loss (weighted cross-entropy)',
            yRange: spanOf(losses.flatMap((c) => c.loss!.map((p) => p[1]))),
          },
        ),
      )
  }
  return out
}

const pct = (x: number | null | undefined) => (x === null || x === undefined ? '–' : `${(x * 100).toFixed(1)} %`)

/**
 * Other alert rules on the same rows: run length × threshold, each cell recall of predictable
 * failures / alert precision (and counting premature-but-open pages as right) / median lead,
 * shaded where they reach 0.9.
 */
function operatingTable(e: ReportInput['evaluation'], timeScale: number, timeLabel: string): string {
  const pts = e.operatingPoints ?? []
  if (!pts.length) return ''
  const thresholds = [...new Set(pts.map((p) => p.threshold))].sort((a, b) => a - b)
  const ks = [...new Set(pts.map((p) => p.consecutive))].sort((a, b) => a - b)
  const cell = (k: number, t: number) => {
    const p = pts.find((x) => x.consecutive === k && x.threshold === t)
    if (!p?.pages) return '<td>no page</td>'
    const lead = p.medianLeadTime === null ? '–' : (p.medianLeadTime / timeScale).toFixed(0)
    const good = (p.coveringPrecision ?? 0) >= 0.9
    const best = (p.precision ?? 0) >= 0.9
    const bg = best ? '#c8eac8' : good ? '#e9f6e9' : ''
    return `<td${bg ? ` style="background:${bg}"` : ''}>${pct(p.predictableRecall)} · ${pct(p.precision)} (${pct(p.coveringPrecision)}) · ${lead}</td>`
  }
  return `<h3>Other alert rules on these rows</h3><p>Each cell: recall of predictable failures · alert precision (counting premature pages that stayed open until the failure as right) · median lead (${esc(timeLabel)}). Green: precision ≥ 90 %; light green: only when premature-but-open pages count. <code>preempt score/evaluate --threshold T --consecutive K</code> try one; <code>preempt tune</code> chooses one on labelled data.</p>
<table><tr><th>vectors in a row  threshold</th>${thresholds.map((t) => `<th>${t}</th>`).join('')}</tr>
${ks.map((k) => `<tr><th>${k}</th>${thresholds.map((t) => cell(k, t)).join('')}</tr>`).join('\n')}</table>`
}

export function renderReport(r: ReportInput): string {
  const e = r.evaluation
  const a = e.atThreshold
  const figs: string[] = []
  figs.push(
    lineChart(
      'Precision–recall (vectors)',
      [
        {
          points: e.curve.map((p) => [p.recall, p.precision]),
          color: '#3b7dd8',
          label: `PR-AUC ${e.prAuc.toFixed(3)}`,
        },
        ...(r.comparison
          ? [
              {
                points: r.comparison.evaluation.curve.map((p): [number, number] => [p.recall, p.precision]),
                color: '#e90',
                label: `${r.comparison.label}: ${r.comparison.evaluation.prAuc.toFixed(3)}`,
              },
            ]
          : []),
      ],
      {
        xLabel: 'recall',
        yLabel: 'precision',
        xRange: [0, 1],
        yRange: [0, 1],
      },
    ),
  )
  figs.push(
    lineChart(
      'ROC (vectors)',
      [
        { points: e.curve.map((p) => [p.fpr, p.recall]), color: '#3b7dd8', label: `ROC-AUC ${e.rocAuc.toFixed(3)}` },
        {
          points: [
            [0, 0],
            [1, 1],
          ],
          color: '#999',
          label: 'chance',
          dashed: true,
        },
      ],
      { xLabel: 'false positive rate', yLabel: 'true positive rate', xRange: [0, 1], yRange: [0, 1] },
    ),
  )
  figs.push(
    barChart(
      'Score distribution',
      e.histogram.positive.map((_, i) => (i / 20).toFixed(2)),
      [
        { values: e.histogram.negative, color: '#8aa', label: 'negative' },
        { values: e.histogram.positive, color: '#d33', label: 'positive (fails within horizon)' },
      ],
      { yLabel: 'vectors', xLabel: 'score', log: true },
    ),
  )
  const leads = a.leadTimes.map((l) => l / r.timeScale)
  if (leads.length) {
    const max = Math.max(...leads)
    const bins = new Array(12).fill(0)
    for (const l of leads) bins[Math.min(11, Math.floor((l / (max || 1)) * 12))]++
    const median = (a.medianLeadTime ?? 0) / r.timeScale
    figs.push(
      barChart(
        `Lead time of detected failures (${r.timeLabel})`,
        bins.map((_, i) => tickLabel(max >= 12 ? Math.round((i * max) / 12) : (i * max) / 12)),
        [{ values: bins, color: '#3b7dd8', label: 'failures detected' }],
        {
          yLabel: 'failures',
          xLabel: `lead time (${r.timeLabel})`,
          mark: { at: (median / (max || 1)) * 12, label: `median ${tickLabel(median)} ${r.timeLabel}` },
        },
      ),
    )
  }
  for (const t of r.traces) {
    // Time on the x axis counts from the trace's first point, in hours once it spans more than 3.
    const t0 = t.points[0]![0]
    const hours = r.timeLabel === 'minutes' && (t.points.at(-1)![0] - t0) / r.timeScale > 180
    const scale = hours ? r.timeScale * 60 : r.timeScale
    const unit = hours ? 'hours' : r.timeLabel
    const x = (v: number) => (v - t0) / scale
    const gaps: number[] = []
    for (let i = 1; i < t.points.length; i++) gaps.push(t.points[i]![0] - t.points[i - 1]![0])
    gaps.sort((p, q) => p - q)
    const spacing = gaps[gaps.length >> 1] ?? 0
    figs.push(
      lineChart(
        `Score over time: ${t.entity}`,
        [
          { points: t.points.map(([tx, y]) => [x(tx), y]), color: '#3b7dd8', label: 'score', gaps: true },
          {
            points: [
              [0, e.threshold],
              [x(t.points.at(-1)![0]), e.threshold],
            ],
            color: '#e90',
            label: e.consecutive > 1 ? `page threshold (${e.consecutive} in a row)` : 'page threshold',
            dashed: true,
          },
        ],
        {
          xLabel: `${unit} since its first vector (gaps: no samples)`,
          yLabel: 'score',
          yRange: [0, 1],
          marks: t.failures.map(x),
          marksLabel: 'failure',
          // Points are thinned for the page: a gap is several thinned steps without a sample.
          gapOver: spacing > 0 ? (spacing * 4) / scale : undefined,
        },
      ),
    )
  }
  figs.push(...learningCharts(r.learningCurves ?? []))
  if (r.importances.length) figs.push(hbarChart('Feature importance', r.importances, 'mean |gradient × input|'))

  const row = (k: string, v: string) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`
  const b = e.baseline
  const o = r.comparison?.evaluation
  const oa = o?.atThreshold
  const lead = (x: number | null | undefined) => (x === null || x === undefined ? '–' : (x / r.timeScale).toFixed(1))
  const ruleText = (x: EvaluationReport) => describeRule(x, 4, (v) => `${+(v / r.timeScale).toFixed(1)} ${r.timeLabel}`)
  const line = (k: string, model: string, other: string, base: string) =>
    `<tr><th>${esc(k)}</th><td>${esc(model)}</td>${o ? `<td>${esc(other)}</td>` : ''}<td>${esc(base)}</td></tr>`
  const cmp = `<table><tr><th></th><th>this model</th>${o ? `<th>${esc(r.comparison!.label)}</th>` : ''}<th>static threshold${b ? ` (${esc(b.rule)})` : ''}</th></tr>
${line('page rule', ruleText(e), o ? ruleText(o) : '', b ? `${b.rule} (chosen on ${b.chosenOn})` : '–')}
${line('page precision (judged when they fire)', pct(a.precision), pct(oa?.precision), pct(b?.precision))}
${line('false pages that fired over a horizon early, open until the failure', `${a.earlyEpisodes} of ${a.falseAlarmEpisodes}`, oa ? `${oa.earlyEpisodes} of ${oa.falseAlarmEpisodes}` : '', '–')}
${line('page precision counting those as right', pct(a.coveringPrecision), pct(oa?.coveringPrecision), '–')}
${line('alert precision (vectors)', pct(a.vectorPrecision), pct(oa?.vectorPrecision), '–')}
${line('event recall', pct(a.eventRecall), pct(oa?.eventRecall), pct(b?.eventRecall))}
${line('recall of predictable failures', pct(a.predictableRecall), pct(oa?.predictableRecall), pct(b?.predictableRecall))}
${line(`median lead time (${r.timeLabel})`, lead(a.medianLeadTime), lead(oa?.medianLeadTime), lead(b?.medianLeadTime))}
${line(r.timeLabel === 'steps' ? 'false alarms per host-100-steps' : 'false alarms per host-day', a.falseAlarmsPerHostDay?.toFixed(3) ?? '–', oa?.falseAlarmsPerHostDay?.toFixed(3) ?? '–', b?.falseAlarmsPerHostDay?.toFixed(3) ?? '–')}
${line('PR-AUC / ROC-AUC (vectors)', `${e.prAuc.toFixed(3)} / ${e.rocAuc.toFixed(3)}`, o ? `${o.prAuc.toFixed(3)} / ${o.rocAuc.toFixed(3)}` : '', '–')}</table>`
  const c = e.confusion
  const confusion = `<table><tr><th></th><th>alert</th><th>no alert</th></tr><tr><th>fails within horizon</th><td>${c.tp}</td><td>${c.fn}</td></tr><tr><th>does not</th><td>${c.fp}</td><td>${c.tn}</td></tr></table>`
  const ops = operatingTable(e, r.timeScale, r.timeLabel)
  const modes = a.byMode?.length
    ? `<h3>Recall by failure mode (simulator truth, under the page rule)</h3><table><tr><th>mode</th><th>failures</th><th>paged in time</th><th>recall</th>${oa?.byMode ? `<th>${esc(r.comparison!.label)}</th>` : ''}</tr>${a.byMode
        .map((m) => {
          const other = oa?.byMode?.find((x) => x.mode === m.mode)
          return `<tr><th>${esc(m.mode)}${m.predictable ? '' : ' (no precursor)'}</th><td>${m.failures}</td><td>${m.detected}</td><td>${pct(m.failures ? m.detected / m.failures : null)}</td>${oa?.byMode ? `<td>${other ? pct(other.failures ? other.detected / other.failures : null) : '–'}</td>` : ''}</tr>`
        })
        .join('')}</table>`
    : ''
  const summary = Object.entries(r.summary)
    .map(([k, v]) => row(k, String(v)))
    .join('')
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(r.title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}h1{margin-bottom:0}figure{display:inline-block;margin:8px;vertical-align:top}figcaption{font-weight:600;font-size:13px}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f4f4f4}.grid{display:flex;flex-wrap:wrap}</style></head><body>
<h1>${esc(r.title)}</h1><p>${esc(r.subtitle)}</p>${verdicts(e)
    .map(
      (v) => `<p style="background:#fde8e8;border-left:4px solid #c33;padding:8px 12px"><b>Warning:</b> ${esc(v)}</p>`,
    )
    .join('')}
<div class="grid"><div><h3>Summary</h3><table>${summary}
${row('page rule (what the policy acts by)', ruleText(e))}${e.alertThreshold === null ? '' : row('alert (per vector)', `score ≥ ${e.alertThreshold.toFixed(4)}`)}${row('PR-AUC', e.prAuc.toFixed(4))}${row('ROC-AUC', e.rocAuc.toFixed(4))}${row('F1 (vectors)', e.f1.toFixed(4))}
${e.timeToFailure?.everyRow ? row(`time to failure: RMSE of the median (${r.timeLabel}; capped at ${+(e.timeToFailure.cap / r.timeScale).toFixed(1)})`, `${e.timeToFailure.lastRow ? `${(e.timeToFailure.lastRow.rmse / r.timeScale).toFixed(1)} at each entity's last row; ` : ''}${(e.timeToFailure.everyRow.rmse / r.timeScale).toFixed(1)} over every row`) : ''}
${row('availability without → with model', `${pct(e.availability.availabilityWithout)} → ${pct(e.availability.availabilityWith)}`)}</table></div>
<div><h3>${o ? 'Models' : 'Model'} vs naive baseline (events, same rows)</h3>${cmp}<h3>Confusion table of the alert (vectors)</h3>${confusion}${modes}</div></div>
${(r.notes ?? []).map((n) => `<p>${esc(n)}</p>`).join('')}
${ops}
<div class="grid">${figs.join('\n')}</div></body></html>\n`
}
