#!/usr/bin/env node
// Runs the compiled CLI (dist/, built by `npm run build`, which `npm ci` runs through
// `prepare`). While developing, when a source file is newer than the build (or there is no
// build), the TypeScript sources run through tsx (a devDependency) instead.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const built = `${root}dist/main.js`

function newestSource(dir) {
  let t = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${e.name}`
    t = Math.max(t, e.isDirectory() ? newestSource(p) : e.name.endsWith('.ts') ? statSync(p).mtimeMs : 0)
  }
  return t
}

async function fromSource() {
  try {
    const { register } = await import('tsx/esm/api')
    register()
  } catch {
    return false
  }
  await import('../src/main.ts')
  return true
}

const fresh = existsSync(built) && (!existsSync(`${root}src`) || statSync(built).mtimeMs >= newestSource(`${root}src`))
if (fresh || !(await fromSource())) {
  if (!existsSync(built)) {
    process.stderr.write(
      'preempt: no build in dist/ and no tsx to run the sources: run `npm run build` (or `npm ci`)\n',
    )
    process.exit(70)
  }
  await import('../dist/main.js')
}
