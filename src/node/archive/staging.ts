/**
 * The staging directory an archive is extracted into: the only place extraction writes. It
 * creates every directory and file itself, exclusively (a path that already exists is never
 * opened, so a symlink planted in staging is never followed), counts every byte against the
 * budget before writing it, and on failure removes everything it created.
 *
 * It does not fsync: the installer that moves the staged tree into place syncs all of it first.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, type FileHandle, lstat, mkdir, open, readdir, rm } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { ArchiveError } from '../../archive/errors.js';
import type { ExtractionBudget } from './budget.js';
import { claimEntry, type EntryKind, EntryRegistry } from './entry-registry.js';
import { DEFAULT_DIRECTORY_MODE, safeDirectoryMode, safeFileMode } from './modes.js';

/** One extracted file or directory. */
export interface ExtractedEntry {
  /** Relative to the destination, `/`-separated, normalised (no `./`, no trailing `/`). */
  path: string;
  type: EntryKind;
  /** Bytes written (0 for directories). */
  size: number;
  /** Permission bits given to it (see {@link safeFileMode}). */
  mode: number;
}

/** Receives one file's bytes. */
export interface FileSink {
  write(chunk: Uint8Array): Promise<void>;
  /** Sets the final mode and closes; returns the bytes written. */
  close(): Promise<number>;
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

// O_EXCL alone already refuses an existing path, symlink or not; O_NOFOLLOW says so twice.
// Windows has no O_NOFOLLOW (and no symlinks an archive could plant there through us).
const EXCLUSIVE = constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0);
const EXCLUSIVE_WRITE = constants.O_WRONLY | EXCLUSIVE;
const SCRATCH_FLAGS = constants.O_RDWR | EXCLUSIVE;

export class StagingDirectory {
  /** Absolute path of the destination. */
  readonly root: string;
  readonly #budget: ExtractionBudget;
  /** The outermost directory this extraction created (removed on failure), if any. */
  readonly #created: string | undefined;
  readonly #registry = new EntryRegistry();
  readonly #entries: ExtractedEntry[] = [];
  /** Directories whose final mode is applied last, so a read-only one can still be filled. */
  readonly #directoryModes = new Map<string, number>();
  #open: FileHandle | undefined;
  #scratch: { path: string; handle: FileHandle } | undefined;

  private constructor(root: string, budget: ExtractionBudget, created: string | undefined) {
    this.root = root;
    this.#budget = budget;
    this.#created = created;
  }

  /**
   * Uses `destination` if it is an empty directory (not a symlink), or creates it (and missing
   * parents).
   *
   * @throws {ArchiveError} `destination` if it exists as anything else.
   */
  static async create(destination: string, budget: ExtractionBudget): Promise<StagingDirectory> {
    const root = resolve(destination);
    let stats: Awaited<ReturnType<typeof lstat>> | undefined;
    try {
      stats = await lstat(root);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
    }
    if (stats === undefined) {
      const created = await mkdir(root, { recursive: true });
      return new StagingDirectory(root, budget, created ?? root);
    }
    if (!stats.isDirectory()) {
      throw new ArchiveError('destination', `Destination ${root} exists and is not a directory`);
    }
    if ((await readdir(root)).length > 0) {
      throw new ArchiveError('destination', `Destination ${root} is not empty`);
    }
    return new StagingDirectory(root, budget, undefined);
  }

  /** Where `relative` (already normalised) lives on disk; checked to be under the root. */
  #pathOf(relative: string): string {
    const absolute = join(this.root, ...relative.split('/'));
    // normaliseEntryPath already guarantees this; a second, independent check costs nothing.
    if (absolute !== this.root && !absolute.startsWith(this.root + sep)) {
      throw new ArchiveError('path-traversal', 'Entry resolves outside the destination', { entry: relative });
    }
    return absolute;
  }

  async #makeDirectory(relative: string, name: string): Promise<void> {
    try {
      await mkdir(this.#pathOf(relative), { mode: 0o700 });
    } catch (error) {
      // Something we did not create is there: on a case-insensitive or normalising file system
      // two names the archive spells differently are one path.
      const code = errorCode(error);
      if (code === 'EEXIST' || code === 'ENOTDIR') {
        throw new ArchiveError('duplicate', 'Entry collides with another entry on this file system', {
          entry: name,
          cause: error,
        });
      }
      throw error;
    }
  }

  #claim(name: string, kind: EntryKind) {
    const claimed = claimEntry(this.#registry, name, kind);
    this.#budget.countEntry(name);
    return claimed;
  }

  async #makeParents(parents: readonly string[], name: string): Promise<void> {
    for (const parent of parents) {
      await this.#makeDirectory(parent, name);
      this.#directoryModes.set(parent, DEFAULT_DIRECTORY_MODE);
    }
  }

  /** Creates a directory entry (and its parents). The root itself (`./`) is accepted and ignored. */
  async directory(name: string, mode: number): Promise<void> {
    const { path, registration } = this.#claim(name, 'directory');
    if (path.segments.length === 0) return;
    await this.#makeParents(registration.newParents, name);
    if (registration.isNew) await this.#makeDirectory(path.path, name);
    const safe = safeDirectoryMode(mode);
    this.#directoryModes.set(path.path, safe);
    this.#entries.push({ path: path.path, type: 'directory', size: 0, mode: safe });
  }

  /**
   * Creates a file entry (and its parents), refusing it early if its declared size breaks a
   * limit. Only one file is open at a time.
   */
  async file(name: string, mode: number, declaredSize: number): Promise<FileSink> {
    const { path, registration } = this.#claim(name, 'file');
    this.#budget.checkDeclaredSize(name, declaredSize);
    await this.#makeParents(registration.newParents, name);
    let handle: FileHandle;
    try {
      handle = await open(this.#pathOf(path.path), EXCLUSIVE_WRITE, 0o600);
    } catch (error) {
      if (errorCode(error) === 'EEXIST') {
        throw new ArchiveError('duplicate', 'Entry collides with another entry on this file system', {
          entry: name,
          cause: error,
        });
      }
      throw error;
    }
    this.#open = handle;
    const budget = this.#budget;
    const safe = safeFileMode(mode);
    let written = 0;
    return {
      write: async (chunk) => {
        budget.addWritten(name, written, chunk.length);
        let offset = 0;
        while (offset < chunk.length) {
          const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
          offset += bytesWritten;
        }
        written += chunk.length;
      },
      close: async () => {
        // fchmod, not the open() mode: the process umask must not strip the executable bit.
        await handle.chmod(safe);
        this.#open = undefined;
        await handle.close();
        this.#entries.push({ path: path.path, type: 'file', size: written, mode: safe });
        return written;
      },
    };
  }

  /**
   * Creates a uniquely named scratch file in the destination (a zip arriving as a stream is
   * spooled there: same file system, nothing written outside). Removed by `finish` or `discard`.
   */
  async scratchFile(): Promise<FileHandle> {
    const path = join(this.root, `.otakit-spool-${randomBytes(8).toString('hex')}`);
    const handle = await open(path, SCRATCH_FLAGS, 0o600);
    this.#scratch = { path, handle };
    return handle;
  }

  async #removeScratch(): Promise<void> {
    if (this.#scratch === undefined) return;
    const { path, handle } = this.#scratch;
    this.#scratch = undefined;
    await handle.close().catch(() => {});
    await rm(path, { force: true });
  }

  /** Applies the directories' final modes; returns what was extracted, in archive order. */
  async finish(): Promise<ExtractedEntry[]> {
    await this.#removeScratch();
    // Deepest first: a directory made read-only must not stop its children being changed.
    const directories = [...this.#directoryModes].sort(([a], [b]) => b.length - a.length);
    for (const [relative, mode] of directories) await chmod(this.#pathOf(relative), mode);
    return this.#entries;
  }

  /**
   * Removes everything this extraction created: the destination itself if it was created here,
   * otherwise its contents (it was empty before). Best effort: a failure to clean must not hide
   * the error that caused it.
   */
  async discard(): Promise<void> {
    await this.#open?.close().catch(() => {});
    this.#open = undefined;
    await this.#removeScratch().catch(() => {});
    if (this.#created !== undefined) {
      await rm(this.#created, { recursive: true, force: true, maxRetries: 2 }).catch(() => {});
      return;
    }
    const names = await readdir(this.root).catch(() => [] as string[]);
    await Promise.all(
      names.map((name) =>
        rm(join(this.root, name), { recursive: true, force: true, maxRetries: 2 }).catch(() => {}),
      ),
    );
  }
}
