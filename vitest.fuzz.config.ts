import { defineConfig } from 'vitest/config';

/**
 * The fuzzing suite (`npm run test:fuzz`): fast-check over every decoder and over the update
 * machine's event sequences, `FUZZ_RUNS` cases per property (default 10 000, see
 * test/fuzz/runs.ts). Kept out of `npm test` (whose config includes only `*.test.ts`).
 */
export default defineConfig({
  test: {
    include: ['test/fuzz/**/*.fuzz.ts'],
    // Timeouts only catch hangs: 10 000 cases on two loaded cores take a while.
    testTimeout: 600_000,
    hookTimeout: 120_000,
    // Each file is CPU-bound: one worker per core at most.
    maxWorkers: 2,
  },
});
