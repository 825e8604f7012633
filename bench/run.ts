/**
 * `npm run bench [-- name …]`: runs every bench/*.bench.ts (or those named), prints a
 * report with the machine, the figures and each figure's ratio to its named baseline, and
 * writes bench/reports/latest.{json,md}.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { type Bench, type Figure, machine } from './harness.js'

const here = dirname(fileURLToPath(import.meta.url))
const only = process.argv.slice(2).filter((a) => !a.startsWith('-'))
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => !only.length || only.some((o) => f.startsWith(o)))
const benches: Bench[] = []
for (const f of files) benches.push((await import(pathToFileURL(join(here, f)).href)).default as Bench)
benches.sort((a, b) => (a.order ?? 100) - (b.order ?? 100))

const ctx = {
  brokers: (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(','),
  scale: Number(process.env['PREEMPT_BENCH_SCALE'] ?? '1'),
  log: (m: string) => process.stderr.write(`  ${m}\n`),
}
const results: Record<string, Record<string, Figure>> = {}
const failures: Record<string, string> = {}
for (const b of benches) {
  process.stderr.write(`bench ${b.name}: ${b.description}\n`)
  try {
    results[b.name] = await b.run(ctx)
  } catch (err) {
    failures[b.name] = (err as Error).stack ?? String(err)
    process.stderr.write(`  FAILED: ${(err as Error).message}\n`)
  }
}

const fmt = (v: number) => (Math.abs(v) >= 100 ? Math.round(v).toLocaleString('en-US') : v.toPrecision(3))
const rows: string[] = []
for (const [bench, figs] of Object.entries(results))
  for (const [name, f] of Object.entries(figs)) {
    let ratio = ''
    if (f.baseline) {
      const [bb, bf] = f.baseline.split('.') as [string, string]
      const base = results[bb]?.[bf]
      ratio = base ? `${(f.value / base.value).toFixed(3)} × ${f.baseline}` : `(baseline ${f.baseline} missing)`
    }
    const target =
      f.target === undefined
        ? ''
        : `${(f.better === 'higher' ? f.value >= f.target : f.value <= f.target) ? 'met' : 'MISSED'} (${fmt(f.target)})`
    rows.push(`| ${bench} | ${name} | ${fmt(f.value)} ${f.unit} | ${ratio} | ${target} | ${f.note ?? ''} |`)
  }
const m = machine()
const md = [
  '# preempt bench report',
  '',
  `- date: ${new Date().toISOString()}`,
  `- machine: ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB (${m.freeGiB} free), ${m.platform}`,
  `- node: ${m.node}; brokers: ${ctx.brokers.join(',')}; scale: ${ctx.scale}`,
  '',
  '| bench | figure | value | ratio to baseline | target | note |',
  '|---|---|---|---|---|---|',
  ...rows,
  ...Object.entries(failures).map(([b, e]) => `\n**${b} failed**: ${e.split('\n')[0]}`),
  '',
].join('\n')
mkdirSync(join(here, 'reports'), { recursive: true })
writeFileSync(join(here, 'reports', 'latest.json'), JSON.stringify({ machine: m, results, failures }, null, 2))
writeFileSync(join(here, 'reports', 'latest.md'), md)
process.stdout.write(md)
process.exitCode = Object.keys(failures).length ? 1 : 0
