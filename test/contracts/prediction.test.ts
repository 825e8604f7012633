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
    }) as fc.Arbitrary<Prediction>
    fc.assert(
      fc.property(prediction, (p) => {
        // The topic's bytes (hand-written encoder) are the API's answer (predictionWire), byte for byte.
        const bytes = encodePrediction(p)
        expect(bytes.toString('utf8')).toBe(JSON.stringify(predictionWire(p)))
        const d = decodePrediction(bytes, { key: p.host })
        expect(d.ok).toBe(true)
      }),
      { numRuns: 500 },
    )
  })
})
