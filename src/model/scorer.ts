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
  /** The network's weights as plain arrays when it is a dense stack (null: it is not; undefined: not looked yet). */
  private dense: DenseLayer[] | null | undefined

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
    // One batch: predict would otherwise cut it into batches of 32 (two orders of magnitude
    // slower). The values are read outside the tidy: a tidy walks what it returns, element by
    // element for a typed array.
    const y = tf.tidy(() => m.predict(tf.tensor2d(z, [rows, this.width]), { batchSize: rows }) as tf.Tensor)
    try {
      return y.dataSync() as Float32Array
    } finally {
      y.dispose()
    }
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
    if (this.dense === undefined) this.dense = denseStackOf(net)
    if (this.dense) {
      const out: Contribution[][] = []
      const g = new Float64Array(F)
      for (let i = 0; i < rows; i++) {
        const zi = z.subarray(i * F, (i + 1) * F)
        logitGradient(this.dense, zi, g)
        for (let f = 0; f < F; f++) g[f] = g[f]! * zi[f]!
        out.push(top(g, k, this.loaded.meta.featureNames))
      }
      return out
    }
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

/**
 * The k largest contributions by magnitude, largest first (ties: the lower feature index
 * first). One pass that keeps the k best in order: k is a handful, the vector hundreds long.
 */
export function top(c: ArrayLike<number>, k: number, names: readonly string[]): Contribution[] {
  const best: number[] = []
  const mag = (f: number) => Math.abs(c[f]!)
  for (let f = 0; f < c.length; f++) {
    const m = mag(f)
    if (best.length === k && !(m > mag(best[k - 1]!))) continue
    let at = best.length === k ? k - 1 : best.length
    while (at > 0 && m > mag(best[at - 1]!)) {
      if (at < k) best[at] = best[at - 1]!
      at--
    }
    if (at < k) best[at] = f
  }
  return best.map((f) => ({ feature: names[f]!, contribution: +c[f]!.toFixed(4) }))
}

/** One dense layer of a network, read out of TensorFlow.js once: kernel [in × out] row-major. */
export interface DenseLayer {
  inputs: number
  units: number
  kernel: Float64Array
  bias: Float64Array
  activation: 'relu' | 'linear' | 'sigmoid'
}

/**
 * The network as dense layers (dropout is the identity when scoring), when it is exactly
 * that: relu or linear layers ending in one sigmoid unit, as `buildMlp` makes. Anything else
 * (the gru, a layer this does not know) answers null and is explained by TensorFlow.js.
 */
export function denseStackOf(net: tf.LayersModel): DenseLayer[] | null {
  const out: DenseLayer[] = []
  for (const layer of net.layers) {
    const kind = layer.getClassName()
    if (kind === 'Dropout') continue
    if (kind !== 'Dense') return null
    const cfg = layer.getConfig() as { activation?: string; useBias?: boolean }
    const activation = cfg.activation ?? 'linear'
    if (activation !== 'relu' && activation !== 'linear' && activation !== 'sigmoid') return null
    const [k, b] = layer.getWeights()
    if (k?.shape.length !== 2) return null
    const [inputs, units] = k.shape as [number, number]
    out.push({
      inputs,
      units,
      kernel: Float64Array.from(k.dataSync()),
      bias: b ? Float64Array.from(b.dataSync()) : new Float64Array(units),
      activation,
    })
  }
  const last = out.at(-1)
  if (last?.units !== 1 || last.activation !== 'sigmoid') return null
  if (out.slice(0, -1).some((l) => l.activation === 'sigmoid')) return null
  for (let l = 1; l < out.length; l++) if (out[l]!.inputs !== out[l - 1]!.units) return null
  return out
}

/**
 * ∂ logit(p) / ∂ z for one standardised vector z of a dense stack (p its sigmoid output), into
 * `g`: what TensorFlow.js's gradient of log(p / (1 − p)) gives, by hand — a forward pass that
 * keeps each layer's pre-activations, then back through the relus. Like that gradient, 0 where
 * p is clipped (beyond 1e-7 of 0 or 1).
 */
export function logitGradient(layers: readonly DenseLayer[], z: ArrayLike<number>, g: Float64Array): Float64Array {
  const pre: Float64Array[] = []
  let a: Float64Array = Float64Array.from(z)
  for (const L of layers) {
    const { units: U, inputs: I, kernel: K } = L
    const h = Float64Array.from(L.bias)
    for (let i = 0; i < I; i++) {
      const v = a[i]!
      if (v === 0) continue
      const row = i * U
      for (let o = 0; o < U; o++) h[o] = h[o]! + v * K[row + o]!
    }
    pre.push(h)
    if (L.activation === 'relu') {
      a = new Float64Array(U)
      for (let o = 0; o < U; o++) a[o] = Math.max(h[o]!, 0)
    } else a = h
  }
  const p = 1 / (1 + Math.exp(-pre.at(-1)![0]!))
  g.fill(0)
  if (!(p >= 1e-7 && p <= 1 - 1e-7)) return g
  // d logit / d (the last pre-activation) = 1; back through each layer's kernel.
  let d: Float64Array = new Float64Array([1])
  for (let l = layers.length - 1; l >= 0; l--) {
    const { units: U, inputs: I, kernel: K, activation } = layers[l]!
    if (activation === 'relu') {
      const h = pre[l]!
      for (let o = 0; o < U; o++) if (!(h[o]! > 0)) d[o] = 0
    }
    const below = l === 0 ? g : new Float64Array(I)
    for (let i = 0; i < I; i++) {
      const row = i * U
      let sum = 0
      for (let o = 0; o < U; o++) sum += K[row + o]! * d[o]!
      below[i] = sum
    }
    d = below
  }
  return g
}
