/**
 * The one way a protocol turns what a status message says into a full {@link UpdateStatus} for
 * `tracker.ingest()`: the fields the wire carried, completed from what the tracker knew.
 *
 * @module
 */
import type { SerializedOtaError } from '../core/errors.js';
import type { UpdateState } from '../core/states.js';
import type { Progress, UpdateStatus } from '../core/status.js';
import type { StatusDecodeContext } from './contract.js';

/** What a status message carried; anything left out is taken from the tracker's view. */
export interface PartialStatus {
  state: UpdateState;
  /** The update it is about; `undefined` = the wire format does not say. */
  updateId?: string | null;
  version?: string | null;
  /** ISO 8601 time the device stamped, if any. */
  at?: string;
  progress?: Progress | null;
  error?: SerializedOtaError | null;
}

/**
 * A complete {@link UpdateStatus}: update id and version from the message where it has them,
 * otherwise from `context.previous` (an insigh.io `e`=1 names no update, but the tracker knows
 * which one it follows); the previous state from the tracker; the time from the message or
 * `context.at` or now.
 */
export function completeStatus(partial: PartialStatus, context: StatusDecodeContext<unknown>): UpdateStatus {
  const known = context.previous?.update ?? null;
  const updateId = partial.updateId !== undefined ? partial.updateId : (known?.id ?? null);
  const version =
    partial.version !== undefined
      ? partial.version
      : updateId !== null && updateId === known?.id
        ? known.version
        : null;
  const status: UpdateStatus = {
    machineId: context.machineId,
    updateId,
    version,
    state: partial.state,
    previous: context.previous?.state ?? null,
    at: partial.at ?? context.at ?? new Date().toISOString(),
  };
  if (partial.progress !== undefined) status.progress = partial.progress;
  if (partial.error !== undefined) status.error = partial.error;
  return status;
}
