/**
 * Counting a rollout's devices per wave and state, the same way in every store: what a step
 * decides on (is the wave settled, has a threshold tripped) and what a dashboard draws.
 *
 * @module
 */
import type { RolloutCounts, RolloutDevice, RolloutDeviceState, RolloutFailureKind } from './types.js';

/** States in which a device's failure is final (counted against thresholds). */
const FINAL_FAILURES: ReadonlySet<RolloutDeviceState> = new Set(['failed', 'timed_out']);

export function emptyCounts(waves: number): RolloutCounts {
  return {
    byWave: Array.from({ length: waves }, () => ({})),
    failures: {},
    failuresByWave: Array.from({ length: waves }, () => ({})),
  };
}

/**
 * Adds (`sign` 1) or removes (`sign` -1) one device from `counts`; any other whole `sign` adds or
 * removes that many devices like it (a store counting rows grouped by wave, state and failure).
 */
export function countDevice(
  counts: RolloutCounts,
  device: Pick<RolloutDevice, 'wave' | 'state' | 'failure'>,
  sign: number,
): void {
  const wave = counts.byWave[device.wave] ?? {};
  counts.byWave[device.wave] = wave;
  wave[device.state] = (wave[device.state] ?? 0) + sign;
  if (!FINAL_FAILURES.has(device.state) || device.failure === null) return;
  const kind: RolloutFailureKind = device.failure;
  counts.failures[kind] = (counts.failures[kind] ?? 0) + sign;
  const waveFailures = counts.failuresByWave[device.wave] ?? {};
  counts.failuresByWave[device.wave] = waveFailures;
  waveFailures[kind] = (waveFailures[kind] ?? 0) + sign;
}

/** Devices of `wave` (or of every wave) in any of `states`. */
export function countIn(counts: RolloutCounts, states: readonly RolloutDeviceState[], wave?: number): number {
  const waves = wave === undefined ? counts.byWave : [counts.byWave[wave] ?? {}];
  let total = 0;
  for (const perState of waves) for (const state of states) total += perState[state] ?? 0;
  return total;
}

export function copyCounts(counts: RolloutCounts): RolloutCounts {
  return {
    byWave: counts.byWave.map((wave) => ({ ...wave })),
    failures: { ...counts.failures },
    failuresByWave: counts.failuresByWave.map((wave) => ({ ...wave })),
  };
}
