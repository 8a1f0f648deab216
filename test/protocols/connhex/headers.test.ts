import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isOtaError } from '../../../src/index.js';
import * as connhex from '../../../src/protocols/connhex/index.js';
import { CONTROL_CHARACTER } from '../../../src/protocols/connhex/text.js';
import { largestInputs, largestOf } from '../../support/cost.js';
import { manifestError, onlyTypedErrors, SHA, SHA_B64 } from './support.js';

describe('Content-Digest', () => {
  it('reads the RFC 9530 example into the SHA-256 hex that node:crypto computes', () => {
    // RFC 9530 §B: the digest of {"hello": "world"}.
    const hex = createHash('sha256').update('{"hello": "world"}').digest('hex');
    expect(hex).toBe(SHA);
    expect(connhex.parseContentDigest(`sha-256=:${SHA_B64}:`)).toEqual({
      sha256: SHA,
      algorithms: ['sha-256'],
    });
  });

  it("reads the Connhex documentation's sha256=<hex> and sha256=<base64>", () => {
    expect(connhex.parseContentDigest(`sha256=${SHA}`).sha256).toBe(SHA);
    expect(connhex.parseContentDigest(`sha256=${SHA.toUpperCase()}`).sha256).toBe(SHA);
    expect(connhex.parseContentDigest(`sha256=${SHA_B64}`).sha256).toBe(SHA);
    expect(connhex.parseContentDigest(`sha256=${SHA_B64.replace('=', '')}`).sha256).toBe(SHA);
  });

  it('reads dictionaries with several members and parameters', () => {
    const sha512 = createHash('sha512').update('x').digest('base64');
    expect(connhex.parseContentDigest(`sha-512=:${sha512}:, sha-256=:${SHA_B64}:;x=1`)).toEqual({
      sha256: SHA,
      algorithms: ['sha-512', 'sha-256'],
    });
    expect(connhex.parseContentDigest(`sha-512=:${sha512}:`)).toEqual({
      sha256: undefined,
      algorithms: ['sha-512'],
    });
    // Agreeing duplicates are fine.
    expect(connhex.parseContentDigest(`sha-256=:${SHA_B64}:,sha256=${SHA}`).sha256).toBe(SHA);
  });

  it('hardened: a present but unreadable digest is an error, never "no digest"', () => {
    const bad = [
      '',
      'sha-256',
      'sha-256=:abc:',
      `sha-256=:${SHA_B64}`,
      `sha-256=:${SHA_B64.replace('X', '-')}:`,
      `sha256=${SHA.slice(1)}`,
      `sha256=${SHA}0`,
      'sha-256=:AAAA:',
      `sha-256=:${SHA_B64}:, sha256=${'0'.repeat(64)}`,
      '=abc',
    ];
    for (const value of bad) manifestError(() => connhex.parseContentDigest(value));
    expect(manifestError(() => connhex.parseContentDigest('sha-256=:AAAA:')).message).toMatch(/32-byte/);
    manifestError(() => connhex.parseContentDigest('a'.repeat(10 * 1024 * 1024)));
  });

  it('writes the three forms, each read back to the same digest', () => {
    expect(connhex.formatContentDigest(SHA)).toBe(`sha-256=:${SHA_B64}:`);
    expect(connhex.formatContentDigest(SHA.toUpperCase(), 'sha256-hex')).toBe(`sha256=${SHA}`);
    expect(connhex.formatContentDigest(SHA, 'sha256-base64')).toBe(`sha256=${SHA_B64}`);
    manifestError(() => connhex.formatContentDigest('abc'));
  });

  it('base64 is strict and agrees with node for arbitrary bytes (1000 runs)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const text = connhex.encodeBase64(bytes);
        expect(text).toBe(Buffer.from(bytes).toString('base64'));
        expect(connhex.decodeBase64(text)).toEqual(bytes);
      }),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000) },
    );
    for (const bad of ['A', 'AB=', 'A===', 'AB C', 'AB-_', 'AR=='])
      expect(connhex.decodeBase64(bad), bad).toBeUndefined();
  });

  it('digest round trip and arbitrary input (1000 runs each)', () => {
    const hex = fc
      .uint8Array({ minLength: 32, maxLength: 32 })
      .map((bytes) => Buffer.from(bytes).toString('hex'));
    fc.assert(
      fc.property(hex, fc.constantFrom('rfc9530', 'sha256-hex', 'sha256-base64' as const), (digest, form) => {
        expect(connhex.parseContentDigest(connhex.formatContentDigest(digest, form)).sha256).toBe(digest);
      }),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000) },
    );
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.anything()), (input) => {
        onlyTypedErrors(() => connhex.parseContentDigest(input as string));
      }),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000) },
    );
  });
});

const HEAD = {
  'content-length': '4096',
  'content-type': 'application/octet-stream',
  'content-disposition': 'attachment; filename="release-0.0.3.zip"',
  'content-digest': `sha-256=:${SHA_B64}:`,
  version: '"0.0.3"',
  'min-version': '"0.0.1"',
  'max-version': '"1.0.0"',
  etag: '"r-42"',
};

describe('release headers', () => {
  it('reads every documented header from a plain record and from fetch Headers', () => {
    const want = {
      version: '0.0.3',
      size: 4096,
      sha256: SHA,
      minVersion: '0.0.1',
      maxVersion: '1.0.0',
      etag: '"r-42"',
      contentType: 'application/octet-stream',
      fileName: 'release-0.0.3.zip',
    };
    expect(connhex.parseReleaseHeaders(HEAD)).toEqual(want);
    expect(connhex.parseReleaseHeaders(new Headers(HEAD))).toEqual(want);
    const upper = Object.fromEntries(Object.entries(HEAD).map(([key, value]) => [key.toUpperCase(), value]));
    expect(connhex.parseReleaseHeaders(upper)).toEqual(want);
  });

  it('reads quoted (with escapes) and bare versions', () => {
    expect(connhex.parseReleaseHeaders({ Version: '0.0.3' }).version).toBe('0.0.3');
    expect(connhex.parseReleaseHeaders({ Version: '  "1.0 \\"rc\\""  ' }).version).toBe('1.0 "rc"');
    expect(connhex.quoteVersion('1.0 "rc"')).toBe('"1.0 \\"rc\\""');
  });

  it('names each bad header', () => {
    const error = manifestError(() =>
      connhex.parseReleaseHeaders({ 'Content-Length': '-1', 'Content-Digest': 'sha-256=:x:', Version: '""' }),
    );
    expect(error.issues.map((issue) => issue.path)).toEqual([
      'Version',
      'Content-Length',
      'Content-Digest[0]',
    ]);
    expect(manifestError(() => connhex.parseReleaseHeaders({})).issues[0]!.path).toBe('Version');
    expect(manifestError(() => connhex.parseReleaseHeaders({ Version: '"1\u00e9"' })).issues[0]!.path).toBe(
      'Version',
    );
    expect(
      manifestError(() => connhex.parseReleaseHeaders({ Version: '1', 'Content-Length': '10, 11' }))
        .issues[0]!.path,
    ).toBe('Content-Length');
    expect(connhex.parseReleaseHeaders({ Version: '1', 'Content-Length': ['10', '10'] }).size).toBe(10);
    expect(
      manifestError(() => connhex.parseReleaseHeaders({ Version: '1' }, { requireDigest: true })).issues[0]!
        .path,
    ).toBe('Content-Digest');
  });

  it('drops an unsafe file name or entity tag rather than trusting it', () => {
    for (const disposition of [
      'attachment; filename="../../etc/cron.d/x"',
      'attachment; filename="a/b.zip"',
      "attachment; filename*=UTF-8''..%2Fx.zip",
      'attachment; filename=".."',
      'attachment',
    ]) {
      expect(
        connhex.parseReleaseHeaders({ Version: '1', 'Content-Disposition': disposition }).fileName,
      ).toBeUndefined();
    }
    expect(
      connhex.parseReleaseHeaders({
        Version: '1',
        'Content-Disposition': `attachment; filename="fallback.zip"; filename*=UTF-8''r%C3%A9lease.zip`,
      }).fileName,
    ).toBe('rélease.zip');
    // A quoted name containing "; filename*=" is a name, not a second parameter.
    const tricky = "a; filename*=UTF-8''evil.zip";
    const headers = connhex.releaseHeaders({ version: '1', fileName: tricky });
    expect(headers['Content-Disposition']).toBe(`attachment; filename="${tricky}"`);
    expect(connhex.parseReleaseHeaders(headers).fileName).toBe(tricky);
    expect(connhex.parseReleaseHeaders({ Version: '1', ETag: 'no-quotes' }).etag).toBeUndefined();
    expect(connhex.parseReleaseHeaders({ Version: '1', ETag: 'W/"weak"' }).etag).toBe('W/"weak"');
  });

  it('writes headers that read back to the same metadata (1000 runs)', () => {
    const version = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,20}[\x21-\x7e])?$/);
    const metadata = fc.record(
      {
        version,
        size: fc.nat(),
        sha256: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex')),
        minVersion: version,
        maxVersion: version,
        etag: fc.stringMatching(/^[A-Za-z0-9-]{0,10}$/).map((tag) => `"${tag}"`),
        contentType: fc.constant('application/zip'),
        fileName: fc
          .string({ minLength: 1, maxLength: 20 })
          .filter((n) => n !== '.' && n !== '..' && !/[/\\]/.test(n) && !CONTROL_CHARACTER.test(n)),
      },
      { requiredKeys: ['version'] },
    );
    fc.assert(
      fc.property(
        metadata,
        fc.constantFrom('rfc9530', 'sha256-hex', 'sha256-base64' as const),
        (meta, form) => {
          const headers = connhex.releaseHeaders(meta, { digestForm: form });
          expect(connhex.parseReleaseHeaders(headers)).toEqual(meta);
          expect(connhex.parseReleaseHeaders(new Headers(headers))).toEqual(meta);
        },
      ),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000) },
    );
  });

  it('arbitrary header records give metadata or a typed error (1000 runs)', () => {
    const names = fc.constantFrom(
      'Version',
      'Content-Length',
      'Content-Digest',
      'ETag',
      'Content-Disposition',
      'Min-Version',
    );
    fc.assert(
      fc.property(fc.dictionary(names, fc.oneof(fc.string(), fc.string({ unit: 'binary' }))), (headers) => {
        onlyTypedErrors(() => connhex.parseReleaseHeaders(headers));
      }),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000) },
    );
  });

  it('refuses an array or a byte array given as headers, naming the whole value', () => {
    // The fuzz suite found this: 200 kB of bytes given as headers were walked index by index, once
    // per header name (seconds). They are not headers at all.
    const bytes = new Uint8Array(200_002).fill(97);
    for (const notHeaders of [bytes, bytes.buffer, [['Version', '1']], new DataView(bytes.buffer)]) {
      const error = manifestError(() => connhex.parseReleaseHeaders(notHeaders as never));
      expect(error.issues).toEqual([
        { path: '', expected: 'the response headers (a Headers object or a record of header values)' },
      ]);
      expect(connhex.getHeader(notHeaders as never, '0')).toBeUndefined();
    }
  });

  it('reads a record in one pass, whatever the number of headers asked for', () => {
    let passes = 0;
    const record = new Proxy(
      { ...HEAD, 'x-padding': 'a' },
      {
        ownKeys(target) {
          passes += 1;
          return Reflect.ownKeys(target);
        },
      },
    );
    expect(connhex.parseReleaseHeaders(record).version).toBe('0.0.3');
    expect(passes).toBe(1);
  });

  it('takes the first usable value of a name in any letter case', () => {
    const headers = { version: [1, 2], VERSION: '2.0.0', Version: '3.0.0' } as never;
    expect(connhex.getHeader(headers, 'Version')).toBe('2.0.0');
    expect(connhex.parseReleaseHeaders(headers).version).toBe('2.0.0');
  });

  it(`rejects header values over ${connhex.LIMITS.maxHeaderValueLength} characters (10 MB, never scanned)`, async () => {
    let error: ReturnType<typeof manifestError> | undefined;
    const examined = await largestInputs(() => {
      error = manifestError(() => connhex.parseReleaseHeaders({ Version: 'v'.repeat(10 * 1024 * 1024) }));
    });
    expect(error?.issues[0]).toEqual({ path: 'Version', expected: 'at most 8192 characters' });
    expect(largestOf(examined)).toBeLessThanOrEqual(connhex.LIMITS.maxHeaderValueLength);
  });
});

describe('request headers', () => {
  const SECRET = 'thing-key-SECRET-42';

  it('builds Authorization, Version, If-Match and Range', () => {
    expect(connhex.requestHeaders({ credentials: { key: SECRET } })).toEqual({
      Authorization: `Thing ${SECRET}`,
    });
    expect(
      connhex.requestHeaders({
        credentials: { key: SECRET, scheme: 'Bearer' },
        version: '0.0.2',
        etag: '"r-42"',
        resumeFrom: 1024,
      }),
    ).toEqual({
      Authorization: `Bearer ${SECRET}`,
      Version: '0.0.2',
      'If-Match': '"r-42"',
      Range: 'bytes=1024-',
    });
    expect(connhex.requestHeaders({ credentials: { key: SECRET }, resumeFrom: 0 })).not.toHaveProperty(
      'Range',
    );
  });

  it('refuses a key that could inject a header, without printing it', () => {
    for (const key of [`${SECRET}\r\nX-Evil: 1`, `${SECRET} x`, '']) {
      try {
        connhex.requestHeaders({ credentials: { key } });
        expect.unreachable();
      } catch (error) {
        expect(isOtaError(error, 'CONFIG')).toBe(true);
        expect((error as Error).message).not.toContain(SECRET);
      }
    }
    expect(() => connhex.requestHeaders({ credentials: { key: SECRET }, resumeFrom: -1 })).toThrow(
      /byte offset/,
    );
    manifestError(() => connhex.requestHeaders({ credentials: { key: SECRET }, version: 'a\nb' }));
  });

  it('parses Content-Range of a resumed download', () => {
    expect(connhex.parseContentRange('bytes 1024-4095/4096')).toEqual({ start: 1024, end: 4095, size: 4096 });
    expect(connhex.parseContentRange('bytes 0-9/*')).toEqual({ start: 0, end: 9, size: undefined });
    for (const bad of ['bytes 10-5/20', 'bytes 0-20/20', 'bytes */20', 'items 0-1/2', '']) {
      manifestError(() => connhex.parseContentRange(bad));
    }
    fc.assert(
      fc.property(fc.string(), (text) => onlyTypedErrors(() => connhex.parseContentRange(text))),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000) },
    );
  });
});
