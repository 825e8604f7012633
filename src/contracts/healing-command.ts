import { createHash } from 'node:crypto'
import { type Static, Type } from '@sinclair/typebox'
import {
  badTime,
  createDecoder,
  encodeJson,
  HostSchema,
  keyMismatch,
  ModelRefSchema,
  TimestampSchema,
  TopSchema,
  toEpochMs,
} from './common.js'

export const HealingActions = ['drain', 'restart', 'cordon', 'uncordon', 'alert'] as const
export type HealingAction = (typeof HealingActions)[number]

/**
 * HealingCommandV1 on `preempt.commands.v1` (the control topic), Kafka key = host.
 *
 *   {"v":1,"id":"c-1b2c…","host":"web-042","action":"drain","issued_at":…,"expires_at":…,
 *    "dry_run":false,"episode":3,
 *    "reason":{"score":0.91,"threshold":0.7,"model":{"name","version"},"prediction_ts":…,
 *              "top":[{"feature","contribution"}]}}
 *
 * id is deterministic (host + action + episode, see commandId), so a replay emits the same
 * id and an actuator can de-duplicate. An actuator ignores a command after expires_at,
 * which is never before issued_at.
 */
export const HealingCommandV1Schema = Type.Object(
  {
    v: Type.Literal(1),
    id: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9._:-]+$' }),
    host: HostSchema,
    action: Type.Union(HealingActions.map((a) => Type.Literal(a))),
    issued_at: TimestampSchema,
    expires_at: TimestampSchema,
    dry_run: Type.Boolean(),
    episode: Type.Integer({ minimum: 0 }),
    reason: Type.Object(
      {
        score: Type.Number({ minimum: 0, maximum: 1 }),
        threshold: Type.Number({ minimum: 0, maximum: 1 }),
        model: ModelRefSchema,
        prediction_ts: TimestampSchema,
        top: TopSchema,
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false, $id: 'HealingCommandV1' },
)
export type HealingCommandV1 = Static<typeof HealingCommandV1Schema>

export interface HealingCommand {
  id: string
  host: string
  action: HealingAction
  issuedAt: number
  expiresAt: number
  dryRun: boolean
  episode: number
  reason: {
    score: number
    threshold: number
    model: { name: string; version: string }
    predictionTs: number
    top: { feature: string; contribution: number }[]
  }
}

/** Deterministic command id: the same (host, action, episode) always gives the same id. */
export function commandId(host: string, action: HealingAction, episode: number): string {
  const h = createHash('sha256').update(`${host}\u0000${action}\u0000${episode}`).digest('hex')
  return `c-${h.slice(0, 32)}`
}

export const decodeHealingCommand = createDecoder({
  contract: 'HealingCommandV1',
  schema: HealingCommandV1Schema,
  refine: (w, ctx) => {
    const bad = keyMismatch(w.host, ctx)
    if (bad) return bad
    const issuedAt = toEpochMs(w.issued_at)
    if (issuedAt === undefined) return badTime('/issued_at')
    const expiresAt = toEpochMs(w.expires_at)
    if (expiresAt === undefined) return badTime('/expires_at')
    if (expiresAt < issuedAt) return { path: '/expires_at', message: '/expires_at: before issued_at' }
    const predictionTs = toEpochMs(w.reason.prediction_ts)
    if (predictionTs === undefined) return badTime('/reason/prediction_ts')
    return {
      value: {
        id: w.id,
        host: w.host,
        action: w.action,
        issuedAt,
        expiresAt,
        dryRun: w.dry_run,
        episode: w.episode,
        reason: { ...w.reason, predictionTs, top: w.reason.top },
      } satisfies HealingCommand,
    }
  },
})

/** The wire form of a command (what is on the control topic and what the API returns). */
export function healingCommandWire(c: HealingCommand): HealingCommandV1 {
  return {
    v: 1,
    id: c.id,
    host: c.host,
    action: c.action,
    issued_at: c.issuedAt,
    expires_at: c.expiresAt,
    dry_run: c.dryRun,
    episode: c.episode,
    reason: {
      score: c.reason.score,
      threshold: c.reason.threshold,
      model: c.reason.model,
      prediction_ts: c.reason.predictionTs,
      top: c.reason.top,
    },
  }
}

export function encodeHealingCommand(c: HealingCommand): Buffer {
  return encodeJson(healingCommandWire(c))
}
