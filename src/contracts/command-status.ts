import { type Static, Type } from '@sinclair/typebox'
import { badTime, createDecoder, encodeJson, HostSchema, keyMismatch, TimestampSchema, toEpochMs } from './common.js'

export const CommandStatuses = ['accepted', 'rejected', 'succeeded', 'failed', 'expired'] as const
export type CommandStatusKind = (typeof CommandStatuses)[number]

/**
 * CommandStatusV1 on `preempt.command-status.v1`, Kafka key = host. Written by actuators.
 *
 *   {"v":1,"command_id":"c-1b2c…","host":"web-042","status":"succeeded","ts":…,"detail":"drained"}
 */
export const CommandStatusV1Schema = Type.Object(
  {
    v: Type.Literal(1),
    command_id: Type.String({ minLength: 1, maxLength: 128 }),
    host: HostSchema,
    status: Type.Union(CommandStatuses.map((s) => Type.Literal(s))),
    ts: TimestampSchema,
    detail: Type.Optional(Type.String({ maxLength: 4096 })),
  },
  { additionalProperties: false, $id: 'CommandStatusV1' },
)
export type CommandStatusV1 = Static<typeof CommandStatusV1Schema>

export interface CommandStatus {
  commandId: string
  host: string
  status: CommandStatusKind
  ts: number
  detail?: string
}

export const decodeCommandStatus = createDecoder({
  contract: 'CommandStatusV1',
  schema: CommandStatusV1Schema,
  refine: (w, ctx) => {
    const bad = keyMismatch(w.host, ctx)
    if (bad) return bad
    const ts = toEpochMs(w.ts)
    if (ts === undefined) return badTime('/ts')
    const value: CommandStatus = { commandId: w.command_id, host: w.host, status: w.status, ts }
    if (w.detail !== undefined) value.detail = w.detail
    return { value }
  },
})

/** The wire form of a status. */
export function commandStatusWire(s: CommandStatus): CommandStatusV1 {
  const wire: CommandStatusV1 = { v: 1, command_id: s.commandId, host: s.host, status: s.status, ts: s.ts }
  if (s.detail !== undefined) wire.detail = s.detail
  return wire
}

export function encodeCommandStatus(s: CommandStatus): Buffer {
  return encodeJson(commandStatusWire(s))
}
