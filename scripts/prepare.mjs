// npm's `prepare` (runs on `npm ci` / `npm install` in this repository): applies patches/
// to node_modules (patch-package), then builds dist/ with TypeScript.
//
// patches/kafkajs+2.2.4.patch makes kafkajs's wire path cheaper without changing a byte on
// the wire (test/bus/kafkajs-patch.test.ts holds each part to kafkajs's own code or to
// independent arithmetic):
// - a send's messages were grouped per partition by copying the partition's array for every
//   message (quadratic; upstream PR tulios/kafkajs#1576, not merged);
// - an uncompressed produce without headers is encoded into one buffer of the exact size (the
//   general path allocated a zeroed 512-byte Encoder per record and copied each record about
//   six times);
// - the record decoder adds offset and timestamp deltas as numbers while they are safe
//   integers (it parsed the batch's first offset from a string, per record, with long.js);
// - CRC-32C runs eight bytes a step (slicing by 8), ~3× the byte-wise loop.
// Together they took the streaming scorer from ~28k to ~40k samples/s (bench/, 2026-11-30).
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
