import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { gunzipSync } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import { Rng } from '../../src/math/random.js'

const run = promisify(execFile)
const bin = new URL('../../bin/preempt.js', import.meta.url).pathname
const dir = mkdtempSync(join(tmpdir(), 'preempt-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('preempt train / score / evaluate on the committed sample fleet', () => {
  it('trains, then scores one row per vector as host,timestamp,score,alert,ttf, echoing the input time', async () => {
    const data = new URL('../../data/sample-fleet/', import.meta.url).pathname
    const model = join(dir, 'sample')
    const t = await run('node', [
      bin,
      'train',
      '--data',
      join(data, 'metrics.csv.gz'),
      '--failures',
      join(data, 'failures.csv'),
      '--horizon',
      '1h',
      '--lead',
      '2m',
      '--epochs',
      '2',
      '--max-rows',
      '20000',
      '--out',
      model,
      '--no-progress',
    ])
    // The default --model-kind auto: trees and the network, both class weightings, one chosen.
    expect(t.stdout).toMatch(/model sample \((gbdt|mlp)\) → /)
    expect(t.stdout).toMatch(
      /chosen on validation PR-AUC: gbdt \(none\) [0-9.]+.*, gbdt \(balanced\) [0-9.]+.*, mlp \(none\) [0-9.]+.*, mlp \(balanced\) [0-9.]+/,
    )
    expect(t.stdout.match(/← chosen/g)).toHaveLength(1)
    expect(t.stdout).toMatch(/alert \(per vector\): score ≥ [0-9.]+: best validation F1/)
    expect(t.stdout).toMatch(/page rule \(the policy acts by\): (score|\d+ vectors in a row) ≥ [0-9.]+/)
    expect(t.stdout).toMatch(/time to failure: hazard bins ending 15m, 30m, 1h, 2h, 4h/)
    const out = join(dir, 'scores.csv')
    const s = await run('node', [
      bin,
      'score',
      '--model',
      model,
      '--data',
      join(data, 'metrics.csv.gz'),
      '--out',
      out,
      '--threshold',
      '0.3',
      '--consecutive',
      '3',
      '--no-progress',
    ])
    expect(s.stderr).toMatch(/scored \d+ vectors from \d+ rows/)
    const lines = readFileSync(out, 'utf8').trim().split('\n')
    expect(lines[0]).toBe('host,timestamp,score,alert,ttf')
    const [host, ts, score, alert, ttf] = lines[1]!.split(',')
    // The median time to failure in ms (the data's unit), or empty: later than 4 h.
    expect(ttf === '' || (Number(ttf) >= 0 && Number(ttf) <= 4 * 3_600_000)).toBe(true)
    expect(lines.slice(1).some((l) => l.split(',')[4] !== '')).toBe(true)
    expect(host).toMatch(/^[a-z]+-\d{4}$/)
    expect(ts).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
    expect(Number(score)).toBeGreaterThanOrEqual(0)
    expect(Number(score)).toBeLessThanOrEqual(1)
    expect(['0', '1']).toContain(alert)
    const vectors = Number(/scored (\d+) vectors/.exec(s.stderr)![1])
    expect(lines).toHaveLength(vectors + 1)
    // The alert column is the rule: the host's third vector in a row with a score ≥ 0.3.
    const runs = new Map<string, number>()
    let alerts = 0
    for (const line of lines.slice(1)) {
      const [h, , sc, al] = line.split(',')
      const run = Number(sc) >= 0.3 ? (runs.get(h!) ?? 0) + 1 : 0
      runs.set(h!, run)
      if (Math.abs(Number(sc) - 0.3) > 1e-6) expect(al).toBe(run >= 3 ? '1' : '0')
      alerts += Number(al)
    }
    expect(alerts).toBeGreaterThan(0)
    // The model records how often its data was sampled (30 s); data sampled otherwise warns.
    const meta = JSON.parse(readFileSync(join(model, 'preempt.json'), 'utf8'))
    expect(meta.data.interval).toBeGreaterThan(25_000)
    expect(meta.data.interval).toBeLessThan(35_000)
    expect(s.stderr).not.toMatch(/warning: this data is sampled/)
    const text = gunzipSync(readFileSync(join(data, 'metrics.csv.gz')))
      .toString('utf8')
      .trim()
      .split('\n')
    const seen = new Map<string, number>()
    const thin = [text[0]!]
    for (const line of text.slice(1)) {
      const h = line.split(',')[1]!
      const n = seen.get(h) ?? 0
      seen.set(h, n + 1)
      if (n % 3 === 0) thin.push(line)
    }
    writeFileSync(join(dir, 'thin.csv'), `${thin.join('\n')}\n`)
    const t3 = await run('node', [
      bin,
      'score',
      '--model',
      model,
      '--data',
      join(dir, 'thin.csv'),
      '--out',
      join(dir, 't.csv'),
      '--no-progress',
    ])
    expect(t3.stderr).toMatch(
      /warning: this data is sampled every 1\.5m, the model was trained on samples every 30(\.\d+)?s/,
    )
    // evaluate on the fleet, beside another model
    const evaluate = (...flags: string[]) =>
      run('node', [
        bin,
        'evaluate',
        '--model',
        model,
        '--data',
        join(data, 'metrics.csv.gz'),
        '--failures',
        join(data, 'failures.csv'),
        ...flags,
        '--no-progress',
      ])
    const evaluateWith = (compare: string) => evaluate('--compare', compare)
    const e = await evaluateWith(model)
    expect(e.stdout).toMatch(/PR-AUC [0-9.]+, ROC-AUC [0-9.]+/)
    expect(e.stdout).toMatch(/naive baseline/)
    // Compared with itself on the same rows: the same figures twice.
    const [own, compared] = e.stdout.split(/sample \(mlp\) on the same rows:\n/)
    expect(compared).toBeDefined()
    const prAuc = (s: string) => /PR-AUC ([0-9.]+)/.exec(s)![1]
    expect(prAuc(compared!)).toBe(prAuc(own!))
    expect(e.stdout).not.toMatch(/judged on/)
    // Past --max-rows whole hosts are drawn, and the output says how many were judged.
    const sampled = await evaluate('--max-rows', '45000')
    const m = /judged on (\d+) of 16 hosts, drawn whole: the data has 89,151 rows, more than --max-rows 45,000/.exec(
      sampled.stdout,
    )
    expect(m).not.toBeNull()
    expect(Number(m![1])).toBeGreaterThan(0)
    expect(Number(m![1])).toBeLessThan(16)
    // A model to compare with that does not exist fails before any work, and says which.
    const bad = await evaluateWith(join(dir, 'nope')).catch((x: { stderr: string; code: number }) => x)
    expect((bad as { code: number }).code).toBe(66) // PREEMPT_ERR_MODEL_ARTIFACT
    expect((bad as { stderr: string }).stderr).toMatch(/nope: not a preempt model/)
  }, 180_000)

  it('names the missing column and the flag that fixes it', async () => {
    const cycles = join(dir, 'cycles.csv')
    writeFileSync(cycles, 'unit,cycle,s1\n1,1,0.5\n1,2,0.6\n')
    const err = await run('node', [
      bin,
      'train',
      '--data',
      cycles,
      '--time-unit',
      'step',
      '--run-to-failure',
      '--horizon',
      '30',
      '--out',
      join(dir, 'x'),
    ]).catch((e: { stderr: string; code: number }) => e)
    expect((err as { code: number }).code).toBe(65) // PREEMPT_ERR_DATA_ROW
    expect((err as { stderr: string }).stderr).toMatch(/no column "timestamp".*--time-col/)
  })

  it('finds operating regimes in run-to-failure data, saves them with the model, and scores through them', async () => {
    // 48 engines flown at three settings (op 0, 20, 40) that move both sensors far more than
    // wear does; wear shows in the last 20 cycles of each life.
    const rng = new Rng(11)
    const lines = ['unit,cycle,op,a,b,c']
    for (let u = 1; u <= 48; u++) {
      const life = 70 + rng.int(0, 50)
      for (let t = 1; t <= life; t++) {
        const op = [0, 20, 40][rng.int(0, 3)]!
        const wear = Math.max(0, t - (life - 20)) * 0.4
        const a = 100 + 5 * op + rng.normal() + wear
        const b = 50 - op + rng.normal() - 0.5 * wear
        lines.push(
          `${u},${t},${(op + 0.001 * rng.normal()).toFixed(4)},${a.toFixed(3)},${b.toFixed(3)},${rng.normal().toFixed(3)}`,
        )
      }
    }
    const data = join(dir, 'regimes.csv')
    writeFileSync(data, `${lines.join('\n')}\n`)
    const model = join(dir, 'regimes')
    const common = ['--data', data, '--time-col', 'cycle', '--entity-col', 'unit', '--time-unit', 'step']
    const train = (out: string, ...more: string[]) =>
      run('node', [
        bin,
        'train',
        ...common,
        '--run-to-failure',
        '--horizon',
        '15',
        '--model-kind',
        'gbdt',
        '--out',
        out,
        '--no-progress',
        ...more,
      ])
    const t = await train(model)
    expect(t.stdout).toMatch(
      /operating regimes: op makes 3 regimes explaining (9\d|100) % of the other metrics' variance/,
    )
    const meta = JSON.parse(readFileSync(join(model, 'preempt.json'), 'utf8'))
    expect(meta.featureSpec.regimes.by).toEqual(['op'])
    expect(meta.v).toBe(2) // a preempt before regimes refuses it rather than read raw metrics
    expect(meta.featureSpec.regimes.centers.map((c: number[]) => Math.round(c[0]!))).toEqual([0, 20, 40])
    // Per regime, a's mean is its level there (100 + 5 op, plus a little wear).
    expect(meta.featureSpec.regimes.mean.map((m: number[]) => Math.round(m[1]! / 10))).toEqual([10, 20, 30])
    const s = await run('node', [bin, 'score', '--model', model, ...common, '--no-progress'])
    const rows = s.stdout.trim().split('\n')
    expect(rows[0]).toBe('host,timestamp,score,alert,ttf')
    expect(rows.length).toBeGreaterThan(48 * 60)
    expect(s.stderr).not.toMatch(/operating settings/)
    // A setting the model never saw (op 80): scored, with a warning that says so.
    const unseen = join(dir, 'unseen-op.csv')
    writeFileSync(unseen, `unit,cycle,op,a,b,c\n${[1, 2, 3, 4].map((t) => `1,${t},80,500,0,0`).join('\n')}\n`)
    const u = await run('node', [bin, 'score', '--model', model, ...common.slice(2), '--data', unseen, '--no-progress'])
    expect(u.stderr).toMatch(
      /warning: 4 of 4 samples had operating settings \(op\) unlike every regime the model was trained on/,
    )
    // Without the regimes the same data ranks worse on the held-out engines.
    const plain = await train(join(dir, 'plain'), '--regimes', 'none')
    expect(plain.stdout).not.toMatch(/operating regimes/)
    expect(JSON.parse(readFileSync(join(dir, 'plain', 'preempt.json'), 'utf8')).v).toBe(1)
    const testPrAuc = (out: string) => Number(/held-out test split:\s+PR-AUC ([0-9.]+)/.exec(out)![1])
    expect(testPrAuc(t.stdout)).toBeGreaterThan(testPrAuc(plain.stdout)) // 0.9925 vs 0.9739 when written
    // The trees' settings from the command line reach the trees and are saved with the model.
    const capped = join(dir, 'capped')
    const c = await train(capped, '--regimes', 'none', '--trees', '6', '--learning-rate', '0.3', '--leaves', '4')
    expect(c.stdout).toMatch(/test split/)
    const cm = JSON.parse(readFileSync(join(capped, 'preempt.json'), 'utf8'))
    expect(cm.training.treeSettings).toEqual({ trees: 6, learningRate: 0.3, leaves: 4 })
    expect(cm.training.trees).toBe(6)
    const trees = JSON.parse(readFileSync(join(capped, 'trees.json'), 'utf8'))
    expect(trees.roots.length).toBeLessThanOrEqual(6)
  }, 300_000)
})
