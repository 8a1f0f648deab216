import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type DownloadOptions,
  type DownloadSink,
  downloadArtifact,
  type HashAlgorithm,
  type HashFactory,
  type IncrementalHash,
  MemorySink,
} from '../../src/index.js';
import { createNodeHash } from '../../src/node/index.js';
import { bodyReader } from '../../src/transport/body-reader.js';

const BODY = new Uint8Array(600_000).map((_, index) => (index * 31 + (index >> 9)) & 0xff);
const SHA = createHash('sha256').update(BODY).digest('hex');
const MD5 = createHash('md5').update(BODY).digest('hex');

/** A byte stream handing out `bytes` in chunks of `chunkBytes`, recording a cancel. */
function byteStream(bytes: Uint8Array, chunkBytes = 64 * 1024, onCancel?: (reason: unknown) => void) {
  let offset = 0;
  const source: UnderlyingByteSource = {
    type: 'bytes',
    pull(controller) {
      if (offset >= bytes.length) {
        controller.close();
        controller.byobRequest?.respond(0);
        return;
      }
      const end = Math.min(bytes.length, offset + chunkBytes);
      controller.enqueue(bytes.slice(offset, end));
      offset = end;
    },
    cancel: (reason) => onCancel?.(reason),
  };
  return new ReadableStream(source) as ReadableStream<Uint8Array>;
}

interface FakeServer {
  fetch: typeof fetch;
  requests: { range: string | null }[];
  cancels: unknown[];
}

/**
 * A fetch serving `body` from memory with Range support (206, and 416 past the end), as byte
 * streams, so the engine reads through BYOB like with nodeFetch and browsers.
 */
function fakeServer(
  body: Uint8Array,
  extra: { contentLength?: boolean; status?: number; headers?: Record<string, string> } = {},
): FakeServer {
  const server: FakeServer = { requests: [], cancels: [], fetch: undefined as unknown as typeof fetch };
  server.fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init);
    const range = request.headers.get('range');
    server.requests.push({ range });
    const headers: Record<string, string> = { etag: '"v1"', ...extra.headers };
    if (extra.status !== undefined) return new Response(null, { status: extra.status, headers });
    let start = 0;
    if (range !== null) {
      start = Number(/^bytes=(\d+)-$/.exec(range)![1]);
      if (start >= body.length) {
        return new Response(null, {
          status: 416,
          headers: { ...headers, 'content-range': `bytes */${body.length}` },
        });
      }
      headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    }
    if (extra.contentLength !== false) headers['content-length'] = String(body.length - start);
    const stream = byteStream(body.subarray(start), 64 * 1024, (reason) => server.cancels.push(reason));
    return new Response(stream, { status: range === null ? 200 : 206, headers });
  }) as typeof fetch;
  return server;
}

function options(server: FakeServer, extra: Partial<DownloadOptions> = {}): DownloadOptions {
  return {
    url: 'http://device.test/fw.bin',
    fetch: server.fetch,
    sink: new MemorySink(),
    hashFactory: createNodeHash,
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
    ...extra,
  };
}

/** node:crypto hashes that record every hash made, its digest and its disposal. */
function recordingHashes(
  wrap: (algorithm: HashAlgorithm, hash: IncrementalHash) => IncrementalHash = (_, hash) => hash,
) {
  const made: { algorithm: HashAlgorithm; digested: boolean; disposed: boolean }[] = [];
  const factory: HashFactory = (algorithm) => {
    const record = { algorithm, digested: false, disposed: false };
    made.push(record);
    const inner = wrap(algorithm, createNodeHash(algorithm));
    return {
      update: (chunk) => inner.update(chunk),
      digest: async () => {
        const digest = await inner.digest();
        record.digested = true;
        return digest;
      },
      dispose: () => {
        record.disposed = true;
      },
    };
  };
  return { made, factory };
}

describe('bodyReader', () => {
  it('reads a byte stream into one reused buffer (fixed memory) and every byte arrives', async () => {
    const reader = bodyReader(byteStream(BODY, 100_000), 64 * 1024);
    const hash = createHash('sha256');
    for (let chunk = await reader.read(); chunk !== undefined; chunk = await reader.read()) {
      expect(chunk.length).toBeGreaterThan(0);
      // A view of our buffer (each read transfers it, so the ArrayBuffer object changes, not the memory).
      expect(chunk.byteOffset).toBe(0);
      expect(chunk.buffer.byteLength).toBe(64 * 1024);
      hash.update(chunk);
    }
    expect(hash.digest('hex')).toBe(SHA);
  });

  it('reads a stream of chunks (not a byte stream), empty chunks included', async () => {
    const chunks = [new Uint8Array([1, 2]), new Uint8Array(0), new Uint8Array([3])];
    const reader = bodyReader(
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (const chunk of chunks) controller.enqueue(chunk);
          controller.close();
        },
      }),
    );
    const seen: number[] = [];
    for (let chunk = await reader.read(); chunk !== undefined; chunk = await reader.read())
      seen.push(...chunk);
    expect(seen).toEqual([1, 2, 3]);
    expect(await reader.read()).toBeUndefined();
  });

  it('keeps answering the end after the end, a cancel or an error', async () => {
    // Closed while a read waits: done, with an empty view of our buffer.
    let control!: ReadableByteStreamController;
    const closing = bodyReader(
      new ReadableStream({
        type: 'bytes',
        start: (c) => {
          control = c;
        },
      }),
      16,
    );
    const pending = closing.read();
    control.close();
    control.byobRequest?.respond(0);
    expect(await pending).toBeUndefined();
    expect(await closing.read()).toBeUndefined();

    // Canceled while a read waits (the stall watchdog, an abort): the buffer never comes back.
    const canceled = bodyReader(new ReadableStream({ type: 'bytes' }), 16);
    const waiting = canceled.read();
    await canceled.cancel(new Error('stalled'));
    expect(await waiting).toBeUndefined();
    expect(await canceled.read()).toBeUndefined();

    // Errored while a read waits: every later read reports the stream's error, not a detached buffer.
    const erroring = bodyReader(
      new ReadableStream({
        type: 'bytes',
        start: (c) => {
          control = c;
        },
      }),
      16,
    );
    const failing = erroring.read();
    control.error(new Error('connection reset'));
    await expect(failing).rejects.toThrow('connection reset');
    await expect(erroring.read()).rejects.toThrow('connection reset');
  });
});

describe('the download engine reading through bodyReader', () => {
  it('a retryable sink failure does not leave the hashes ahead of the sink (first vs retried attempt)', async () => {
    // The sink refuses one chunk with a transient error: the hashes must not have taken it either,
    // or the retry (which asks for that chunk again) hashes it twice.
    class FlakySink extends MemorySink {
      writes = 0;
      override async write(chunk: Uint8Array): Promise<void> {
        this.writes += 1;
        if (this.writes === 3) throw new Error('sink busy, try again');
        await super.write(chunk);
      }
    }
    const server = fakeServer(BODY);
    const sink = new FlakySink();
    const result = await downloadArtifact(
      options(server, { sink, expected: { size: BODY.length, sha256: SHA, md5: MD5 } }),
    );
    expect(result).toMatchObject({ sha256: SHA, md5: MD5, size: BODY.length, attempts: 2 });
    expect(createHash('sha256').update(sink.bytes()).digest('hex')).toBe(SHA);
  });

  it('waits for a slow asynchronous hash before moving on when the sink fails, and never runs two updates at once', async () => {
    let running = 0;
    let overlapped = false;
    let lateRead = false;
    let settled = true;
    const slow: HashFactory = (algorithm) => {
      const inner = createNodeHash(algorithm);
      return {
        async update(chunk) {
          running += 1;
          if (running > 1) overlapped = true;
          settled = false;
          const copy = chunk.slice();
          await new Promise((resolve) => setTimeout(resolve, 5));
          // The engine reuses the chunk's memory only after this promise settles.
          if (Buffer.compare(copy, chunk) !== 0) lateRead = true;
          inner.update(chunk);
          running -= 1;
          settled = true;
        },
        digest: () => inner.digest(),
      };
    };
    class FailingSink extends MemorySink {
      writes = 0;
      override async write(chunk: Uint8Array): Promise<void> {
        this.writes += 1;
        if (this.writes === 2) {
          throw new Error('sink busy, try again');
        }
        // A write after the failure must not find the failed chunk's hash still at work.
        if (!settled) overlapped = true;
        await super.write(chunk);
      }
    }
    const server = fakeServer(BODY);
    const result = await downloadArtifact(
      options(server, { sink: new FailingSink(), hashFactory: slow, expected: { sha256: SHA } }),
    );
    expect(result.sha256).toBe(SHA);
    expect(overlapped).toBe(false);
    expect(lateRead).toBe(false);
  });

  it('releases the connection (cancels the body) when the sink fails mid-body', async () => {
    const server = fakeServer(BODY);
    const sink: DownloadSink = new (class extends MemorySink {
      override async write(): Promise<void> {
        throw Object.assign(new Error('ENOSPC: no space left on device'), {
          code: 'ENOSPC',
          syscall: 'write',
        });
      }
    })();
    await expect(downloadArtifact(options(server, { sink }))).rejects.toMatchObject({ code: 'DOWNLOAD' });
    expect(server.cancels).toHaveLength(1);
  });

  it('releases the connection when the body runs past the size limit', async () => {
    const server = fakeServer(BODY, { contentLength: false });
    await expect(downloadArtifact(options(server, { expected: { size: 100_000 } }))).rejects.toMatchObject({
      code: 'INTEGRITY',
    });
    expect(server.cancels).toHaveLength(1);
  });

  it('retries a digest that failed once with fresh hashes instead of reusing finished ones', async () => {
    let failures = 1;
    const { factory } = recordingHashes((algorithm, hash) =>
      algorithm === 'sha256'
        ? {
            update: (chunk) => hash.update(chunk),
            digest: async () => {
              if (failures-- > 0) throw new Error('hash worker exited with code 1');
              return hash.digest();
            },
          }
        : hash,
    );
    const server = fakeServer(BODY);
    const result = await downloadArtifact(
      options(server, { hashFactory: factory, expected: { size: BODY.length, md5: MD5, sha256: SHA } }),
    );
    expect(result).toMatchObject({ md5: MD5, sha256: SHA });
  });

  describe('releases every hash it made (worker threads) whichever way it fails', () => {
    const cases: [string, (hashFactory: HashFactory) => Promise<unknown>][] = [
      [
        'Retry-After longer than allowed',
        (hashFactory) =>
          downloadArtifact(
            options(fakeServer(BODY, { status: 503, headers: { 'retry-after': '3600' } }), {
              hashFactory,
              maxRetryAfterMs: 1000,
            }),
          ),
      ],
      [
        'aborted during the backoff',
        (hashFactory) => {
          const controller = new AbortController();
          return downloadArtifact(
            options(fakeServer(BODY, { status: 503 }), {
              hashFactory,
              retry: { baseDelayMs: 60_000, maxDelayMs: 60_000, jitter: 'none' },
              signal: controller.signal,
              logger: {
                debug: () => {},
                info: () => setTimeout(() => controller.abort(), 5),
                warn: () => {},
                error: () => {},
              },
            }),
          );
        },
      ],
      [
        'expected size above maxBytes',
        (hashFactory) =>
          downloadArtifact(
            options(fakeServer(BODY), { hashFactory, expected: { size: 2000 }, maxBytes: 1000 }),
          ),
      ],
      [
        'the held bytes cannot be read back',
        (hashFactory) =>
          downloadArtifact(
            options(fakeServer(BODY), {
              hashFactory,
              sink: {
                length: async () => 10,
                // biome-ignore lint/correctness/useYield: fails before yielding on purpose
                async *readBack() {
                  throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO', syscall: 'read' });
                },
                reset: async () => {},
                write: async () => {},
                flush: async () => {},
                discard: async () => {},
              },
            }),
          ),
      ],
    ];
    for (const [name, run] of cases) {
      it(name, async () => {
        const { made, factory } = recordingHashes();
        await expect(run(factory)).rejects.toBeDefined();
        expect(made.length).toBeGreaterThan(0);
        for (const hash of made) expect(hash.digested || hash.disposed).toBe(true);
      });
    }
  });
});
