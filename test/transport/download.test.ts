import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  type Clock,
  type DownloadOptions,
  downloadArtifact,
  isOtaError,
  MemorySink,
  systemClock,
} from '../../src/index.js';
import { createNodeHash, FileSink, nodeFetch } from '../../src/node/index.js';
import { createFaultServer, type FaultServer } from '../../src/testing/index.js';

const BODY = new Uint8Array(1_000_000).map((_, index) => (index * 7 + (index >> 10)) & 0xff);
const NEW_BODY = BODY.map((byte) => byte ^ 0x55);
const digest = (algorithm: string, bytes: Uint8Array) => createHash(algorithm).update(bytes).digest('hex');
const SHA = digest('sha256', BODY);
const MD5 = digest('md5', BODY);

let server: FaultServer;
let directory: string;
let path = '/fw.bin';
let counter = 0;

beforeAll(async () => {
  server = await createFaultServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(async () => {
  counter += 1;
  path = `/fw-${counter}.bin`;
  directory = await mkdtemp(join(tmpdir(), 'otakit-download-'));
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

/**
 * Real timers, but every wait is recorded and waits under `shortenBelow` are cut to 5 ms: backoffs
 * and Retry-After are checked without slow tests, while the long header and stall timers stay real.
 */
function recordingClock(shortenBelow = 300_000): Clock & { delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    now: () => systemClock.now(),
    setTimeout: (callback, ms) => {
      delays.push(ms);
      return systemClock.setTimeout(callback, ms < shortenBelow ? Math.min(ms, 5) : ms);
    },
    clearTimeout: (handle) => systemClock.clearTimeout(handle),
  };
}

const LONG_TIMERS = { headersTimeoutMs: 600_000, lowSpeed: { bytesPerSecond: 1, windowMs: 600_000 } };

/** The HTTP client under test: Node's global fetch, or otakit/node's node:http fetch. */
let transport: typeof fetch | undefined;

function options(extra: Partial<DownloadOptions> = {}): DownloadOptions {
  return {
    ...(transport ? { fetch: transport } : {}),
    url: `${server.url}${path}`,
    sink: new MemorySink(),
    hashFactory: createNodeHash,
    retry: { baseDelayMs: 1, maxDelayMs: 5 },
    ...extra,
  };
}

describe.each([
  ['global fetch', undefined],
  ['nodeFetch (node:http)', nodeFetch],
] as const)('downloadArtifact against a real loopback server, over %s', (_name, client) => {
  beforeAll(() => {
    transport = client;
  });

  it('streams, hashes MD5 and SHA-256 in one pass, and checks them', async () => {
    server.route(path, { body: BODY });
    const sink = new MemorySink();
    const result = await downloadArtifact(
      options({ sink, expected: { size: BODY.length, md5: MD5, sha256: SHA } }),
    );
    expect(result).toMatchObject({ size: BODY.length, md5: MD5, sha256: SHA, resumedFrom: 0, attempts: 1 });
    expect(digest('sha256', sink.bytes())).toBe(SHA);
  });

  it('computes the same digests on the browser path (spark-md5 + @noble/hashes)', async () => {
    server.route(path, { body: BODY });
    const { hashFactory: _node, ...rest } = options({ hashes: ['md5', 'sha256'] });
    const result = await downloadArtifact(rest);
    expect(result.md5).toBe(MD5);
    expect(result.sha256).toBe(SHA);
  });

  it('resumes with Range after a dropped connection, fetching each byte about once', async () => {
    server.route(path, { body: BODY, drop: { afterBytes: 500_000, times: 1 } });
    const result = await downloadArtifact(options({ expected: { size: BODY.length, sha256: SHA } }));
    const stats = server.stats(path);
    expect(result.attempts).toBe(2);
    expect(stats.ranges[1]).toMatch(/^bytes=\d+-$/);
    expect(stats.headers[1]?.['if-range']).toMatch(/^"[0-9a-f]{32}"$/);
    expect(stats.bytesSent).toBeLessThanOrEqual(BODY.length * 1.05);
    expect(result.sha256).toBe(SHA);
  });

  it('falls back to a full download when the server ignores Range', async () => {
    server.route(path, { body: BODY, ranges: false, drop: { afterBytes: 500_000, times: 1 } });
    const result = await downloadArtifact(options({ expected: { sha256: SHA } }));
    expect(result.sha256).toBe(SHA);
    expect(server.stats(path).bytesSent).toBeGreaterThan(BODY.length);
  });

  it('restarts from zero when the artifact changed between attempts, never producing a chimera', async () => {
    server.route(path, { body: BODY, drop: { afterBytes: 500_000, times: 1 } });
    const sink = new MemorySink();
    const result = await downloadArtifact(
      options({
        sink,
        onProgress: ({ bytes }) => {
          if (bytes >= 400_000 && server.stats(path).requests === 1) server.update(path, { body: NEW_BODY });
        },
      }),
    );
    expect(result.sha256).toBe(digest('sha256', NEW_BODY));
    expect(digest('sha256', sink.bytes())).toBe(digest('sha256', NEW_BODY));
  });

  it('resumes across a restart from a file, and restarts when the validators no longer match', async () => {
    server.route(path, { body: BODY, bytesPerSecond: 4_000_000 });
    const file = join(directory, 'fw.part');
    const controller = new AbortController();
    let saved = {};
    await expect(
      downloadArtifact(
        options({
          sink: new FileSink(file),
          signal: controller.signal,
          onValidators: (validators) => {
            saved = validators;
          },
          onProgress: ({ bytes }) => {
            if (bytes >= 300_000) controller.abort();
          },
        }),
      ),
    ).rejects.toMatchObject({ code: 'ABORTED' });
    const held = (await readFile(file)).length;
    expect(held).toBeGreaterThanOrEqual(300_000);
    // A new process: a new sink over the same file, the saved validators.
    server.update(path, { bytesPerSecond: 0 });
    const resumed = await downloadArtifact(
      options({ sink: new FileSink(file), validators: saved, expected: { size: BODY.length, sha256: SHA } }),
    );
    expect(resumed.resumedFrom).toBe(held);
    expect(resumed.bytesTransferred).toBe(BODY.length - held);
    expect(digest('sha256', await readFile(file))).toBe(SHA);

    // Same file again, but the server now has another artifact under the same URL.
    await rm(file);
    const partial = new FileSink(file);
    await partial.write(BODY.subarray(0, 100_000));
    await partial.flush();
    server.update(path, { body: NEW_BODY });
    const changed = await downloadArtifact(options({ sink: new FileSink(file), validators: saved }));
    expect(changed.sha256).toBe(digest('sha256', NEW_BODY));
    expect(digest('sha256', await readFile(file))).toBe(changed.sha256);
  });

  it('breaks a stall with the low-speed watchdog and resumes', async () => {
    server.route(path, { body: BODY, stall: { afterBytes: 200_000, times: 1 } });
    const result = await downloadArtifact(
      options({ lowSpeed: { bytesPerSecond: 10_000, windowMs: 300 }, expected: { sha256: SHA } }),
    );
    expect(result.attempts).toBe(2);
    expect(result.sha256).toBe(SHA);
  });

  it('fails with TIMEOUT when every attempt stalls', async () => {
    server.route(path, { body: BODY, stall: { afterBytes: 1_000, times: 10 } });
    await expect(
      downloadArtifact(
        options({
          lowSpeed: { bytesPerSecond: 10_000, windowMs: 200 },
          retry: { attempts: 2, baseDelayMs: 1 },
        }),
      ),
    ).rejects.toMatchObject({ code: 'TIMEOUT', message: expect.stringMatching(/download stalled/) });
  });

  it('gives up on a server that never sends headers after headersTimeoutMs, and retries', async () => {
    server.route(path, { body: BODY, stallHeaders: { times: 1 } });
    const result = await downloadArtifact(options({ headersTimeoutMs: 300, expected: { sha256: SHA } }));
    expect(result.attempts).toBe(2);
    expect(result.sha256).toBe(SHA);
    expect(server.stats(path).requests).toBe(2);

    server.route(path, { body: BODY, stallHeaders: { times: 10 } });
    await expect(
      downloadArtifact(options({ headersTimeoutMs: 200, retry: { attempts: 2, baseDelayMs: 1 } })),
    ).rejects.toMatchObject({
      code: 'TIMEOUT',
      message: expect.stringMatching(/: response headers timed out after 200 ms$/),
    });
  });

  it('honours Retry-After on 429 (seconds and HTTP-date) and 503', async () => {
    server.route(path, { body: BODY, fail: { status: 429, times: 1, retryAfter: '2' } });
    const clock = recordingClock();
    await downloadArtifact(options({ clock, ...LONG_TIMERS }));
    expect(clock.delays.filter((ms) => ms < 600_000)).toEqual([2_000]);

    server.update(path, {
      fail: { status: 503, times: 1, retryAfter: new Date(Date.now() + 60_000).toUTCString() },
    });
    const second = recordingClock();
    await downloadArtifact(options({ clock: second, ...LONG_TIMERS }));
    const waits = second.delays.filter((ms) => ms < 600_000);
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThanOrEqual(55_000);
    expect(waits[0]).toBeLessThanOrEqual(60_000);
  });

  it('gives up when Retry-After asks for longer than maxRetryAfterMs, and when the budget is spent', async () => {
    server.route(path, { body: BODY, fail: { status: 429, times: 1, retryAfter: '3600' } });
    await expect(downloadArtifact(options({ maxRetryAfterMs: 60_000 }))).rejects.toMatchObject({
      code: 'TRANSPORT',
      status: 429,
    });
    server.update(path, { fail: { status: 503, times: 100 } });
    const before = server.stats(path).requests;
    await expect(downloadArtifact(options({ retry: { attempts: 3, baseDelayMs: 1 } }))).rejects.toMatchObject(
      {
        status: 503,
      },
    );
    expect(server.stats(path).requests - before).toBe(3);
  });

  it('does not retry a 404', async () => {
    const before = server.stats('/missing.bin').requests;
    await expect(downloadArtifact(options({ url: `${server.url}/missing.bin` }))).rejects.toMatchObject({
      code: 'TRANSPORT',
      status: 404,
      retryable: false,
    });
    expect(server.stats('/missing.bin').requests - before).toBe(1);
  });

  it('refuses a size that differs from the manifest, and a body beyond the hard cap while streaming', async () => {
    server.route(path, { body: BODY });
    await expect(downloadArtifact(options({ expected: { size: 999 } }))).rejects.toMatchObject({
      code: 'INTEGRITY',
      message: expect.stringMatching(/size mismatch, expected 999, got 1000000/),
    });
    // No Content-Length (chunked): the cap is enforced on the bytes as they arrive.
    server.update(path, { contentLength: false });
    const sink = new MemorySink();
    await expect(downloadArtifact(options({ sink, maxBytes: 300_000 }))).rejects.toMatchObject({
      code: 'INTEGRITY',
    });
    expect(await sink.length()).toBe(0); // discarded
  });

  it('treats a body shorter than its Content-Length as a broken transfer', async () => {
    server.route(path, { body: BODY, contentLength: BODY.length + 10_000, ranges: false });
    await expect(
      downloadArtifact(
        options({
          retry: { attempts: 2, baseDelayMs: 1 },
          lowSpeed: { bytesPerSecond: 1_000, windowMs: 300 },
        }),
      ),
    ).rejects.toMatchObject({ code: expect.stringMatching(/^(TRANSPORT|TIMEOUT)$/) });
  });

  it('fails INTEGRITY with expected and actual digests, and discards the bytes', async () => {
    server.route(path, { body: NEW_BODY });
    const file = join(directory, 'bad.part');
    await expect(
      downloadArtifact(options({ sink: new FileSink(file), expected: { sha256: SHA } })),
    ).rejects.toMatchObject({
      code: 'INTEGRITY',
      message: expect.stringContaining(`sha256 mismatch, expected ${SHA}, got ${digest('sha256', NEW_BODY)}`),
    });
    await expect(readFile(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('sends Basic auth, and never prints the password or a query credential', async () => {
    server.route(path, { body: BODY, basicAuth: { username: 'device', password: 'hunter2' } });
    const ok = await downloadArtifact(
      options({ auth: { type: 'basic', username: 'device', password: 'hunter2' } }),
    );
    expect(ok.size).toBe(BODY.length);
    const denied = await downloadArtifact(
      options({
        url: `${server.url}${path}?fuid=1&dk=SECRET-DEVICE-KEY`,
        auth: { type: 'basic', username: 'device', password: 'wrong-hunter2' },
      }),
    ).catch((error: unknown) => error);
    expect(isOtaError(denied, 'TRANSPORT') && denied.status).toBe(401);
    const text = `${String(denied)} ${JSON.stringify(denied)}`;
    expect(text).toContain('dk=***');
    expect(text).not.toContain('SECRET-DEVICE-KEY');
    expect(text).not.toContain('hunter2');
  });

  it('follows redirects, drops credentials on another origin, and limits the count', async () => {
    server.route(path, { body: BODY });
    server.route(`${path}.redirect`, { body: BODY, redirect: { location: path } });
    const ok = await downloadArtifact(options({ url: `${server.url}${path}.redirect` }));
    expect(ok.size).toBe(BODY.length);

    // 127.0.0.1 → localhost is another origin: the token must not follow.
    server.route(`${path}.cross`, {
      body: BODY,
      redirect: { location: `${server.url.replace('127.0.0.1', 'localhost')}${path}` },
    });
    const before = server.stats(path).headers.length;
    await downloadArtifact(
      options({ url: `${server.url}${path}.cross`, auth: { type: 'bearer', token: 'tkn' } }),
    );
    expect(server.stats(`${path}.cross`).headers.at(-1)?.authorization).toBe('Bearer tkn');
    expect(server.stats(path).headers[before]?.authorization).toBeUndefined();

    server.route('/loop', { body: BODY, redirect: { location: '/loop' } });
    const loopsBefore = server.stats('/loop').requests;
    await expect(
      downloadArtifact(options({ url: `${server.url}/loop`, maxRedirects: 3 })),
    ).rejects.toMatchObject({
      message: expect.stringMatching(/more than 3 redirects/),
      retryable: false,
    });
    expect(server.stats('/loop').requests - loopsBefore).toBe(4);
  });

  it('never follows a redirect from https to http', async () => {
    // The https origin is played by a fetch double; the redirect logic under test is ours.
    const fetchDouble: typeof fetch = async (input) => {
      const url = input instanceof Request ? input.url : String(input);
      if (url.startsWith('https:')) {
        return new Response(null, { status: 301, headers: { location: `${server.url}${path}` } });
      }
      return fetch(input);
    };
    server.route(path, { body: BODY });
    await expect(
      downloadArtifact(options({ url: 'https://updates.example/fw.bin?dk=KEY', fetch: fetchDouble })),
    ).rejects.toMatchObject({
      code: 'TRANSPORT',
      retryable: false,
      message: expect.stringMatching(/refusing a redirect from https to http/),
    });
    expect(server.stats(path).requests).toBe(0);
  });

  it('reports monotonic, throttled progress ending at the total', async () => {
    // Paced, so the chunks arrive one by one (a client may coalesce whatever has arrived).
    server.route(path, { body: BODY, chunkSize: 10_000, bytesPerSecond: 5_000_000 });
    const seen: { bytes: number; total: number | null }[] = [];
    await downloadArtifact(options({ onProgress: (progress) => seen.push(progress) }));
    expect(seen.length).toBeGreaterThan(10);
    expect(seen.length).toBeLessThanOrEqual(102);
    expect(seen.every((entry, index) => index === 0 || entry.bytes >= seen[index - 1]!.bytes)).toBe(true);
    expect(seen.at(-1)).toMatchObject({ bytes: BODY.length, total: BODY.length });
  });

  it('stops at once when aborted', async () => {
    server.route(path, { body: BODY, bytesPerSecond: 1_000_000 });
    const controller = new AbortController();
    // Aborted at the first progress report: mid-body, however fast or busy the machine.
    const pending = downloadArtifact(
      options({
        signal: controller.signal,
        onProgress: (progress) => {
          if (progress.bytes > 0 && !controller.signal.aborted) controller.abort(new Error('user canceled'));
        },
      }),
    );
    await expect(pending).rejects.toMatchObject({ code: 'ABORTED', message: 'user canceled' });
  });
});

describe('secrets never reach an error', () => {
  it('refuses credentials in the URL without repeating them', async () => {
    await expect(
      downloadArtifact(options({ url: `http://device:s3cret-pw@127.0.0.1:1${path}` })),
    ).rejects.toSatisfy(
      (error: unknown) =>
        isOtaError(error, 'CONFIG') &&
        !String(error).includes('s3cret-pw') &&
        String(error).includes('device:***@'),
    );
  });

  it('scrubs configured secrets from foreign error text (an invalid header value)', async () => {
    const error = await downloadArtifact(
      options({ auth: { type: 'bearer', token: 'TOK\nEN-SECRET' }, retry: { attempts: 1 } }),
    ).catch((caught: unknown) => caught);
    expect(isOtaError(error)).toBe(true);
    expect(`${String(error)} ${JSON.stringify(error)}`).not.toContain('EN-SECRET');
  });

  it('adds a query credential only on the wire, and never prints it', async () => {
    server.route(path, { body: BODY });
    const result = await downloadArtifact(
      options({
        url: `${server.url}${path}?fuid=f1`,
        auth: { type: 'query', name: 'dk', value: 'DEVICE-KEY-42' },
      }),
    );
    expect(result.size).toBe(BODY.length);
    const error = await downloadArtifact(
      options({
        url: `${server.url}/nope.bin?fuid=f1`,
        auth: { type: 'query', name: 'dk', value: 'DEVICE-KEY-42' },
      }),
    ).catch((caught: unknown) => caught);
    expect(isOtaError(error, 'TRANSPORT')).toBe(true);
    expect(`${String(error)} ${JSON.stringify(error)}`).not.toContain('DEVICE-KEY-42');
  });

  it('masks a ThingsBoard device token in the URL path', async () => {
    const error = await downloadArtifact(
      options({ url: `${server.url}/api/v1/TBTOKEN123/firmware?title=a&version=1` }),
    ).catch((caught: unknown) => caught);
    expect(String(error)).toContain('/api/v1/***/firmware');
    expect(String(error)).not.toContain('TBTOKEN123');
  });

  it('drops secret headers on a redirect to another origin', async () => {
    server.route(path, { body: BODY });
    server.route(`${path}.x`, {
      body: BODY,
      redirect: { location: `${server.url.replace('127.0.0.1', 'localhost')}${path}` },
    });
    const before = server.stats(path).headers.length;
    await downloadArtifact(
      options({
        url: `${server.url}${path}.x`,
        headers: { 'X-Exosite-CIK': 'cik-secret', authorization: 'Thing key-1', 'x-trace': 'keep' },
      }),
    );
    const forwarded = server.stats(path).headers[before]!;
    expect(forwarded['x-exosite-cik']).toBeUndefined();
    expect(forwarded.authorization).toBeUndefined();
    expect(forwarded['x-trace']).toBe('keep');
  });
});
