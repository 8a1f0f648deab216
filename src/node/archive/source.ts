/**
 * Where archive bytes come from: a file, a web `ReadableStream`, or a Node readable stream (any
 * async iterable of bytes). Every read honours the extraction's `AbortSignal`, even one stuck
 * waiting for a stalled network stream, and stopping early releases the stream.
 *
 * @module
 */
import type { FileHandle } from 'node:fs/promises';
import { ArchiveError } from '../../archive/errors.js';
import { raceAbort, throwIfAborted } from '../../core/abort.js';
import { isOtaError, OtaError } from '../../core/errors.js';
import type { Pull } from './byte-reader.js';

/** An archive to extract: a file path, or a stream of its bytes. */
export type ArchiveSource =
  | string
  | ReadableStream<Uint8Array>
  | NodeJS.ReadableStream
  | AsyncIterable<Uint8Array>;

/** Bytes read from a file per chunk (and the chunk size handed to decompressors). */
export const READ_CHUNK_BYTES = 64 * 1024;

/** A stream being read. */
export interface StreamInput {
  readonly pull: Pull;
  /** Stops reading: cancels a pending read and releases the stream. Safe to call twice. */
  close(): Promise<void>;
}

function checkChunk(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  // A Node stream with setEncoding() yields strings, and decoding has already mangled the bytes.
  throw new OtaError('CONFIG', `Archive stream must yield bytes (Uint8Array), got ${typeof value}`);
}

function isWebStream(source: object): source is ReadableStream<Uint8Array> {
  return typeof (source as { getReader?: unknown }).getReader === 'function';
}

/** Reads a stream source chunk by chunk. */
export function openStream(
  source: Exclude<ArchiveSource, string>,
  signal: AbortSignal | undefined,
): StreamInput {
  let next: () => Promise<Uint8Array | null>;
  let release: () => Promise<void>;
  if (isWebStream(source)) {
    const reader = source.getReader();
    next = async () => {
      const result = await reader.read();
      return result.done ? null : checkChunk(result.value);
    };
    release = () => reader.cancel().catch(() => {});
  } else {
    const iterator = (source as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    next = async () => {
      const result = await iterator.next();
      return result.done ? null : checkChunk(result.value);
    };
    release = async () => {
      // destroy() settles a pending read at once; an iterator's return() would queue behind it.
      const destroy = (source as { destroy?: unknown }).destroy;
      if (typeof destroy === 'function') destroy.call(source);
      else void iterator.return?.().catch(() => {});
    };
  }

  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    signal?.removeEventListener('abort', onAbort);
    await release();
  };
  const onAbort = () => void close();
  signal?.addEventListener('abort', onAbort, { once: true });

  const read = async (): Promise<Uint8Array | null> => {
    try {
      return await next();
    } catch (error) {
      if (isOtaError(error) || signal?.aborted) throw error;
      // The download behind the stream failed (connection reset, ...): an I/O failure, not a bad archive.
      const detail = error instanceof Error ? error.message : String(error);
      throw new ArchiveError('io', `Reading the archive stream failed: ${detail}`, { cause: error });
    }
  };
  return {
    pull: async () => {
      throwIfAborted(signal);
      if (closed) return null;
      return signal === undefined ? read() : raceAbort(read(), signal);
    },
    close,
  };
}

/** Reads `[start, end)` of an open file chunk by chunk; ends early if the file is shorter. */
export function filePull(
  handle: FileHandle,
  start: number,
  end: number,
  signal: AbortSignal | undefined,
): Pull {
  let position = start;
  return async () => {
    throwIfAborted(signal);
    if (position >= end) return null;
    const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, end - position));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) return null;
    position += bytesRead;
    return buffer.subarray(0, bytesRead);
  };
}
