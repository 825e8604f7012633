/**
 * Model artifact `models/<name>/`: tfjs `model.json` + `weights.bin`, and `preempt.json`
 * (ModelMetadataV1: everything needed to turn samples into a calibrated score again).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PreemptError } from '../errors.js'
import type { FeatureSpecV1 } from '../features/spec.js'
import type { CostModel } from '../policy/cost.js'
import type { TimeUnit } from '../time.js'

export type { CostModel } from '../policy/cost.js'

import { tf } from './backend.js'
import { type Calibration, type ModelKind, ModelKinds, type Normalization } from './mlp.js'

export interface ModelMetadataV1 {
  v: 1
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
    /** Threshold of the `alert` column of `preempt score`. */
    alert: number
    /** Vectors of a host in a row at or above `alert` before it alerts (absent: 1). */
    alertConsecutive?: number
    /** How it was chosen. */
    alertRule: string
    targetPrecision: number
    /** Threshold for actions (drain) from the cost model. */
    action: number
    costModel: CostModel
  }
  /** The columns the data had (score reads the same). */
  csv: { format: 'wide' | 'long'; timeCol: string; entityCol: string; timeUnit: TimeUnit; metrics: string[] }
  droppedConstant: string[]
  backend: string
  training: Record<string, unknown>
  data: { files: string[]; fingerprint: string; rows: number; entities: number }
  versions: { preempt: string; tfjs: string; node: string }
}

export interface LoadedModel {
  model: tf.LayersModel
  meta: ModelMetadataV1
  dir: string
}

export async function saveModel(dir: string, model: tf.LayersModel, meta: ModelMetadataV1): Promise<void> {
  await mkdir(dir, { recursive: true })
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
export async function saveMetadata(dir: string, meta: ModelMetadataV1): Promise<void> {
  await writeFile(join(dir, 'preempt.json'), `${JSON.stringify(meta, null, 1)}\n`)
}

export async function loadModel(dir: string): Promise<LoadedModel> {
  let metaText: string
  let modelText: string
  let weights: Buffer
  try {
    ;[metaText, modelText, weights] = await Promise.all([
      readFile(join(dir, 'preempt.json'), 'utf8'),
      readFile(join(dir, 'model.json'), 'utf8'),
      readFile(join(dir, 'weights.bin')),
    ])
  } catch (err) {
    throw new PreemptError(
      'PREEMPT_ERR_MODEL_ARTIFACT',
      `${dir}: not a preempt model (${(err as Error).message}). Point --model at a folder written by \`preempt train\`.`,
      { cause: err },
    )
  }
  const meta = JSON.parse(metaText) as ModelMetadataV1
  if (meta.v !== 1 || !ModelKinds.includes(meta.kind))
    throw new PreemptError(
      'PREEMPT_ERR_MODEL_ARTIFACT',
      `${dir}/preempt.json: unknown model metadata version ${meta.v}/${meta.kind}.`,
    )
  const mj = JSON.parse(modelText) as {
    modelTopology: object
    weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[]
  }
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: mj.modelTopology,
      weightSpecs: mj.weightsManifest.flatMap((g) => g.weights),
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength),
    }),
  )
  return { model, meta, dir }
}
