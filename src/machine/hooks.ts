/**
 * The hooks an application plugs into a device machine, and the context each receives.
 * Every hook gets an `AbortSignal` that fires on `cancel()` or when its phase times out.
 *
 * @module
 */

import type { SerializedOtaError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { UpdateRef, UpdateStatus } from '../core/status.js';
import type { JsonValue } from '../core/store.js';
import type { Manifest, ManifestInput } from '../manifest/schema.js';
import type { StagedArtifact, StagedArtifactInput } from './record.js';

export const HOOK_NAMES = [
  'check',
  'download',
  'verify',
  'install',
  'healthCheck',
  'commit',
  'rollback',
  'report',
] as const;

export type HookName = (typeof HOOK_NAMES)[number];

export interface HookContext {
  /** Aborted on `cancel()` or when the phase's timeout elapses. Pass it to every I/O call. */
  signal: AbortSignal;
  machineId: string;
  /** 1 on the first try, then 2, 3… within the phase's retry budget. */
  attempt: number;
  logger: Logger;
}

export interface CheckContext extends HookContext {
  /** The update last committed on this machine. */
  current: UpdateRef | null;
}

export interface UpdateHookContext extends HookContext {
  manifest: Manifest;
}

export interface DownloadProgress {
  /** Bytes received so far for the whole update (including bytes from before a resume). */
  bytes: number;
  total?: number | null;
  /** Index into `manifest.artifacts` of the artifact being fetched. */
  artifact?: number;
}

export interface DownloadContext extends UpdateHookContext {
  /** This download was started before (a retry or a restart): continue with HTTP Range if you can. */
  resume: boolean;
  /** What the hook last saved with `saveCheckpoint`, or `null`. */
  checkpoint: JsonValue | null;
  /** Persists resume data (bytes written, ETag…) so a restart can continue where it stopped. */
  saveCheckpoint(data: JsonValue): Promise<void>;
  onProgress(progress: DownloadProgress): void;
}

export interface StagedContext extends UpdateHookContext {
  /** What `download` returned, in manifest artifact order. */
  staged: StagedArtifact[];
}

export interface RollbackContext extends UpdateHookContext {
  /** `null` when the machine failed before anything was staged. */
  staged: StagedArtifact[] | null;
  /** Why the machine rolls back. */
  reason: SerializedOtaError | null;
}

export interface ReportContext extends HookContext {
  status: UpdateStatus;
}

export interface InstallResult {
  /**
   * The update takes effect only after a reboot (an A/B slot switch). The machine persists
   * `installed` and stops; after the reboot `resume()` runs the health check, then commits or
   * rolls back.
   */
  reboot?: boolean;
}

/**
 * The steps of an update. `download` and `install` are required; the rest have defaults:
 * no `check` means updates arrive only through `offer()`/`apply()`; `verify` compares the size and
 * digests the download measured with the manifest; no `healthCheck` commits at once; no `commit`
 * and no `report` do nothing; without `rollback` a failed install ends in `install_failed`.
 *
 * Hooks that may run again after a restart must be idempotent: `download` (resumes), `verify`,
 * `healthCheck`, `commit`, `rollback`, and `install` when `installIsIdempotent` is set.
 */
export interface UpdateHooks {
  check?: (context: CheckContext) => Promise<ManifestInput | Manifest | null | undefined>;
  download: (context: DownloadContext) => Promise<StagedArtifactInput[]>;
  /** Resolve `false` or throw to refuse the staged artifacts. */
  verify?: (context: StagedContext) => Promise<boolean | undefined | void>;
  install: (context: StagedContext) => Promise<InstallResult | undefined | void>;
  /** Resolve `false` or throw to roll back. */
  healthCheck?: (context: StagedContext) => Promise<boolean | undefined | void>;
  commit?: (context: StagedContext) => Promise<void>;
  rollback?: (context: RollbackContext) => Promise<void>;
  /**
   * Called by `resume()` when the store holds no record for this machine: a first start, or a
   * store that was lost (a wiped data partition) while the device may be half way through an
   * update. Bring the device to a state the machine can vouch for (the Node installers'
   * `recover()` rolls an unfinished install back) and return the update the device runs, which
   * the machine adopts as its committed one, or `null` when unknown. A rejection makes `resume()`
   * reject: the machine never starts on a device it cannot account for.
   */
  recover?: (context: HookContext) => Promise<UpdateRef | null | undefined | void>;
  report?: (context: ReportContext) => Promise<void>;
}
