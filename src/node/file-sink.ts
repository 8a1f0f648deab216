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
  readonly #batchBytes: number;
  #handle: FileHandle | undefined;
  /** The two batch buffers (allocated on first write); `#filling` is the one being filled. */
  #buffers: [Uint8Array, Uint8Array] | undefined;
  #filling = 0;
  #batchLength = 0;
  /** The batch being written, if any. Never rejects: a failure lands in `#failure`. */
  #inFlight: Promise<void> | undefined;
  /** A background fdatasync, if one runs. Never rejects: a failure lands in `#failure`. */
  #syncing: Promise<void> | undefined;
  /**
   * The first write or datasync that failed. From then on nothing more goes to the disk (the file
   * stays a prefix of what was handed over, never bytes behind a hole), and every write, flush and
   * length reports it until the descriptor is closed (flush, reset, discard, readBack close it).
   */
  #failure: { error: unknown } | undefined;

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
    try {
      await this.#drain();
    } finally {
      await this.#close();
    }
    for await (const chunk of createReadStream(this.path, { highWaterMark: 1024 * 1024 })) {
      yield chunk as Buffer;
    }
  }

  async reset(): Promise<void> {
    // What is gathered is dropped, not written; a write under way finishes before the truncate.
    this.#batchLength = 0;
    await this.#close();
    await mkdir(dirname(this.path), { recursive: true });
    await truncate(this.path, 0).catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.#throwIfFailed();
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
      this.#throwIfFailed(); // the batch before is lost: this one must not follow it to the disk
      this.#inFlight = this.#writeBatch();
    }
  }

  async flush(): Promise<void> {
    try {
      await this.#drain();
      // Even with nothing written since the last close: what the file held before (bytes of an
      // earlier process, read back by a resume) must be durable too, and no bytes is an empty file.
      this.#handle ??= await this.#open();
      if (this.#fsync) await this.#handle.sync();
    } finally {
      await this.#close();
    }
  }

  async discard(): Promise<void> {
    this.#batchLength = 0;
    await this.#close().catch(() => {});
    await unlink(this.path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure.error;
  }

  /** Writes whatever is gathered, waits until every write and sync is done, reports a failure. */
  async #drain(): Promise<void> {
    await this.#inFlight;
    if (this.#failure === undefined && this.#batchLength > 0) this.#inFlight = this.#writeBatch();
    await this.#inFlight;
    this.#inFlight = undefined;
    await this.#syncing;
    this.#syncing = undefined;
    this.#throwIfFailed();
  }

  /** Starts writing the batch being filled and switches to the other buffer. Never rejects. */
  #writeBatch(): Promise<void> {
    const batch = this.#buffers![this.#filling]!.subarray(0, this.#batchLength);
    this.#filling = 1 - this.#filling;
    this.#batchLength = 0;
    return this.#writeOut(batch).catch((error: unknown) => {
      this.#failure ??= { error };
    });
  }

  async #writeOut(batch: Uint8Array): Promise<void> {
    this.#handle ??= await this.#open();
    for (let written = 0; written < batch.length; ) {
      const { bytesWritten } = await this.#handle.write(batch, written, batch.length - written);
      written += bytesWritten;
    }
    this.#unsyncedBytes += batch.length;
    if (this.#fsync && this.#unsyncedBytes >= this.#syncEveryBytes) {
      await this.#syncing; // at most one at a time
      if (this.#failure !== undefined) return;
      this.#unsyncedBytes = 0;
      this.#syncing = this.#handle.datasync().catch((error: unknown) => {
        this.#failure ??= { error };
      });
    }
  }

  async #open(): Promise<FileHandle> {
    await mkdir(dirname(this.path), { recursive: true });
    return open(this.path, 'a', 0o600);
  }

  /**
   * Waits for the write and the sync under way (the descriptor is never closed under them, and a
   * batch never lands after a reset or a discard), drops what is gathered, closes the descriptor
   * and forgets a failure (reported by the caller's drain, or moot after reset or discard).
   */
  async #close(): Promise<void> {
    await this.#inFlight;
    await this.#syncing;
    const handle = this.#handle;
    this.#handle = undefined;
    this.#inFlight = undefined;
    this.#syncing = undefined;
    this.#batchLength = 0;
    this.#unsyncedBytes = 0;
    this.#failure = undefined;
    await handle?.close();
  }
}
