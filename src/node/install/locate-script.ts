/**
 * Finds the update script inside an extracted package and decides how to run it. A package is
 * untrusted input until it runs, so the script must be a regular file that really lies inside
 * the package: no symlink (which could point at any program on the device), no `..`.
 *
 * @module
 */
import { open, realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { InstallError } from '../../core/errors.js';
import { lstatOrNull } from './durable-fs.js';

export interface LocatedScript {
  /** The package directory with symlinks resolved: the script's working directory. */
  directory: string;
  /** Absolute path of the script. */
  path: string;
}

export async function locateScript(directory: string, script: string): Promise<LocatedScript> {
  let realDirectory: string;
  try {
    realDirectory = await realpath(directory);
  } catch (cause) {
    throw new InstallError(`Package directory ${directory} cannot be opened`, { cause });
  }
  if (!(await stat(realDirectory)).isDirectory()) {
    throw new InstallError(`Package directory ${directory} is not a directory`);
  }
  const path = resolve(realDirectory, script);
  const inside = relative(realDirectory, path);
  if (
    isAbsolute(script) ||
    inside === '' ||
    inside === '..' ||
    inside.startsWith(`..${sep}`) ||
    isAbsolute(inside)
  ) {
    throw new InstallError(`Refusing to run ${script}: it is not inside the package directory`);
  }
  const entry = await lstatOrNull(path);
  if (entry === null) throw new InstallError(`The package has no ${script}`);
  if (entry.isSymbolicLink()) throw new InstallError(`Refusing to run ${script}: it is a symlink`);
  if (!entry.isFile()) throw new InstallError(`Refusing to run ${script}: it is not a regular file`);
  // A symlinked directory on the way (pkg/bin -> /usr/bin) would also lead outside the package.
  if ((await realpath(path)) !== path) {
    throw new InstallError(`Refusing to run ${script}: its path goes through a symlink`);
  }
  return { directory: realDirectory, path };
}

/**
 * The command that runs `path`: the interpreter its `#!` line names (as the kernel would, but
 * without needing the execute bit, which zip archives often lose), or `/bin/sh` without one.
 */
export async function interpreterFor(path: string): Promise<string[]> {
  const handle = await open(path, 'r');
  let head: string;
  try {
    const buffer = Buffer.alloc(256);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    head = buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
  if (!head.startsWith('#!')) return ['/bin/sh'];
  // The kernel passes everything after the interpreter as one argument; a stray CR from a script
  // saved on Windows is dropped rather than made part of the interpreter's name.
  const line = (head.slice(2).split('\n')[0] ?? '').replace(/\r$/, '').trim();
  const match = /^(\S+)(?:\s+(.*))?$/.exec(line);
  if (match === null) return ['/bin/sh'];
  const [, interpreter, argument] = match;
  return argument ? [interpreter!, argument.trim()] : [interpreter!];
}
