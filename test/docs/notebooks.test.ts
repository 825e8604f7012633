import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const dir = join(import.meta.dirname, '../../notebooks')
const notebooks = readdirSync(dir).filter((f) => f.endsWith('.ipynb'))

interface Cell {
  cell_type: string
  source: string[] | string
  outputs?: unknown[]
  execution_count?: number | null
}

describe('notebooks', () => {
  it('there are three, each a TypeScript (tslab) notebook', () => {
    expect(notebooks.sort()).toEqual([
      '01-exploring-metrics.ipynb',
      '02-reading-a-model.ipynb',
      '03-run-to-failure.ipynb',
    ])
    for (const f of notebooks) {
      const nb = JSON.parse(readFileSync(join(dir, f), 'utf8'))
      expect(nb.metadata.kernelspec.name, f).toBe('tslab')
      expect(nb.nbformat, f).toBe(4)
    }
  })

  it('are committed with their outputs cleared (npm run notebooks executes them)', () => {
    for (const f of notebooks) {
      const cells: Cell[] = JSON.parse(readFileSync(join(dir, f), 'utf8')).cells
      const code = cells.filter((c) => c.cell_type === 'code')
      expect(code.length, f).toBeGreaterThan(3)
      for (const [i, c] of code.entries()) {
        expect(c.outputs ?? [], `${f} code cell ${i}`).toEqual([])
        expect(c.execution_count ?? null, `${f} code cell ${i}`).toBeNull()
      }
    }
  })

  it('import preempt only through dist/ (what npm ci builds), never src/', () => {
    for (const f of notebooks) {
      const text = readFileSync(join(dir, f), 'utf8')
      expect(text, f).not.toMatch(/from '\.\.?\/src\//)
    }
  })
})
