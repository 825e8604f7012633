/**
 * Gradient-boosted decision trees (pure TypeScript over typed arrays, no tfjs): histogram
 * based, logistic loss, leaf-wise growth, seeded.
 *
 * - Features are cut into at most `bins` quantile bins (from a sample of training rows);
 *   bin 0 holds missing values (NaN), which take their own branch direction at every split
 *   (learnt: whichever side gains more), because on real counters "missing" is informative.
 * - A tree grows leaf-wise (the leaf with the best gain splits next) up to `leaves` leaves
 *   and `maxDepth`; splits need `minLeaf` rows and `minHessian` on each side; leaf values
 *   are −G/(H + λ) × the learning rate. The smaller child's histogram is built, the larger
 *   one's is the parent's minus it.
 * - Row subsampling per tree, column subsampling per tree, early stopping on validation
 *   PR-AUC (the model keeps the best number of trees).
 * - Scoring walks the trees on raw feature values (a split is "value ≤ threshold", NaN goes
 *   the learnt way). Explanations are exact path-dependent TreeSHAP values (Lundberg et al.
 *   2018) in log-odds: they sum with the expected value to the margin.
 */
import { curves } from '../math/curves.js'
import { Rng } from '../math/random.js'
import type { LabelledRows } from './mlp.js'

export interface GbdtOptions {
  /** Most trees. Default 300. */
  trees?: number
  /** Leaves per tree. Default 15. */
  leaves?: number
  /** Deepest level (root = 0). Default 8. */
  maxDepth?: number
  /** Shrinkage. Default 0.1. */
  learningRate?: number
  /** L2 on leaf values. Default 1. */
  lambda?: number
  /** Rows (unweighted count) each side of a split at least. Default 20. */
  minLeaf?: number
  /** Hessian each side of a split at least. Default 1e-3. */
  minHessian?: number
  /** Share of rows per tree. Default 0.8. */
  subsample?: number
  /** Share of features per tree. Default 0.5. */
  colsample?: number
  /** Quantile bins per feature (≤ 255). Default 63. */
  bins?: number
  /** Trees off the plateau (see `plateau`) before stopping. Default 40. */
  patience?: number
  /**
   * Validation PR-AUC within this of the best so far counts as on the plateau: training goes
   * on while the curve stays on it, and keeps the most trees on it. Default 0.005; 0 keeps
   * the first best count and stops `patience` trees after it.
   */
  plateau?: number
  /** Keep only the trees up to the best validation PR-AUC (default true; benches keep all). */
  truncate?: boolean
  /** Validation PR-AUC is computed every this many trees. Default 5. */
  evalEvery?: number
  /**
   * Class weighting: 'balanced' gives the positives as much total weight as the negatives;
   * 'none' keeps the rows' own weights (sampling weights). Default 'none'.
   */
  classWeight?: 'balanced' | 'none'
  seed?: number
  onProgress?: (p: { trees: number; valPrAuc: number; best: boolean }) => void
}

/** Flat trees: node arrays over all trees; a child index < 0 is leaf ~index. */
export interface GbdtModelJson {
  v: 1
  kind: 'gbdt'
  features: number
  /** Margin before any tree (log-odds of the weighted base rate). */
  base: number
  /** Per tree: its root's node index. */
  roots: number[]
  feature: number[]
  threshold: number[]
  /** 1: a missing value goes left. */
  missingLeft: number[]
  left: number[]
  right: number[]
  /** Training rows through each node (TreeSHAP's cover). */
  cover: number[]
  leafValue: number[]
  leafCover: number[]
}

export interface GbdtTrainResult {
  model: GbdtModel
  trees: number
  bestTrees: number
  valPrAuc: number
  history: { trees: number; valPrAuc: number }[]
  classWeight: 'balanced' | 'none'
}

const sigmoid = (m: number) => 1 / (1 + Math.exp(-m))

export class GbdtModel {
  readonly F: number
  readonly base: number
  private readonly roots: Int32Array
  private readonly feature: Int32Array
  private readonly threshold: Float64Array
  private readonly missingLeft: Uint8Array
  private readonly left: Int32Array
  private readonly right: Int32Array
  private readonly cover: Float64Array
  private readonly leafValue: Float64Array
  private readonly leafCover: Float64Array
  /** Σ over trees of the cover-weighted mean leaf value, plus base: TreeSHAP's φ0. */
  readonly expected: number

  constructor(j: GbdtModelJson) {
    this.F = j.features
    this.base = j.base
    this.roots = Int32Array.from(j.roots)
    this.feature = Int32Array.from(j.feature)
    this.threshold = Float64Array.from(j.threshold)
    this.missingLeft = Uint8Array.from(j.missingLeft)
    this.left = Int32Array.from(j.left)
    this.right = Int32Array.from(j.right)
    this.cover = Float64Array.from(j.cover)
    this.leafValue = Float64Array.from(j.leafValue)
    this.leafCover = Float64Array.from(j.leafCover)
    let e = j.base
    for (let t = 0; t < this.roots.length; t++) e += this.meanOf(this.roots[t]!)
    this.expected = e
  }

  get trees(): number {
    return this.roots.length
  }

  /** Cover-weighted mean leaf value under `node` (a child reference). */
  private meanOf(node: number): number {
    if (node < 0) return this.leafValue[~node]!
    const l = this.left[node]!
    const r = this.right[node]!
    const cl = this.coverOf(l)
    const cr = this.coverOf(r)
    return (cl * this.meanOf(l) + cr * this.meanOf(r)) / (cl + cr || 1)
  }

  private coverOf(node: number): number {
    return node < 0 ? this.leafCover[~node]! : this.cover[node]!
  }

  /** The child value `v` goes to at node `n`: ≤ threshold left, > threshold right, missing the learnt way. */
  private child(n: number, v: number): number {
    const t = this.threshold[n]!
    return v <= t ? this.left[n]! : v > t ? this.right[n]! : this.missingLeft[n] ? this.left[n]! : this.right[n]!
  }

  /** Log-odds of `rows` vectors laid out row after row in `x` (raw feature values, NaN = missing). */
  margin(x: ArrayLike<number>, rows: number, out = new Float64Array(rows), trees = this.roots.length): Float64Array {
    const F = this.F
    const { roots, feature, leafValue } = this
    for (let i = 0; i < rows; i++) {
      const o = i * F
      let m = this.base
      for (let t = 0; t < trees; t++) {
        let n = roots[t]!
        while (n >= 0) n = this.child(n, x[o + feature[n]!]!)
        m += leafValue[~n]!
      }
      out[i] = m
    }
    return out
  }

  /** Probabilities (before calibration). */
  predict(x: ArrayLike<number>, rows: number, trees?: number): Float32Array {
    const m = this.margin(x, rows, new Float64Array(rows), trees)
    const p = new Float32Array(rows)
    for (let i = 0; i < rows; i++) p[i] = sigmoid(m[i]!)
    return p
  }

  /**
   * Exact TreeSHAP contributions of one vector, in log-odds: φ[f] per feature;
   * Σφ + `expected` = margin(x).
   */
  shap(x: ArrayLike<number>, offset = 0, phi = new Float64Array(this.F)): Float64Array {
    phi.fill(0)
    // Path buffers, one segment per recursion depth (copied down, as the reference algorithm
    // does), sized by the deepest tree and kept between calls: a scorer explains many rows.
    this.paths ??= shapScratch(this.deepest())
    const paths = this.paths
    const { pf, pz, po, pw } = paths
    const { feature, left, right, leafValue } = this
    const recurse = (
      node: number,
      parentStart: number,
      s: number,
      depth: number,
      zero: number,
      one: number,
      f: number,
    ) => {
      // This level's path: the parent's, copied (element by element: a few entries, where
      // typed arrays' copyWithin costs a call each), then extended.
      for (let i = 0; i < depth; i++) {
        pf[s + i] = pf[parentStart + i]!
        pz[s + i] = pz[parentStart + i]!
        po[s + i] = po[parentStart + i]!
        pw[s + i] = pw[parentStart + i]!
      }
      extendPath(paths, s, depth, zero, one, f)
      if (node < 0) {
        const v = leafValue[~node]!
        // A feature the vector does not follow here (one = 0) gets −v × Σ pw (d+1)/(d−i): the
        // same sum for every such entry, so it is computed once per leaf.
        let cold = Number.NaN
        for (let i = 1; i <= depth; i++) {
          if (po[s + i] !== 0) phi[pf[s + i]!]! += unwoundPathSum(paths, s, depth, i) * (po[s + i]! - pz[s + i]!) * v
          else if (pz[s + i] !== 0) {
            if (Number.isNaN(cold)) cold = coldPathSum(paths, s, depth)
            phi[pf[s + i]!]! -= cold * v
          }
        }
        return
      }
      const sf = feature[node]!
      const xv = x[offset + sf]!
      const hot = this.child(node, xv)
      const cold = hot === left[node] ? right[node]! : left[node]!
      const w = this.coverOf(node)
      let inZero = 1
      let inOne = 1
      let d = depth
      let k = 0
      while (k <= d && pf[s + k] !== sf) k++
      if (k <= d) {
        inZero = pz[s + k]!
        inOne = po[s + k]!
        unwindPath(paths, s, d, k)
        d--
      }
      const next = s + depth + 1
      recurse(hot, s, next, d + 1, (this.coverOf(hot) / w) * inZero, inOne, sf)
      recurse(cold, s, next, d + 1, (this.coverOf(cold) / w) * inZero, 0, sf)
    }
    for (let t = 0; t < this.roots.length; t++) recurse(this.roots[t]!, 0, 0, 0, 1, 1, -1)
    return phi
  }

  /** Scratch path buffers and factor tables of `shap`, made on first use. */
  private paths: ShapScratch | undefined

  /** Splits on the longest root-to-leaf path of any tree. */
  private deepest(): number {
    const down = (n: number): number => (n < 0 ? 0 : 1 + Math.max(down(this.left[n]!), down(this.right[n]!)))
    let d = 0
    for (let t = 0; t < this.roots.length; t++) d = Math.max(d, down(this.roots[t]!))
    return d
  }

  toJSON(): GbdtModelJson {
    return {
      v: 1,
      kind: 'gbdt',
      features: this.F,
      base: this.base,
      roots: [...this.roots],
      feature: [...this.feature],
      threshold: [...this.threshold],
      missingLeft: [...this.missingLeft],
      left: [...this.left],
      right: [...this.right],
      cover: [...this.cover],
      leafValue: [...this.leafValue],
      leafCover: [...this.leafCover],
    }
  }

  /** Trees hold no tensors: nothing to free (the networks' `dispose`, for code that holds either). */
  dispose(): void {}

  /** A copy with the first `n` trees only (early stopping keeps the best count). */
  truncated(n: number): GbdtModel {
    const j = this.toJSON()
    return new GbdtModel({ ...j, roots: j.roots.slice(0, n) })
  }
}

/** Checks a parsed trees.json; answers what is wrong, or undefined. */
/** Empty node arrays: a model of no tree yet. */
function noTrees(): Omit<GbdtModelJson, 'v' | 'kind' | 'features' | 'base'> {
  return {
    roots: [],
    feature: [],
    threshold: [],
    missingLeft: [],
    left: [],
    right: [],
    cover: [],
    leafValue: [],
    leafCover: [],
  }
}

/** A model of no tree: every vector scores `p`. */
export function constantGbdt(features: number, p: number): GbdtModel {
  const q = Math.min(1 - 1e-6, Math.max(1e-6, p))
  return new GbdtModel({ v: 1, kind: 'gbdt', features, base: Math.log(q / (1 - q)), ...noTrees() })
}

export function gbdtJsonProblem(j: unknown, features: number): string | undefined {
  const m = j as Partial<GbdtModelJson> | null
  if (!m || typeof m !== 'object') return 'not an object'
  if (m.v !== 1 || m.kind !== 'gbdt')
    return `not a v1 gbdt model (v ${JSON.stringify(m.v)}, kind ${JSON.stringify(m.kind)})`
  if (m.features !== features) return `made for ${m.features} features, the model's spec makes ${features}`
  const arrays = [
    'roots',
    'feature',
    'threshold',
    'missingLeft',
    'left',
    'right',
    'cover',
    'leafValue',
    'leafCover',
  ] as const
  for (const a of arrays) if (!Array.isArray(m[a])) return `${a} is missing`
  const nodes = m.feature!.length
  const leaves = m.leafValue!.length
  for (const a of ['threshold', 'missingLeft', 'left', 'right', 'cover'] as const)
    if (m[a]!.length !== nodes) return `${a} has ${m[a]!.length} entries for ${nodes} nodes`
  if (m.leafCover!.length !== leaves) return `leafCover has ${m.leafCover!.length} entries for ${leaves} leaves`
  const ok = (c: number) => Number.isInteger(c) && (c >= 0 ? c < nodes : ~c < leaves)
  if (!m.roots!.every(ok) || !m.left!.every(ok) || !m.right!.every(ok)) return 'a child index points outside the tree'
  if (!m.feature!.every((f) => Number.isInteger(f) && f >= 0 && f < features))
    return 'a split names a feature out of range'
  if (typeof m.base !== 'number' || !Number.isFinite(m.base)) return 'base is not a number'
  return undefined
}

/** Quantile cut points per feature from up to `sample` rows (NaN skipped; 10 000 rows place 63 cuts well). */
function quantileCuts(set: LabelledRows, bins: number, rng: Rng, sample = 10_000): Float64Array[] {
  const n = set.size
  const F = set.width
  const take = Math.min(n, sample)
  // The sampled rows copied once, row by row, into one column per feature.
  const cols = new Float64Array(take * F)
  for (let i = 0; i < take; i++) {
    const r = take === n ? i : Math.floor(rng.next() * n)
    const o = r * F
    for (let f = 0; f < F; f++) cols[f * take + i] = set.x[o + f]!
  }
  const cuts: Float64Array[] = []
  for (let f = 0; f < F; f++) {
    const col = cols.subarray(f * take, (f + 1) * take)
    let k = 0
    for (let i = 0; i < take; i++) if (!Number.isNaN(col[i]!)) col[k++] = col[i]!
    const sorted = col.subarray(0, k).sort()
    const out: number[] = []
    for (let b = 1; b < bins; b++) {
      if (!k) break
      const c = sorted[Math.min(k - 1, Math.floor((b * k) / bins))]!
      if (c !== out.at(-1) && c < sorted[k - 1]!) out.push(c)
    }
    cuts.push(Float64Array.from(out))
  }
  return cuts
}

/**
 * Bin of a value: 0 for NaN, else 1 + the number of cuts below it (v ≤ cuts[b-1] ⇔ bin ≤ b).
 * Branch-free: the cuts padded with +∞ to 2^k − 1 entries, so every search takes the same k
 * steps.
 */
function binBlock(padded: Float64Array, steps: number, v: number): number {
  if (Number.isNaN(v)) return 0
  let b = 0
  // The comparison as 0/1 arithmetic: no branch to mispredict on every step.
  for (let s = 1 << (steps - 1); s > 0; s >>= 1) b += s * ((padded[b + s - 1]! < v) as unknown as number)
  return b + 1
}

interface Split {
  gain: number
  feature: number
  /** Left: bins 1..bin (and 0 when missingLeft). */
  bin: number
  missingLeft: boolean
}

interface Leaf {
  rows: Uint32Array
  hist: Float64Array
  G: number
  H: number
  depth: number
  split: Split | null
  /** Where this leaf hangs: parent node index and side, or -1 for a root. */
  parent: number
  side: 0 | 1
}

/**
 * How many trees to keep: the most whose validation PR-AUC is within `plateau` of the best.
 * With few validation failures the curve is a wide, noisy plateau (C-MAPSS FD004: 15 held-out
 * engines, the first best at 15 trees and within 0.002 of it from 120 to 300): its first
 * maximum is a draw of the noise, and more shrunken trees on the plateau generalise better.
 */
export function keptTrees(
  history: readonly { trees: number; valPrAuc: number }[],
  best: { prAuc: number; trees: number },
  plateau: number,
): number {
  if (plateau <= 0) return best.trees
  let keep = best.trees
  for (const h of history) if (h.valPrAuc >= best.prAuc - plateau && h.trees > keep) keep = h.trees
  return keep
}

/** Trains boosted trees on a labelled set; early stopping on `val`'s PR-AUC plateau. */
export function trainGbdt(train: LabelledRows, val: LabelledRows, o: GbdtOptions = {}): GbdtTrainResult {
  const maxTrees = o.trees ?? 300
  const maxLeaves = Math.max(2, o.leaves ?? 15)
  const maxDepth = o.maxDepth ?? 8
  const eta = o.learningRate ?? 0.1
  const lambda = o.lambda ?? 1
  const minLeaf = o.minLeaf ?? 20
  const minHess = o.minHessian ?? 1e-3
  const subsample = o.subsample ?? 0.8
  const colsample = o.colsample ?? 0.5
  const nb = Math.min(255, Math.max(2, o.bins ?? 63))
  const patience = o.patience ?? 40
  const plateau = Math.max(0, o.plateau ?? 0.005)
  const evalEvery = o.evalEvery ?? 5
  const classWeight = o.classWeight ?? 'none'
  const rng = new Rng(o.seed ?? 1)
  const n = train.size
  const F = train.width
  const y = train.y
  // Row weights: the set's own (sampled negatives stand for more), then class balance.
  const w = Float64Array.from(train.weights().subarray(0, n))
  if (classWeight === 'balanced') {
    let wp = 0
    let wn = 0
    for (let i = 0; i < n; i++) {
      if (y[i]) wp += w[i]!
      else wn += w[i]!
    }
    const k = wp > 0 ? wn / wp : 1
    for (let i = 0; i < n; i++) if (y[i]) w[i]! *= k
  }
  // Normalise weights to mean 1 so minHessian and λ mean the same at any scale.
  let wsum = 0
  for (let i = 0; i < n; i++) wsum += w[i]!
  for (let i = 0; i < n; i++) w[i]! *= n / (wsum || 1)

  const cuts = quantileCuts(train, nb, rng)
  const B = nb + 1 // bin 0 = missing
  // Column-major: a histogram pass reads one feature's bins for a leaf's rows, in row order.
  const bins = new Uint8Array(n * F)
  const tx = train.x
  const steps = Math.ceil(Math.log2(nb + 1))
  const padded = cuts.map((c) => {
    const p = new Float64Array((1 << steps) - 1).fill(Number.POSITIVE_INFINITY)
    p.set(c)
    return p
  })
  for (let i0 = 0; i0 < n; i0 += 512) {
    const i1 = Math.min(n, i0 + 512) // a block of rows stays in cache while its columns are written
    for (let f = 0; f < F; f++) {
      const c = padded[f]!
      const col = f * n
      for (let i = i0; i < i1; i++) bins[col + i] = binBlock(c, steps, tx[i * F + f]!)
    }
  }

  let wp = 0
  let wt = 0
  for (let i = 0; i < n; i++) {
    wt += w[i]!
    if (y[i]) wp += w[i]!
  }
  const p0 = Math.min(1 - 1e-6, Math.max(1e-6, wp / (wt || 1)))
  const base = Math.log(p0 / (1 - p0))
  const margin = new Float64Array(n).fill(base)
  const g = new Float64Array(n)
  const h = new Float64Array(n)

  // Tree storage (all trees).
  const T = noTrees()
  const yVal = val.y.subarray(0, val.size)
  const wVal = val.weights()
  const valMargin = new Float64Array(val.size).fill(base)
  let best = { prAuc: -1, trees: 0 }
  const history: GbdtTrainResult['history'] = []
  const histSize = F * B * 3
  let feats = new Int32Array(F)

  // The leaf's gradients gathered once, then one feature at a time (its histogram stays in L1).
  let lg = new Float64Array(0)
  let lh = new Float64Array(0)
  const buildHist = (rows: Uint32Array, hist: Float64Array) => {
    hist.fill(0)
    const m = rows.length
    if (lg.length < m) {
      lg = new Float64Array(m)
      lh = new Float64Array(m)
    }
    for (let j = 0; j < m; j++) {
      lg[j] = g[rows[j]!]!
      lh[j] = h[rows[j]!]!
    }
    const G = lg
    const Hs = lh
    const bn = bins
    const fs = feats
    for (let k = 0; k < fs.length; k++) {
      const f = fs[k]!
      const col = f * n
      const off = f * B * 3
      for (let j = 0; j < m; j++) {
        const p = off + bn[col + rows[j]!]! * 3
        hist[p]! += G[j]!
        hist[p + 1]! += Hs[j]!
        hist[p + 2]! += 1
      }
    }
  }
  const score = (G: number, H: number) => (G * G) / (H + lambda)
  const bestSplit = (leaf: Leaf): Split | null => {
    if (leaf.depth >= maxDepth || leaf.rows.length < 2 * minLeaf) return null
    const { hist, G, H } = leaf
    const C = leaf.rows.length
    const parent = score(G, H)
    let bestS: Split | null = null
    for (let k = 0; k < feats.length; k++) {
      const f = feats[k]!
      const off = f * B * 3
      const gm = hist[off]!
      const hm = hist[off + 1]!
      const cm = hist[off + 2]!
      let gl = 0
      let hl = 0
      let cl = 0
      const last = cuts[f]!.length // bins 1..last+1; a split after bin b (b ≤ last)
      for (let b = 1; b <= last; b++) {
        const p = off + b * 3
        gl += hist[p]!
        hl += hist[p + 1]!
        cl += hist[p + 2]!
        for (let side = 0; side < 2; side++) {
          const GL = side ? gl + gm : gl
          const HL = side ? hl + hm : hl
          const CL = side ? cl + cm : cl
          const CR = C - CL
          const HR = H - HL
          if (CL < minLeaf || CR < minLeaf || HL < minHess || HR < minHess) continue
          const gain = score(GL, HL) + score(G - GL, HR) - parent
          if (gain > 1e-9 && (!bestS || gain > bestS.gain))
            bestS = { gain, feature: f, bin: b, missingLeft: side === 1 }
          if (cm === 0) break // no missing values: the two sides are the same split
        }
      }
    }
    return bestS
  }

  let trees = 0
  for (trees = 1; trees <= maxTrees; trees++) {
    for (let i = 0; i < n; i++) {
      const p = sigmoid(margin[i]!)
      g[i] = w[i]! * (p - y[i]!)
      h[i] = Math.max(1e-12, w[i]! * p * (1 - p))
    }
    // Rows and features of this tree.
    const picked: number[] = []
    for (let i = 0; i < n; i++) if (subsample >= 1 || rng.next() < subsample) picked.push(i)
    const fl: number[] = []
    for (let f = 0; f < F; f++) if (colsample >= 1 || rng.next() < colsample) fl.push(f)
    if (!fl.length) fl.push(Math.floor(rng.next() * F))
    feats = Int32Array.from(fl)
    const rootRows = Uint32Array.from(picked)
    const root: Leaf = {
      rows: rootRows,
      hist: new Float64Array(histSize),
      G: 0,
      H: 0,
      depth: 0,
      split: null,
      parent: -1,
      side: 0,
    }
    buildHist(rootRows, root.hist)
    for (const i of rootRows) {
      root.G += g[i]!
      root.H += h[i]!
    }
    root.split = bestSplit(root)
    const leaves: Leaf[] = [root]
    const nodeBase = T.feature.length
    let nodes = 0
    const attach = (parent: number, side: 0 | 1, ref: number) => {
      if (parent < 0) T.roots.push(ref)
      else (side === 0 ? T.left : T.right)[parent] = ref
    }
    while (leaves.length < maxLeaves) {
      let bi = -1
      for (let j = 0; j < leaves.length; j++)
        if (leaves[j]!.split && (bi < 0 || leaves[j]!.split!.gain > leaves[bi]!.split!.gain)) bi = j
      if (bi < 0) break
      const leaf = leaves[bi]!
      const s = leaf.split!
      // The leaf becomes a node.
      const node = nodeBase + nodes++
      T.feature.push(s.feature)
      T.threshold.push(cuts[s.feature]![s.bin - 1]!)
      T.missingLeft.push(s.missingLeft ? 1 : 0)
      T.left.push(0)
      T.right.push(0)
      T.cover.push(leaf.rows.length)
      attach(leaf.parent, leaf.side, node)
      const L: number[] = []
      const R: number[] = []
      for (const i of leaf.rows) {
        const b = bins[s.feature * n + i]!
        if (b === 0 ? s.missingLeft : b <= s.bin) L.push(i)
        else R.push(i)
      }
      const mk = (rows: number[], side: 0 | 1): Leaf => {
        let G = 0
        let H = 0
        for (const i of rows) {
          G += g[i]!
          H += h[i]!
        }
        return {
          rows: Uint32Array.from(rows),
          hist: leaf.hist,
          G,
          H,
          depth: leaf.depth + 1,
          split: null,
          parent: node,
          side,
        }
      }
      const l = mk(L, 0)
      const r = mk(R, 1)
      const [small, large] = l.rows.length <= r.rows.length ? [l, r] : [r, l]
      small.hist = new Float64Array(histSize)
      buildHist(small.rows, small.hist)
      // The parent's histogram becomes the larger child's: parent − small.
      const ph = leaf.hist
      for (let k = 0; k < feats.length; k++) {
        const off = feats[k]! * B * 3
        for (let p = off; p < off + B * 3; p++) ph[p]! -= small.hist[p]!
      }
      large.hist = ph
      l.split = bestSplit(l)
      r.split = bestSplit(r)
      leaves.splice(bi, 1, l, r)
    }
    // Leaves: values, and the update of every training row's margin (not only the sampled).
    for (const leaf of leaves) {
      const idx = T.leafValue.length
      T.leafValue.push((-leaf.G / (leaf.H + lambda)) * eta)
      T.leafCover.push(leaf.rows.length)
      attach(leaf.parent, leaf.side, ~idx)
    }
    const tree = new GbdtModel({ v: 1, kind: 'gbdt', features: F, base: 0, ...T, roots: [T.roots.at(-1)!] })
    const delta = tree.margin(train.x, n)
    for (let i = 0; i < n; i++) margin[i]! += delta[i]!
    const dv = tree.margin(val.x, val.size)
    for (let i = 0; i < val.size; i++) valMargin[i]! += dv[i]!
    if (trees % evalEvery === 0 || trees === maxTrees) {
      const prAuc = curves(valMargin, yVal, wVal).prAuc
      const improved = prAuc > best.prAuc + 1e-6
      if (improved) best = { prAuc, trees }
      history.push({ trees, valPrAuc: prAuc })
      o.onProgress?.({ trees, valPrAuc: prAuc, best: improved })
      // Patience counts from the last count on the plateau (with plateau 0: from the best).
      if (trees - keptTrees(history, best, plateau) >= patience) break
    }
  }
  const full = new GbdtModel({ v: 1, kind: 'gbdt', features: F, base, ...T })
  const keep = keptTrees(history, best, plateau)
  const model = o.truncate !== false && keep && keep < full.trees ? full.truncated(keep) : full
  return {
    model,
    trees: Math.min(trees, maxTrees),
    bestTrees: model.trees,
    // The kept model's own figure (on the plateau, up to `plateau` below the best).
    valPrAuc: history.find((h) => h.trees === model.trees)?.valPrAuc ?? best.prAuc,
    history,
    classWeight,
  }
}

/** TreeSHAP's EXTEND: the path segment at `s` (of `depth` entries) grows by feature f. */
function extendPath(p: ShapScratch, s: number, depth: number, zero: number, one: number, f: number): void {
  const { pf, pz, po, pw, up, down, stride } = p
  pf[s + depth] = f
  pz[s + depth] = zero
  po[s + depth] = one
  pw[s + depth] = depth === 0 ? 1 : 0
  const r = depth * stride
  for (let i = depth - 1; i >= 0; i--) {
    pw[s + i + 1]! += one * pw[s + i]! * up[r + i]!
    pw[s + i] = zero * pw[s + i]! * down[r + i]!
  }
}

/** TreeSHAP's UNWIND: entry k leaves the path segment at `s`. */
function unwindPath(p: ShapScratch, s: number, depth: number, k: number): void {
  const { pf, pz, po, pw, down, invUp, invDown, stride } = p
  const one = po[s + k]!
  const zero = pz[s + k]!
  const r = depth * stride
  let next = pw[s + depth]!
  if (one !== 0) {
    const rOne = 1 / one
    for (let i = depth - 1; i >= 0; i--) {
      const t = pw[s + i]!
      pw[s + i] = next * invUp[r + i]! * rOne
      next = t - pw[s + i]! * zero * down[r + i]!
    }
  } else {
    const rZero = 1 / zero
    for (let i = depth - 1; i >= 0; i--) pw[s + i] = pw[s + i]! * invDown[r + i]! * rZero
  }
  for (let i = k; i < depth; i++) {
    pf[s + i] = pf[s + i + 1]!
    pz[s + i] = pz[s + i + 1]!
    po[s + i] = po[s + i + 1]!
  }
}

/** Σ pw (d+1)/(d−i) over the path: an entry with one = 0 unwound, times its zero fraction. */
function coldPathSum(p: ShapScratch, s: number, depth: number): number {
  const { pw, invDown, stride } = p
  const r = depth * stride
  let total = 0
  for (let i = depth - 1; i >= 0; i--) total += pw[s + i]! * invDown[r + i]!
  return total
}

/** The path's total weight with entry k unwound (without changing the path). */
function unwoundPathSum(p: ShapScratch, s: number, depth: number, k: number): number {
  const { pz, po, pw, down, invUp, invDown, stride } = p
  const one = po[s + k]!
  const zero = pz[s + k]!
  const r = depth * stride
  let next = pw[s + depth]!
  let total = 0
  if (one !== 0) {
    const rOne = 1 / one
    for (let i = depth - 1; i >= 0; i--) {
      const t = next * invUp[r + i]! * rOne
      total += t
      next = pw[s + i]! - t * zero * down[r + i]!
    }
  } else if (zero !== 0) {
    const rZero = 1 / zero
    for (let i = depth - 1; i >= 0; i--) total += pw[s + i]! * rZero * invDown[r + i]!
  }
  return total
}

interface ShapScratch {
  pf: Int32Array
  pz: Float64Array
  po: Float64Array
  pw: Float64Array
  /** Row d (of `stride`), position i: (i+1)/(d+1), (d−i)/(d+1), and their inverses. */
  up: Float64Array
  down: Float64Array
  invUp: Float64Array
  invDown: Float64Array
  stride: number
}

/**
 * TreeSHAP's buffers for trees up to `depth` splits deep (paths of up to depth + 2 entries, one
 * segment per recursion level), and the path weights' factors (i+1)/(d+1), (d−i)/(d+1) and
 * their inverses tabled per path length d and position i: divisions were most of the time.
 */
function shapScratch(depth: number): ShapScratch {
  const size = ((depth + 2) * (depth + 3)) / 2
  const stride = depth + 2
  const up = new Float64Array(stride * stride)
  const down = new Float64Array(stride * stride)
  const invUp = new Float64Array(stride * stride)
  const invDown = new Float64Array(stride * stride)
  for (let d = 0; d < stride; d++)
    for (let i = 0; i < d; i++) {
      up[d * stride + i] = (i + 1) / (d + 1)
      down[d * stride + i] = (d - i) / (d + 1)
      invUp[d * stride + i] = (d + 1) / (i + 1)
      invDown[d * stride + i] = (d + 1) / (d - i)
    }
  return {
    pf: new Int32Array(size),
    pz: new Float64Array(size),
    po: new Float64Array(size),
    pw: new Float64Array(size),
    up,
    down,
    invUp,
    invDown,
    stride,
  }
}
