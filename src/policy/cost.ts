/**
 * The cost model (DESIGN.md section 6): with unplanned outage time T_u, planned-action
 * downtime T_m, action success probability s and false-alarm cost T_fp, an action only pays
 * when precision exceeds T_fp / (T_fp + s·(T_u − T_m)). Training records it with the model;
 * the policy and evaluation read the same numbers.
 */

export interface CostModel {
  /** Unplanned outage time T_u, planned-action downtime T_m, false-alarm cost T_fp (same unit). */
  unplanned: number
  planned: number
  falseAlarm: number
  /** Action success probability s. */
  success: number
  /** T_fp / (T_fp + s·(T_u − T_m)): an action pays above this precision. */
  minPrecision: number
}

/** Completes a cost model with the precision above which an action pays (1: never pays). */
export function costModelOf(c: Omit<CostModel, 'minPrecision'>): CostModel {
  const gain = c.success * (c.unplanned - c.planned)
  return { ...c, minPrecision: gain > 0 ? c.falseAlarm / (c.falseAlarm + gain) : 1 }
}
