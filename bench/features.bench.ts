import { FeatureEngine } from '../src/features/engine.js'
import { fitRegimes } from '../src/features/regimes.js'
import { createFeatureSpec } from '../src/features/spec.js'
import { Rng } from '../src/math/random.js'
import { PeerExchange } from '../src/stream/peers.js'
import { type Bench, timed } from './harness.js'

/** Feature engine: one vector per sample, 16 metrics × 3 windows × 7 aggregates, one core. */
const bench: Bench = {
  name: 'features',
  description: 'feature engine rate (vector per sample, 16 metrics × 3 windows) and memory per host',
  order: 20,
  async run(ctx) {
    const metrics = Array.from({ length: 16 }, (_, i) => `m${i}`)
    const spec = createFeatureSpec({
      metrics,
      horizon: 3_600_000,
      timeUnit: 'ms',
      windows: [600_000, 1_800_000, 7_200_000],
      minHistory: 1,
    })
    const hosts = 200
    const n = Math.round(2_000_000 * ctx.scale)
    const r = new Rng(1)
    // Pre-generated input so the figure is the engine's alone.
    const values = Array.from({ length: 1024 }, () => Float64Array.from(metrics, () => r.normal()))
    const names = Array.from({ length: hosts }, (_, i) => `host-${i}`)
    const engine = new FeatureEngine(spec)
    const out = new Float64Array(engine.size)
    let emitted = 0
    const [, s] = await timed(async () => {
      for (let i = 0; i < n; i++) {
        const h = i % hosts
        const ts = 1_700_000_000_000 + Math.floor(i / hosts) * 10_000
        if (engine.push(names[h]!, ts, values[i & 1023]!, out) === 'emitted') emitted++
      }
    })
    ctx.log(`${emitted} vectors of ${engine.size} features in ${s.toFixed(2)} s`)
    // The same stream with peer features as the streaming scorer computes them: each sample
    // counted into its partition's buckets (4 partitions, 5 services), buckets closed and
    // merged, the vector reading its service's median (stream/peers.ts).
    const peerSpec = createFeatureSpec({
      ...spec,
      metrics,
      horizon: 3_600_000,
      windows: spec.windows,
      minHistory: 1,
      peers: { by: 'service' },
    })
    const exchange = new PeerExchange(peerSpec, 5000)
    exchange.partitions = 4
    const peerEngine = new FeatureEngine(peerSpec, exchange.table)
    const peerOut = new Float64Array(peerEngine.size)
    const services = ['web', 'api', 'db', 'cache', 'batch']
    let unready = 0
    const [, sp] = await timed(async () => {
      for (let i = 0; i < n; i++) {
        const h = i % hosts
        const ts = 1_700_000_000_000 + Math.floor(i / hosts) * 10_000
        const p = h % 4
        const g = services[h % 5]!
        const v = values[i & 1023]!
        exchange.close(p, ts, false, 'state')
        if (!exchange.ready(exchange.bucketFor(ts))) unready++
        exchange.count(p, names[h]!, g, ts, v, true)
        peerEngine.push(names[h]!, ts, v, peerOut, g)
      }
    })
    ctx.log(`with peers: ${peerEngine.size} features in ${sp.toFixed(2)} s (${unready} samples would have waited)`)
    // The same stream read per operating regime (features/regimes.ts): m0 is the setting
    // (6 values), every other metric standardized by its regime's mean and spread first.
    const settings = values.map((v, i) => {
      const c = Float64Array.from(v)
      c[0] = (i % 6) * 10
      return c
    })
    const fit = fitRegimes(settings, metrics, ['m0'])
    const regimeEngine = new FeatureEngine(
      createFeatureSpec({
        ...spec,
        metrics,
        horizon: 3_600_000,
        windows: spec.windows,
        minHistory: 1,
        regimes: fit.regimes,
      }),
    )
    const [, sr] = await timed(async () => {
      for (let i = 0; i < n; i++) {
        const h = i % hosts
        const ts = 1_700_000_000_000 + Math.floor(i / hosts) * 10_000
        regimeEngine.push(names[h]!, ts, settings[i & 1023]!, out)
      }
    })
    ctx.log(`with 6 regimes: ${regimeEngine.size} features in ${sr.toFixed(2)} s`)
    return {
      samples_per_s_with_regimes: {
        value: n / sr,
        unit: 'samples/s',
        better: 'higher',
        note: `the same stream read per operating regime (6 regimes of one setting, 15 metrics standardized per regime first): ${((n / sr / (n / s)) * 100).toFixed(0)} % of the rate without`,
      },
      samples_per_s_with_peers: {
        value: n / sp,
        unit: 'samples/s',
        better: 'higher',
        note: `the same stream with ${peerEngine.size - engine.size} peer features (4 partitions, 5 services, 1-minute buckets): ${((n / sp / (n / s)) * 100).toFixed(0)} % of the rate without`,
      },
      samples_per_s: {
        value: n / s,
        unit: 'samples/s',
        better: 'higher',
        target: 200_000,
        note: `${engine.size} features per vector, windows 10m/30m/2h at 10 s sampling, ${hosts} hosts`,
      },
      state_bytes_per_host: {
        value: engine.stateBytes() / engine.hostCount,
        unit: 'B/host',
        better: 'lower',
        note: '2 h longest window at 10 s (720 samples)',
      },
    }
  },
}
export default bench
