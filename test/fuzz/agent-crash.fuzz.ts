/**
 * Crash injection, fuzz: the crash campaign of test/fault/crash-harness.ts, FUZZ_RUNS × 0.02
 * iterations (200 at the default 10 000), against a real micropython_ota agent in a child process
 * SIGKILLed at every persisted transition and installer step, at random download byte offsets
 * and install moments, with truncated FileStore temp files and records between kill and restart.
 * `FUZZ_SEED` replays a campaign. The tally (outcomes, kill points) is printed at the end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Baseline,
  childScript,
  killChildren,
  measureBaselines,
  type Release,
  runCampaign,
  startRelease,
  summarize,
} from '../fault/crash-harness.js';
import { FUZZ_RUNS } from './runs.js';

const ITERATIONS = Math.max(1, Math.ceil(FUZZ_RUNS * 0.02));

describe('crash injection through a micropython_ota agent process', () => {
  let release: Release;
  let baselines: Baseline[];

  beforeAll(async () => {
    await childScript();
    release = await startRelease();
    baselines = await measureBaselines(release);
  });
  afterAll(async () => {
    killChildren();
    await release?.close();
  });

  it(`${ITERATIONS} iterations end committed or rolled back, byte for byte, store never corrupt`, async () => {
    const seed = Number(process.env.FUZZ_SEED ?? 20_261_205);
    const { results } = await runCampaign({
      release,
      baselines,
      count: ITERATIONS,
      seed,
      concurrency: 8,
      prefix: 'fuzz',
    });
    console.info(`agent-crash.fuzz.ts (seed ${seed})\n${summarize(results)}`);
    expect(results).toHaveLength(ITERATIONS);
    expect(results.some((r) => r.outcome === 'rolled_back')).toBe(true);
    expect(results.some((r) => r.outcome === 'committed')).toBe(true);
  });
});
