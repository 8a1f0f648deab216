/**
 * Runs bytes through a `node:zlib` decompressor as an async generator, one bounded chunk at a
 * time: the decompressor only gets more input when its output has been taken, so a bomb never
 * inflates further than the consumer has asked for.
 *
 * Why node:zlib and not a JS inflater such as fflate: it verifies gzip's CRC-32 and length and
 * zlib's Adler-32 (fflate's streaming decoders skip those trailers), it is the zlib every other
 * tool uses, and `otakit/node` runs on Node anyway.
 *
 * @module
 */
import type { Transform } from 'node:stream';
import { READ_CHUNK_BYTES } from './source.js';

/** Options for every decompressor created here: 64 KiB output chunks. */
export const ZLIB_OPTIONS = { chunkSize: READ_CHUNK_BYTES } as const;

function drained(stream: Transform): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

/**
 * Decompresses `input` with `decompressor`. `onInput` sees each compressed chunk before it is
 * decompressed, `onOutput` each decompressed chunk before it is yielded; either may throw to stop.
 * An error thrown by `input` (or `onInput`) wins over the decompressor's own complaint about
 * being cut short.
 */
export async function* throughZlib(
  input: AsyncIterable<Uint8Array>,
  decompressor: Transform,
  onInput: (chunk: Uint8Array) => void,
  onOutput: (chunk: Uint8Array) => void,
): AsyncGenerator<Uint8Array> {
  // Errors reach the consumer through the iterator; this keeps a late one from crashing the process.
  decompressor.on('error', () => {});
  let inputError: { error: unknown } | undefined;
  const feed = async () => {
    try {
      for await (const chunk of input) {
        if (decompressor.destroyed) return;
        onInput(chunk);
        if (!decompressor.write(chunk)) await drained(decompressor);
        if (decompressor.destroyed) return;
      }
      if (!decompressor.destroyed) decompressor.end();
    } catch (error) {
      inputError = { error };
      decompressor.destroy(error instanceof Error ? error : new Error(String(error)));
    }
  };
  void feed();
  try {
    for await (const chunk of decompressor as AsyncIterable<Uint8Array>) {
      onOutput(chunk);
      yield chunk;
    }
  } catch (error) {
    throw inputError === undefined ? error : inputError.error;
  } finally {
    // Stopping early (a refused entry, an abort): release zlib's memory now. The feeder stops at
    // its next step; the caller closes the source, which ends a read the feeder is waiting on.
    decompressor.destroy();
  }
  if (inputError !== undefined) throw inputError.error;
}
