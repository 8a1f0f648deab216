/**
 * The installer journal: one small JSON file next to the target that exists exactly while an
 * install is neither committed nor rolled back. Its presence is what gives the backup meaning:
 * a backup without a journal is a leftover of a finished commit and is deleted on sight.
 * Written like the FileStore writes a key (temp file, fsync, rename, fsync the directory), so
 * after a power cut it is either absent or whole.
 *
 * @module
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { InstallError } from '../../core/errors.js';
import { errorCode, fsyncDirectory, remove } from './durable-fs.js';

/** What the journal records. */
export interface InstallJournal {
  /** Layout version of this file, for a future reader. */
  version: 1;
  kind: 'file' | 'directory';
  /** The target this journal belongs to, for a human reading the file. */
  target: string;
  /**
   * `installing`: the install began and has not reached its end (a crash or an abort);
   * `installed`: the new version is in place and awaits commit or rollback.
   */
  phase: 'installing' | 'installed';
  /** Whether the target existed when the install began, i.e. whether rollback restores or removes. */
  previous: boolean;
}

/** Reads, writes and removes one journal file. */
export class Journal {
  readonly path: string;
  readonly #fsync: boolean;

  constructor(path: string, fsync: boolean) {
    this.path = path;
    this.#fsync = fsync;
  }

  get temporaryPath(): string {
    return `${this.path}.tmp`;
  }

  async read(kind: InstallJournal['kind']): Promise<InstallJournal | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return null;
      throw error;
    }
    let value: Partial<InstallJournal>;
    try {
      value = JSON.parse(text) as Partial<InstallJournal>;
    } catch (cause) {
      // Cannot be torn (it is replaced atomically), so this is outside interference: stop and
      // leave the file for a human rather than guess which version the target holds.
      throw new InstallError(`Install journal ${this.path} is not valid JSON`, { cause });
    }
    if (
      value.version !== 1 ||
      value.kind !== kind ||
      (value.phase !== 'installing' && value.phase !== 'installed') ||
      typeof value.previous !== 'boolean'
    ) {
      throw new InstallError(`Install journal ${this.path} does not belong to a ${kind} installer`);
    }
    return value as InstallJournal;
  }

  async write(journal: InstallJournal): Promise<void> {
    const temporary = this.temporaryPath;
    const handle = await open(temporary, 'w', 0o600);
    try {
      await handle.writeFile(`${JSON.stringify(journal)}\n`);
      if (this.#fsync) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, this.path);
    if (this.#fsync) await fsyncDirectory(dirname(this.path));
  }

  /** Removing the journal is the commit point of `commit()` and the end of `rollback()`. */
  async remove(): Promise<void> {
    try {
      await unlink(this.path);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
    }
    if (this.#fsync) await fsyncDirectory(dirname(this.path));
  }

  /** Deletes a temp file left by a writer killed mid-write; its rename never happened. */
  async sweep(): Promise<void> {
    await remove(this.temporaryPath);
  }
}
