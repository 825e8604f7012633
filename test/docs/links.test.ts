import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { describe, expect, it } from 'vitest'

const root = resolve(import.meta.dirname, '../..')
const SKIP = new Set(['node_modules', '.cache', '.git', 'dist', 'coverage'])

function markdownFiles(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(e.name)) continue
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...markdownFiles(p))
    else if (e.name.endsWith('.md')) out.push(p)
  }
  return out
}

describe('docs', () => {
  it('every relative link in a *.md resolves to a file inside the repository', () => {
    const bad: string[] = []
    const files = markdownFiles(root)
    expect(files.length).toBeGreaterThan(5)
    for (const file of files) {
      const text = readFileSync(file, 'utf8')
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!.split('#')[0]!
        if (!target || /^[a-z]+:/i.test(target)) continue
        const abs = resolve(dirname(file), target)
        const rel = relative(root, abs)
        if (rel.startsWith('..') || !existsSync(abs)) bad.push(`${relative(root, file)}: ${m[1]}`)
        else if (target.endsWith('/') && !statSync(abs).isDirectory()) bad.push(`${relative(root, file)}: ${m[1]}`)
      }
      // Mentions of paths outside the repository (a clone has nothing there).
      for (const m of text.matchAll(/`(\.\.\/[^`]+)`/g))
        bad.push(`${relative(root, file)}: ${m[1]} (outside the repository)`)
    }
    expect(bad).toEqual([])
  })
})
