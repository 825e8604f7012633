import { defineConfig } from 'vitest/config'

// Two projects: `unit` is pure and in-memory (fast, no broker); `integration` runs against
// a real Kafka broker (KAFKA_BROKERS, default 127.0.0.1:9092; `npm run kafka:up`).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.int.test.ts', 'node_modules/**'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.int.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          globalSetup: ['test/helpers/kafka-global-setup.ts'],
          // One broker on two cores: files run one at a time so timings stay sane.
          fileParallelism: false,
        },
      },
    ],
  },
})
