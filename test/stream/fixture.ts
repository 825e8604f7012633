import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { CsvOptions } from '../../src/data/csv.js'
import { createLogger } from '../../src/log.js'
import { initBackend } from '../../src/model/backend.js'
import { trainFromCsv } from '../../src/pipelines/train.js'
import { runSimulationToCsv, simulatedCsv } from '../../src/sim/csv.js'
import { DEFAULT_SIM_PARAMS } from '../../src/sim/model.js'

const HOUR = 3_600_000

export interface TrainedFixture {
  dir: string
  fleet: string
  modelDir: string
  csv: CsvOptions
  rows: number
}

/**
 * A small simulated fleet (16 hosts, 36 h at 1-minute samples, ~35 k rows) and a model
 * trained on it for a few epochs: real enough to exercise serving end to end, quick to build.
 */
export async function trainedFixture(): Promise<TrainedFixture> {
  await initBackend()
  const dir = mkdtempSync(join(tmpdir(), 'preempt-stream-'))
  const fleet = join(dir, 'fleet')
  const sim = await runSimulationToCsv(
    { ...DEFAULT_SIM_PARAMS, hosts: 16, durationMs: 36 * HOUR, intervalMs: 60_000, mtbfMs: 12 * HOUR, seed: 4 },
    fleet,
  )
  const csv: CsvOptions = simulatedCsv(fleet)
  const modelDir = join(dir, 'model')
  await trainFromCsv({
    csv,
    labels: { failuresFile: join(fleet, 'failures.csv') },
    horizon: HOUR,
    lead: 2 * 60_000,
    out: modelDir,
    name: 'stream-it',
    kind: 'mlp',
    classWeight: 'balanced',
    split: 'entity',
    seed: 3,
    epochs: 2,
    targetPrecision: 0.9,
    costModel: { unplanned: 4 * HOUR, planned: 600_000, falseAlarm: 1_800_000, success: 0.9 },
    logger: createLogger({ level: 'silent' }),
  })
  return { dir, fleet, modelDir, csv, rows: sim.samples }
}
