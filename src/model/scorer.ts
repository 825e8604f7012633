/**
 * Scoring: feature vectors → calibrated failure probabilities, batched, inside tf.tidy, as
 * plain numbers; and explanations (gradient × input on the standardised features: the
 * features that pushed this score up or down), cheap enough for every command.
 */

import type { LoadedModel } from './artifact.js'
import { tf } from './backend.js'
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

  /** Calibrated scores of `rows` vectors laid out row after row in `x` (Float64/32). */
  score(x: ArrayLike<number>, rows: number, out = new Float64Array(rows)): Float64Array {
    if (rows === 0) return out
    const z = this.standardized(x, rows)
    const raw = tf.tidy(() => {
      const t = tf.tensor2d(z, [rows, this.width])
      // One batch: predict would otherwise cut it into batches of 32 (two orders of magnitude slower).
      return (this.loaded.model.predict(t, { batchSize: rows }) as tf.Tensor).dataSync() as Float32Array
    })
    const cal = this.loaded.meta.calibration
    for (let i = 0; i < rows; i++) out[i] = calibrate(raw[i]!, cal)
    return out
  }

  /** Top-k contributions per row (gradient × input of the network's logit). */
  explain(x: ArrayLike<number>, rows: number, k = 5): Contribution[][] {
    if (rows === 0) return []
    const z = this.standardized(x, rows)
    const F = this.width
    const contrib = tf.tidy(() => {
      const t = tf.tensor2d(z, [rows, F])
      const logitOf = (input: tf.Tensor) => {
        const p = (this.loaded.model.apply(input, { training: false }) as tf.Tensor).clipByValue(1e-7, 1 - 1e-7)
        return tf.log(p.div(tf.sub(1, p))).sum()
      }
      const g = tf.grad(logitOf)(t)
      return g.mul(t).dataSync() as Float32Array
    })
    const names = this.loaded.meta.featureNames
    const out: Contribution[][] = []
    for (let i = 0; i < rows; i++) {
      const idx = Array.from({ length: F }, (_, f) => f)
      idx.sort((a, b) => Math.abs(contrib[i * F + b]!) - Math.abs(contrib[i * F + a]!))
      out.push(idx.slice(0, k).map((f) => ({ feature: names[f]!, contribution: +contrib[i * F + f]!.toFixed(4) })))
    }
    return out
  }
}
