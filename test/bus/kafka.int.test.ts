import { describe } from 'vitest'
import { createTestKafkaBus } from '../helpers/bus.js'
import { busConformance } from './conformance.js'

describe('bus conformance: real Kafka broker', () => {
  busConformance((ctx) => createTestKafkaBus(ctx))
})
