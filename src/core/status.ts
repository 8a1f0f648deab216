/**
 * The status vocabulary every side shares: the state and error shapes, progress, and the status a
 * device reports and a tracker ingests. Protocol codecs translate {@link UpdateStatus} to and from
 * each platform's wire format; the machine produces and consumes it.
 *
 * @module
 */
import * as z from 'zod';
import { OTA_ERROR_CODES } from './errors.js';
import { TERMINAL_STATES, UPDATE_STATES } from './states.js';

export const UpdateStateSchema = z.enum(UPDATE_STATES);
export const TerminalStateSchema = z.enum(TERMINAL_STATES);

export const SerializedOtaErrorSchema = z.object({
  name: z.string(),
  code: z.enum(OTA_ERROR_CODES),
  message: z.string(),
  retryable: z.boolean(),
  /** The reason of an error that has one (`TrustError`, `ArchiveError`). */
  reason: z.string().max(64).optional(),
  /** A `TrustError`'s field. */
  field: z.string().optional(),
});

/** The update a machine is working on, as far as it knows it. */
export const UpdateRefSchema = z.object({
  id: z.string().min(1),
  /** `null` when a tracker has not been told the version yet. */
  version: z.string().nullable(),
});
export type UpdateRef = z.output<typeof UpdateRefSchema>;

export const ProgressSchema = z.object({
  bytes: z.number().nonnegative(),
  /** `null` when the size is unknown. */
  total: z.number().nonnegative().nullable(),
  bytesPerSecond: z.number().nonnegative(),
});
export type Progress = z.output<typeof ProgressSchema>;

/**
 * A status a device reports (the `report` hook gets one per transition) and a tracker ingests.
 * Protocol codecs translate it to and from each platform's wire format.
 */
export const UpdateStatusSchema = z.object({
  machineId: z.string().min(1),
  updateId: z.string().min(1).nullable(),
  version: z.string().nullable(),
  state: UpdateStateSchema,
  previous: UpdateStateSchema.nullable(),
  /** ISO 8601 time on the reporter's clock. */
  at: z.string(),
  progress: ProgressSchema.nullable().optional(),
  error: SerializedOtaErrorSchema.nullable().optional(),
});
export type UpdateStatus = z.output<typeof UpdateStatusSchema>;
export type UpdateStatusInput = z.input<typeof UpdateStatusSchema>;
