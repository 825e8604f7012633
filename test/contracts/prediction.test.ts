import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodePrediction, encodePrediction, type Prediction, predictionWire } from '../../src/contracts/index.js'

describe('PredictionV1 encoder', () => {
  it('writes exactly what JSON.stringify of the wire object would, and decodes back', () => {
    const prediction = fc.record({
      host: fc.stringMatching(/^[A-Za-z0-9._:-]{1,40}$/),
      ts: fc.integer({ min: 0, max: 4e12 }),
      scoredAt: fc.integer({ min: 0, max: 4e12 }),
      score: fc.double({ min: 0, max: 1, noNaN: true }),
      risk: fc.constantFrom('ok', 'watch', 'act'),
      model: fc.record({
        name: fc.string({ minLength: 1, maxLength: 20 }),
        version: fc.string({ minLength: 1, maxLength: 10 }),
      }),
      horizonMs: fc.integer({ min: 1, max: 1e9 }),
      top: fc.array(
        fc.record({
          feature: fc.string({ minLength: 1, maxLength: 30 }),
          contribution: fc.double({ noNaN: true, noDefaultInfinity: true }),
        }),
        { maxLength: 5 },
      ),
      ttf: fc.option(
        fc.record({
          medianMs: fc.option(fc.integer({ min: 0, max: 1e9 }), { nil: null }),
          lowMs: fc.option(fc.integer({ min: 0, max: 1e9 }), { nil: null }),
          highMs: fc.option(fc.integer({ min: 0, max: 1e9 }), { nil: null }),
          ifFailsMs: fc.option(fc.integer({ min: 0, max: 1e9 }), { nil: null }),
          maxMs: fc.integer({ min: 1, max: 1e9 }),
        }),
        { nil: undefined },
      ),
    }) as fc.Arbitrary<Prediction>
    fc.assert(
      fc.property(prediction, (p) => {
        // The topic's bytes (hand-written encoder) are the API's answer (predictionWire), byte for byte.
        const bytes = encodePrediction(p)
        expect(bytes.toString('utf8')).toBe(JSON.stringify(predictionWire(p)))
        const d = decodePrediction(bytes, { key: p.host })
        expect(d.ok).toBe(true)
        if (d.ok) expect(d.value.ttf).toEqual(p.ttf)
      }),
      { numRuns: 500 },
    )
  })

  it('ttf is optional, and a bad one is refused with its path', () => {
    const base = {
      v: 1,
      host: 'h1',
      ts: 1,
      scored_at: 2,
      score: 0.5,
      risk: 'ok',
      model: { name: 'm', version: '1' },
      horizon_ms: 10,
      top: [],
    }
    expect(decodePrediction(Buffer.from(JSON.stringify(base)), { key: 'h1' }).ok).toBe(true)
    const bad = decodePrediction(
      Buffer.from(
        JSON.stringify({ ...base, ttf: { median_ms: -5, low_ms: null, high_ms: null, if_fails_ms: null, max_ms: 10 } }),
      ),
      { key: 'h1' },
    )
    expect(bad.ok).toBe(false)
    if (!bad.ok) expect(bad.error.path).toMatch(/ttf/)
  })
})
