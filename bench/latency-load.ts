/**
 * The serve bench's load generator and reader, in a process of its own (as producers and
 * consumers of a real deployment run elsewhere): it publishes MetricSampleV1 at a fixed rate
 * to the scorer's input topic and times each sample until its prediction is committed and
 * seen by a read_committed reader. One clock (this process's) stamps both ends.
 *
 *   node --import tsx bench/latency-load.ts '{"brokers":[…],"input":…,"predictions":…,"rate":…,"warmup":15,"seconds":15}'
 *
 * Prints one JSON line on stdout: {"sent","expected","latencies":[ms …]}.
 */
import { randomUUID } from 'node:crypto'
import { createKafkaBus, type OutgoingMessage } from '../src/bus/index.js'
import { decodePrediction } from '../src/contracts/index.js'
import { createLogger } from '../src/log.js'
import { fleetSamples } from './fleet-samples.js'

export interface LoadArgs {
  brokers: string[]
  input: string
  predictions: string
  hosts: number
  rate: number
  /** Seconds sent before timing starts (sent, scored, not timed). */
  warmup: number
  /** Seconds timed. */
  seconds: number
  /** Longest wait for the last predictions, s. */
  drain: number
}

export interface LoadResult {
  sent: number
  expected: number
  latencies: number[]
}

async function main(a: LoadArgs): Promise<LoadResult> {
  const bus = createKafkaBus({ brokers: a.brokers, logger: createLogger({ level: 'silent' }) })
  const sentAt = new Map<string, number>()
  const latencies: number[] = []
  const reader = await bus.consumer({
    groupId: `bench-lat-${randomUUID()}`,
    topics: [a.predictions],
    fromBeginning: true,
  })
  await reader.run(async (b) => {
    const now = performance.now()
    for (const m of b.messages) {
      const d = decodePrediction(m.value ?? new Uint8Array())
      if (!d.ok) continue
      const t = sentAt.get(`${d.value.host}@${d.value.ts}`)
      if (t !== undefined) latencies.push(now - t)
    }
  })
  const producer = await bus.producer()
  const total = Math.round(a.rate * (a.warmup + a.seconds))
  const untimed = Math.round(a.rate * a.warmup)
  // A simulated fleet's samples (healthy hosts, precursors and failures as the simulator makes
  // them), as a deployment would send: a model sees the kind of data it was trained on, not a
  // constant it has never seen (tree models scored such samples hot on every host: a storm).
  const nextSample = fleetSamples(a.input, a.hosts, 91)
  const t0 = performance.now()
  let sent = 0
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * a.rate))
    const msgs: OutgoingMessage[] = []
    for (; sent < due; sent++) {
      const m = nextSample()
      msgs.push(m)
      if (sent >= untimed) sentAt.set(`${m.key}@${m.timestamp}`, performance.now())
    }
    if (msgs.length) await producer.send(msgs)
    await new Promise((r) => setTimeout(r, 5))
  }
  const expected = total - untimed
  const until = performance.now() + a.drain * 1000
  while (latencies.length < expected && performance.now() < until) await new Promise((r) => setTimeout(r, 50))
  const within = (p: Promise<unknown>) => Promise.race([p, new Promise((r) => setTimeout(r, 10_000))])
  await within(producer.close())
  await within(reader.close())
  await within(bus.close())
  return { sent, expected, latencies }
}

const arg = process.argv[2]
if (arg) {
  main(JSON.parse(arg) as LoadArgs).then(
    (r) => {
      // Exit once the line is out: a pipe write is asynchronous, and exit() would cut it.
      process.stdout.write(`${JSON.stringify(r)}\n`, () => process.exit(0))
    },
    (err: unknown) => {
      process.stderr.write(`latency-load: ${(err as Error).stack ?? err}\n`)
      process.exit(1)
    },
  )
}
