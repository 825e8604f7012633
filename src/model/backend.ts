/**
 * TensorFlow.js backend choice: tfjs-node when it loads (native libtensorflow; its install
 * downloads a binary, which fails on some machines), else WebAssembly, else plain JS (cpu).
 * The choice is logged and recorded in the model's metadata.
 */
import * as tf from '@tensorflow/tfjs'

export const Backends = ['tensorflow', 'wasm', 'cpu'] as const
export type BackendName = (typeof Backends)[number]

let chosen: { name: BackendName; reason: string } | undefined

async function tryNode(): Promise<string | undefined> {
  try {
    // Optional dependency: absent or broken installs land in the catch.
    await import('@tensorflow/tfjs-node' as string)
    if (await tf.setBackend('tensorflow')) return undefined
    return 'tfjs-node loaded but the tensorflow backend did not start'
  } catch (err) {
    return `tfjs-node unavailable (${(err as Error).message.split('\n')[0]})`
  }
}

async function tryWasm(): Promise<string | undefined> {
  try {
    await import('@tensorflow/tfjs-backend-wasm')
    if (await tf.setBackend('wasm')) return undefined
    return 'wasm backend did not start'
  } catch (err) {
    return `wasm unavailable (${(err as Error).message.split('\n')[0]})`
  }
}

/**
 * Picks and initialises the backend once per process. `prefer` forces one (an error when it
 * cannot start); default: the best that starts. Returns the name and why the better ones
 * were passed over.
 */
export async function initBackend(prefer?: BackendName): Promise<{ name: BackendName; reason: string }> {
  if (chosen && (!prefer || prefer === chosen.name)) return chosen
  const notes: string[] = []
  const order: BackendName[] = prefer ? [prefer] : ['tensorflow', 'wasm', 'cpu']
  for (const name of order) {
    const why =
      name === 'tensorflow'
        ? await tryNode()
        : name === 'wasm'
          ? await tryWasm()
          : (await tf.setBackend('cpu'))
            ? undefined
            : 'cpu backend did not start'
    if (why === undefined) {
      await tf.ready()
      chosen = { name, reason: notes.length ? notes.join('; ') : prefer ? 'requested' : 'best available' }
      return chosen
    }
    notes.push(why)
  }
  throw new Error(`TensorFlow.js backend ${prefer ?? ''} could not start: ${notes.join('; ')}`)
}

export { tf }
