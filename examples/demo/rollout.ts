/**
 * One staged rollout per platform through its real cloud side: the rollout orchestrator (memory
 * store) orders through the platform's dispatcher and learns every outcome from the fleet the
 * platform's publisher feeds from the wire. Waves: a canary of one device, then 100 %. A
 * failure-rate threshold pauses the rollout; the demo, playing the operator, resumes it.
 */
import { MemoryRolloutStore } from '../../src/cloud/rollout/memory-store.js';
import { createRolloutOrchestrator, type RolloutOrchestrator } from '../../src/cloud/rollout/orchestrator.js';
import type { RolloutSnapshot } from '../../src/index.js';
import type { PlatformName, PlatformRun } from './common.js';

const UNDER_WAY = ['pending', 'dispatching', 'in_progress', 'retry_wait', 'rolling_back'] as const;
export const underWay = (snapshot: RolloutSnapshot) =>
  UNDER_WAY.reduce((sum, state) => sum + snapshot.totals[state], 0);
const FINAL = new Set(['completed', 'aborted', 'cancelled']);

export interface RolloutRun {
  platform: PlatformName;
  id: string;
  orchestrator: RolloutOrchestrator;
  startedAt: number;
  endedAt: number | null;
  pauses: number;
  /** Resolves with the final snapshot. */
  done: Promise<RolloutSnapshot>;
}

export interface RolloutOptions {
  deviceTimeoutMs: number;
  /** Pause once this share of the settled devices failed (at least `minSample` settled). */
  failureRate: number;
  minSample: number;
  /** How long the "operator" looks before resuming a paused rollout. */
  resumeAfterMs: number;
  say(line: string): void;
}

export async function startRollout(
  platform: PlatformName,
  devices: string[],
  run: PlatformRun,
  options: RolloutOptions,
): Promise<RolloutRun> {
  const orchestrator = createRolloutOrchestrator({
    store: new MemoryRolloutStore(),
    fleet: run.fleet,
    dispatcher: run.dispatcher,
    pollMs: 100,
  });
  orchestrator.on('error', (error) => options.say(`${platform}: orchestrator error: ${error.message}`));
  const id = `${platform}-${run.manifest.version}`;
  const result: RolloutRun = {
    platform,
    id,
    orchestrator,
    startedAt: Date.now(),
    endedAt: null,
    pauses: 0,
    done: Promise.resolve(undefined as never),
  };
  orchestrator.on('wave', ({ wave, name, phase }) =>
    options.say(`${platform}: wave ${wave + 1} (${name}) ${phase}`),
  );
  orchestrator.on('threshold', ({ rate, sample, action }) =>
    options.say(
      `${platform}: THRESHOLD tripped: failure rate ${(rate * 100).toFixed(0)} % over ${sample} settled device(s) >= ${(options.failureRate * 100).toFixed(0)} %: ${action}`,
    ),
  );
  await orchestrator.start({
    id,
    manifest: run.manifest,
    devices,
    waves: [{ name: 'canary', count: 1 }, { percent: 100 }],
    thresholds: [{ failureRate: options.failureRate, minSample: options.minSample, action: 'pause' }],
    deviceTimeoutMs: options.deviceTimeoutMs,
    ...run.plan,
  });
  result.done = (async () => {
    for (;;) {
      const snapshot = await orchestrator.snapshot(id);
      if (FINAL.has(snapshot.state) && underWay(snapshot) === 0) {
        result.endedAt = Date.now();
        return snapshot;
      }
      if (snapshot.state === 'paused' && snapshot.reason?.kind === 'threshold') {
        result.pauses += 1;
        const failed = Object.entries(snapshot.failures)
          .map(([kind, n]) => `${n} ${kind}`)
          .join(', ');
        options.say(
          `${platform}: rollout PAUSED by its threshold after wave ${snapshot.wave.index + 1} (${failed}); the operator resumes it`,
        );
        await new Promise((resolve) => setTimeout(resolve, options.resumeAfterMs));
        await orchestrator.resume(id);
        options.say(`${platform}: rollout RESUMED`);
        continue;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return result;
}
