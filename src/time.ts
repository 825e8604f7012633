/**
 * Durations and time units shared by the CLI, the CSV reader, the simulator and the model.
 * `--horizon 30m` is an explicit duration; a bare number (`--horizon 30`) is read in the
 * data's time unit (ms, s, or step for dimensionless cycles).
 */
export const TimeUnits = ['ms', 's', 'step'] as const
export type TimeUnit = (typeof TimeUnits)[number]

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}

/** Milliseconds (or steps) one unit of `unit` is worth on the internal time axis. */
export function unitScale(unit: TimeUnit): number {
  return unit === 's' ? 1000 : 1
}

/**
 * Parses a duration to the internal time axis: milliseconds for ms/s data, steps for step
 * data. `30m`, `1.5h`, `2d`, `500ms`; a bare number is in `unit`. Units other than a bare
 * number are refused for step data (a cycle has no length in minutes).
 */
export function parseDuration(text: string, unit: TimeUnit = 'ms'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  if (!m) throw new RangeError(`"${text}" is not a duration: use e.g. 30m, 2h, 7d, or a bare number`)
  const n = Number(m[1])
  const suffix = (m[2] ?? '').toLowerCase()
  if (!suffix || suffix === 'step' || suffix === 'steps') {
    if (suffix && unit !== 'step') throw new RangeError(`"${text}": steps only apply to --time-unit step`)
    return n * unitScale(unit)
  }
  const scale = UNIT_MS[suffix]
  if (scale === undefined) throw new RangeError(`"${text}": unknown unit "${suffix}" (ms, s, m, h, d, w)`)
  if (unit === 'step') throw new RangeError(`"${text}": step data takes a bare number of steps, not ${suffix}`)
  return n * scale
}

/** A span on a data's time axis as people read it: `30 steps`, or `1h` for ms data. */
export function formatSpan(x: number, unit: TimeUnit): string {
  return unit === 'step' ? `${x} steps` : formatDuration(x)
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms)
  const abs = Math.abs(ms)
  if (abs >= 86_400_000) return `${+(ms / 86_400_000).toFixed(2)}d`
  if (abs >= 3_600_000) return `${+(ms / 3_600_000).toFixed(2)}h`
  if (abs >= 60_000) return `${+(ms / 60_000).toFixed(2)}m`
  if (abs >= 1000) return `${+(ms / 1000).toFixed(2)}s`
  return `${Math.round(ms)}ms`
}
