/**
 * The overlay of an insigh.io package: the firmware writes the package's files over the device
 * root and leaves every other file alone. To keep that and still swap the tree atomically, the
 * agent extracts the package into the installer's staging directory and then copies in, beneath
 * it, whatever the previous version holds that the package does not replace.
 *
 * @module
 */
import { lstat, readdir, readlink, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { throwIfAborted } from '../../core/abort.js';
import { InstallError } from '../../core/errors.js';
import { copyFile, copyTree } from '../install/copy.js';
import { errorCode, lstatOrNull } from '../install/durable-fs.js';

/**
 * Copies into `staging` every entry of `previous` that `staging` lacks, recursing into
 * directories both have. An entry of the package wins over the previous one whatever their
 * kinds (a file replacing a directory, or the reverse). Symlinks of the previous version are
 * copied as links, never followed. A missing `previous` (a first install) copies nothing.
 */
export async function keepUnreplaced(previous: string, staging: string, signal?: AbortSignal): Promise<void> {
  let names: string[];
  try {
    names = await readdir(previous);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return;
    throw error;
  }
  for (const name of names) {
    throwIfAborted(signal);
    const from = join(previous, name);
    const to = join(staging, name);
    const existing = await lstatOrNull(to);
    const entry = await lstat(from);
    if (existing !== null) {
      if (existing.isDirectory() && entry.isDirectory()) await keepUnreplaced(from, to, signal);
      continue;
    }
    if (entry.isDirectory()) await copyTree(from, to, signal);
    else if (entry.isFile()) await copyFile(from, to, { mode: entry.mode & 0o7777, fsync: false, signal });
    else if (entry.isSymbolicLink()) await symlink(await readlink(from), to);
    else throw new InstallError(`Refusing to carry over ${from}: not a regular file, directory or symlink`);
  }
}
