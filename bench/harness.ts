import { cpus, freemem, totalmem } from 'node:os'

/** One measured figure of a bench. */
export interface Figure {
  value: number
  unit: string
  /** Which direction is an improvement. */
  better: 'higher' | 'lower'
  /**
   * Name of another figure of this run to compare with (`bench.figure`): the report shows
   * value / baseline. Ratios within one run stay meaningful on a noisy machine.
   */
  baseline?: string
  /** A target the issue names, in the figure's unit; the report says whether it is met. */
  target?: number
  note?: string
}

export interface BenchContext {
  /** Kafka brokers for benches that need the real broker. */
  brokers: string[]
  /** Scale factor: PREEMPT_BENCH_SCALE (default 1); CI smoke runs may use less. */
  scale: number
  log: (msg: string) => void
}

export interface Bench {
  name: string
  description: string
  /** Benches run in this order (ascending); baselines come first. */
  order?: number
  run(ctx: BenchContext): Promise<Record<string, Figure>>
}

export function machine() {
  const c = cpus()
  return {
    cpu: c[0]?.model ?? 'unknown',
    cores: c.length,
    memGiB: +(totalmem() / 2 ** 30).toFixed(1),
    freeGiB: +(freemem() / 2 ** 30).toFixed(1),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  }
}

/** Runs fn, returns [result, seconds]. */
export async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = process.hrtime.bigint()
  const r = await fn()
  return [r, Number(process.hrtime.bigint() - t0) / 1e9]
}
