import { defineConfig } from 'vitest/config';

/**
 * Browser tests: the real app in-process on 127.0.0.1 and Debian's Chromium driven by
 * playwright-core. One file at a time (one browser is plenty on 2 cores), long timeouts.
 * The same global setup as the unit tests, so the migrated database snapshot exists.
 */
export default defineConfig({
  test: {
    include: ['e2e/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
