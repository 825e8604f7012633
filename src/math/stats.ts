/** The median of `xs` (the mean of the middle two for an even count), or null when empty. */
export function median(xs: readonly number[]): number | null {
  if (!xs.length) return null
  const s = Float64Array.from(xs).sort()
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}
