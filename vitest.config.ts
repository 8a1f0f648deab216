import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * Test files that replace a module with `vi.mock`: they need a fresh module graph of their own.
 * Every other file shares its worker's module cache (`isolate: false`): re-importing zod, the
 * protocols and the MQTT and AWS clients for each of 130 files was most of `npm test`'s time
 * (258 s against 178 s on two cores, in one measurement). Those files must not leave global state behind: tests that
 * patch a global restore it, and servers, brokers and timers are closed in `afterEach`/`afterAll`.
 */
const MOCKING = [
  'test/node/archive-bomb.test.ts',
  'test/node/install-file.test.ts',
  'test/protocols/connhex/config.test.ts',
];

export default defineConfig({
  test: {
    // Most test files wait on sockets, brokers and child processes rather than on the CPU, so
    // more files than cores run at once. Vitest's default (cores − 1) runs them one at a time on
    // a two-core machine; six at once took 198 s there against 231 s with four.
    maxWorkers: Math.max(6, availableParallelism()),
    // Timeouts only catch hangs: generous, so a busy machine (CI, two loaded cores) never trips them.
    // Nothing asserts wall-clock time; speed is measured by `npm run bench`. 120 s: on an idle
    // two-core machine the slowest tests took 30-50 s in a full run (archive properties, the demo),
    // so 60 s left too little room for a loaded CI machine.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Byte arrays compared with one memcmp in toEqual (see the file): vitest's element-by-element
    // walk cost about 3 s of CPU per 300 KiB Buffer.
    setupFiles: ['test/support/byte-equality.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'shared',
          include: ['test/**/*.test.ts'],
          exclude: MOCKING,
          isolate: false,
          // `npx vitest run` type-checks test/**/*.test-d.ts (one tsc over their imports: ~50 s
          // of CPU). `npm test` turns it off (--typecheck.enabled=false): its `npm run typecheck`,
          // which runs first, already checks those files with the whole tsconfig, and fails on
          // any expectTypeOf mismatch or unused @ts-expect-error.
          typecheck: { enabled: true, include: ['test/**/*.test-d.ts'] },
        },
      },
      {
        extends: true,
        test: { name: 'isolated', include: MOCKING, isolate: true },
      },
    ],
  },
});
