/**
 * How the micropython_ota agent installs a release: all files or none. The reference downloads
 * every file into `tmp/` before copying any (v2.1.0), but its copy phase is not atomic: a power
 * cut between two copies leaves a mix of old and new files. Here the downloaded files are written
 * into a fresh copy of the app directory (the installer's staging path), everything else of the
 * committed tree is carried over beneath them, and the directory installer swaps the whole tree
 * with renames, keeping the previous one until the update commits. The staged copy keeps the old
 * `version` file: the new tag is written last, once the update is committed.
 *
 * @module
 */
import { lstat, mkdir, readdir, readlink, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { throwIfAborted } from '../../core/abort.js';
import { InstallError } from '../../core/errors.js';
import type { UpdateHooks } from '../../machine/hooks.js';
import type { StagedArtifact } from '../../machine/record.js';
import type { Manifest } from '../../manifest/schema.js';
import { FILENAME_PATTERN } from '../../protocols/micropython-ota/names.js';
import { isFileChannelTemp } from '../file-channel.js';
import { copyFile, copyTree } from '../install/copy.js';
import type { DirectoryInstaller } from '../install/directory-installer.js';
import { errorCode, lstatOrNull } from '../install/durable-fs.js';
import { dropStaged } from './drop-staged.js';

type TreeHooks = Required<Pick<UpdateHooks, 'install' | 'commit' | 'rollback'>>;

/** The device-relative name of each artifact, checked again: the manifest comes from the store. */
function filenamesOf(manifest: Manifest): string[] {
  return manifest.artifacts.map((artifact, index) => {
    const name = artifact.name;
    if (name === undefined || !FILENAME_PATTERN.test(name)) {
      throw new InstallError(`Artifact ${index} has no safe relative file name; nothing was installed`);
    }
    return name;
  });
}

/** Writes each downloaded file at its name under `staging` (parent directories created). */
async function writeReleaseFiles(
  staging: string,
  names: readonly string[],
  staged: readonly StagedArtifact[],
  signal: AbortSignal,
): Promise<void> {
  for (const [index, name] of names.entries()) {
    throwIfAborted(signal);
    const artifact = staged[index];
    if (artifact === undefined) throw new InstallError(`File ${index + 1} of ${names.length} was not staged`);
    const segments = name.split('/');
    // Only directories this loop created are on the way: the staging path starts empty.
    if (segments.length > 1) {
      await mkdir(join(staging, ...segments.slice(0, -1)), { recursive: true, mode: 0o755 });
    }
    await copyFile(artifact.location, join(staging, ...segments), { mode: 0o644, fsync: false, signal });
  }
}

/**
 * Copies into `staging` every entry of `previous` that `staging` lacks, recursing into
 * directories both have: the release's files win, everything else of the app stays. Symlinks are
 * copied as links, never followed; temp files of a killed version-file write are left behind.
 */
async function carryOver(previous: string, staging: string, signal: AbortSignal): Promise<void> {
  let names: string[];
  try {
    names = await readdir(previous);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return; // a first install: nothing to carry over
    throw error;
  }
  for (const name of names) {
    throwIfAborted(signal);
    if (isFileChannelTemp(name)) continue;
    const from = join(previous, name);
    const to = join(staging, name);
    const entry = await lstat(from);
    const existing = await lstatOrNull(to);
    if (existing !== null) {
      if (existing.isDirectory() && entry.isDirectory()) await carryOver(from, to, signal);
      continue;
    }
    if (entry.isDirectory()) await copyTree(from, to, signal);
    else if (entry.isFile()) await copyFile(from, to, { mode: entry.mode & 0o7777, fsync: false, signal });
    else if (entry.isSymbolicLink()) await symlink(await readlink(from), to);
    else throw new InstallError(`Refusing to carry over ${from}: not a regular file, directory or symlink`);
  }
}

/**
 * The install, commit and rollback hooks over a directory installer for the app directory.
 * `install` may run again after a crash (the agent sets `installIsIdempotent`): the staging path
 * is emptied and refilled, and the installer finishes or redoes a swap a killed call left.
 */
export function appTreeHooks(installer: DirectoryInstaller): TreeHooks {
  return {
    install: async ({ manifest, staged, signal }) => {
      const names = filenamesOf(manifest);
      const staging = await installer.prepareStaging();
      await writeReleaseFiles(staging, names, staged, signal);
      // Carry over from the committed tree: the backup while an earlier attempt of this update is
      // pending (the target may then already hold this update's files).
      const { backup } = await installer.state();
      await carryOver(backup ? installer.backupPath : installer.target, staging, signal);
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
  };
}
