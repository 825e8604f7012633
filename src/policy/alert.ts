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
 *   and the streaming scorer apply it.
 */

export interface AlertRule {
  threshold: number
  /** Vectors in a row at or above the threshold before an alert (1: every high vector). */
  consecutive: number
}

/** What a model's metadata holds of both rules. */
export interface RuleThresholds {
  alert: number
  alertConsecutive?: number
  page?: { threshold: number; consecutive: number }
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
  return p ? { threshold: p.threshold, consecutive: p.consecutive } : alertRuleOf(thresholds)
}

export function describeRule(rule: AlertRule, digits = 4): string {
  const thr = rule.threshold.toFixed(digits)
  return rule.consecutive > 1 ? `${rule.consecutive} vectors in a row ≥ ${thr}` : `score ≥ ${thr}`
}

/** The rule's one step: the run of high scores after this score (0 when it is below the threshold). */
export function nextRun(run: number, score: number, threshold: number): number {
  return score >= threshold ? run + 1 : 0
}

/** Per-entity run lengths of high scores, fed vectors in each entity's emission order. */
export class AlertTracker {
  private readonly runs = new Map<string, number>()

  constructor(readonly rule: AlertRule) {}

  /** Whether this vector alerts. */
  observe(entity: string, score: number): boolean {
    const run = nextRun(this.runs.get(entity) ?? 0, score, this.rule.threshold)
    this.runs.set(entity, run)
    return run >= this.rule.consecutive
  }

  /** Forget an entity's run (a new life after a failure, or its partition moved away). */
  reset(entity: string): void {
    this.runs.delete(entity)
  }
}
