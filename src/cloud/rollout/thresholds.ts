/**
 * Abort thresholds: a failure rate reached on a minimum sample of settled devices, over the
 * rollout or the current wave, counting every kind of failure or only some.
 *
 * @module
 */
import { countIn } from './counts.js';
import type { NormalizedRolloutPlan } from './plan.js';
import type { RolloutCounts, RolloutFailureKind, ThresholdBaseline } from './types.js';

export interface TrippedThreshold {
  index: number;
  rate: number;
  sample: number;
  failures: number;
  action: 'pause' | 'abort';
  rollback: boolean;
}

const SETTLED = ['succeeded', 'failed', 'timed_out', 'rolling_back', 'rolled_back'] as const;

/** What has settled now: the baseline an operator's resume sets. */
export function baselineOf(counts: RolloutCounts, wave: number): ThresholdBaseline {
  return {
    settled: countIn(counts, SETTLED),
    failures: { ...counts.failures },
    wave,
    waveSettled: countIn(counts, SETTLED, wave),
    waveFailures: { ...(counts.failuresByWave[wave] ?? {}) },
  };
}

/** The first threshold of the plan that trips on `counts` (wave scope: `wave`), or `null`. */
export function trippedThreshold(
  plan: NormalizedRolloutPlan,
  counts: RolloutCounts,
  wave: number,
  baseline: ThresholdBaseline | null = null,
): TrippedThreshold | null {
  for (const [index, threshold] of plan.thresholds.entries()) {
    const scoped = threshold.scope === 'wave';
    // A baseline of another wave says nothing of this one.
    const base = baseline === null || (scoped && baseline.wave !== wave) ? null : baseline;
    const sample =
      countIn(counts, SETTLED, scoped ? wave : undefined) -
      (base === null ? 0 : scoped ? base.waveSettled : base.settled);
    if (sample < threshold.minSample) continue;
    const byKind = scoped ? (counts.failuresByWave[wave] ?? {}) : counts.failures;
    const baseKinds = base === null ? {} : scoped ? base.waveFailures : base.failures;
    let failures = 0;
    for (const [kind, count] of Object.entries(byKind) as Array<[RolloutFailureKind, number]>) {
      if (threshold.kinds === null || threshold.kinds.includes(kind))
        failures += count - (baseKinds[kind] ?? 0);
    }
    const rate = failures / sample;
    if (failures > 0 && rate >= threshold.failureRate) {
      return { index, rate, sample, failures, action: threshold.action, rollback: threshold.rollback };
    }
  }
  return null;
}
