import { describe } from 'vitest'
import { createMemoryBus } from '../../src/bus/index.js'
import { busConformance } from './conformance.js'

describe('bus conformance: in-memory twin', () => {
  busConformance((ctx) => {
    const bus = createMemoryBus()
    ctx.onTestFinished(() => bus.close())
    return bus
  })
})
