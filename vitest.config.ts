import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'] },
    // Most test files wait on sockets, brokers and child processes rather than on the CPU, so
    // more files than cores run at once. Vitest's default (cores − 1) runs them one at a time on
    // a two-core machine, which made `npm test` take over four minutes there.
    maxWorkers: Math.max(4, availableParallelism()),
    // Timeouts only catch hangs: generous, so a busy machine (CI, two loaded cores) never trips them.
    // Nothing asserts wall-clock time; speed is measured by `npm run bench`.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
