/**
 * Two decisions, each chosen on validation for its own question:
 *
 * - the `alert` of `preempt score`: one vector at or above the model's vector threshold —
 *   "fails within the horizon?", the question the model was trained on (threshold by F1, or
 *   by vector precision when asked);
 * - the page rule: a host pages (and the policy acts) once `consecutive` of its vectors in a
 *   row score at or above `threshold` (DESIGN.md section 7: "k consecutive high scores"). A
 *   single high vector is most often a blip — a deploy, a spike — while a failure's precursor
 *   keeps the score up. Training chooses both numbers together by what the pages cause on
 *   validation (or by page precision when asked); `evaluate`'s event figures, the backtest
 *   and the streaming scorer apply it. A rule may also ask the time-to-failure head: with
 *   `within`, a vector counts as high only when the head's median time to failure is at most
 *   that long — "fails soon", not "fails someday" (a page more than a horizon early is false).
 */

export interface AlertRule {
  threshold: number
  /** Vectors in a row at or above the threshold before an alert (1: every high vector). */
  consecutive: number
  /**
   * Only vectors whose median time to failure (the hazard head's, data's time axis; NaN or
   * null: later than it can tell) is at most this count as high. Absent: the score alone.
   */
  within?: number | undefined
}

/** What a model's metadata holds of both rules. */
export interface RuleThresholds {
  alert: number
  alertConsecutive?: number
  page?: { threshold: number; consecutive: number; within?: number | undefined }
}

/**
 * The `alert` column's rule: every vector at or above the vector threshold. Models from
 * before the page rule was its own (no `page`) alerted by their page rule: they keep it.
 */
export function alertRuleOf(thresholds: RuleThresholds): AlertRule {
  return { threshold: thresholds.alert, consecutive: thresholds.page ? 1 : (thresholds.alertConsecutive ?? 1) }
}

/** The page rule the policy acts by (older models: their alert rule, `alertConsecutive` in a row). */
export function pageRuleOf(thresholds: RuleThresholds): AlertRule {
  const p = thresholds.page
  if (!p) return alertRuleOf(thresholds)
  return { threshold: p.threshold, consecutive: p.consecutive, ...(p.within !== undefined && { within: p.within }) }
}

/** The rule as people read it; `span` writes `within` on the data's time axis (default: a bare number). */
export function describeRule(rule: AlertRule, digits = 4, span: (x: number) => string = String): string {
  const thr = rule.threshold.toFixed(digits)
  const base = rule.consecutive > 1 ? `${rule.consecutive} vectors in a row ≥ ${thr}` : `score ≥ ${thr}`
  return rule.within === undefined ? base : `${base} with time to failure ≤ ${span(rule.within)}`
}

/**
 * Whether a vector counts as high under the rule: its score at or above the threshold and,
 * for a rule with `within`, its median time to failure at most that (NaN, null or absent:
 * later than the head can tell — not high).
 */
export function isHigh(rule: AlertRule, score: number, ttf?: number | null): boolean {
  if (!(score >= rule.threshold)) return false
  return rule.within === undefined || (ttf != null && ttf <= rule.within)
}

/** The rule's one step: the run of high scores after this score (0 when it is below the threshold). */
export function nextRun(run: number, score: number, threshold: number): number {
  return score >= threshold ? run + 1 : 0
}

/** Per-entity run lengths of high scores, fed vectors in each entity's emission order. */
export class AlertTracker {
  private readonly runs = new Map<string, number>()

  constructor(readonly rule: AlertRule) {}

  /** Whether this vector alerts (`ttf`: its median time to failure, for a rule with `within`). */
  observe(entity: string, score: number, ttf?: number | null): boolean {
    const run = isHigh(this.rule, score, ttf) ? (this.runs.get(entity) ?? 0) + 1 : 0
    this.runs.set(entity, run)
    return run >= this.rule.consecutive
  }

  /** Forget an entity's run (a new life after a failure, or its partition moved away). */
  reset(entity: string): void {
    this.runs.delete(entity)
  }
}
