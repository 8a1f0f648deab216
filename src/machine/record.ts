/**
 * The shapes a machine persists and shows: the stored record (internal, versioned) and the
 * snapshot a dashboard renders. All plain JSON, all zod. The status a device reports is shared
 * vocabulary and lives in `core/status.ts`.
 *
 * @module
 */
import * as z from 'zod';
import {
  ProgressSchema,
  SerializedOtaErrorSchema,
  TerminalStateSchema,
  UpdateRefSchema,
  UpdateStateSchema,
} from '../core/status.js';
import { ManifestSchema } from '../manifest/schema.js';

export const HistoryEntrySchema = z.object({
  from: UpdateStateSchema,
  to: UpdateStateSchema,
  /** ISO 8601 time of the transition. */
  at: z.string(),
  updateId: z.string().nullable(),
  /** The machine re-entered `to` after a restart (`from === to`). */
  resumed: z.boolean().optional(),
  /** States a tracker inferred because the device did not report them. */
  skipped: z.array(UpdateStateSchema).optional(),
  error: SerializedOtaErrorSchema.optional(),
});
export type HistoryEntry = z.output<typeof HistoryEntrySchema>;

/** How the last update ended. */
export const UpdateOutcomeSchema = z.object({
  state: z.union([TerminalStateSchema, z.literal('installed'), z.literal('available'), z.literal('idle')]),
  update: UpdateRefSchema.nullable(),
  error: SerializedOtaErrorSchema.nullable(),
  /** The update is installed and waits for a reboot; call `resume()` after it. */
  rebootRequired: z.boolean(),
  /**
   * Set when the order was not acted on, and why: `already_installed` = it is the update this
   * machine committed last (a re-delivered order); nothing changed.
   */
  ignored: z.enum(['already_installed']).optional(),
});
export type UpdateOutcome = z.output<typeof UpdateOutcomeSchema>;

/** One artifact the download hook has put somewhere, with what it measured while streaming. */
export const StagedArtifactSchema = z.object({
  /** Where the bytes are: a path, a blob key, whatever the install hook understands. */
  location: z.string().min(1),
  size: z.number().int().nonnegative(),
  md5: z
    .string()
    .regex(/^[0-9a-fA-F]{32}$/)
    .transform((value) => value.toLowerCase())
    .optional(),
  sha256: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/)
    .transform((value) => value.toLowerCase())
    .optional(),
});
export type StagedArtifact = z.output<typeof StagedArtifactSchema>;
export type StagedArtifactInput = z.input<typeof StagedArtifactSchema>;

export const MachineRoleSchema = z.enum(['device', 'tracker']);
export type MachineRole = z.output<typeof MachineRoleSchema>;

/**
 * What a device machine configured with `trust` keeps across restarts. Optional in the record, so
 * records written before (or by machines without `trust`) still load.
 */
export const TrustStateSchema = z.object({
  /** The anti-rollback floor, raised only when an update commits; `null` = none yet. */
  floor: z.string().min(1).nullable(),
  /**
   * The root adopted by `rotateTrustRoot()`, or `null` while the configured root rules. Kept as
   * plain JSON here (the record schema is in every dashboard bundle); the trust gate validates it
   * as a `TrustRoot` whenever it uses it, and refuses orders if it is not one.
   */
  root: z.json().nullable(),
});
export type TrustState = z.output<typeof TrustStateSchema>;

/** What the machine writes to its store on every transition. Versioned for migrations. */
export const MachineRecordSchema = z.object({
  format: z.literal('otakit.machine/1'),
  machineId: z.string().min(1),
  role: MachineRoleSchema,
  state: UpdateStateSchema,
  update: UpdateRefSchema.nullable(),
  /** The update last committed on this machine, if any. */
  current: UpdateRefSchema.nullable(),
  /** The full manifest on a device; trackers usually only know the id and version. */
  manifest: ManifestSchema.nullable(),
  staged: z.array(StagedArtifactSchema).nullable(),
  /** Opaque resume data the download hook saved (e.g. bytes written, ETag). */
  checkpoint: z.json().nullable(),
  /** Persisted steps of the current update, for the loop guard. */
  steps: z.number().int().nonnegative(),
  /** Installing began, so stopping now needs a rollback rather than a plain cancel. */
  installStarted: z.boolean(),
  awaitingReboot: z.boolean(),
  lastError: SerializedOtaErrorSchema.nullable(),
  lastOutcome: UpdateOutcomeSchema.nullable(),
  progress: ProgressSchema.nullable(),
  history: z.array(HistoryEntrySchema),
  /** ISO 8601 time of the last write. */
  updatedAt: z.string(),
  /** Trust state (floor, rotated root) of a device machine with the `trust` option. */
  trust: TrustStateSchema.optional(),
});
export type MachineRecord = z.output<typeof MachineRecordSchema>;

/**
 * What `snapshot()` returns: everything a dashboard renders about one machine, as plain JSON
 * (no manifest URLs, which may carry credentials).
 */
export const UpdateSnapshotSchema = z.object({
  machineId: z.string(),
  role: MachineRoleSchema,
  state: UpdateStateSchema,
  update: UpdateRefSchema.nullable(),
  current: UpdateRefSchema.nullable(),
  progress: ProgressSchema.nullable(),
  history: z.array(HistoryEntrySchema),
  lastError: SerializedOtaErrorSchema.nullable(),
  lastOutcome: UpdateOutcomeSchema.nullable(),
  awaitingReboot: z.boolean(),
  steps: z.number().int().nonnegative(),
  updatedAt: z.string(),
});
export type UpdateSnapshot = z.output<typeof UpdateSnapshotSchema>;
