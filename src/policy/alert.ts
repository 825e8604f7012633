/**
 * The alert rule: a host alerts once `consecutive` of its vectors in a row score at or above
 * `threshold` (DESIGN.md section 7: "k consecutive high scores"). A single high vector is
 * most often a blip — a deploy, a spike — while a failure's precursor keeps the score up.
 * Training chooses both numbers together on validation pages; `score`, `evaluate` and the
 * streaming scorer apply the same rule.
 */

export interface AlertRule {
  threshold: number
  /** Vectors in a row at or above the threshold before an alert (1: every high vector). */
  consecutive: number
}

/** The rule stored with a model (artifacts from before `alertConsecutive` alert on every high vector). */
export function alertRuleOf(thresholds: { alert: number; alertConsecutive?: number }): AlertRule {
  return { threshold: thresholds.alert, consecutive: thresholds.alertConsecutive ?? 1 }
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
