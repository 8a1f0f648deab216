/**
 * The install, commit, rollback and recover hooks of the insigh.io agent: the downloaded package
 * (microfreezer's pseudo-gzip, a real gzip or a plain tar, told apart by its bytes) is extracted
 * with `extractArchive`'s protections into the directory installer's staging path, the rest of
 * the previous tree is carried over (overlay mode), and the directory is swapped atomically.
 *
 * @module
 */
import { InstallError } from '../../core/errors.js';
import type { UpdateHooks } from '../../machine/hooks.js';
import { LIMITS } from '../../protocols/insighio/limits.js';
import { extractArchive } from '../archive/extract.js';
import type { ArchiveLimits } from '../archive/limits.js';
import type { DirectoryInstaller } from '../install/directory-installer.js';
import { dropStaged } from './drop-staged.js';
import { keepUnreplaced } from './insighio-overlay.js';

/**
 * How a package lands in the install directory:
 * - `overlay`: its files are written over the current tree, everything else stays (what the
 *   firmware does at the device root);
 * - `replace`: the directory becomes exactly the package.
 */
export type InsighioInstallMode = 'overlay' | 'replace';

/** The archive limits of a package: insigh.io's 64 MiB cap on what it unpacks to. */
export const PACKAGE_ARCHIVE_LIMITS: Readonly<Partial<ArchiveLimits>> = Object.freeze({
  maxTotalBytes: LIMITS.maxPackageBytes,
  maxEntries: LIMITS.maxTarEntries,
});

export interface PackageHooksOptions {
  installer: DirectoryInstaller;
  mode: InsighioInstallMode;
  limits: Partial<ArchiveLimits>;
}

type PackageHooks = Required<Pick<UpdateHooks, 'install' | 'commit' | 'rollback' | 'recover'>>;

export function packageHooks(options: PackageHooksOptions): PackageHooks {
  const { installer, mode, limits } = options;
  return {
    /**
     * Runs again in full after a crash (the agent sets `installIsIdempotent`): staging is emptied
     * and refilled, and the installer finishes or redoes a swap a killed call left half done.
     */
    install: async ({ staged, signal }) => {
      const artifact = staged[0];
      if (artifact === undefined) throw new InstallError('No package was staged');
      const staging = await installer.prepareStaging();
      await extractArchive(artifact.location, staging, { limits, signal });
      if (mode === 'overlay') {
        // The version to carry files over from is the committed one: the backup while an earlier
        // attempt of this update is pending (the target may already hold part of this update).
        const { backup } = await installer.state();
        await keepUnreplaced(backup ? installer.backupPath : installer.target, staging, signal);
      }
      await installer.install(staging, { signal });
    },
    commit: async ({ staged }) => {
      await installer.commit();
      await dropStaged(staged);
    },
    rollback: async ({ staged }) => {
      await installer.rollback();
      await dropStaged(staged);
    },
    // A lost store: undo an install nobody can vouch for. The running update is then unknown.
    recover: async () => {
      await installer.recover();
      return null;
    },
  };
}
