/**
 * The install, commit, rollback and recover hooks of the ThingsBoard agent: the verified package
 * replaces a file atomically (`createFileInstaller`), or, for archive packages, is unpacked with
 * `extractArchive`'s protections into the directory installer's staging path and swapped in
 * (`createDirectoryInstaller`). The staged download is removed once the update ends either way.
 *
 * @module
 */
import { InstallError } from '../../core/errors.js';
import type { UpdateRef } from '../../core/status.js';
import type { UpdateHooks } from '../../machine/hooks.js';
import { extractArchive } from '../archive/extract.js';
import type { ArchiveLimits } from '../archive/limits.js';
import { createDirectoryInstaller } from '../install/directory-installer.js';
import { createFileInstaller } from '../install/file-installer.js';
import type { InstallStep } from '../install/types.js';
import { dropStaged } from './drop-staged.js';

/** `file`: the package is the file at `installTarget`; `archive`: it unpacks to that directory. */
export type ThingsBoardInstallAs = 'file' | 'archive';

export interface InstallHooksOptions {
  installAs: ThingsBoardInstallAs;
  installTarget: string;
  fsync: boolean;
  /** What the device runs when the agent has no state yet (returned by `recover`). */
  adopted: UpdateRef | null;
  archiveLimits?: Partial<ArchiveLimits>;
  installer?: {
    backupPath?: string;
    mode?: number;
    onStep?: (step: InstallStep) => void | Promise<void>;
  };
}

type InstallHooks = Required<Pick<UpdateHooks, 'install' | 'commit' | 'rollback' | 'recover'>>;

export function installHooks(options: InstallHooksOptions): InstallHooks {
  const settings = {
    target: options.installTarget,
    fsync: options.fsync,
    ...(options.installer?.backupPath === undefined ? {} : { backupPath: options.installer.backupPath }),
    ...(options.installer?.onStep === undefined ? {} : { onStep: options.installer.onStep }),
  };
  const directory = options.installAs === 'archive' ? createDirectoryInstaller(settings) : undefined;
  const installer =
    directory ??
    createFileInstaller({
      ...settings,
      ...(options.installer?.mode === undefined ? {} : { mode: options.installer.mode }),
    });
  return {
    // Safe to run again after a crash (the agent sets installIsIdempotent): the installer finishes
    // or redoes what a killed call left, and keeps the backup of the committed version.
    install: async ({ staged, signal }) => {
      const artifact = staged[0];
      if (artifact === undefined) throw new InstallError('No package was staged');
      if (directory === undefined) return installer.install(artifact.location, { signal });
      const staging = await directory.prepareStaging();
      await extractArchive(artifact.location, staging, {
        signal,
        ...(options.archiveLimits === undefined ? {} : { limits: options.archiveLimits }),
      });
      await directory.install(staging, { signal });
    },
    commit: async ({ staged }) => {
      await installer.commit();
      await dropStaged(staged);
    },
    rollback: async ({ staged }) => {
      await installer.rollback();
      await dropStaged(staged);
    },
    // A first start, or a lost store: undo an install nobody can vouch for, then adopt what the
    // application says the device runs.
    recover: async () => {
      await installer.recover();
      return options.adopted;
    },
  };
}
