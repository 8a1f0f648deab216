/**
 * Crash injection, light: 8 iterations of the crash campaign (test/fault/crash-harness.ts)
 * against a real micropython_ota agent in a child process, SIGKILLed at persisted transitions,
 * installer steps, download byte offsets and install moments, with truncated store temp files
 * and records between kill and restart. The fuzz suite (test/fuzz/agent-crash.fuzz.ts) runs
 * hundreds. Each iteration must end committed with the new tree or rolled back to the old one,
 * byte for byte, with a record that parses, one install, and no junk left.
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
} from './crash-harness.js';

describe('SIGKILL of a micropython_ota agent process, then restarts', () => {
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

  it('a run without a kill commits (or rolls back when unhealthy): 8 transitions, 9 installer steps', () => {
    expect(baselines.map((b) => [b.transitions, b.steps])).toEqual([
      [8, 9],
      [8, 9],
      [9, 10],
    ]);
  });

  it('8 crash iterations all end committed or rolled back, byte for byte', async () => {
    const seed = Number(process.env.FUZZ_SEED ?? 1515);
    const { results } = await runCampaign({
      release,
      baselines,
      count: 8,
      seed,
      concurrency: 4,
      prefix: 'light',
    });
    console.info(summarize(results));
    expect(results.every((r) => ['committed', 'rolled_back', 'settled'].includes(r.outcome))).toBe(true);
    expect(results.some((r) => r.outcome === 'rolled_back')).toBe(true);
    expect(results.some((r) => r.outcome === 'committed')).toBe(true);
  });
});
