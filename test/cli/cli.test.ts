import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { buildCli } from '../../src/cli/index.js'

function run(args: string[]) {
  const out: string[] = []
  const program = buildCli({ env: {} })
    .exitOverride()
    .configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => out.push(s) })
  for (const c of program.commands)
    c.exitOverride().configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => out.push(s) })
  let code = 0
  try {
    program.parse(['node', 'preempt', ...args])
  } catch (err) {
    code = (err as { exitCode?: number }).exitCode ?? -1
  }
  return { code, out: out.join('') }
}

describe('preempt CLI', () => {
  it('prints the package version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
    expect(run(['--version'])).toEqual({ code: 0, out: `${pkg.version}\n` })
  })

  it('lists the kafka commands in help', () => {
    const { out } = run(['kafka', '--help'])
    for (const sub of ['up', 'down', 'status']) expect(out).toMatch(new RegExp(`\\n\\s+${sub}\\b`))
  })

  it('refuses an unknown command with a hint', () => {
    const r = run(['frobnicate'])
    expect(r.code).toBe(1)
    expect(r.out).toContain("unknown command 'frobnicate'")
    expect(r.out).toContain('--help')
  })
})
