/**
 * The shape shared by the file and the directory installer, which is the shape of the update
 * machine's `install`, `commit` and `rollback` hooks.
 *
 * @module
 */

/**
 * A durable point an installer has just passed. `onStep` hears each one; the crash tests stop
 * the process at every one of them.
 *
 * - install: `staged` (the new version written next to the target), `staged-synced` (fsynced),
 *   `journaled` (the journal records the install), `backed-up` (the previous version kept),
 *   `discarded` (directories only: an uncommitted earlier install moved aside), `renamed` (the new
 *   version is at the target), `dir-synced` (that rename is durable), `installed` (journal updated)
 * - commit: `committed` (journal removed: the commit point), `cleaned` (backup removed)
 * - rollback: `discarded` (directories only: the new tree moved aside), `restored` (the previous
 *   version is back, or a first install removed), `rolled-back` (journal removed)
 *
 * A step is passed only when the operation has work to do at that point: a second `install()`
 * before a commit skips `journaled` and `backed-up`, a `rollback()` when idle passes none.
 */
export type InstallStep =
  | 'staged'
  | 'staged-synced'
  | 'journaled'
  | 'backed-up'
  | 'discarded'
  | 'renamed'
  | 'dir-synced'
  | 'installed'
  | 'committed'
  | 'cleaned'
  | 'restored'
  | 'rolled-back';

/** Options both installers take. */
export interface InstallerOptions {
  /** The file or directory to replace. It need not exist yet (a first install). */
  target: string;
  /**
   * Where the previous version is kept until `commit()`. Must be on the file system of the
   * target (it is moved with rename). The installer owns this path: a backup found while no
   * install is pending is a leftover and is deleted.
   * @default `${target}.otakit-backup`
   */
  backupPath?: string;
  /**
   * fsync files and directories at every step. Turn off only for tests on tmpfs; without it a
   * power cut may undo a step that was reported done.
   * @default true
   */
  fsync?: boolean;
  /**
   * Called after each durable step, awaited before the next one. For progress logs and for
   * tests that crash the process at a given step.
   * @default undefined
   */
  onStep?: (step: InstallStep) => void | Promise<void>;
}

export interface InstallOptions {
  /**
   * Aborts the install while it is staging or before it touches the target. Once the target is
   * being replaced the install runs to its end, because stopping between two renames is exactly
   * the state a crash would leave.
   * @default undefined
   */
  signal?: AbortSignal;
}

/** What an installer has on disk right now. */
export interface InstallerState {
  /**
   * `idle`: nothing to commit or roll back. `installing`: an install began and did not finish (a
   * crash or an abort): call `rollback()`, or `install()` again. `installed`: the new version is
   * in place and waits for `commit()` or `rollback()`.
   */
  phase: 'idle' | 'installing' | 'installed';
  /** Whether a previous version existed when the pending install began; `null` when idle. */
  previous: boolean | null;
  /** Whether the backup of the previous version is on disk. */
  backup: boolean;
}

/**
 * An atomic installer. Every method is idempotent and may be called again after a crash at any
 * point; each call first finishes or undoes whatever a killed call left, using the journal.
 */
export interface Installer {
  /** Absolute path of the target. */
  readonly target: string;
  /** Absolute path of the backup of the previous version. */
  readonly backupPath: string;
  /**
   * Installs `stagedPath` (left untouched) over the target, keeping the previous version as a
   * backup. Called again before a commit, it replaces the uncommitted version and keeps the
   * original backup, so a rollback still returns to the last committed version.
   */
  install(stagedPath: string, options?: InstallOptions): Promise<void>;
  /** Makes the installed version permanent and drops the backup. No-op when idle. */
  commit(): Promise<void>;
  /**
   * Puts the previous version back (or removes the target after a first install). No-op when
   * idle, which includes after a commit: a committed version cannot be rolled back.
   */
  rollback(): Promise<void>;
  state(): Promise<InstallerState>;
  /**
   * Undoes an unfinished install (journal `installing` or `installed`) with `rollback()`, and
   * resolves whether there was one. For the machine's `recover` hook: after a lost store, disk
   * and machine agree again on the version from before the interrupted update.
   */
  recover(): Promise<boolean>;
}
