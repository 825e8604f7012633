/**
 * The default failure predictor: an MLP on standardised features, trained with class
 * weighting and early stopping on validation PR-AUC, fixed seeds, then Platt-calibrated so
 * its score is a probability. The optional sequence model (a GRU over the feature engine's
 * bucketed sequence) is trained the same way.
 *
 * Shapes: a feature vector is Float64Array[F] (FeatureEngine order); the network takes
 * float32 [batch, F] standardised (NaN → 0, clipped to ±10) and outputs [batch, 1] in (0, 1).
 */
import { curves } from '../math/curves.js'
import { Rng } from '../math/random.js'
import { tf } from './backend.js'

/**
 * What training reads of a labelled sample (data/dataset.ts's SampleSet is one): `size` rows
 * of `width` features, row after row in `x`; labels 0/1 in `y`; per-row weights that undo
 * class-wise subsampling.
 */
export interface LabelledRows {
  readonly width: number
  readonly size: number
  readonly x: Float32Array
  readonly y: Uint8Array
  readonly positives: number
  readonly negatives: number
  weights(): Float32Array
}

export interface Normalization {
  mean: number[]
  std: number[]
}

export interface Calibration {
  method: 'platt'
  a: number
  b: number
}

/**
 * Model kinds: `mlp` on window features; `gru` over the engine's bucketed sequence; `gbdt`
 * gradient-boosted trees on window features (model/gbdt.ts).
 */
export const ModelKinds = ['mlp', 'gru', 'gbdt'] as const
export type ModelKind = (typeof ModelKinds)[number]
/** How training weighs the classes: positives given the negatives' total weight, or the rows' own weights. */
export const ClassWeights = ['balanced', 'none'] as const
export type ClassWeight = (typeof ClassWeights)[number]

export interface TrainOptions {
  kind?: Exclude<ModelKind, 'gbdt'>
  /** Default 'balanced'. */
  classWeight?: ClassWeight
  /** gru: time steps of the sequence (the feature vector is [steps × channels]). */
  steps?: number
  /** Hidden layer widths. Default [32, 16] (mlp); gru: [recurrent units, dense units], default [24, 16]. */
  hidden?: number[]
  /** Most epochs. Default 30. */
  epochs?: number
  /** Epochs without a better validation PR-AUC before stopping. Default 4. */
  patience?: number
  batchSize?: number
  learningRate?: number
  seed?: number
  onEpoch?: (e: { epoch: number; loss: number; valPrAuc: number; best: boolean }) => void
}

export interface TrainResult {
  model: tf.LayersModel
  normalization: Normalization
  epochs: number
  bestEpoch: number
  valPrAuc: number
  history: { epoch: number; loss: number; valPrAuc: number }[]
}

export function computeNormalization(set: LabelledRows): Normalization {
  const F = set.width
  const sum = new Float64Array(F)
  const sq = new Float64Array(F)
  const cnt = new Float64Array(F)
  for (let i = 0; i < set.size; i++)
    for (let f = 0; f < F; f++) {
      const v = set.x[i * F + f]!
      if (Number.isNaN(v)) continue
      sum[f]! += v
      sq[f]! += v * v
      cnt[f]! += 1
    }
  const mean: number[] = []
  const std: number[] = []
  for (let f = 0; f < F; f++) {
    const m = cnt[f]! ? sum[f]! / cnt[f]! : 0
    const s = cnt[f]! > 1 ? Math.sqrt(Math.max(0, sq[f]! / cnt[f]! - m * m)) : 0
    mean.push(m)
    std.push(s > 1e-12 ? s : 1)
  }
  return { mean, std }
}

/** Standardises rows into a new float32 array: NaN → 0 (the mean), clipped to ±10. */
export function standardize(x: ArrayLike<number>, rows: number, norm: Normalization, out?: Float32Array): Float32Array {
  const F = norm.mean.length
  const z = out ?? new Float32Array(rows * F)
  for (let i = 0; i < rows; i++)
    for (let f = 0; f < F; f++) {
      const v = x[i * F + f]!
      const s = Number.isNaN(v) ? 0 : (v - norm.mean[f]!) / norm.std[f]!
      z[i * F + f] = Math.min(10, Math.max(-10, s))
    }
  return z
}

/** The shared head: one sigmoid unit, compiled with Adam on binary cross-entropy. */
function withOutput(model: tf.Sequential, seed: number, learningRate: number): tf.LayersModel {
  model.add(
    tf.layers.dense({
      units: 1,
      activation: 'sigmoid',
      kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 99 }),
    }),
  )
  model.compile({ optimizer: tf.train.adam(learningRate), loss: 'binaryCrossentropy' })
  return model
}

export function buildMlp(inputs: number, hidden: number[], seed: number, learningRate: number): tf.LayersModel {
  const model = tf.sequential()
  hidden.forEach((units, i) => {
    model.add(
      tf.layers.dense({
        units,
        activation: 'relu',
        kernelInitializer: tf.initializers.heNormal({ seed: seed + i }),
        // Few failures make many correlated positives: weight decay keeps the net from memorising hosts.
        kernelRegularizer: tf.regularizers.l2({ l2: 1e-4 }),
        ...(i === 0 ? { inputShape: [inputs] } : {}),
      }),
    )
    if (i === 0) model.add(tf.layers.dropout({ rate: 0.2, seed: seed + 100 }))
  })
  return withOutput(model, seed, learningRate)
}

/**
 * A GRU over the sequence block: the flat vector is reshaped to [steps, channels] (oldest
 * step first), read by one GRU layer, then a small dense head. (The WASM backend has no
 * gradient for convolutions, so the sequence model is recurrent.)
 */
export function buildGru(
  inputs: number,
  steps: number,
  hidden: number[],
  seed: number,
  learningRate: number,
): tf.LayersModel {
  if (!(steps > 0) || inputs % steps !== 0)
    throw new RangeError(`a sequence of ${steps} steps cannot be read from ${inputs} features`)
  const [units = 24, dense = 16] = hidden
  const model = tf.sequential()
  model.add(tf.layers.reshape({ targetShape: [steps, inputs / steps], inputShape: [inputs] }))
  model.add(
    tf.layers.gru({
      units,
      kernelInitializer: tf.initializers.glorotUniform({ seed }),
      recurrentInitializer: tf.initializers.orthogonal({ seed: seed + 1 }),
      kernelRegularizer: tf.regularizers.l2({ l2: 1e-4 }),
    }),
  )
  model.add(tf.layers.dropout({ rate: 0.2, seed: seed + 100 }))
  model.add(
    tf.layers.dense({
      units: dense,
      activation: 'relu',
      kernelInitializer: tf.initializers.heNormal({ seed: seed + 2 }),
      kernelRegularizer: tf.regularizers.l2({ l2: 1e-4 }),
    }),
  )
  return withOutput(model, seed, learningRate)
}

/** Raw network outputs for standardised rows, batched, as plain numbers. */
export function predictRaw(model: tf.LayersModel, z: Float32Array, rows: number, batch = 8192): Float32Array {
  const F = z.length / Math.max(1, rows)
  const out = new Float32Array(rows)
  for (let i = 0; i < rows; i += batch) {
    const n = Math.min(batch, rows - i)
    const part = tf.tidy(() => {
      const x = tf.tensor2d(z.subarray(i * F, (i + n) * F), [n, F])
      return (model.predict(x, { batchSize: n }) as tf.Tensor).dataSync() as Float32Array
    })
    out.set(part, i)
  }
  return out
}

export const logit = (p: number) => {
  const q = Math.min(1 - 1e-7, Math.max(1e-7, p))
  return Math.log(q / (1 - q))
}

/**
 * Platt scaling: p = σ(a·logit(raw) + b), fitted by Newton's method with step halving on the
 * weighted log loss, with Platt's smoothed targets (y⁺ = (N⁺+1)/(N⁺+2), y⁻ = 1/(N⁻+2)) so
 * separable data cannot drive a and b to infinity.
 */
export function fitPlatt(raw: ArrayLike<number>, y: ArrayLike<number>, w: ArrayLike<number>): Calibration {
  const z = Array.from(raw as ArrayLike<number>, logit)
  let pos = 0
  let neg = 0
  for (let i = 0; i < z.length; i++) {
    if (y[i]) pos += w[i]!
    else neg += w[i]!
  }
  const hi = (pos + 1) / (pos + 2)
  const lo = 1 / (neg + 2)
  const t = Array.from(y as ArrayLike<number>, (v) => (v ? hi : lo))
  const loss = (a: number, b: number) => {
    let l = 0
    for (let i = 0; i < z.length; i++) {
      const s = a * z[i]! + b
      // log(1 + e^s) − t·s, computed stably.
      l += w[i]! * ((s > 0 ? s + Math.log1p(Math.exp(-s)) : Math.log1p(Math.exp(s))) - t[i]! * s)
    }
    return l
  }
  let a = 1
  let b = 0
  let current = loss(a, b)
  for (let it = 0; it < 100; it++) {
    let ga = 0
    let gb = 0
    let haa = 1e-9
    let hab = 0
    let hbb = 1e-9
    for (let i = 0; i < z.length; i++) {
      const p = 1 / (1 + Math.exp(-(a * z[i]! + b)))
      const d = (p - t[i]!) * w[i]!
      const h = Math.max(1e-12, p * (1 - p)) * w[i]!
      ga += d * z[i]!
      gb += d
      haa += h * z[i]! * z[i]!
      hab += h * z[i]!
      hbb += h
    }
    const det = haa * hbb - hab * hab
    if (!(Math.abs(det) > 1e-18)) break
    let da = (hbb * ga - hab * gb) / det
    let db = (haa * gb - hab * ga) / det
    let step = 1
    let next = loss(a - da, b - db)
    while (!(next <= current) && step > 1e-6) {
      step /= 2
      da /= 2
      db /= 2
      next = loss(a - da, b - db)
    }
    if (!(next <= current)) break
    a -= da
    b -= db
    const done = current - next < 1e-10 * Math.max(1, Math.abs(current))
    current = next
    if (done) break
  }
  return { method: 'platt', a, b }
}

export function calibrate(raw: number, c: Calibration): number {
  return 1 / (1 + Math.exp(-(c.a * logit(raw) + c.b)))
}

/**
 * Trains on `train` with early stopping on `val` PR-AUC (weighted: a kept negative stands
 * for the negatives sampling dropped). Deterministic for a seed on one backend.
 */
export async function trainNetwork(
  train: LabelledRows,
  val: LabelledRows,
  opts: TrainOptions = {},
): Promise<TrainResult> {
  const seed = opts.seed ?? 1
  const kind = opts.kind ?? 'mlp'
  const hidden = opts.hidden ?? (kind === 'gru' ? [24, 16] : [32, 16])
  const maxEpochs = opts.epochs ?? 30
  const patience = opts.patience ?? 4
  const batchSize = opts.batchSize ?? 512
  const F = train.width
  const n = train.size
  const normalization = computeNormalization(train)
  const z = standardize(train.x, n, normalization)
  const zVal = standardize(val.x, val.size, normalization)
  const yVal = val.y.subarray(0, val.size)
  const wVal = val.weights()
  const P = train.positives
  const N = train.negatives
  // Balanced: each class carries half the loss, whatever the sampling kept.
  const classWeight =
    (opts.classWeight ?? 'balanced') === 'balanced'
      ? { 0: n / (2 * Math.max(1, N)), 1: n / (2 * Math.max(1, P)) }
      : undefined
  // 3e-4: at 1e-3 the net learnt all it generalises within half an epoch and the rest of the
  // run memorised training hosts (validation PR-AUC peaked, then drifted down): see docs/model.md.
  const lr = opts.learningRate ?? 3e-4
  const model = kind === 'gru' ? buildGru(F, opts.steps ?? 0, hidden, seed, lr) : buildMlp(F, hidden, seed, lr)
  const rng = new Rng(seed)
  const order = Int32Array.from({ length: n }, (_, i) => i)
  const xs = new Float32Array(n * F)
  const ys = new Float32Array(n)
  let best = { prAuc: -1, epoch: 0, weights: [] as tf.Tensor[] }
  const history: TrainResult['history'] = []
  let epoch = 0
  for (epoch = 1; epoch <= maxEpochs; epoch++) {
    // Our own seeded shuffle: fit's shuffle uses Math.random.
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1))
      const t = order[i]!
      order[i] = order[j]!
      order[j] = t
    }
    for (let i = 0; i < n; i++) {
      xs.set(z.subarray(order[i]! * F, order[i]! * F + F), i * F)
      ys[i] = train.y[order[i]!]!
    }
    const xt = tf.tensor2d(xs, [n, F])
    const yt = tf.tensor2d(ys, [n, 1])
    const h = await model.fit(xt, yt, {
      epochs: 1,
      batchSize,
      shuffle: false,
      ...(classWeight && { classWeight }),
      verbose: 0,
    })
    xt.dispose()
    yt.dispose()
    const loss = Number(h.history['loss']?.[0] ?? Number.NaN)
    const valPrAuc = curves(predictRaw(model, zVal, val.size), yVal, wVal).prAuc
    const improved = valPrAuc > best.prAuc + 1e-6
    history.push({ epoch, loss, valPrAuc })
    opts.onEpoch?.({ epoch, loss, valPrAuc, best: improved })
    if (improved) {
      for (const t of best.weights) t.dispose()
      best = { prAuc: valPrAuc, epoch, weights: model.getWeights().map((t) => t.clone()) }
    } else if (epoch - best.epoch >= patience) break
  }
  if (best.weights.length) {
    model.setWeights(best.weights)
    for (const t of best.weights) t.dispose()
  }
  // Adam's moment estimates are tensors too, and model.dispose() leaves them: training is over.
  model.optimizer.dispose()
  return {
    model,
    normalization,
    epochs: Math.min(epoch, maxEpochs),
    bestEpoch: best.epoch,
    valPrAuc: best.prAuc,
    history,
  }
}
