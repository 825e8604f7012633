/**
 * Model artifact `models/<name>/`: the model itself — tfjs `model.json` + `weights.bin` for
 * the networks, `trees.json` for gradient-boosted trees — and `preempt.json`
 * (ModelMetadataV1: everything needed to turn samples into a calibrated score again).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PreemptError } from '../errors.js'
import { type FeatureSpecV1, featureCount } from '../features/spec.js'
import type { CostModel } from '../policy/cost.js'
import type { TimeUnit } from '../time.js'

import { tf } from './backend.js'
import { GbdtModel, gbdtJsonProblem } from './gbdt.js'
import { type HazardJson, HazardModel, hazardJsonProblem } from './hazard.js'
import { type Calibration, type ModelKind, ModelKinds, type Normalization } from './mlp.js'

export interface ModelMetadataV1 {
  /**
   * 1; 2 when the feature spec reads metrics per operating regime (`featureSpec.regimes`); 3
   * when the page rule is gated on the time to failure (`thresholds.page.within`): a preempt
   * that predates either would score or page with such a model differently without a word,
   * so it must refuse it as "written by a newer preempt" instead. Set on every save
   * (`metadataVersion`).
   */
  v: 1 | 2 | 3
  name: string
  version: string
  createdAt: string
  kind: ModelKind
  featureSpec: FeatureSpecV1
  featureNames: string[]
  normalization: Normalization
  calibration: Calibration
  /** Prediction horizon and lead, on the data's time axis (ms or steps). */
  horizon: number
  lead: number
  timeUnit: TimeUnit
  thresholds: {
    /** Threshold of the `alert` column of `preempt score` ("fails within the horizon?", per vector). */
    alert: number
    /** Older models only (no `page`): vectors of a host in a row at or above `alert` before it alerts. */
    alertConsecutive?: number
    /** How `alert` was chosen. */
    alertRule: string
    /**
     * The page rule the policy pages and acts by: `consecutive` vectors of a host in a row at or
     * above `threshold`, chosen on validation by what it causes (`outcome`: net saving under
     * the cost model), by page precision (`precision`), by the closed-loop backtest on a
     * validation fleet (`backtest`, `preempt tune --by backtest`), or the vector threshold when
     * validation had no failure (`vector`). Absent in older models: `alert` × `alertConsecutive`.
     */
    page?: {
      threshold: number
      consecutive: number
      /**
       * Only vectors whose median time to failure (the hazard head's; data's time axis) is at
       * most this count toward the rule. Absent: the score alone (every model before it).
       */
      within?: number
      chosenBy: 'outcome' | 'precision' | 'backtest' | 'vector'
      rule: string
    }
    targetPrecision: number
    /** Threshold for actions (drain) from the cost model. */
    action: number
    costModel: CostModel
  }
  /**
   * The time-to-failure head (absent: none): hazard bins ending at `edges` (data's time axis),
   * its trees in `file`, and each bin's training figures.
   */
  hazard?: { edges: number[]; file: string; bins: unknown[]; seconds?: number }
  /** The naive static-threshold baseline chosen on validation (evaluate judges it, never re-chooses it). */
  baseline?: { metric: string; direction: 'above' | 'below'; threshold: number }
  /** The columns the data had (score reads the same). */
  csv: { format: 'wide' | 'long'; timeCol: string; entityCol: string; timeUnit: TimeUnit; metrics: string[] }
  droppedConstant: string[]
  backend: string
  training: Record<string, unknown>
  /** interval: median time between an entity's samples, on the data's time axis (absent in older models). */
  data: { files: string[]; fingerprint: string; rows: number; entities: number; interval?: number | null }
  versions: { preempt: string; tfjs: string; node: string }
}

/** A network (tfjs) or trees: what `meta.kind` says. */
export type TrainedModel = tf.LayersModel | GbdtModel

export interface LoadedModel {
  model: TrainedModel
  meta: ModelMetadataV1
  dir: string
  /** The time-to-failure head, when the model has one. */
  hazard?: HazardModel | undefined
}

export async function saveModel(
  dir: string,
  model: TrainedModel,
  meta: ModelMetadataV1,
  hazard?: HazardModel,
): Promise<void> {
  await mkdir(dir, { recursive: true })
  if (hazard) await writeFile(join(dir, meta.hazard?.file ?? 'hazard.json'), JSON.stringify(hazard.toJSON()))
  if (model instanceof GbdtModel) {
    await writeFile(join(dir, 'trees.json'), JSON.stringify(model.toJSON()))
    await saveMetadata(dir, meta)
    return
  }
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weightData = artifacts.weightData
      const bytes = Array.isArray(weightData)
        ? Buffer.concat(weightData.map((b) => Buffer.from(b)))
        : Buffer.from(weightData ?? new ArrayBuffer(0))
      await writeFile(join(dir, 'weights.bin'), bytes)
      const modelJson = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
      }
      await writeFile(join(dir, 'model.json'), JSON.stringify(modelJson))
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } }
    }),
  )
  await saveMetadata(dir, meta)
}

/** Writes preempt.json alone (e.g. after `preempt tune` re-chose the alert rule). */
/** The oldest metadata version that can read this model as written (see `ModelMetadataV1.v`). */
export function metadataVersion(meta: Pick<ModelMetadataV1, 'featureSpec' | 'thresholds'>): 1 | 2 | 3 {
  if (meta.thresholds.page?.within !== undefined) return 3
  return meta.featureSpec.regimes ? 2 : 1
}

export async function saveMetadata(dir: string, meta: ModelMetadataV1): Promise<void> {
  meta.v = metadataVersion(meta)
  await writeFile(join(dir, 'preempt.json'), `${JSON.stringify(meta, null, 1)}\n`)
}

export async function loadModel(dir: string): Promise<LoadedModel> {
  const [metaText] = await readArtifact(dir, ['preempt.json'])
  const meta = checkMetadata(dir, metaText!.toString('utf8'))
  const hazard = meta.hazard ? await loadHazard(dir, meta) : undefined
  const loaded = await (meta.kind === 'gbdt' ? loadTrees(dir, meta) : loadNetwork(dir, meta))
  return hazard ? { ...loaded, hazard } : loaded
}

async function loadHazard(dir: string, meta: ModelMetadataV1): Promise<HazardModel> {
  const file = meta.hazard!.file
  const [text] = await readArtifact(dir, [file])
  const json = parseArtifactJson(dir, file, text!)
  const problem = hazardJsonProblem(json, meta.featureNames.length)
  if (problem)
    throw new PreemptError(
      'PREEMPT_ERR_MODEL_ARTIFACT',
      `${dir}/${file}: ${problem}: the artifact is corrupt. Train it again or restore the folder.`,
    )
  return HazardModel.fromJSON(json as HazardJson, meta.horizon)
}

async function loadNetwork(dir: string, meta: ModelMetadataV1): Promise<LoadedModel> {
  const [modelText, weights] = await readArtifact(dir, ['model.json', 'weights.bin'])
  const mj = parseArtifactJson(dir, 'model.json', modelText!) as {
    modelTopology: object
    weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[]
  }
  const specs = Array.isArray(mj?.weightsManifest) ? mj.weightsManifest.flatMap((g) => g.weights ?? []) : []
  const want = specs.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1) * 4, 0)
  if (!mj?.modelTopology || specs.length === 0 || want !== weights!.byteLength)
    throw new PreemptError(
      'PREEMPT_ERR_MODEL_ARTIFACT',
      `${dir}: model.json and weights.bin do not match (weights.bin has ${weights!.byteLength} bytes, the manifest wants ${want}): the artifact is corrupt or truncated. Train it again or restore the folder.`,
    )
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: mj.modelTopology,
      weightSpecs: specs,
      weightData: weights!.buffer.slice(weights!.byteOffset, weights!.byteOffset + weights!.byteLength),
    }),
  )
  return { model, meta, dir }
}

/** The artifact's files, or the catalogue error that says this is not a model folder. */
async function readArtifact(dir: string, files: string[]): Promise<Buffer[]> {
  try {
    return await Promise.all(files.map((f) => readFile(join(dir, f))))
  } catch (err) {
    throw new PreemptError(
      'PREEMPT_ERR_MODEL_ARTIFACT',
      `${dir}: not a preempt model (${(err as Error).message}). Point --model at a folder written by \`preempt train\`.`,
      { cause: err },
    )
  }
}

function parseArtifactJson(dir: string, file: string, bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'))
  } catch (err) {
    throw new PreemptError(
      'PREEMPT_ERR_MODEL_ARTIFACT',
      `${dir}/${file} is not JSON (${(err as Error).message}): the artifact is corrupt. Train it again or restore the folder.`,
      { cause: err },
    )
  }
}

async function loadTrees(dir: string, meta: ModelMetadataV1): Promise<LoadedModel> {
  const [treesText] = await readArtifact(dir, ['trees.json'])
  const json = parseArtifactJson(dir, 'trees.json', treesText!)
  const problem = gbdtJsonProblem(json, meta.featureNames.length)
  if (problem)
    throw new PreemptError(
      'PREEMPT_ERR_MODEL_ARTIFACT',
      `${dir}/trees.json: ${problem}: the artifact is corrupt. Train it again or restore the folder.`,
    )
  return { model: new GbdtModel(json as ConstructorParameters<typeof GbdtModel>[0]), meta, dir }
}

const isNums = (x: unknown, n?: number) =>
  Array.isArray(x) && (n === undefined || x.length === n) && x.every((v) => typeof v === 'number')

/**
 * preempt.json, checked before anything is built from it: a truncated or hand-edited file,
 * or one written by a newer preempt, is refused with what is wrong and the fix.
 */
function checkMetadata(dir: string, text: string): ModelMetadataV1 {
  const bad = (why: string) =>
    new PreemptError(
      'PREEMPT_ERR_MODEL_ARTIFACT',
      `${dir}/preempt.json: ${why}. Train the model again or restore the folder.`,
    )
  let m: ModelMetadataV1
  try {
    m = JSON.parse(text)
  } catch (err) {
    throw bad(`not JSON (${(err as Error).message})`)
  }
  if (typeof m !== 'object' || m === null) throw bad('not an object')
  if (typeof m.v === 'number' && m.v > 3)
    throw new PreemptError(
      'PREEMPT_ERR_MODEL_ARTIFACT',
      `${dir}/preempt.json: written by a newer preempt (metadata v${m.v}; this one reads v1 to v3). Upgrade preempt to load it.`,
    )
  if (m.v !== 1 && m.v !== 2 && m.v !== 3) throw bad(`unknown metadata version ${JSON.stringify(m.v)}`)
  if (!ModelKinds.includes(m.kind)) throw bad(`unknown model kind ${JSON.stringify(m.kind)}`)
  const spec = m.featureSpec
  if (!spec || !Array.isArray(spec.metrics) || !isNums(spec.windows) || typeof spec.timeUnit !== 'string')
    throw bad('featureSpec is missing or incomplete')
  if (spec.regimes !== undefined && m.v < 2) throw bad('featureSpec.regimes needs metadata v2 or later')
  if (spec.regimes !== undefined) {
    const r = spec.regimes
    const M = spec.metrics.length
    const K = Array.isArray(r?.centers) ? r.centers.length : 0
    if (
      !Array.isArray(r?.by) ||
      !r.by.every((b: unknown) => typeof b === 'string' && spec.metrics.includes(b)) ||
      K < 2 ||
      !r.centers.every((c: unknown) => isNums(c, r.by.length)) ||
      !isNums(r.scale, r.by.length) ||
      !r.scale.every((x: number) => x > 0) ||
      !Array.isArray(r.mean) ||
      !Array.isArray(r.std) ||
      r.mean.length !== K ||
      r.std.length !== K ||
      !r.mean.every((row: unknown) => isNums(row, M)) ||
      !r.std.every((row: unknown) => isNums(row, M) && (row as number[]).every((x) => x > 0))
    )
      throw bad(
        'featureSpec.regimes must name settings among the metrics, and hold per regime a center, a mean and a positive std per metric',
      )
  }
  if (!Array.isArray(m.featureNames) || m.featureNames.length !== featureCount(spec))
    throw bad(`featureNames has ${m.featureNames?.length} names, the feature spec makes ${featureCount(spec)}`)
  const F = m.featureNames.length
  if (!isNums(m.normalization?.mean, F) || !isNums(m.normalization?.std, F))
    throw bad(`normalization must hold ${F} means and ${F} standard deviations`)
  if (typeof m.calibration?.a !== 'number' || typeof m.calibration?.b !== 'number') throw bad('calibration is missing')
  if (typeof m.thresholds?.alert !== 'number' || !(m.thresholds.alert >= 0 && m.thresholds.alert <= 1))
    throw bad('thresholds.alert must be a number from 0 to 1')
  const page = m.thresholds.page
  if (
    page !== undefined &&
    (typeof page?.threshold !== 'number' ||
      !(page.threshold >= 0 && page.threshold <= 1) ||
      !Number.isInteger(page.consecutive) ||
      page.consecutive < 1)
  )
    throw bad('thresholds.page must hold a threshold from 0 to 1 and a whole number of vectors in a row ≥ 1')
  if (page?.within !== undefined && !(typeof page.within === 'number' && page.within > 0))
    throw bad('thresholds.page.within must be a positive time to failure')
  if (page?.within !== undefined && m.v < 3) throw bad('thresholds.page.within needs metadata v3')
  if (page?.within !== undefined && m.hazard === undefined)
    throw bad('thresholds.page.within gates the page rule on the time-to-failure head, and the model has none')
  if (typeof m.horizon !== 'number' || !(m.horizon > 0)) throw bad('horizon must be a positive number')
  if (
    m.hazard !== undefined &&
    (!isNums(m.hazard?.edges) || typeof m.hazard.file !== 'string' || !/^[\w.-]+$/.test(m.hazard.file))
  )
    throw bad('hazard must name its file and hold its bin edges')
  return m
}
