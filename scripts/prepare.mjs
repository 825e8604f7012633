// npm's `prepare` (runs on `npm ci` / `npm install` in this repository): builds dist/ with
// TypeScript. A production install without devDependencies (`npm ci --omit=dev`) has no
// compiler: it says so instead of failing the install. Build first, then prune:
// `npm ci && npm prune --omit=dev`.
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
try {
  require.resolve('typescript/bin/tsc')
} catch {
  process.stderr.write(
    'preempt: no TypeScript here (devDependencies omitted): dist/ not built; run `npm ci` then `npm prune --omit=dev`\n',
  )
  process.exit(0)
}
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
  stdio: 'inherit',
})
