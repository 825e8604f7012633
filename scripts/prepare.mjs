// npm's `prepare` (runs on `npm ci` / `npm install` in this repository): applies patches/
// to node_modules (patch-package), then builds dist/ with TypeScript.
//
// patches/kafkajs+2.2.4.patch: kafkajs groups a send's messages per partition by copying
// the partition's array for every message (quadratic; upstream PR tulios/kafkajs#1576, not
// merged); with thousands of records per transaction it cost the scorer a tenth of its time.
// Without the patch everything works, only slower. A production install without devDependencies (`npm ci --omit=dev`) has no
// compiler: it says so instead of failing the install. Build first, then prune:
// `npm ci && npm prune --omit=dev`.
import { execFileSync } from 'node:child_process'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
try {
  execFileSync(process.execPath, [require.resolve('patch-package/index.js'), '--error-on-fail'], { stdio: 'inherit' })
} catch (err) {
  if (err?.code !== 'MODULE_NOT_FOUND') throw err
  process.stderr.write('preempt: patch-package not installed (devDependencies omitted): patches/ not applied\n')
}
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
