/**
 * Reads a response body chunk by chunk. When the body is a byte stream (otakit/node's fetch, and
 * the fetch of modern browsers), every read lands in the same buffer (a BYOB reader), so a 1 GiB
 * download allocates one buffer instead of tens of thousands of chunks waiting for the garbage
 * collector. Each chunk is only valid until the next `read()`.
 *
 * @module
 */

export interface BodyReader {
  /** The next chunk, or `undefined` at the end. The chunk's memory is reused by the next read. */
  read(): Promise<Uint8Array | undefined>;
  cancel(reason?: unknown): Promise<void>;
}

/** Bytes asked for per read when the body supports reading into a buffer of ours. */
export const READ_BUFFER_BYTES = 256 * 1024;

export function bodyReader(body: ReadableStream<Uint8Array>, bufferBytes = READ_BUFFER_BYTES): BodyReader {
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = body.getReader({ mode: 'byob' });
  } catch {
    // Not a byte stream (a WHATWG stream of chunks): read the chunks it makes.
  }
  if (byob === undefined) {
    const reader = body.getReader();
    return {
      read: async () => {
        const { done, value } = await reader.read();
        return done ? undefined : value;
      },
      cancel: (reason) => reader.cancel(reason),
    };
  }
  const reader = byob;
  let buffer = new ArrayBuffer(bufferBytes);
  return {
    async read() {
      // A read cut short by a cancel or an error keeps the buffer it took (it stays detached):
      // take a new one, so a later read answers the end or the stream's error, not a TypeError.
      if (buffer.byteLength === 0) buffer = new ArrayBuffer(bufferBytes);
      const { done, value } = await reader.read(new Uint8Array(buffer));
      // The buffer was transferred into the stream and comes back with the result.
      if (value !== undefined) buffer = value.buffer as ArrayBuffer;
      return done ? undefined : value;
    },
    cancel: (reason) => reader.cancel(reason),
  };
}
