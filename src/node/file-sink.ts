/**
 * A durable, resumable {@link DownloadSink} on a file: appends as bytes arrive, fsyncs on flush,
 * reads itself back so the hashes can be rebuilt after a restart, and deletes itself on discard
 * (an artifact that failed verification never stays on disk).
 *
 * Writes are batched: chunks are copied into one of two fixed buffers of `batchBytes`, and a full
 * buffer is written while the other fills, so the download never waits for the disk chunk by
 * chunk, memory stays fixed, and the caller may reuse a chunk's memory as soon as `write` returns.
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
  /**
   * With `fsync`, start an `fdatasync` in the background after every this many bytes, so the disk
   * writes the download back while it runs: the final fsync then waits for the last stretch only
   * instead of the whole artifact, and dirty pages never pile up in a small device's memory.
   * `Infinity` syncs on `flush()` only.
   * @default 67108864
   */
  syncEveryBytes?: number;
  /**
   * Bytes gathered before a write is issued. Two buffers of this size are held.
   * @default 1048576
   */
  batchBytes?: number;
}

export class FileSink implements DownloadSink {
  readonly path: string;
  readonly #fsync: boolean;
  readonly #syncEveryBytes: number;
  #unsyncedBytes = 0;
  /** A background fdatasync, if one runs; its failure surfaces on the next write or flush. */
  #syncing: Promise<void> | undefined;
  readonly #batchBytes: number;
  #handle: FileHandle | undefined;
  /** The two batch buffers (allocated on first write); `#filling` is the one being filled. */
  #buffers: [Uint8Array, Uint8Array] | undefined;
  #filling = 0;
  #batchLength = 0;
  /** The batch being written, if any; its failure surfaces on the next write or flush. */
  #inFlight: Promise<void> | undefined;

  constructor(path: string, options: FileSinkOptions = {}) {
    this.path = path;
    this.#fsync = options.fsync ?? true;
    this.#syncEveryBytes = options.syncEveryBytes ?? 64 * 1024 * 1024;
    this.#batchBytes = options.batchBytes ?? 1024 * 1024;
  }

  async length(): Promise<number> {
    await this.#drain();
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
    this.#buffers ??= [new Uint8Array(this.#batchBytes), new Uint8Array(this.#batchBytes)];
    for (let copied = 0; copied < chunk.length; ) {
      const batch = this.#buffers[this.#filling]!;
      const count = Math.min(chunk.length - copied, batch.length - this.#batchLength);
      batch.set(chunk.subarray(copied, copied + count), this.#batchLength);
      this.#batchLength += count;
      copied += count;
      if (this.#batchLength < batch.length) continue;
      // One batch on its way to the disk, one filling: wait only if the disk is a batch behind.
      await this.#inFlight;
      const writing = this.#writeBatch();
      // Marked handled now; the failure is rethrown by the next write, flush or close that awaits it.
      writing.catch(() => {});
      this.#inFlight = writing;
    }
  }

  async flush(): Promise<void> {
    try {
      await this.#drain();
      if (this.#handle !== undefined && this.#fsync) await this.#handle.sync();
    } finally {
      await this.#close();
    }
  }

  async discard(): Promise<void> {
    await this.#close().catch(() => {});
    await unlink(this.path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  /** Writes whatever is gathered and waits until every write is done. */
  async #drain(): Promise<void> {
    try {
      await this.#inFlight;
    } finally {
      // A failed write is reported once, not on every later call.
      this.#inFlight = undefined;
    }
    if (this.#batchLength > 0) await this.#writeBatch();
    try {
      await this.#syncing;
    } finally {
      this.#syncing = undefined;
    }
  }

  /** Starts writing the batch being filled and switches to the other buffer. */
  async #writeBatch(): Promise<void> {
    const batch = this.#buffers![this.#filling]!.subarray(0, this.#batchLength);
    this.#filling = 1 - this.#filling;
    this.#batchLength = 0;
    if (this.#handle === undefined) {
      await mkdir(dirname(this.path), { recursive: true });
      this.#handle = await open(this.path, 'a', 0o600);
    }
    for (let written = 0; written < batch.length; ) {
      const { bytesWritten } = await this.#handle.write(batch, written, batch.length - written);
      written += bytesWritten;
    }
    this.#unsyncedBytes += batch.length;
    if (this.#fsync && this.#unsyncedBytes >= this.#syncEveryBytes) {
      await this.#syncing; // at most one at a time; a failed one is rethrown here
      this.#unsyncedBytes = 0;
      const syncing = this.#handle.datasync();
      syncing.catch(() => {});
      this.#syncing = syncing;
    }
  }

  async #close(): Promise<void> {
    try {
      if (this.#handle !== undefined || this.#batchLength > 0) await this.#drain();
    } finally {
      const handle = this.#handle;
      this.#handle = undefined;
      this.#batchLength = 0;
      this.#unsyncedBytes = 0;
      this.#inFlight = undefined;
      await this.#syncing?.catch(() => {}); // never close the descriptor under a running sync
      this.#syncing = undefined;
      await handle?.close();
    }
  }
}
