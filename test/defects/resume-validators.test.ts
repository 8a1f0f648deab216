/**
 * Issue: a Range resume joined old and new bytes when the validator was missing or changed.
 * Rule: resume only on a matching strong validator (the one sent in If-Range comes back on the
 * 206), with a Content-Range starting exactly at the held offset; otherwise restart from zero.
 * The fault server plays the dishonest server each time.
 */
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { downloadArtifact, MemorySink, type ResumeValidators } from '../../src/index.js';
import { createFaultServer, type FaultServer } from '../../src/testing/index.js';

const OLD = new Uint8Array(200_000).fill(0x41);
const NEW = new Uint8Array(200_000).fill(0x42);
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const DATE_A = 'Tue, 01 Dec 2026 10:00:00 GMT';
const DATE_B = 'Wed, 02 Dec 2026 10:00:00 GMT';

let server: FaultServer;
beforeEach(async () => {
  server = await createFaultServer();
});
afterEach(async () => {
  await server.close();
});

/**
 * First attempt: `first` validators, connection reset after 50 000 bytes. Then the artifact is
 * replaced by NEW with `second` validators and a server that answers 206 whatever If-Range says.
 * The download has no digest to catch a mix (allowUnverified-style), so only the resume rule can.
 */
async function resumeAcrossChange(
  first: { etag?: string | false; lastModified?: string },
  second: { etag?: string | false; lastModified?: string },
  dishonest: NonNullable<Parameters<FaultServer['route']>[1]['dishonest']> = { ignoreIfRange: true },
): Promise<Uint8Array> {
  server.route('/a.bin', { body: OLD, ...first, drop: { afterBytes: 50_000, times: 1 } });
  const sink = new MemorySink();
  let validators: ResumeValidators = {};
  await expect(
    downloadArtifact({
      url: `${server.url}/a.bin`,
      sink,
      hashes: [],
      retry: { attempts: 1 },
      onValidators: (next) => {
        validators = next;
      },
    }),
  ).rejects.toMatchObject({ code: 'TRANSPORT' });
  expect(sink.bytes().length).toBeGreaterThan(0);
  server.route('/a.bin', { body: NEW, etag: false, ...second, dishonest });
  await downloadArtifact({
    url: `${server.url}/a.bin`,
    sink,
    hashes: [],
    validators,
    retry: { attempts: 2, baseDelayMs: 1 },
  });
  return sink.bytes();
}

describe('resume validators', () => {
  it('ETag "a", then a 206 without ETag: restarts from zero', async () => {
    const bytes = await resumeAcrossChange({ etag: '"a"' }, {});
    expect(sha256(bytes)).toBe(sha256(NEW));
  });

  it('Last-Modified, then a 206 without it: restarts from zero', async () => {
    const bytes = await resumeAcrossChange({ etag: false, lastModified: DATE_A }, {});
    expect(sha256(bytes)).toBe(sha256(NEW));
  });

  it('ETag, then a 206 with only Last-Modified: restarts from zero', async () => {
    const bytes = await resumeAcrossChange({ etag: '"a"' }, { lastModified: DATE_B });
    expect(sha256(bytes)).toBe(sha256(NEW));
  });

  it('no validator at all: never resumes, restarts from zero', async () => {
    const bytes = await resumeAcrossChange({ etag: false }, {});
    expect(sha256(bytes)).toBe(sha256(NEW));
    const ranges = server.stats('/a.bin').ranges;
    expect(ranges.at(-1)).toBeNull();
  });

  it('a changed ETag on the 206: restarts from zero', async () => {
    const bytes = await resumeAcrossChange({ etag: '"a"' }, { etag: '"b"' });
    expect(sha256(bytes)).toBe(sha256(NEW));
  });

  it('a changed Last-Modified on the 206: restarts from zero', async () => {
    const bytes = await resumeAcrossChange({ etag: false, lastModified: DATE_A }, { lastModified: DATE_B });
    expect(sha256(bytes)).toBe(sha256(NEW));
  });

  it('a Content-Range that does not start at the held offset: restarts from zero', async () => {
    const bytes = await resumeAcrossChange({ etag: '"a"' }, { etag: '"a"' }, { rangeStartShift: 1000 });
    expect(sha256(bytes)).toBe(sha256(NEW));
  });

  it('the same strong ETag on the 206: resumes and joins the same artifact', async () => {
    server.route('/same.bin', { body: OLD, etag: '"s"', drop: { afterBytes: 50_000, times: 1 } });
    const result = await downloadArtifact({
      url: `${server.url}/same.bin`,
      sink: new MemorySink(),
      expected: { sha256: sha256(OLD) },
      retry: { attempts: 2, baseDelayMs: 1 },
    });
    expect(result.sha256).toBe(sha256(OLD));
    expect(server.stats('/same.bin').ranges.at(-1)).toMatch(/^bytes=\d+-$/);
    expect(server.stats('/same.bin').headers.at(-1)?.['if-range']).toBe('"s"');
  });

  it('a 206 to a request that asked for no range is refused, not appended', async () => {
    server.route('/u.bin', { body: NEW, dishonest: { unrequestedRangeFrom: 1000 } });
    const sink = new MemorySink();
    await expect(
      downloadArtifact({
        url: `${server.url}/u.bin`,
        sink,
        hashes: [],
        retry: { attempts: 2, baseDelayMs: 1 },
      }),
    ).rejects.toMatchObject({ code: 'TRANSPORT', retryable: false });
    expect(sink.bytes().length).toBe(0);
  });
});
