/**
 * What a rollout is made of, as stored and as a dashboard reads it: the rollout record (its plan
 * and where it stands) and one row per device. Plain JSON, the same in memory and in PostgreSQL.
 *
 * @module
 */
import type { FailureState } from '../../core/states.js';
import type { NormalizedRolloutPlan } from './plan.js';

/**
 * Where a rollout stands.
 * - `scheduled`: created with a `startAt` still ahead;
 * - `running`: dispatching wave after wave;
 * - `paused`: by an operator or a threshold; devices already ordered still report;
 * - `rolling_back`: aborted by a threshold with `rollback`: restoring the devices it updated;
 * - `completed`: every wave done; `aborted`: stopped by a threshold; `cancelled`: by an operator.
 */
export type RolloutState =
  | 'scheduled'
  | 'running'
  | 'paused'
  | 'rolling_back'
  | 'completed'
  | 'aborted'
  | 'cancelled';

/** States a rollout never leaves. */
export const FINAL_ROLLOUT_STATES: readonly RolloutState[] = ['completed', 'aborted', 'cancelled'];

/**
 * Where one device of a rollout stands.
 * - `pending`: not ordered yet; `dispatching`: claimed by an instance that is sending the order;
 * - `in_progress`: ordered, its statuses awaited until its timeout;
 * - `retry_wait`: failed, ordered again once its backoff is over;
 * - `succeeded`, `failed`, `timed_out`: final outcomes (after retries);
 * - `skipped`: never ordered (the rollout was cancelled or aborted first);
 * - `rolling_back` / `rolled_back`: a succeeded device being restored after an abort, and restored.
 */
export type RolloutDeviceState =
  | 'pending'
  | 'dispatching'
  | 'in_progress'
  | 'retry_wait'
  | 'succeeded'
  | 'failed'
  | 'timed_out'
  | 'skipped'
  | 'rolling_back'
  | 'rolled_back';

export const ROLLOUT_DEVICE_STATES: readonly RolloutDeviceState[] = [
  'pending',
  'dispatching',
  'in_progress',
  'retry_wait',
  'succeeded',
  'failed',
  'timed_out',
  'skipped',
  'rolling_back',
  'rolled_back',
];

/** Device states that end a device's part in the rollout (before any rollback). */
export const SETTLED_DEVICE_STATES: readonly RolloutDeviceState[] = [
  'succeeded',
  'failed',
  'timed_out',
  'skipped',
  'rolled_back',
];

/**
 * Why a device failed: the failure state its platform reported, `timed_out` when it went silent
 * past the device timeout, or `dispatch_failed` when its order could not be sent.
 */
export type RolloutFailureKind = FailureState | 'timed_out' | 'dispatch_failed';

/** One device of a rollout, as stored. */
export interface RolloutDevice {
  deviceId: string;
  /** Index of its wave in the plan. */
  wave: number;
  /** Its place in the plan's device list (waves are cut and claimed in this order). */
  position: number;
  state: RolloutDeviceState;
  /** Orders sent (or being sent) to it; a retry is one more. */
  attempts: number;
  /** The instance that claimed its current step (while `dispatching` / `rolling_back`). */
  owner: string | null;
  /**
   * Epoch ms when its current step is due: a claim's lease (`dispatching`), its timeout
   * (`in_progress`, `rolling_back`), the end of its backoff (`retry_wait`).
   */
  dueAt: number | null;
  /** Why its last attempt failed. */
  failure: RolloutFailureKind | null;
  /** The last error it reported (code and message; never a payload). */
  error: { code: string; message: string } | null;
  /** Epoch ms of the last change. */
  updatedAt: number;
  /** Increments with every write, for compare-and-set. */
  revision: number;
}

/** Why a rollout paused, aborted or was cancelled. */
export interface RolloutStopReason {
  kind: 'operator' | 'threshold';
  /** The operator's words, or the threshold that tripped. */
  message: string;
  /** For a threshold: its index in the plan, the failure rate seen and the sample it was seen on. */
  threshold?: number;
  rate?: number;
  sample?: number;
  at: string;
}

/** Settled devices and failures at a point in time, over the rollout and one wave. */
export interface ThresholdBaseline {
  settled: number;
  failures: Partial<Record<RolloutFailureKind, number>>;
  wave: number;
  waveSettled: number;
  waveFailures: Partial<Record<RolloutFailureKind, number>>;
}

/** The rollout as stored. */
export interface RolloutRecord {
  format: 'otakit.rollout/1';
  id: string;
  plan: NormalizedRolloutPlan;
  state: RolloutState;
  /** Index of the wave being dispatched. */
  wave: number;
  /** Epoch ms the current wave started, and when it settled (soak time counts from it). */
  waveStartedAt: number | null;
  waveSettledAt: number | null;
  /** Dispatch tokens left (pacing), and when they were last refilled (epoch ms). */
  tokens: number;
  refilledAt: number | null;
  reason: RolloutStopReason | null;
  /**
   * What had settled when an operator resumed a rollout a threshold paused: thresholds count
   * only what settles after it (the operator accepted the failures before).
   */
  baseline: ThresholdBaseline | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  /** Increments with every write. */
  revision: number;
}

/** Devices of a rollout per wave and state, and failures per kind. */
export interface RolloutCounts {
  /** `byWave[wave][state]`; a state no device of the wave is in may be absent (read it as 0). */
  byWave: Array<Partial<Record<RolloutDeviceState, number>>>;
  /** Final failures (after retries) per kind, the whole rollout. */
  failures: Partial<Record<RolloutFailureKind, number>>;
  /** Final failures per kind per wave. */
  failuresByWave: Array<Partial<Record<RolloutFailureKind, number>>>;
}
