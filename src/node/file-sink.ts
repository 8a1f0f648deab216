/**
 * A durable, resumable {@link DownloadSink} on a file: appends as bytes arrive, fsyncs on flush,
 * reads itself back so the hashes can be rebuilt after a restart, and deletes itself on discard
 * (an artifact that failed verification never stays on disk).
 *
 * Writes are batched: chunks (typically 16–64 KiB off the socket) are gathered into batches of
 * `batchBytes` and written with one `writev` while the next batch fills, so the download never
 * waits for the disk chunk by chunk.
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
   * Bytes gathered before a write is issued. At most two batches are held in memory.
   * @default 1048576
   */
  batchBytes?: number;
}

export class FileSink implements DownloadSink {
  readonly path: string;
  readonly #fsync: boolean;
  readonly #batchBytes: number;
  #handle: FileHandle | undefined;
  #batch: Uint8Array[] = [];
  #batchLength = 0;
  /** The batch being written, if any; its failure surfaces on the next write or flush. */
  #inFlight: Promise<void> | undefined;

  constructor(path: string, options: FileSinkOptions = {}) {
    this.path = path;
    this.#fsync = options.fsync ?? true;
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
    this.#batch.push(chunk);
    this.#batchLength += chunk.length;
    if (this.#batchLength < this.#batchBytes) return;
    // One batch on its way to the disk, one filling: wait only if the disk is a batch behind.
    await this.#inFlight;
    const writing = this.#writeBatch();
    // Marked handled now; the failure is rethrown by the next write, flush or close that awaits it.
    writing.catch(() => {});
    this.#inFlight = writing;
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
  }

  async #writeBatch(): Promise<void> {
    const buffers = this.#batch;
    this.#batch = [];
    this.#batchLength = 0;
    if (this.#handle === undefined) {
      await mkdir(dirname(this.path), { recursive: true });
      this.#handle = await open(this.path, 'a', 0o600);
    }
    let pending = buffers;
    while (pending.length > 0) {
      const { bytesWritten } = await this.#handle.writev(pending);
      pending = skipWritten(pending, bytesWritten);
    }
  }

  async #close(): Promise<void> {
    try {
      if (this.#handle !== undefined || this.#batchLength > 0) await this.#drain();
    } finally {
      const handle = this.#handle;
      this.#handle = undefined;
      this.#batch = [];
      this.#batchLength = 0;
      this.#inFlight = undefined;
      await handle?.close();
    }
  }
}

/** What remains of `buffers` after a short `writev` wrote `written` bytes. */
function skipWritten(buffers: Uint8Array[], written: number): Uint8Array[] {
  let remaining = written;
  const rest: Uint8Array[] = [];
  for (const buffer of buffers) {
    if (remaining >= buffer.length) {
      remaining -= buffer.length;
      continue;
    }
    rest.push(remaining > 0 ? buffer.subarray(remaining) : buffer);
    remaining = 0;
  }
  return rest;
}
