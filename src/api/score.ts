/**
 * POST /v1/score, stateless: a host's recent samples in, the score of the newest (with its
 * explanation, the model's page rule over the scored run and, with a time-to-failure head,
 * when) out. The same feature engine,
 * vectorizer and model as `preempt score` and the streaming scorer: a fresh engine per call,
 * fed the samples in event-time order. A model's peer features are missing here (said in the
 * answer): they need the other hosts of the service, which only the streaming scorer has.
 */
import { decodeMetricSample, type MetricSample, type PredictionV1, ttfWire } from '../contracts/index.js'
import { PreemptError } from '../errors.js'
import { FeatureEngine } from '../features/engine.js'
import { sampleValues } from '../features/vectorize.js'
import { AlertTracker } from '../policy/alert.js'
import type { StreamModel } from '../stream/model.js'

export interface ScoreResult {
  host: string
  ts: number
  score: number
  alert: boolean
  rule: { threshold: number; consecutive: number }
  model: { name: string; version: string }
  horizon_ms: number
  /** Samples given, and vectors scored (the first ones only fill the windows). */
  samples: number
  scored: number
  top: { feature: string; contribution: number }[]
  /** A model with peer features: they are missing here (one host's samples say nothing of its peers). */
  peers?: 'missing'
  /** The newest vector's time to failure, ms (null: later than max_ms); absent without a head. */
  ttf?: PredictionV1['ttf']
}

/** Scores `raw` (MetricSampleV1 objects of one host); throws PREEMPT_ERR_API_INPUT naming the sample and field. */
export function scoreSamples(model: StreamModel, raw: unknown[], explainTop = 5): ScoreResult {
  const samples: MetricSample[] = []
  for (let i = 0; i < raw.length; i++) {
    const d = decodeMetricSample(raw[i] as object)
    if (!d.ok)
      throw new PreemptError('PREEMPT_ERR_API_INPUT', `body/samples/${i}${d.error.path}: ${d.error.message}`, {
        details: { field: `body/samples/${i}${d.error.path}` },
      })
    samples.push(d.value)
  }
  const host = samples[0]!.host
  const other = samples.findIndex((s) => s.host !== host)
  if (other >= 0)
    throw new PreemptError(
      'PREEMPT_ERR_API_INPUT',
      `body/samples/${other}/host: "${samples[other]!.host}" differs from the first sample's "${host}"; send one host per call`,
      { details: { field: `body/samples/${other}/host` } },
    )
  samples.sort((a, b) => a.ts - b.ts)
  const engine = new FeatureEngine(model.spec)
  const values = new Float64Array(model.spec.metrics.length)
  const F = engine.size
  const rows: Float64Array[] = []
  for (let i = 0; i < samples.length; i++) {
    const problem = sampleValues(model.spec.metrics, samples[i]!, values)
    if (problem)
      throw new PreemptError('PREEMPT_ERR_API_INPUT', `body/samples${problem.path}: ${problem.message}`, {
        details: { field: `body/samples${problem.path}` },
      })
    const out = new Float64Array(F)
    if (engine.push(host, samples[i]!.ts, values, out) === 'emitted') rows.push(out)
  }
  if (!rows.length)
    throw new PreemptError(
      'PREEMPT_ERR_API_INPUT',
      `body/samples: ${samples.length} samples give the model no vector yet; send at least ${model.spec.minHistory} samples of the host (the model's minHistory)`,
      { details: { field: 'body/samples' } },
    )
  const x = new Float64Array(rows.length * F)
  for (let i = 0; i < rows.length; i++) x.set(rows[i]!, i * F)
  const scores = model.score(x, rows.length, new Float64Array(rows.length))
  const tracker = new AlertTracker(model.rule)
  // A rule that asks the time-to-failure head needs it for every vector; otherwise the last one's will do.
  const ttfs = model.rule.within !== undefined ? model.ttf?.(x, rows.length) : undefined
  let alert = false
  for (let i = 0; i < rows.length; i++) alert = tracker.observe(host, scores[i]!, ttfs?.[i]?.medianMs)
  const last = x.subarray((rows.length - 1) * F)
  const top = model.explain(last, 1, explainTop)[0] ?? []
  const t = ttfs ? ttfs.at(-1) : model.ttf?.(last, 1)[0]
  return {
    host,
    ts: samples.at(-1)!.ts,
    score: scores[rows.length - 1]!,
    alert,
    rule: {
      threshold: model.rule.threshold,
      consecutive: model.rule.consecutive,
      ...(model.rule.within !== undefined && { within_ms: model.rule.within }),
    },
    model: { name: model.name, version: model.version },
    horizon_ms: model.horizonMs,
    samples: samples.length,
    scored: rows.length,
    top: top.map((c) => ({ feature: c.feature, contribution: c.contribution })),
    ...(model.spec.peers && { peers: 'missing' as const }),
    ...(t && { ttf: ttfWire(t) }),
  }
}
