/**
 * The models the API knows: the folders of `api.modelsDir` that hold a `preempt.json`, plus
 * the active model wherever it was loaded from. Metadata comes from `preempt.json`, the
 * evaluation figures from `metrics.json` (written by `preempt train`) when present.
 */
import { readdir, readFile, stat } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { PreemptError } from '../errors.js'
import { alertRuleOf, pageRuleOf, type RuleThresholds } from '../policy/alert.js'

export interface ModelInfo {
  name: string
  dir: string
  version: string | null
  kind: string | null
  createdAt: string | null
  horizon_ms: number | null
  features: number | null
  /** The `alert` column's rule (one vector at the vector threshold; older models: their k in a row). */
  alert: { threshold: number; consecutive: number } | null
  /** The page rule the policy acts by. */
  page: { threshold: number; consecutive: number; within?: number } | null
  /** Figures of the held-out split when the folder has a metrics.json. */
  metrics: Record<string, unknown> | null
}

export const MODEL_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'

async function readJson(file: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>
  } catch {
    return null
  }
}

const isScalar = (v: unknown) => typeof v !== 'object' || v === null

/** The scalar entries of an object, and of its object entries one level down. */
function scalars(o: Record<string, unknown>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o))
    if (isScalar(v)) out[k] = v
    else if (depth > 0 && !Array.isArray(v)) out[k] = scalars(v as Record<string, unknown>, depth - 1)
  return out
}

/** The figures worth showing from metrics.json (the whole file is large: curves, histograms, lead times). */
function headline(m: Record<string, unknown> | null): Record<string, unknown> | null {
  return m ? scalars(m, 2) : null
}

export async function modelInfo(dir: string): Promise<ModelInfo | null> {
  const meta = await readJson(join(dir, 'preempt.json'))
  if (!meta) return null
  const th = meta['thresholds'] as RuleThresholds | undefined
  const names = meta['featureNames']
  return {
    name: typeof meta['name'] === 'string' ? meta['name'] : basename(dir),
    dir: resolve(dir),
    version: typeof meta['version'] === 'string' ? meta['version'] : null,
    kind: typeof meta['kind'] === 'string' ? meta['kind'] : null,
    createdAt: typeof meta['createdAt'] === 'string' ? meta['createdAt'] : null,
    horizon_ms: typeof meta['horizon'] === 'number' ? meta['horizon'] : null,
    features: Array.isArray(names) ? names.length : null,
    alert: typeof th?.alert === 'number' ? alertRuleOf(th) : null,
    page: typeof th?.alert === 'number' ? pageRuleOf(th) : null,
    metrics: headline(await readJson(join(dir, 'metrics.json'))),
  }
}

export class ModelRegistry {
  constructor(
    readonly modelsDir: string,
    /** Folders loaded from elsewhere (the serve --model folder), by name. */
    private readonly extra = new Map<string, string>(),
  ) {}

  /** Folder of the model being served (GET /v1/models marks it active). */
  activeDir: string | undefined

  remember(name: string, dir: string): void {
    this.extra.set(name, resolve(dir))
  }

  /** Marks the folder served from now on (and lists it under `name` when outside modelsDir). */
  activate(name: string, dir: string): void {
    const inside = resolve(join(this.modelsDir, name)) === resolve(dir)
    if (!inside) this.remember(name, dir)
    this.activeDir = resolve(dir)
  }

  /** Folder names under modelsDir with a preempt.json, and the remembered ones. */
  async list(): Promise<ModelInfo[]> {
    const dirs = new Map<string, string>()
    try {
      for (const e of await readdir(this.modelsDir, { withFileTypes: true }))
        if (e.isDirectory()) dirs.set(e.name, join(this.modelsDir, e.name))
    } catch {}
    const seen = new Set([...dirs.values()].map((d) => resolve(d)))
    for (const [n, d] of this.extra) if (!seen.has(d)) dirs.set(n, d)
    const out: ModelInfo[] = []
    for (const [n, d] of [...dirs].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const info = await modelInfo(d)
      if (info) out.push({ ...info, name: n })
    }
    return out
  }

  /** The folder of a model by name (folder name under modelsDir, or remembered); 404 otherwise. */
  async dirOf(name: string): Promise<string> {
    if (!new RegExp(MODEL_NAME_PATTERN).test(name) || name === '.' || name === '..')
      throw new PreemptError('PREEMPT_ERR_API_INPUT', `params/name: "${name}" is not a model name`, {
        details: { field: 'params/name' },
      })
    const known = this.extra.get(name)
    if (known) return known
    const dir = join(this.modelsDir, name)
    try {
      if ((await stat(join(dir, 'preempt.json'))).isFile()) return dir
    } catch {}
    throw new PreemptError(
      'PREEMPT_ERR_API_NOT_FOUND',
      `no model "${name}" in ${this.modelsDir} (GET /v1/models lists them)`,
    )
  }
}
