// npm's `prepare` (runs on `npm ci` / `npm install` in this repository): applies patches/
// to node_modules (patch-package), then builds dist/ with TypeScript.
//
// patches/kafkajs+2.2.4.patch: kafkajs groups a send's messages per partition by copying
// the partition's array for every message (quadratic; upstream PR tulios/kafkajs#1576, not
// merged); with thousands of records per transaction it cost the scorer a tenth of its time.
// Without the patch everything works, only slower.
//
// tslab (the notebooks' kernel) brings its own TypeScript 5.0, whose `tsc` and `tsserver`
// can win the links in node_modules/.bin: they are pointed back at the project's TypeScript,
// so `npx tsc` is the compiler the project builds with.
//
// A production install without devDependencies (`npm ci --omit=dev`) has no compiler: it says
// so instead of failing the install. Build first, then prune: `npm ci && npm prune --omit=dev`.
import { execFileSync } from 'node:child_process'
import { existsSync, lstatSync, symlinkSync, unlinkSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'

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
for (const bin of ['tsc', 'tsserver']) {
  const link = join('node_modules', '.bin', bin)
  const target = join('..', 'typescript', 'bin', bin)
  if (!existsSync(join('node_modules', 'typescript', 'bin', bin))) continue
  try {
    if (lstatSync(link).isSymbolicLink()) unlinkSync(link)
    else continue // not a link npm made (Windows shims): leave it
  } catch {
    // no link yet
  }
  symlinkSync(target, link)
}
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
  stdio: 'inherit',
})
