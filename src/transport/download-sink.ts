/**
 * Where downloaded bytes go. A sink that can report and read back what it already holds lets a
 * download resume with HTTP Range after a restart (the hashes are rebuilt from the held bytes,
 * since no hash state survives a process). `otakit/node` has a durable file sink.
 *
 * @module
 */

export interface DownloadSink {
  /** Bytes already held from an earlier attempt; 0 when empty or when the sink cannot resume. */
  length(): Promise<number>;
  /** Streams back the bytes held, so hashes can be rebuilt before resuming. Optional. */
  readBack?(): AsyncIterable<Uint8Array>;
  /** Drops everything held: the download restarts from zero. */
  reset(): Promise<void>;
  /**
   * Takes `chunk`. The engine reuses the chunk's memory once the promise settles, so a sink that
   * keeps bytes past that point must copy them.
   */
  write(chunk: Uint8Array): Promise<void>;
  /** Makes what was written durable (fsync for files). */
  flush(): Promise<void>;
  /** Removes what was written (an integrity failure must not leave the bytes behind). */
  discard(): Promise<void>;
}

/** A sink in memory; resumable within the process. Handy in browsers and tests. */
export class MemorySink implements DownloadSink {
  #chunks: Uint8Array[] = [];
  #length = 0;

  async length(): Promise<number> {
    return this.#length;
  }

  async *readBack(): AsyncIterable<Uint8Array> {
    yield* this.#chunks;
  }

  async reset(): Promise<void> {
    this.#chunks = [];
    this.#length = 0;
  }

  async write(chunk: Uint8Array): Promise<void> {
    // Copy: the engine reuses the chunk's memory for the next read.
    this.#chunks.push(chunk.slice());
    this.#length += chunk.length;
  }

  async flush(): Promise<void> {}

  async discard(): Promise<void> {
    await this.reset();
  }

  /** Everything written, as one buffer. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let offset = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}

/**
 * Adapts a web `WritableStream` (e.g. from the File System Access API or a service worker).
 * A plain stream cannot be read back or rewound, so a download into it never resumes: a retry
 * after bytes were written fails instead of producing a chimera.
 */
export function writableStreamSink(stream: WritableStream<Uint8Array>): DownloadSink {
  const writer = stream.getWriter();
  let written = 0;
  return {
    length: async () => 0,
    async reset() {
      if (written > 0) throw new Error('A WritableStream sink cannot rewind after bytes were written');
    },
    async write(chunk) {
      // Copy: the stream may queue the chunk past this promise, and the engine reuses its memory.
      await writer.write(chunk.slice());
      written += chunk.length;
    },
    async flush() {
      await writer.close();
    },
    async discard() {
      await writer.abort(new Error('download discarded')).catch(() => {});
    },
  };
}
