/**
 * Crash injection through a ThingsBoard agent, fuzz: the campaign of
 * test/fault/crash-harness-thingsboard.ts, FUZZ_RUNS × 0.01 iterations (100 at the default
 * 10 000), against a real ThingsBoard agent in a child process (its own emulator per iteration,
 * the package over MQTT chunks or HTTP) SIGKILLed at every persisted transition and installer
 * step, at random download byte offsets and install moments, with truncated FileStore temp files
 * and records between kill and restart. Beyond the file and the record, the emulator must hold
 * the final status (UPDATED when committed, FAILED when not) and no UPDATED before the commit.
 * `FUZZ_SEED` replays a campaign. The tally is printed at the end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Counts } from '../fault/crash-harness.js';
import { killChildren } from '../fault/crash-harness.js';
import {
  measureThingsBoardCounts,
  runThingsBoardCampaign,
  summarizeThingsBoard,
  thingsBoardChild,
} from '../fault/crash-harness-thingsboard.js';
import { FUZZ_RUNS } from './runs.js';

const ITERATIONS = Math.max(1, Math.ceil(FUZZ_RUNS * 0.01));

describe('crash injection through a ThingsBoard agent process', () => {
  let counts: Counts[];

  beforeAll(async () => {
    await thingsBoardChild();
    counts = await measureThingsBoardCounts();
  });
  afterAll(() => killChildren());

  it(`${ITERATIONS} iterations: the file old or new, the last fw_state UPDATED or FAILED to match, no UPDATED before commit`, async () => {
    const seed = Number(process.env.FUZZ_SEED ?? 20_261_205);
    const started = Date.now();
    const { results } = await runThingsBoardCampaign({ counts, count: ITERATIONS, seed, concurrency: 6 });
    console.info(
      `agent-crash-thingsboard.fuzz.ts (seed ${seed}, ${((Date.now() - started) / 1000).toFixed(1)} s)\n${summarizeThingsBoard(results)}`,
    );
    expect(results).toHaveLength(ITERATIONS);
    expect(results.some((r) => r.finalFwState === 'FAILED')).toBe(true);
    expect(results.some((r) => r.finalFwState === 'UPDATED')).toBe(true);
  });
});
