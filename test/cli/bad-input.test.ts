/**
 * The bad-input matrix: every command, the mistakes people make first. Each case must end
 * in one line with a catalogue code and the documented exit code — never a stack trace,
 * never exit 70 (docs/errors.md, "Exit codes").
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli } from '../../src/cli/run.js'
import { fingerprint } from '../../src/pipelines/train.js'

const dir = mkdtempSync(join(tmpdir(), 'preempt-bad-input-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const f = (name: string, content: string | Buffer) => {
  const p = join(dir, name)
  writeFileSync(p, content)
  return p
}
const header = 'timestamp,host,cpu,mem\n'
const rows = Array.from({ length: 40 }, (_, i) => `${1764547200000 + i * 60_000},h1,0.${i % 9},0.5`).join('\n')
const good = f('good.csv', `${header}${rows}\n`)
const failures = f('failures.csv', 'timestamp,host\n1764549000000,h1\n')
const empty = f('empty.csv', '')
const binary = f('binary.csv', Buffer.from([0, 159, 146, 150, 255, 0, 1, 2, 3, 0, 0, 7]))
const truncatedGz = f('truncated.csv.gz', gzipSync(`${header}${rows}\n`).subarray(0, 40))
const dupHeaders = f('dup.csv', `timestamp,host,cpu,cpu\n1764547200000,h1,0.1,0.2\n`)
const nonFinite = f(
  'nonfinite.csv',
  `${header}${rows.split('\n').slice(0, 5).join('\n')}\n1764549000000,h1,1e400,0.5\n`,
)
const wrongType = f('wrongtype.csv', `${header}${rows.split('\n').slice(0, 5).join('\n')}\n1764549000000,h1,hot,0.5\n`)
const noTime = f('notime.csv', `when,host,cpu\nyesterday,h1,0.1\n`)
const badConfig = f('bad-config.json', '{"kafka": {"brokers": ')
const unknownKey = f('unknown-key.json', '{"kafka": {"brokerz": ["x:1"]}}')
const folder = join(dir, 'a-folder')
mkdirSync(folder)

/** The MLP the demo served before its trees (kept as a fixture of a TensorFlow.js model). */
const MLP = 'test/fixtures/mlp-model'

/** A copy of a committed model with one file damaged: the demo model (trees and a
 * time-to-failure head), or the MLP fixture (a TensorFlow.js network). */
function damagedModel(file: string, keepBytes: number, from = 'models/demo'): string {
  const m = join(dir, `model-${file}`)
  cpSync(from, m, { recursive: true })
  writeFileSync(join(m, file), readFileSync(join(m, file)).subarray(0, keepBytes))
  return m
}

/** A copy of the demo model that records `good.csv` as its training data. */
async function modelTrainedOnGood(): Promise<string> {
  const m = join(dir, 'model-own-data')
  cpSync('models/demo', m, { recursive: true })
  const meta = JSON.parse(readFileSync(join(m, 'preempt.json'), 'utf8'))
  meta.data.fingerprint = await fingerprint([good])
  writeFileSync(join(m, 'preempt.json'), JSON.stringify(meta))
  return m
}
const ownData = await modelTrainedOnGood()

const out = join(dir, 'out')
const train = ['train', '--data', good, '--failures', failures, '--horizon', '30m', '--out', join(out, 'm')]

interface Case {
  name: string
  args: string[]
  exit: number
  code: string
  says?: RegExp
}

const noService = f('hosts-no-service.csv', 'host,zone\nh1,z1\n')
const cases: Case[] = [
  // train: peer features
  {
    name: 'train --peers without --host-labels',
    args: [...train, '--peers', 'service'],
    exit: 2,
    code: 'CLI_USAGE',
    says: /--host-labels FILE/,
  },
  {
    name: 'train --peers service with a labels file that has no service column',
    args: [...train, '--peers', 'service', '--host-labels', noService],
    exit: 2,
    code: 'CLI_USAGE',
    says: /no "service" column/,
  },
  {
    name: 'train --peers with --model-kind gru',
    args: [...train, '--peers', 'service', '--model-kind', 'gru'],
    exit: 2,
    code: 'CLI_USAGE',
    says: /not with the gru sequence/,
  },
  {
    name: 'train --learning-rate with --model-kind mlp',
    args: [...train, '--learning-rate', '0.05', '--model-kind', 'mlp'],
    exit: 2,
    code: 'CLI_USAGE',
    says: /--model-kind mlp does not train: drop them, or use --model-kind gbdt/,
  },
  {
    name: 'train --learning-rate 0',
    args: [...train, '--learning-rate', '0'],
    exit: 2,
    code: 'CLI_USAGE',
    says: /--learning-rate takes a number from 0.0001 to 1, got "0"/,
  },
  // train: flags
  {
    name: 'train without --horizon',
    args: ['train', '--data', good, '--failures', failures, '--out', out],
    exit: 2,
    code: 'CLI_USAGE',
    says: /--horizon/,
  },
  {
    name: 'train missing three required flags at once',
    args: ['train'],
    exit: 2,
    code: 'CLI_USAGE',
    says: /--data <file>, --horizon <dur>, --out <dir>/,
  },
  { name: 'train --horizon -1h', args: [...train, '--horizon', '-1h'], exit: 2, code: 'CLI_USAGE', says: /--horizon/ },
  {
    name: 'train --horizon 1hour',
    args: [...train, '--horizon', '1hour'],
    exit: 2,
    code: 'CLI_USAGE',
    says: /--horizon: "1hour"/,
  },
  { name: 'train --horizon 0', args: [...train, '--horizon', '0'], exit: 2, code: 'CLI_USAGE', says: /--horizon/ },
  {
    name: 'train --lead longer than --horizon',
    args: [...train, '--lead', '2h'],
    exit: 2,
    code: 'CLI_USAGE',
    says: /--lead .* shorter than --horizon/,
  },
  {
    name: 'train --failures with --run-to-failure',
    args: [...train, '--run-to-failure'],
    exit: 2,
    code: 'CLI_USAGE',
    says: /one label source/,
  },
  {
    name: 'train --regimes naming a column that is not a metric',
    args: [...train, '--regimes', 'altitude'],
    exit: 2,
    code: 'CLI_USAGE',
    says: /--regimes: "altitude" is not a metric the model uses/,
  },
  { name: 'train --regimes ,', args: [...train, '--regimes', ','], exit: 2, code: 'CLI_USAGE', says: /auto, none/ },
  { name: 'train --epochs 0', args: [...train, '--epochs', '0'], exit: 2, code: 'CLI_USAGE', says: /--epochs/ },
  { name: 'train --epochs lots', args: [...train, '--epochs', 'lots'], exit: 2, code: 'CLI_USAGE', says: /--epochs/ },
  {
    name: 'train --split sideways',
    args: [...train, '--split', 'sideways'],
    exit: 2,
    code: 'CLI_USAGE',
    says: /sideways/,
  },
  {
    name: 'train --time-unit parsec',
    args: [...train, '--time-unit', 'parsec'],
    exit: 2,
    code: 'CLI_USAGE',
    says: /parsec/,
  },
  // train: files
  {
    name: 'train --data missing',
    args: ['train', '--data', join(dir, 'nope.csv'), '--failures', failures, '--horizon', '30m', '--out', out],
    exit: 66,
    code: 'DATA_CSV',
    says: /--data .*nope\.csv: no such file/,
  },
  {
    name: 'train --failures missing',
    args: [...train, '--failures', join(dir, 'nope-failures.csv')],
    exit: 66,
    code: 'DATA_CSV',
    says: /--failures .*nope-failures\.csv/,
  },
  {
    name: 'train --data empty',
    args: ['train', '--data', empty, '--failures', failures, '--horizon', '30m', '--out', out],
    exit: 66,
    code: 'DATA_CSV',
    says: /is empty/,
  },
  {
    name: 'train --data a folder',
    args: ['train', '--data', folder, '--failures', failures, '--horizon', '30m', '--out', out],
    exit: 66,
    code: 'DATA_CSV',
    says: /is a folder/,
  },
  {
    name: 'train --data binary',
    args: ['train', '--data', binary, '--failures', failures, '--horizon', '30m', '--out', out],
    exit: 65,
    code: 'DATA_ROW',
  },
  {
    name: 'train --data truncated gzip',
    args: ['train', '--data', truncatedGz, '--failures', failures, '--horizon', '30m', '--out', out],
    exit: 66,
    code: 'DATA_CSV',
  },
  {
    name: 'train --data duplicated headers',
    args: ['train', '--data', dupHeaders, '--failures', failures, '--horizon', '30m', '--out', out],
    exit: 65,
    code: 'DATA_ROW',
    says: /column "cpu" appears twice/,
  },
  {
    name: 'train --data with a word for a number',
    args: ['train', '--data', wrongType, '--failures', failures, '--horizon', '30m', '--out', out],
    exit: 65,
    code: 'DATA_ROW',
    says: /wrongtype\.csv:7.*cpu "hot" is not a number/,
  },
  {
    name: 'train --data without its time column',
    args: ['train', '--data', noTime, '--failures', failures, '--horizon', '30m', '--out', out],
    exit: 65,
    code: 'DATA_ROW',
    says: /--time-col/,
  },
  {
    name: 'train --data with a non-finite number',
    args: ['train', '--data', nonFinite, '--failures', failures, '--horizon', '30m', '--out', out],
    exit: 65,
    code: 'DATA_ROW',
    says: /nonfinite\.csv:7.*cpu "1e400" is not a number/,
  },
  {
    name: 'inspect --data missing',
    args: ['inspect', '--data', join(dir, 'gone.csv')],
    exit: 66,
    code: 'DATA_CSV',
    says: /gone\.csv/,
  },
  {
    name: 'inspect --lead past --horizon',
    args: ['inspect', '--data', good, '--horizon', '10m', '--lead', '1h'],
    exit: 2,
    code: 'CLI_USAGE',
    says: /--lead/,
  },
  // simulate
  {
    name: 'simulate with neither --out nor --kafka',
    args: ['simulate'],
    exit: 2,
    code: 'CLI_USAGE',
    says: /--out <dir> .* or --kafka/,
  },
  {
    name: 'simulate --hosts 0',
    args: ['simulate', '--hosts', '0', '--out', out],
    exit: 2,
    code: 'CLI_USAGE',
    says: /--hosts/,
  },
  {
    name: 'simulate --duration 1fortnight',
    args: ['simulate', '--duration', '1fortnight', '--out', out],
    exit: 2,
    code: 'CLI_USAGE',
    says: /--duration/,
  },
  {
    name: 'simulate --report into a folder',
    args: ['simulate', '--hosts', '2', '--duration', '1h', '--out', join(out, 'sim'), '--report', folder],
    exit: 74,
    code: 'IO_FILE',
    says: /is a folder/,
  },
  // score, evaluate, tune: models
  { name: 'score without --model', args: ['score', '--data', good], exit: 2, code: 'CLI_USAGE', says: /--model/ },
  {
    name: 'score --model missing',
    args: ['score', '--model', join(dir, 'no-model'), '--data', good],
    exit: 66,
    code: 'MODEL_ARTIFACT',
    says: /no-model/,
  },
  // each file of a model truncated: the demo model's (trees and head), the MLP fixture's (network)
  ...(
    [
      ['preempt.json', 100, 'models/demo'],
      ['trees.json', 500, 'models/demo'],
      ['hazard.json', 500, 'models/demo'],
      ['model.json', 100, MLP],
      ['weights.bin', 1000, MLP],
    ] as const
  ).map(([file, keep, from]) => ({
    name: `score --model truncated ${file}`,
    args: ['score', '--model', damagedModel(file, keep, from), '--data', good],
    exit: 66,
    code: 'MODEL_ARTIFACT',
    says: new RegExp(file.replace('.', '\\.')),
  })),
  {
    name: 'score data without the model’s metrics',
    args: ['score', '--model', MLP, '--data', good, '--no-progress'],
    exit: 65,
    code: 'MODEL_DATA',
    says: /needs metrics that are not in the data: cpu_util/,
  },
  {
    name: 'score with a peer-feature model (the demo model) and no --host-labels',
    args: ['score', '--model', 'models/demo', '--data', good, '--no-progress'],
    exit: 2,
    code: 'CLI_USAGE',
    says: /--host-labels FILE/,
  },
  {
    name: 'score --out into a folder',
    args: ['score', '--model', 'models/demo', '--data', good, '--out', folder],
    exit: 74,
    code: 'IO_FILE',
    says: /is a folder/,
  },
  {
    name: 'evaluate --model missing',
    args: ['evaluate', '--model', join(dir, 'no-model'), '--data', good, '--failures', failures],
    exit: 66,
    code: 'MODEL_ARTIFACT',
  },
  {
    name: 'tune --model missing',
    args: ['tune', '--model', join(dir, 'no-model'), '--data', good, '--failures', failures],
    exit: 66,
    code: 'MODEL_ARTIFACT',
  },
  {
    name: 'tune on the model’s own training data without --split val',
    args: ['tune', '--model', ownData, '--data', good, '--failures', failures],
    exit: 2,
    code: 'CLI_USAGE',
    says: /--split val/,
  },
  // streaming and operations
  {
    name: 'serve --partitions 0',
    args: ['serve', '--model', 'models/demo', '--partitions', '0'],
    exit: 2,
    code: 'CLI_USAGE',
    says: /--partitions/,
  },
  {
    name: 'serve --api-port 70000',
    args: ['serve', '--model', 'models/demo', '--api-port', '70000'],
    exit: 2,
    code: 'CLI_USAGE',
    says: /--api-port/,
  },
  {
    name: 'serve --threshold 2',
    args: ['serve', '--model', 'models/demo', '--threshold', '2'],
    exit: 2,
    code: 'CLI_USAGE',
    says: /--threshold/,
  },
  { name: 'backtest without --model', args: ['backtest'], exit: 2, code: 'CLI_USAGE', says: /--model/ },
  {
    name: 'replay --rate -5',
    args: ['replay', '--data', good, '--rate', '-5'],
    exit: 2,
    code: 'CLI_USAGE',
    says: /--rate/,
  },
  {
    name: 'replay --data missing',
    args: ['replay', '--data', join(dir, 'gone.csv')],
    exit: 66,
    code: 'DATA_CSV',
    says: /gone\.csv/,
  },
  { name: 'kill-switch maybe', args: ['kill-switch', 'maybe'], exit: 2, code: 'CLI_USAGE', says: /on.*off/ },
  { name: 'api --port abc', args: ['api', '--port', 'abc'], exit: 2, code: 'CLI_USAGE', says: /--port/ },
  // global
  {
    name: '--config missing',
    args: ['--config', join(dir, 'none.json'), 'kill-switch', 'on'],
    exit: 78,
    code: 'CONFIG_FILE',
  },
  { name: '--config not JSON', args: ['--config', badConfig, 'kill-switch', 'on'], exit: 78, code: 'CONFIG_FILE' },
  {
    name: '--config with an unknown key',
    args: ['--config', unknownKey, 'kill-switch', 'on'],
    exit: 78,
    code: 'CONFIG_INVALID',
    says: /brokerz/,
  },
  { name: '--log-level loud', args: ['--log-level', 'loud', 'simulate'], exit: 2, code: 'CLI_USAGE', says: /loud/ },
  { name: 'an unknown command', args: ['frobnicate'], exit: 2, code: 'CLI_USAGE', says: /frobnicate/ },
  { name: 'an unknown flag', args: ['score', '--modle', 'x'], exit: 2, code: 'CLI_USAGE', says: /--modle/ },
]

describe('bad input: one line, a catalogue code, the documented exit code', () => {
  it.each(cases)(
    '$name',
    async (c) => {
      const err: string[] = []
      const io = { stdout: () => {}, stderr: (s: string) => void err.push(s) }
      const exit = await runCli(['node', 'preempt', ...c.args], { PREEMPT_LOG_LEVEL: 'silent' }, io)
      const text = err.join('')
      expect(text, text).toContain(`[PREEMPT_ERR_${c.code}]`)
      expect(exit, text).toBe(c.exit)
      expect(text).not.toMatch(/\n\s+at |node:internal|"stack"/)
      const line = text.split('\n').filter((l) => l.startsWith('preempt: '))
      expect(line, text).toHaveLength(1)
      if (c.says) expect(line[0]).toMatch(c.says)
    },
    60_000,
  )
})
