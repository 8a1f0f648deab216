/**
 * The typed event map every machine (device or tracker) emits.
 *
 * @module
 */
import type { OtaError, SerializedOtaError } from '../core/errors.js';
import type { UpdateState } from '../core/states.js';
import type { UpdateRef, UpdateStatus } from '../core/status.js';

export interface TransitionEvent {
  machineId: string;
  from: UpdateState;
  to: UpdateState;
  /** ISO 8601. */
  at: string;
  update: UpdateRef | null;
  /** Re-entered after a restart. */
  resumed: boolean;
  /** States a tracker inferred between `from` and `to`. */
  skipped: UpdateState[];
  error: SerializedOtaError | null;
}

export interface ProgressEvent {
  machineId: string;
  updateId: string;
  bytes: number;
  total: number | null;
  bytesPerSecond: number;
  /** Index of the artifact being downloaded, when the hook says. */
  artifact: number | null;
}

export interface ReportEvent {
  machineId: string;
  status: UpdateStatus;
  /** The report hook delivered it (device), or the tracker accepted it. */
  delivered: boolean;
  error: SerializedOtaError | null;
}

/**
 * Event map for `machine.on(...)`.
 *
 * @example
 * ```ts
 * machine.on('transition', ({ from, to }) => console.log(`${from} -> ${to}`))
 * ```
 */
export interface UpdateMachineEvents {
  transition: (event: TransitionEvent) => void;
  progress: (event: ProgressEvent) => void;
  /** Non-fatal problems (a report that failed, an illegal status) and every failure that ends an update. */
  error: (error: OtaError) => void;
  report: (event: ReportEvent) => void;
}
