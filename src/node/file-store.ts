/**
 * A durable {@link StateStore} on the local file system. Each key is one JSON file, replaced
 * atomically (write to a temp file, fsync, rename over, fsync the directory), so after a power
 * cut a key holds either its old or its new value, never a torn one. One process writes a
 * directory at a time (the device agent); temp files of a killed writer are removed on first use.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreError } from '../core/errors.js';
import type { JsonValue, StateStore } from '../core/store.js';
import { fsyncDirectory } from './install/durable-fs.js';

export interface FileStoreOptions {
  /**
   * fsync file and directory on every write. Turn off only for tests or tmpfs; without it a
   * power cut may lose the last transitions.
   * @default true
   */
  fsync?: boolean;
}

const TEMP_FILE = /\.json\.[0-9a-f]{12}\.tmp$/;

/** Keys may contain `/` and other characters that are not safe in file names. */
function fileNameFor(key: string): string {
  return `${encodeURIComponent(key).replaceAll('.', '%2E')}.json`;
}

/**
 * @example
 * ```ts
 * const store = new FileStore('/var/lib/my-agent/otakit')
 * const machine = createUpdateMachine({ id: 'gw-7', store, hooks })
 * ```
 */
export class FileStore implements StateStore {
  readonly directory: string;
  readonly #fsync: boolean;
  #ready: Promise<void> | undefined;

  constructor(directory: string, options: FileStoreOptions = {}) {
    this.directory = directory;
    this.#fsync = options.fsync ?? true;
  }

  #ensureDirectory(): Promise<void> {
    this.#ready ??= (async () => {
      await mkdir(this.directory, { recursive: true, mode: 0o700 });
      // Temp files left by a process killed mid-write are garbage: their rename never happened.
      for (const name of await readdir(this.directory)) {
        if (TEMP_FILE.test(name)) await rm(join(this.directory, name), { force: true });
      }
    })().catch((error: unknown) => {
      this.#ready = undefined; // try again next time
      throw error;
    });
    return this.#ready;
  }

  async get(key: string): Promise<JsonValue | undefined> {
    const path = join(this.directory, fileNameFor(key));
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new StoreError(`Reading key "${key}" from ${this.directory} failed`, { cause, retryable: true });
    }
    try {
      return JSON.parse(text) as JsonValue;
    } catch (cause) {
      // Left in place on purpose: a human may want to inspect or repair it.
      throw new StoreError(`Key "${key}" in ${this.directory} holds invalid JSON`, { cause });
    }
  }

  async put(key: string, value: JsonValue): Promise<void> {
    const target = join(this.directory, fileNameFor(key));
    const temporary = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await this.#ensureDirectory();
      const handle = await open(temporary, 'w', 0o600);
      try {
        await handle.writeFile(JSON.stringify(value));
        if (this.#fsync) await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, target);
      if (this.#fsync) await fsyncDirectory(this.directory);
    } catch (cause) {
      await rm(temporary, { force: true }).catch(() => {});
      throw new StoreError(`Writing key "${key}" to ${this.directory} failed`, { cause, retryable: true });
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(join(this.directory, fileNameFor(key)));
      if (this.#fsync) await fsyncDirectory(this.directory);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new StoreError(`Deleting key "${key}" from ${this.directory} failed`, { cause, retryable: true });
    }
  }
}
