/**
 * What happened to one device's order, and the row it leads to. Pure functions: the orchestrator
 * applies them with compare-and-set (settles) or inside a step, so the same outcome seen twice
 * (two instances, a replayed status) changes the row once.
 *
 * @module
 */
import type { UpdateRef } from '../../core/status.js';
import type { NormalizedRolloutPlan } from './plan.js';
import type { RolloutDevice, RolloutFailureKind } from './types.js';

/** One thing learnt about a device. */
export type DeviceOutcome =
  /** Its order went out (attempt `attempt`). */
  | { kind: 'dispatched'; attempt: number }
  /**
   * It reported the update committed. `of`: which of the plan's manifests it reported (`update`
   * for the rollout's, `rollback` for the rollback manifest): only a row waiting for that one settles.
   */
  | { kind: 'succeeded'; of: UpdateKind }
  /**
   * It reported a failure (`of` as above; `unknown` when the device named no update: it applies to
   * an order under way, whichever), went silent past its timeout, or its order could not be sent.
   */
  | {
      kind: 'failed';
      of: UpdateKind | 'unknown';
      failure: RolloutFailureKind;
      error: { code: string; message: string } | null;
    };

/** Which of a plan's manifests an outcome is about. */
export type UpdateKind = 'update' | 'rollback';

/** The wait before retry number `attempts` (the first retry waits `backoffMs`). */
export function retryDelay(plan: NormalizedRolloutPlan, attempts: number): number {
  const { backoffMs, factor, maxBackoffMs } = plan.retry;
  return Math.min(maxBackoffMs, backoffMs * factor ** Math.max(0, attempts - 1));
}

/** Whether a reported update is this rollout's (or, while rolling back, its rollback manifest). */
export function isUpdateOf(
  plan: NormalizedRolloutPlan,
  update: UpdateRef | null,
  rollingBack: boolean,
): boolean {
  if (update === null) return false;
  const manifest = rollingBack ? plan.rollback : plan.manifest;
  if (manifest === null) return false;
  if (!rollingBack) {
    const { updateId, version } = plan.reportedAs;
    if (updateId !== null && update.id === updateId) return true;
    if (version !== null && update.version === version) return true;
  }
  return update.id === manifest.id || (update.version !== null && update.version === manifest.version);
}

/**
 * The row `device` becomes after `outcome`, or `null` when the outcome does not apply to where it
 * stands (already settled, a marker of an older attempt, a duplicate).
 */
export function afterOutcome(
  device: RolloutDevice,
  outcome: DeviceOutcome,
  plan: NormalizedRolloutPlan,
  now: number,
): RolloutDevice | null {
  const next = (changes: Partial<RolloutDevice>): RolloutDevice => ({
    ...device,
    ...changes,
    updatedAt: now,
    revision: device.revision + 1,
  });
  // An outcome about the other manifest says nothing of this row (a device ordered the new
  // update that reports the old one committed after a reboot has not succeeded).
  const expects: UpdateKind = device.state === 'rolling_back' ? 'rollback' : 'update';
  if (outcome.kind !== 'dispatched' && outcome.of !== expects && outcome.of !== 'unknown') return null;
  if (device.state === 'rolling_back') {
    if (outcome.kind === 'dispatched') return null;
    if (outcome.kind === 'succeeded') return next({ state: 'rolled_back', owner: null, dueAt: null });
    // The restore failed: the device keeps the update, and says so.
    return next({
      state: 'failed',
      owner: null,
      dueAt: null,
      failure: outcome.failure,
      error: outcome.error,
    });
  }
  if (device.state !== 'dispatching' && device.state !== 'in_progress') return null;
  switch (outcome.kind) {
    case 'dispatched':
      if (device.state !== 'dispatching' || device.attempts !== outcome.attempt) return null;
      return next({ state: 'in_progress', owner: null, dueAt: now + plan.deviceTimeoutMs });
    case 'succeeded':
      return next({ state: 'succeeded', owner: null, dueAt: null, failure: null, error: null });
    case 'failed': {
      const final = device.attempts >= plan.retry.attempts;
      if (final) {
        return next({
          state: outcome.failure === 'timed_out' ? 'timed_out' : 'failed',
          owner: null,
          dueAt: null,
          failure: outcome.failure,
          error: outcome.error,
        });
      }
      return next({
        state: 'retry_wait',
        owner: null,
        dueAt: now + retryDelay(plan, device.attempts),
        failure: outcome.failure,
        error: outcome.error,
      });
    }
  }
}
