/**
 * A durable, resumable {@link DownloadSink} on a file: appends as bytes arrive, fsyncs on flush,
 * reads itself back so the hashes can be rebuilt after a restart, and deletes itself on discard
 * (an artifact that failed verification never stays on disk).
 *
 * @module
 */
import { createReadStream } from 'node:fs';
import { type FileHandle, mkdir, open, stat, truncate, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { DownloadSink } from '../transport/download-sink.js';

export interface FileSinkOptions {
  /**
   * fsync on `flush()`. Off only for tests or throwaway data.
   * @default true
   */
  fsync?: boolean;
}

export class FileSink implements DownloadSink {
  readonly path: string;
  readonly #fsync: boolean;
  #handle: FileHandle | undefined;

  constructor(path: string, options: FileSinkOptions = {}) {
    this.path = path;
    this.#fsync = options.fsync ?? true;
  }

  async length(): Promise<number> {
    try {
      return (await stat(this.path)).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw error;
    }
  }

  async *readBack(): AsyncIterable<Uint8Array> {
    await this.#close();
    for await (const chunk of createReadStream(this.path, { highWaterMark: 1024 * 1024 })) {
      yield chunk as Buffer;
    }
  }

  async reset(): Promise<void> {
    await this.#close();
    await mkdir(dirname(this.path), { recursive: true });
    await truncate(this.path, 0).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.#handle === undefined) {
      await mkdir(dirname(this.path), { recursive: true });
      this.#handle = await open(this.path, 'a', 0o600);
    }
    let written = 0;
    while (written < chunk.length) {
      const { bytesWritten } = await this.#handle.write(chunk, written, chunk.length - written);
      written += bytesWritten;
    }
  }

  async flush(): Promise<void> {
    if (this.#handle !== undefined && this.#fsync) await this.#handle.sync();
    await this.#close();
  }

  async discard(): Promise<void> {
    await this.#close();
    await unlink(this.path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  async #close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close();
  }
}
