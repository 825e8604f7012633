/**
 * The median time between consecutive samples of one entity: how often the data is sampled.
 * Training records it with the model; scoring compares (windows count samples, and a model
 * trained on 30 s samples reads 10 s data with three times the counts).
 */
import { median } from './stats.js'

export class SpacingSampler {
  private readonly last = new Map<string, number>()
  private readonly gaps: number[] = []

  constructor(private readonly keep = 20_000) {}

  add(entity: string, ts: number): void {
    const prev = this.last.get(entity)
    this.last.set(entity, ts)
    if (prev !== undefined && ts > prev && this.gaps.length < this.keep) this.gaps.push(ts - prev)
  }

  /** The median gap, or null with no two samples of one entity. */
  median(): number | null {
    return median(this.gaps)
  }
}

/** Whether two sampling intervals differ enough to matter (more than 1.5× apart). */
export function samplingDiffers(a: number, b: number): boolean {
  return a > 0 && b > 0 && Math.max(a, b) / Math.min(a, b) > 1.5
}
