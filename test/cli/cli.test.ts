import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { runCli } from '../../src/cli/run.js'

async function run(args: string[]) {
  const out: string[] = []
  const io = { stdout: (s: string) => void out.push(s), stderr: (s: string) => void out.push(s) }
  const code = await runCli(['node', 'preempt', ...args], {}, io)
  return { code, out: out.join('') }
}

describe('preempt CLI', () => {
  it('prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
    expect(await run(['--version'])).toEqual({ code: 0, out: `${pkg.version}\n` })
  })

  it('lists the kafka commands in help', async () => {
    const { out } = await run(['kafka', '--help'])
    for (const sub of ['up', 'down', 'status']) expect(out).toMatch(new RegExp(`\\n\\s+${sub}\\b`))
  })

  it('refuses an unknown command with a hint', async () => {
    const r = await run(['frobnicate'])
    expect(r.code).toBe(2)
    expect(r.out).toContain('[PREEMPT_ERR_CLI_USAGE]')
    expect(r.out).toContain("unknown command 'frobnicate'")
    expect(r.out).toContain('--help')
  })

  it('gives every command examples, marks required flags and shows durations as people type them', async () => {
    for (const c of [
      'kafka',
      'simulate',
      'train',
      'score',
      'evaluate',
      'tune',
      'serve',
      'replay',
      'kill-switch',
      'backtest',
      'api',
    ]) {
      const { code, out } = await run([c, '--help'])
      expect(code, c).toBe(0)
      expect(out, c).toMatch(/\nExamples:\n {2}preempt /)
    }
    const serve = (await run(['serve', '--help'])).out
    expect(serve).toMatch(/--model <dir>\s+\(required\)/)
    expect(serve).toMatch(/--close-deadline <dur>[^\n]*\n?[^\n]*\(default: 30s\)/)
    // The top-level help lists every command without loading any.
    const top = (await run(['--help'])).out
    for (const c of ['train', 'serve', 'api', 'backtest', 'kill-switch']) expect(top).toContain(`  ${c}`)
  })
})

describe('preempt as a process', () => {
  it('stops quietly, exit 0, when the reader of its output goes away (| head)', async () => {
    const { spawn } = await import('node:child_process')
    const bin = new URL('../../bin/preempt.js', import.meta.url).pathname
    const child = spawn(process.execPath, [bin, 'score', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.destroy() // the reader is gone before the first write
    let stderr = ''
    child.stderr.on('data', (d) => {
      stderr += d
    })
    const code = await new Promise<number | null>((done) => child.on('close', done))
    expect(stderr).toBe('')
    expect(code).toBe(0)
  }, 30_000)
})
