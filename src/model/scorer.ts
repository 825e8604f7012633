/**
 * Scoring: feature vectors → calibrated failure probabilities, batched, as plain numbers;
 * and explanations (the features that pushed this score up or down), cheap enough for every
 * command. Networks: inside tf.tidy, gradient × input on the standardised features. Trees:
 * on the raw values (missing stays missing), exact TreeSHAP contributions in log-odds.
 */

import type { LoadedModel } from './artifact.js'
import { tf } from './backend.js'
import { GbdtModel } from './gbdt.js'
import type { TimeToFailure } from './hazard.js'
import { calibrate, standardize } from './mlp.js'

export interface Contribution {
  feature: string
  contribution: number
}

export class Scorer {
  readonly width: number
  private z: Float32Array

  constructor(readonly loaded: LoadedModel) {
    this.width = loaded.meta.featureNames.length
    this.z = new Float32Array(0)
  }

  private standardized(x: ArrayLike<number>, rows: number): Float32Array {
    if (this.z.length < rows * this.width) this.z = new Float32Array(rows * this.width)
    return standardize(x, rows, this.loaded.meta.normalization, this.z.subarray(0, rows * this.width))
  }

  /** Model outputs before calibration (probabilities): trees on the raw values, networks on standardised ones. */
  private raw(x: ArrayLike<number>, rows: number): Float32Array {
    const m = this.loaded.model
    if (m instanceof GbdtModel) return m.predict(x, rows)
    const z = this.standardized(x, rows)
    return tf.tidy(() => {
      const t = tf.tensor2d(z, [rows, this.width])
      // One batch: predict would otherwise cut it into batches of 32 (two orders of magnitude slower).
      return (m.predict(t, { batchSize: rows }) as tf.Tensor).dataSync() as Float32Array
    })
  }

  /** Calibrated scores of `rows` vectors laid out row after row in `x` (Float64/32). */
  score(x: ArrayLike<number>, rows: number, out = new Float64Array(rows)): Float64Array {
    if (rows === 0) return out
    const raw = this.raw(x, rows)
    const cal = this.loaded.meta.calibration
    for (let i = 0; i < rows; i++) out[i] = calibrate(raw[i]!, cal)
    return out
  }

  /** Time to failure per row from the hazard head (undefined: the model has none). */
  ttf(x: ArrayLike<number>, rows: number): TimeToFailure | undefined {
    return this.loaded.hazard?.predict(x, rows)
  }

  /** Top-k contributions per row: the network's gradient × input of its logit, or the trees' TreeSHAP values. */
  explain(x: ArrayLike<number>, rows: number, k = 5): Contribution[][] {
    if (rows === 0) return []
    const m = this.loaded.model
    const F = this.width
    if (m instanceof GbdtModel) {
      const phi = new Float64Array(F)
      const out: Contribution[][] = []
      for (let i = 0; i < rows; i++) out.push(top(m.shap(x, i * F, phi), k, this.loaded.meta.featureNames))
      return out
    }
    const net = m
    const z = this.standardized(x, rows)
    const contrib = tf.tidy(() => {
      const t = tf.tensor2d(z, [rows, F])
      const logitOf = (input: tf.Tensor) => {
        const p = (net.apply(input, { training: false }) as tf.Tensor).clipByValue(1e-7, 1 - 1e-7)
        return tf.log(p.div(tf.sub(1, p))).sum()
      }
      const g = tf.grad(logitOf)(t)
      return g.mul(t).dataSync() as Float32Array
    })
    const out: Contribution[][] = []
    for (let i = 0; i < rows; i++) out.push(top(contrib.subarray(i * F, (i + 1) * F), k, this.loaded.meta.featureNames))
    return out
  }
}

/** The k largest contributions by magnitude. */
function top(c: ArrayLike<number>, k: number, names: readonly string[]): Contribution[] {
  const idx = Array.from({ length: c.length }, (_, f) => f)
  idx.sort((a, b) => Math.abs(c[b]!) - Math.abs(c[a]!))
  return idx.slice(0, k).map((f) => ({ feature: names[f]!, contribution: +c[f]!.toFixed(4) }))
}
