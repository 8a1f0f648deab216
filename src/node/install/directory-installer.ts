/**
 * Atomic-as-Linux-allows replacement of a directory (an extracted archive), with a backup for
 * rollback and a journal that makes every operation safe to run again after a crash.
 *
 * Install: stage the new tree next to the target (copied, or extracted there directly) and fsync
 * all of it; write the journal; rename target → backup; rename staged → target; fsync the parent;
 * mark the journal `installed`.
 *
 * The window: Node cannot exchange two directories in one step (Linux has
 * `renameat2(RENAME_EXCHANGE)`, Node does not expose it), so between the two renames the target
 * path does not exist. A crash there leaves the previous version whole at the backup path and the
 * new one whole at the staging path; the next `install()` finishes the swap, the next `rollback()`
 * moves the backup back. Readers of the target must tolerate a brief absence, or point at the
 * directory through a symlink that the application swaps itself.
 *
 * Recovery reads the state from which paths exist, because the renames happen in a fixed order:
 * with a journal and a previous version, no backup means the target is still the old tree; a
 * backup plus a target means the target is the new tree; a backup without a target is the window.
 *
 * @module
 */
import { mkdir, rename, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { throwIfAborted } from '../../core/abort.js';
import { InstallError } from '../../core/errors.js';
import { copyTree, syncTree } from './copy.js';
import { exists, lstatOrNull, remove } from './durable-fs.js';
import { commitInstall, installerBase } from './installer-base.js';
import type { InstallJournal } from './journal.js';
import { assertSameFileSystem } from './same-file-system.js';
import type { Installer, InstallerOptions, InstallerState, InstallOptions } from './types.js';
import { asInstallError } from './wrap-errors.js';

export type DirectoryInstallerOptions = InstallerOptions;

export interface DirectoryInstaller extends Installer {
  /**
   * `${target}.otakit-new`. Extract the update straight into this directory and pass it to
   * `install()` to have it moved into place instead of copied (no second copy on a small disk).
   * Any other path given to `install()` is copied here first and left untouched.
   */
  readonly stagingPath: string;
  /**
   * Empties `stagingPath` (a half extraction from before a crash may be there) and creates it;
   * resolves with its path. Extract into it, then call `install(stagingPath)`.
   */
  prepareStaging(): Promise<string>;
}

/**
 * Creates an installer that swaps a whole directory. One installer (one process) per target.
 *
 * @example
 * ```ts
 * const app = createDirectoryInstaller({ target: '/opt/connhex/.store/ota/current' })
 * const staging = await app.prepareStaging()
 * // extract the downloaded archive into `staging`, then:
 * await app.install(staging, { signal })
 * await runUpdateScript(app.target, { timeoutMs: 120_000, signal })
 * await app.commit() // or app.rollback()
 * ```
 */
export function createDirectoryInstaller(options: DirectoryInstallerOptions): DirectoryInstaller {
  const base = installerBase(options, (resolvedTarget) => `${resolvedTarget}.otakit-discard`, 'work paths');
  const { target, backupPath, stagingPath, journal, ownPaths, exclusive, step, syncDirectories } = base;
  const discardPath = base.workPath;
  const { fsync } = base;
  const parent = dirname(target);
  const backupParent = dirname(backupPath);

  /** Deletes what a killed call may have left: always the discarded tree, the rest on request. */
  const sweep = async (pending: boolean, keepStaging: boolean): Promise<void> => {
    await remove(discardPath);
    await journal.sweep();
    if (!keepStaging) await remove(stagingPath);
    if (!pending) await remove(backupPath);
  };

  /** Whether the target holds the version of the pending install (rather than the previous one). */
  const targetIsNew = async (pending: InstallJournal): Promise<boolean> =>
    (await exists(target)) && (!pending.previous || (await exists(backupPath)));

  /** Moves the staged tree to the target, first moving aside whatever holds the target. */
  const swapIn = async (pending: InstallJournal, signal: AbortSignal | undefined): Promise<void> => {
    const hasTarget = await exists(target);
    let movedTo: string | null = null;
    if (pending.previous && !(await exists(backupPath))) {
      if (!hasTarget) throw new InstallError(`${target} disappeared during an install`);
      throwIfAborted(signal); // the last point where stopping leaves the target as it was
      await rename(target, backupPath);
      movedTo = backupPath;
      // Durable before the second rename: recovery reads "no backup" as "target is the old tree".
      await syncDirectories(parent, backupParent);
      await step('backed-up');
    } else if (hasTarget) {
      // The backup already holds the previous version (or there is none), so the target is an
      // uncommitted earlier install: replace it, keep the backup.
      throwIfAborted(signal);
      await rename(target, discardPath);
      movedTo = discardPath;
      await syncDirectories(parent);
      await step('discarded');
    }
    try {
      await rename(stagingPath, target);
    } catch (error) {
      // Close the window at once rather than leave the target missing until a recovery runs.
      if (movedTo !== null) await rename(movedTo, target).catch(() => {});
      throw error;
    }
    await step('renamed');
    await syncDirectories(parent);
    await step('dir-synced');
  };

  const install = (stagedPath: string, { signal }: InstallOptions = {}): Promise<void> =>
    exclusive(() =>
      asInstallError(
        'INSTALL',
        target,
        async () => {
          throwIfAborted(signal);
          const staged = resolve(stagedPath);
          const inPlace = staged === stagingPath;
          if (!inPlace && ownPaths.has(staged)) {
            throw new InstallError(`Refusing to install ${staged}: it is one of the installer's own paths`);
          }
          await assertSameFileSystem(parent, backupParent);
          let pending = await journal.read('directory');
          await sweep(pending !== null, inPlace);
          const current = await lstatOrNull(target);
          if (current !== null && !current.isDirectory()) {
            throw new InstallError(`${target} exists and is not a directory; refusing to replace it`);
          }

          try {
            if (!inPlace) {
              if (!(await stat(staged)).isDirectory()) throw new InstallError(`${staged} is not a directory`);
              await copyTree(staged, stagingPath, signal);
            }
            const hasStaged = await exists(stagingPath);
            if (hasStaged) {
              if (!(await stat(stagingPath)).isDirectory()) {
                throw new InstallError(`${stagingPath} is not a directory`);
              }
              await step('staged');
              if (fsync) {
                await syncTree(stagingPath, signal);
                await syncDirectories(parent);
              }
              await step('staged-synced');
            } else if (pending === null || !(await targetIsNew(pending))) {
              throw new InstallError(`Nothing is staged at ${stagingPath}`);
            }
            // Otherwise a killed install already moved the staged tree into place: finish it.
            throwIfAborted(signal);
          } catch (error) {
            if (!inPlace) await remove(stagingPath).catch(() => {});
            throw error;
          }

          if (pending === null) {
            pending = {
              version: 1,
              kind: 'directory',
              target,
              phase: 'installing',
              previous: current !== null,
            };
            await journal.write(pending);
            await step('journaled');
          }
          if (await exists(stagingPath)) await swapIn(pending, signal);
          await remove(discardPath);
          if (pending.phase !== 'installed') {
            await journal.write({ ...pending, phase: 'installed' });
            await step('installed');
          }
        },
        signal,
      ),
    );

  const commit = (): Promise<void> => commitInstall(base, 'directory', () => sweep(false, false));

  const rollback = (): Promise<void> =>
    exclusive(() =>
      asInstallError('ROLLBACK', target, async () => {
        const pending = await journal.read('directory');
        if (pending === null) return sweep(false, false);
        await remove(discardPath); // rename() cannot replace a non-empty directory
        const hasTarget = await exists(target);
        const hasBackup = await exists(backupPath);
        // Without a backup, a previous version was never moved (or is already back): nothing to do.
        if (pending.previous ? hasBackup : hasTarget) {
          if (hasTarget) {
            await rename(target, discardPath);
            await syncDirectories(parent);
            await step('discarded');
          }
          if (pending.previous) {
            await rename(backupPath, target);
            await syncDirectories(parent, backupParent);
          }
        }
        await step('restored');
        await journal.remove();
        await step('rolled-back');
        await sweep(false, false);
      }),
    );

  const prepareStaging = (): Promise<string> =>
    exclusive(() =>
      asInstallError('INSTALL', target, async () => {
        // Rollback never needs the staging path (the backup holds the previous version), so emptying
        // it is safe in every state.
        await remove(stagingPath);
        await mkdir(stagingPath, { recursive: true, mode: 0o755 });
        return stagingPath;
      }),
    );

  const state = async (): Promise<InstallerState> => {
    const pending = await journal.read('directory');
    if (pending === null) return { phase: 'idle', previous: null, backup: false };
    return { phase: pending.phase, previous: pending.previous, backup: await exists(backupPath) };
  };

  // An unfinished install the machine no longer knows about (its store was lost) is undone:
  // the version from before it is the only one anybody can vouch for.
  const recover = async (): Promise<boolean> => {
    if ((await state()).phase === 'idle') return false;
    await rollback();
    return true;
  };

  return { target, backupPath, stagingPath, prepareStaging, install, commit, rollback, state, recover };
}
