/**
 * The one way into the feature engine: a CSV row (values in the file's column order) or a
 * `MetricSample` from Kafka (values by metric name) becomes the engine's input, a
 * Float64Array in `spec.metrics` order with NaN for missing. Training, offline scoring and
 * the streaming scorer all go through here, so the three cannot disagree on what "missing"
 * means or on column order.
 */
import type { MetricSample } from '../contracts/index.js'

/** Copies the spec's metrics (by name) out of a row read with `from` metrics; absent ones are NaN. */
export function projectValues(
  from: readonly string[],
  to: readonly string[],
): (src: ArrayLike<number>, dst: Float64Array) => void {
  const idx = to.map((m) => from.indexOf(m))
  return (src, dst) => {
    for (let i = 0; i < idx.length; i++) {
      const j = idx[i]!
      dst[i] = j < 0 ? Number.NaN : src[j]!
    }
  }
}

/** Why a sample cannot be scored (the DLQ reason), or undefined when it can. */
export interface SampleProblem {
  path: string
  message: string
}

/**
 * Writes a sample's metrics into `dst` (spec order, NaN for null or absent: "metrics the
 * model needs but the sample lacks count as missing"). Answers a problem when a value the
 * model uses is not finite. MetricSampleV1's decoder already refuses those (1e400 parses to
 * Infinity and fails the schema), so through Kafka this is a second line: a sample built in
 * code skips the decoder.
 */
export function sampleValues(
  metrics: readonly string[],
  s: MetricSample,
  dst: Float64Array,
): SampleProblem | undefined {
  for (let i = 0; i < metrics.length; i++) {
    const v = s.metrics[metrics[i]!]
    if (v === null || v === undefined) dst[i] = Number.NaN
    else if (!Number.isFinite(v))
      return { path: `/metrics/${metrics[i]}`, message: `/metrics/${metrics[i]}: not a finite number` }
    else dst[i] = v
  }
  return undefined
}
