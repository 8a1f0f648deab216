/**
 * What the file and the directory installer share: the paths they own next to the target, the
 * journal, one-call-at-a-time, step notifications and directory fsync.
 *
 * @module
 */
import { resolve } from 'node:path';
import { InstallError, OtaError } from '../../core/errors.js';
import { serialize } from '../../core/serialize.js';
import { fsyncDirectories, remove } from './durable-fs.js';
import { type InstallJournal, Journal } from './journal.js';
import type { InstallerOptions, InstallStep } from './types.js';
import { asInstallError } from './wrap-errors.js';

export interface InstallerBase {
  target: string;
  backupPath: string;
  /** Where the new version is staged, next to the target. */
  stagingPath: string;
  /** The installer's own extra work path (the file installer's backup temp, the directory installer's discard). */
  workPath: string;
  fsync: boolean;
  journal: Journal;
  /** Every path the installer owns: nothing may be installed from one of them. */
  ownPaths: ReadonlySet<string>;
  /** Runs installer calls one at a time. */
  exclusive: ReturnType<typeof serialize>;
  step: (name: InstallStep) => Promise<void>;
  syncDirectories: (...paths: string[]) => Promise<void>;
}

/**
 * @param workPathFor - the installer's extra work path, from the resolved target and backup.
 * @param noun - how its paths are named in the error (`work files`, `work paths`).
 */
export function installerBase(
  options: InstallerOptions,
  workPathFor: (target: string, backupPath: string) => string,
  noun: string,
): InstallerBase {
  const target = resolve(options.target);
  const backupPath = resolve(options.backupPath ?? `${target}.otakit-backup`);
  const stagingPath = `${target}.otakit-new`;
  const workPath = workPathFor(target, backupPath);
  const fsync = options.fsync ?? true;
  const journal = new Journal(`${target}.otakit-journal`, fsync);
  const ownPaths = new Set([target, backupPath, stagingPath, workPath, journal.path]);
  if (ownPaths.size !== 5)
    throw new OtaError('CONFIG', `backupPath must differ from ${target} and its ${noun}`);
  return {
    target,
    backupPath,
    stagingPath,
    workPath,
    fsync,
    journal,
    ownPaths,
    exclusive: serialize(),
    step: async (name) => {
      await options.onStep?.(name);
    },
    syncDirectories: (...paths) => (fsync ? fsyncDirectories(paths) : Promise.resolve()),
  };
}

/**
 * `commit()` of either installer: removing the journal is the commit point, after which the
 * backup is garbage. `sweep` removes what the installer kind leaves behind.
 */
export function commitInstall(
  base: InstallerBase,
  kind: InstallJournal['kind'],
  sweep: () => Promise<void>,
): Promise<void> {
  const { target, journal, step, backupPath } = base;
  return base.exclusive(() =>
    asInstallError('COMMIT', target, async () => {
      const pending = await journal.read(kind);
      if (pending === null) return sweep();
      if (pending.phase !== 'installed') {
        throw new InstallError(
          `Cannot commit ${target}: its install did not finish; roll back or install again`,
          {
            code: 'COMMIT',
          },
        );
      }
      await journal.remove();
      await step('committed');
      await remove(backupPath);
      await step('cleaned');
      await sweep();
    }),
  );
}
