import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // A private redis-server for the run unless TEST_REDIS_URL names one.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Two cores: run files in parallel but keep each worker's memory small.
    pool: 'forks',
  },
});
