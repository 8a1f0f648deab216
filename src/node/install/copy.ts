/**
 * Copying a staged file or tree next to the target (so the final rename stays on one file
 * system), and flushing a tree to storage before it is renamed into place. All of it checks the
 * AbortSignal between chunks and entries: staging is the long part of an install and the only
 * part that is safe to stop.
 *
 * @module
 */
import { createReadStream } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { throwIfAborted } from '../../core/abort.js';
import { InstallError } from '../../core/errors.js';
import { fsyncDirectory, fsyncFile } from './durable-fs.js';

// Big enough that a copy is not syscall-bound, small enough for a gateway's memory.
const CHUNK_BYTES = 1024 * 1024;

/** Copies `source` to `destination` (created or truncated) with `mode`; fsyncs when asked. */
export async function copyFile(
  source: string,
  destination: string,
  options: { mode: number; fsync: boolean; signal?: AbortSignal | undefined },
): Promise<void> {
  throwIfAborted(options.signal);
  const handle = await open(destination, 'w', options.mode);
  try {
    // open() applies the umask; the installed file must carry exactly the mode asked for.
    await handle.chmod(options.mode);
    const stream = createReadStream(source, {
      highWaterMark: CHUNK_BYTES,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    for await (const chunk of stream) await handle.write(chunk as Buffer);
    if (options.fsync) await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Copies a directory tree: directories, regular files (with their modes) and symlinks (verbatim,
 * never followed). Anything else (devices, FIFOs, sockets) is refused: an update has no business
 * shipping them. Nothing is fsynced here; see {@link syncTree}.
 */
export async function copyTree(source: string, destination: string, signal?: AbortSignal): Promise<void> {
  throwIfAborted(signal);
  const stats = await lstat(source);
  await mkdir(destination, { mode: stats.mode & 0o7777 });
  for (const name of await readdir(source)) {
    throwIfAborted(signal);
    const from = join(source, name);
    const to = join(destination, name);
    const entry = await lstat(from);
    if (entry.isDirectory()) await copyTree(from, to, signal);
    else if (entry.isFile()) await copyFile(from, to, { mode: entry.mode & 0o7777, fsync: false, signal });
    else if (entry.isSymbolicLink()) await symlink(await readlink(from), to);
    else throw new InstallError(`Refusing to install ${from}: not a regular file, directory or symlink`);
  }
}

/**
 * fsyncs every regular file and every directory of a tree, children before parents, so that once
 * the tree is renamed into place no part of it can vanish in a power cut. Symlinks are made
 * durable by their directory's fsync.
 */
export async function syncTree(path: string, signal?: AbortSignal): Promise<void> {
  throwIfAborted(signal);
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) await syncTree(child, signal);
    else if (entry.isFile()) await fsyncFile(child);
  }
  await fsyncDirectory(path);
}
