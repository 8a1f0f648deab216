/**
 * Small file-system primitives the installers build on: fsync of files and directories,
 * existence checks that do not follow symlinks, and removal that tolerates absence. Every
 * installer step is one of these, so a crash lands between two of them, never inside one.
 *
 * @module
 */

import type { Stats } from 'node:fs';
import { lstat, open, rm } from 'node:fs/promises';

/** Errors a directory fsync may raise on file systems (or platforms) that cannot do it. */
const UNSUPPORTED_DIRECTORY_SYNC = new Set(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EISDIR', 'EPERM']);

/** The `code` of a Node system error, or `undefined`. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Flushes a file's data and metadata to storage. */
export async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Flushes a directory, which makes the renames, links and unlinks done in it durable. Some file
 * systems refuse fsync on a directory; there the rename is as durable as the platform allows,
 * so refusing the whole install would gain nothing.
 */
export async function fsyncDirectory(path: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (UNSUPPORTED_DIRECTORY_SYNC.has(errorCode(error) ?? '')) return;
    throw error;
  }
  try {
    await handle.sync();
  } catch (error) {
    if (!UNSUPPORTED_DIRECTORY_SYNC.has(errorCode(error) ?? '')) throw error;
  } finally {
    await handle.close();
  }
}

/** Flushes each distinct directory once. */
export async function fsyncDirectories(paths: readonly string[]): Promise<void> {
  for (const path of new Set(paths)) await fsyncDirectory(path);
}

/** `lstat` that answers `null` for a missing path; a symlink is reported as itself. */
export async function lstatOrNull(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return null;
    throw error;
  }
}

export async function exists(path: string): Promise<boolean> {
  return (await lstatOrNull(path)) !== null;
}

/** Removes a file or a whole tree; absence is success (every caller may run again after a crash). */
export async function remove(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}
