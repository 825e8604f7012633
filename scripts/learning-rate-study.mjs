/**
 * Learning-rate study (tooling, not the product): the MLP on the vectors scripts/gbdt-peer.ts
 * wrote (DIR: train/val/test .x.f32 .y.u8 .w.f32, info.json), validation and test PR-AUC every
 * quarter epoch for 6 epochs. How docs/model.md's "Learning rate" paragraph was measured.
 *
 *   npm run build && node scripts/learning-rate-study.mjs DIR [lr=3e-4] [balanced|none] [batch=512]
 */
import { readFileSync } from 'node:fs'
import { curves } from '../dist/math/curves.js'
import { Rng } from '../dist/math/random.js'
import { initBackend, tf } from '../dist/model/backend.js'
import { buildMlp, computeNormalization, predictRaw, standardize } from '../dist/model/mlp.js'

await initBackend()
const D = process.argv[2]
if (!D) throw new Error('usage: learning-rate-study.mjs DIR [lr] [balanced|none] [batch]')
const F = JSON.parse(readFileSync(`${D}/info.json`, 'utf8')).width
const load = (n, cap = Infinity) => {
  const y = new Uint8Array(readFileSync(`${D}/${n}.y.u8`))
  const size = Math.min(y.length, cap)
  const xb = readFileSync(`${D}/${n}.x.f32`, { encoding: null })
  const x = new Float32Array(xb.buffer, xb.byteOffset, size * F)
  const wb = readFileSync(`${D}/${n}.w.f32`)
  const w = new Float32Array(wb.buffer, wb.byteOffset, size)
  let pos = 0
  for (let i = 0; i < size; i++) pos += y[i]
  return { width: F, size, x, y: y.subarray(0, size), w, positives: pos, negatives: size - pos, weights: () => w }
}
const [lr, cw, batch] = [Number(process.argv[3] ?? 3e-4), process.argv[4] ?? 'balanced', Number(process.argv[5] ?? 512)]
const label = `lr ${lr}`
const train = load('train'),
  val = load('val'),
  test = load('test', 250000)
const norm = computeNormalization(train)
const z = standardize(train.x, train.size, norm),
  zv = standardize(val.x, val.size, norm),
  zt = standardize(test.x, test.size, norm)
const n = train.size,
  P = train.positives,
  N = train.negatives
const classWeight = cw === 'balanced' ? { 0: n / (2 * N), 1: n / (2 * P) } : undefined
const model = buildMlp(F, [32, 16], 1, lr)
const rng = new Rng(1),
  order = Int32Array.from({ length: n }, (_, i) => i)
const Q = 4,
  per = Math.ceil(n / Q)
const xs = new Float32Array(per * F),
  ys = new Float32Array(per)
const out = []
for (let epoch = 1; epoch <= 6; epoch++) {
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1))
    const t = order[i]
    order[i] = order[j]
    order[j] = t
  }
  for (let q = 0; q < Q; q++) {
    const from = q * per,
      to = Math.min(n, from + per),
      m = to - from
    for (let i = 0; i < m; i++) {
      xs.set(z.subarray(order[from + i] * F, order[from + i] * F + F), i * F)
      ys[i] = train.y[order[from + i]]
    }
    const xt = tf.tensor2d(xs.subarray(0, m * F), [m, F]),
      yt = tf.tensor2d(ys.subarray(0, m), [m, 1])
    const h = await model.fit(xt, yt, {
      epochs: 1,
      batchSize: batch,
      shuffle: false,
      ...(classWeight && { classWeight }),
      verbose: 0,
    })
    xt.dispose()
    yt.dispose()
    const vp = curves(predictRaw(model, zv, val.size), val.y, val.w).prAuc
    const tp = curves(predictRaw(model, zt, test.size), test.y, test.w).prAuc
    out.push(
      `${(epoch - 1 + (q + 1) / Q).toFixed(2)} loss ${Number(h.history.loss[0]).toFixed(4)} val ${vp.toFixed(4)} test ${tp.toFixed(4)}`,
    )
    console.log(label, out.at(-1))
  }
}
