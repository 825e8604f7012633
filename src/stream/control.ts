/**
 * Fleet-wide controls carried by the state topic, so every scorer instance obeys them at
 * once and a restarted one finds them: the kill switch (key `__kill_switch__`, partition 0).
 *
 *   {"v":1,"kind":"kill_switch","on":true,"ts":1764237600000}
 */
import type { Bus } from '../bus/index.js'

export const KILL_SWITCH_KEY = '__kill_switch__'

export function encodeKillSwitch(on: boolean, ts = Date.now()): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, kind: 'kill_switch', on, ts }))
}

/** The kill switch's value in a record, or undefined when the record is not one. */
export function decodeKillSwitch(key: string | null, value: Buffer | null): boolean | undefined {
  if (key !== KILL_SWITCH_KEY || !value) return undefined
  try {
    const w = JSON.parse(value.toString('utf8'))
    return w?.v === 1 && w.kind === 'kill_switch' && typeof w.on === 'boolean' ? w.on : undefined
  } catch {
    return undefined
  }
}

export async function setKillSwitch(bus: Bus, stateTopic: string, on: boolean): Promise<void> {
  const admin = await bus.admin()
  await admin.createTopics([{ topic: stateTopic, partitions: 6, compacted: true }])
  await admin.close()
  const producer = await bus.producer()
  try {
    await producer.send([{ topic: stateTopic, key: KILL_SWITCH_KEY, partition: 0, value: encodeKillSwitch(on) }])
  } finally {
    await producer.close()
  }
}

/** The newest kill-switch value on the state topic, or undefined when none was ever set. */
export async function readKillSwitch(bus: Bus, stateTopic: string): Promise<boolean | undefined> {
  let on: boolean | undefined
  await bus.readPartition(stateTopic, 0, { from: '0' }, (msgs) => {
    for (const m of msgs) on = decodeKillSwitch(m.key, m.value) ?? on
  })
  return on
}
