/**
 * Atomic replacement of one file, with a backup for rollback and a journal that makes every
 * operation safe to run again after a crash.
 *
 * Install: copy the staged file next to the target (same file system) and fsync it; write the
 * journal; keep the previous version as a hard link (a copy where links are impossible); rename
 * the new file over the target; fsync the directory; mark the journal `installed`. The rename is
 * the switch: before it the target is the old file, after it the new one, never a mix.
 *
 * Recovery needs no guessing, because the backup is made durable before the rename: while the
 * journal exists, a backup on disk is the previous version, and a missing backup means the
 * target was never replaced (or was already restored).
 *
 * @module
 */
import { link, rename, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { throwIfAborted } from '../../core/abort.js';
import { InstallError } from '../../core/errors.js';
import { copyFile } from './copy.js';
import { errorCode, exists, fsyncFile, lstatOrNull, remove } from './durable-fs.js';
import { commitInstall, installerBase } from './installer-base.js';
import type { InstallJournal } from './journal.js';
import { assertSameFileSystem } from './same-file-system.js';
import type { Installer, InstallerOptions, InstallerState, InstallOptions } from './types.js';
import { asInstallError } from './wrap-errors.js';

export interface FileInstallerOptions extends InstallerOptions {
  /**
   * Permission bits of the installed file.
   * @default the mode of the file it replaces, or `0o644` for a first install
   */
  mode?: number;
}

// link(2) fails like this on file systems without hard links (FAT, some FUSE mounts) and under
// fs.protected_hardlinks for files the agent does not own; a copy is then the backup.
const LINK_UNSUPPORTED = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK', 'EXDEV', 'ENOSYS']);

/**
 * Creates an atomic installer for one file. One installer (one process) per target at a time.
 *
 * @example
 * ```ts
 * const firmware = createFileInstaller({ target: '/opt/app/app.bin' })
 * const machine = createUpdateMachine({
 *   id: 'gw-7', store, installIsIdempotent: true,
 *   hooks: {
 *     download, // stages the file somewhere and returns [{ location, size, sha256 }]
 *     install: ({ staged, signal }) => firmware.install(staged[0]!.location, { signal }),
 *     commit: () => firmware.commit(),
 *     rollback: () => firmware.rollback(),
 *   },
 * })
 * ```
 */
export function createFileInstaller(options: FileInstallerOptions): Installer {
  const base = installerBase(options, (_target, backup) => `${backup}.tmp`, 'work files');
  const { target, backupPath, stagingPath, journal, ownPaths, exclusive, step, syncDirectories } = base;
  const backupTemporary = base.workPath;
  const { fsync } = base;
  const directory = dirname(target);
  const backupDirectory = dirname(backupPath);

  /** Deletes what a killed call may have left; the backup only when no install is pending. */
  const sweep = async (pending: boolean): Promise<void> => {
    await remove(stagingPath);
    await remove(backupTemporary);
    await journal.sweep();
    if (!pending) await remove(backupPath);
  };

  /** `mode` is the previous file's: a copied backup must come back exactly as it was. */
  const backUp = async (mode: number): Promise<void> => {
    try {
      await link(target, backupPath);
    } catch (error) {
      if (!LINK_UNSUPPORTED.has(errorCode(error) ?? '')) throw error;
      await copyFile(target, backupTemporary, { mode, fsync });
      await rename(backupTemporary, backupPath);
    }
    // The backup must be durable before the rename over the target: recovery reads "no backup"
    // as "target never replaced".
    await syncDirectories(backupDirectory);
  };

  const install = (stagedPath: string, { signal }: InstallOptions = {}): Promise<void> =>
    exclusive(() =>
      asInstallError(
        'INSTALL',
        target,
        async () => {
          throwIfAborted(signal);
          const staged = resolve(stagedPath);
          if (ownPaths.has(staged)) {
            throw new InstallError(`Refusing to install ${staged}: it is one of the installer's own files`);
          }
          if (!(await stat(staged)).isFile()) throw new InstallError(`${staged} is not a regular file`);
          await assertSameFileSystem(directory, backupDirectory);
          let pending = await journal.read('file');
          await sweep(pending !== null);
          const current = await lstatOrNull(target);
          if (current !== null && !current.isFile()) {
            throw new InstallError(`${target} exists and is not a regular file; refusing to replace it`);
          }
          const mode = options.mode ?? (current === null ? 0o644 : current.mode & 0o7777);

          try {
            await copyFile(staged, stagingPath, { mode, fsync: false, signal });
            await step('staged');
            if (fsync) await fsyncFile(stagingPath);
            await step('staged-synced');
            throwIfAborted(signal);
            if (pending === null) {
              pending = { version: 1, kind: 'file', target, phase: 'installing', previous: current !== null };
              await journal.write(pending);
              await step('journaled');
            }
            if (pending.previous && !(await exists(backupPath))) {
              if (current === null) throw new InstallError(`${target} disappeared during an install`);
              await backUp(current.mode & 0o7777);
              await step('backed-up');
            }
            // The last point where stopping leaves the target as it was.
            throwIfAborted(signal);
          } catch (error) {
            await remove(stagingPath).catch(() => {});
            throw error;
          }

          await rename(stagingPath, target);
          await step('renamed');
          await syncDirectories(directory);
          await step('dir-synced');
          if (pending.phase !== 'installed') {
            await journal.write({ ...pending, phase: 'installed' } satisfies InstallJournal);
            await step('installed');
          }
        },
        signal,
      ),
    );

  const commit = (): Promise<void> => commitInstall(base, 'file', () => sweep(false));

  const rollback = (): Promise<void> =>
    exclusive(() =>
      asInstallError('ROLLBACK', target, async () => {
        const pending = await journal.read('file');
        if (pending === null) return sweep(false);
        if (await exists(backupPath)) {
          await rename(backupPath, target);
          // A hard-linked backup of a target that was never replaced is the same inode as the
          // target, and rename(2) between two links to one file does nothing: drop the name.
          await remove(backupPath);
          await syncDirectories(directory, backupDirectory);
        } else if (!pending.previous) {
          await remove(target);
          await syncDirectories(directory);
        }
        // Otherwise the backup was never taken, so the target was never replaced (or a killed
        // rollback already restored it).
        await step('restored');
        await journal.remove();
        await step('rolled-back');
        await sweep(false);
      }),
    );

  const state = async (): Promise<InstallerState> => {
    const pending = await journal.read('file');
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

  return { target, backupPath, install, commit, rollback, state, recover };
}
