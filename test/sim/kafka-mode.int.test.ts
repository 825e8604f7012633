import { describe, expect, it } from 'vitest'
import type { BusMessage } from '../../src/bus/index.js'
import {
  type CommandStatus,
  commandId,
  decodeCommandStatus,
  decodeFailureEvent,
  encodeHealingCommand,
  type HealingCommand,
} from '../../src/contracts/index.js'
import { createLogger } from '../../src/log.js'
import type { FleetSim } from '../../src/sim/engine.js'
import { runSimulationOnKafka } from '../../src/sim/kafka-mode.js'
import { DEFAULT_ACTUATOR_PARAMS, DEFAULT_SIM_PARAMS } from '../../src/sim/model.js'
import { createTestKafkaBus, eventually, uniqueName } from '../helpers/bus.js'

const HOUR = 3_600_000
const START = DEFAULT_SIM_PARAMS.startMs

describe('simulator, Kafka mode, against the real broker', () => {
  it('obeys commands from the control topic, answers with statuses, and the outcome shows it', async (ctx) => {
    const bus = createTestKafkaBus(ctx)
    const topics = {
      metrics: uniqueName('sim-metrics'),
      failures: uniqueName('sim-failures'),
      commands: uniqueName('sim-commands'),
      commandStatus: uniqueName('sim-status'),
    }
    bus.ownTopics.push(...Object.values(topics))
    let sim: FleetSim | undefined
    const run = runSimulationOnKafka({
      bus,
      topics,
      logger: createLogger({ level: 'silent' }),
      params: {
        ...DEFAULT_SIM_PARAMS,
        hosts: 6,
        durationMs: 12 * HOUR,
        mtbfMs: 1e15,
        gapsPerDay: 0,
        seed: 3,
      },
      actuator: { ...DEFAULT_ACTUATOR_PARAMS, actionFailRate: 0 },
      speed: (12 * HOUR) / 20_000,
      onStart: (s) => {
        sim = s
        s.plantFailure(s.hosts[0]!.name, 'disk_degradation', START + 7 * HOUR, 3 * HOUR)
        s.plantFailure(s.hosts[1]!.name, 'memory_leak', START + 9 * HOUR, 3 * HOUR)
      },
    })
    await eventually(() => sim !== undefined && sim.now >= START + 4 * HOUR, 'the simulation to reach 4 h', 60_000)
    const now = sim!.now
    const host0 = sim!.hosts[0]!.name
    const drain: HealingCommand = {
      id: commandId(host0, 'drain', 1),
      host: host0,
      action: 'drain',
      issuedAt: now,
      expiresAt: now + HOUR,
      dryRun: false,
      episode: 1,
      reason: { score: 0.93, threshold: 0.7, model: { name: 'it', version: '1' }, predictionTs: now, top: [] },
    }
    const stale: HealingCommand = {
      ...drain,
      id: 'c-stale',
      host: sim!.hosts[2]!.name,
      issuedAt: now - 2 * HOUR,
      expiresAt: now - HOUR,
    }
    const producer = await bus.producer()
    await producer.send(
      [drain, drain, stale].map((c) => ({ topic: topics.commands, key: c.host, value: encodeHealingCommand(c) })),
    )

    const statuses: CommandStatus[] = []
    const failures: BusMessage[] = []
    const watcher = await bus.consumer({
      groupId: uniqueName('g-watch'),
      topics: [topics.commandStatus, topics.failures],
      fromBeginning: true,
    })
    await watcher.run(async (batch) => {
      for (const m of batch.messages) {
        if (batch.topic === topics.failures) failures.push(m)
        else {
          const d = decodeCommandStatus(m.value!, { key: m.key })
          if (!d.ok) throw new Error(`invalid CommandStatusV1 at offset ${m.offset}: ${d.error.message}`)
          statuses.push(d.value)
        }
      }
    })
    const result = await run
    await eventually(() => failures.length >= 2, 'two failure events')
    await eventually(
      () => statuses.some((s) => s.commandId === drain.id && s.status === 'succeeded'),
      'drain succeeded',
    )

    expect(statuses.filter((s) => s.commandId === drain.id).map((s) => s.status)).toEqual(['accepted', 'succeeded'])
    expect(statuses.filter((s) => s.commandId === 'c-stale').map((s) => s.status)).toEqual(['expired'])
    const events = failures.map((m) => decodeFailureEvent(m.value!, { key: m.key }))
    expect(events.map((e) => e.ok && e.value.kind).sort()).toEqual(['disk', 'memory'])

    expect(result.commandsReceived).toBe(3)
    expect(result.commandsInvalid).toBe(0)
    expect(result.sim.duplicatesIgnored).toBe(1)
    expect(result.outcome.failures.total).toBe(2)
    expect(result.outcome.outagesAverted).toBe(1)
    expect(result.outcome.outages).toBe(1)
    expect(result.sim.failures.find((f) => f.host === host0)).toMatchObject({ averted: true, commandId: drain.id })
    const admin = await bus.admin()
    const published = (await admin.endOffsets(topics.metrics)).reduce((s, p) => s + Number(p.high), 0)
    expect(published).toBe(result.samples)
    expect(result.samples).toBeGreaterThan(6 * 12 * 360 * 0.9)
  })
})
