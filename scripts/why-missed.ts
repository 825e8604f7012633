/**
 * Diagnostic: a backtest whose misses of one cause are shown with their hosts' scores,
 * decisions and actions (what the scorer saw and did between onset and failure).
 *   npx tsx scripts/why-missed.ts --model M --seed 123 --hosts 200 --days 4 [--cause never_acted]
 */
import { parseArgs } from 'node:util'
import { MemoryCluster } from '../src/bus/memory.js'
import { decodePrediction } from '../src/contracts/index.js'
import { runBacktest } from '../src/eval/backtest.js'
import { createLogger } from '../src/log.js'
import { loadModel } from '../src/model/artifact.js'
import { initBackend } from '../src/model/backend.js'
import { type GuardDecision, PolicyEngine } from '../src/policy/engine.js'
import { DEFAULT_SIM_PARAMS } from '../src/sim/model.js'
import { streamModelOf } from '../src/stream/model.js'

const { values: a } = parseArgs({
  options: {
    model: { type: 'string' },
    seed: { type: 'string', default: '123' },
    hosts: { type: 'string', default: '200' },
    days: { type: 'string', default: '4' },
    cause: { type: 'string', default: 'never_acted' },
  },
})
await initBackend()
const model = streamModelOf(await loadModel(a.model!))
const scores = new Map<string, [number, number][]>()
const orig = MemoryCluster.prototype.trim
MemoryCluster.prototype.trim = function (topic, before) {
  if (topic.includes('predictions')) {
    const t = this.topics.get(topic)
    t?.partitions.forEach((log, p) => {
      const end = Math.min(before(p), log.length)
      for (let o = t.trimmed[p] ?? 0; o < end; o++) {
        const e = log[o] as { message?: { value?: Uint8Array } }
        if (!e?.message?.value) continue
        const d = decodePrediction(e.message.value)
        if (!d.ok) continue
        const list = scores.get(d.value.host) ?? []
        list.push([d.value.ts, d.value.score])
        scores.set(d.value.host, list)
      }
    })
  }
  return orig.call(this, topic, before)
}
const decided = new Map<string, GuardDecision[]>()
const proto = PolicyEngine.prototype as unknown as { record(d: GuardDecision): void }
const origRecord = proto.record
proto.record = function (d: GuardDecision) {
  const list = decided.get(d.host) ?? []
  list.push(d)
  decided.set(d.host, list)
  return origRecord.call(this, d)
}
const r = await runBacktest({
  model,
  params: {
    ...DEFAULT_SIM_PARAMS,
    hosts: Number(a.hosts),
    durationMs: Number(a.days) * 86_400_000,
    seed: Number(a.seed),
  },
  naive: false,
  log: createLogger({ level: 'silent' }),
})
const rule = model.rule
console.log(`rule ${rule.consecutive} in a row ≥ ${rule.threshold}`)
for (const m of r.withScorer.missed ?? []) {
  if (m.cause !== a.cause) continue
  const list = (scores.get(m.host) ?? []).filter(([ts]) => ts <= m.ts && ts >= m.ts - 4 * 3_600_000)
  let run = 0
  let best = 0
  let firstRun: number | undefined
  for (const [ts, s] of list) {
    run = s >= rule.threshold ? run + 1 : 0
    best = Math.max(best, run)
    if (run >= rule.consecutive && firstRun === undefined) firstRun = ts
  }
  const max = Math.max(0, ...list.map(([, s]) => s))
  const q = (h: number) => {
    const w = list.filter(([ts]) => ts >= m.ts - h * 3_600_000)
    return w.length ? Math.max(...w.map(([, s]) => s)).toFixed(3) : '-'
  }
  console.log(
    `\n${m.host} ${m.mode} at ${new Date(m.ts).toISOString()} (onset ${((m.ts - m.onset) / 60000).toFixed(0)} min before): ${list.length} scores in 4 h before, max ${max.toFixed(3)} (last 30m ${q(0.5)}, 1h ${q(1)}, 2h ${q(2)}), longest run ≥ thr ${best}, rule fired ${firstRun ? `${((m.ts - firstRun) / 60000).toFixed(1)} min before` : 'never'}`,
  )
  for (const d of decided.get(m.host) ?? [])
    console.log(`    ${new Date(d.ts).toISOString()} ${d.outcome} ${d.action} ${d.guard ?? ''} ${d.detail}`)
}
