import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { parsePaxRecords, parsePaxSize } from '../../src/archive/pax.js';
import { parseNumber } from '../../src/archive/tar-header.js';
import { InstallError, isOtaError } from '../../src/index.js';
import { decodeCp437 } from '../../src/node/archive/cp437.js';
import { normaliseEntryPath } from '../../src/node/archive/entry-path.js';
import { isInsighioPackage } from '../../src/node/archive/gzip.js';
import {
  ArchiveError,
  DEFAULT_ARCHIVE_LIMITS,
  isArchiveError,
  sniffArchiveFormat,
} from '../../src/node/archive/index.js';
import { resolveArchiveLimits } from '../../src/node/archive/limits.js';
import { gzip, insighioPackage, tar, tarHeader, zip } from '../support/archives.js';

function reasonOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return (error as ArchiveError).reason;
  }
}

describe('normaliseEntryPath', () => {
  it.each([
    ['a/b/c.txt', 'a/b/c.txt', false],
    ['./a//b/./c.txt', 'a/b/c.txt', false],
    ['dir/', 'dir', true],
    ['./', '', true],
    ['.', '', false],
    ['ünï/cödé', 'ünï/cödé', false],
    ['dir/c:b', 'dir/c:b', false], // a colon is only a drive letter at the start
    ['..a/b..', '..a/b..', false], // dots inside a name are not `..`
  ])('%j → %j', (name, path, trailingSlash) => {
    expect(normaliseEntryPath(name)).toMatchObject({ path, trailingSlash });
  });

  it.each([
    ['../x', 'path-traversal'],
    ['a/../../x', 'path-traversal'],
    ['a/..', 'path-traversal'],
    ['..', 'path-traversal'],
    ['/abs', 'path-traversal'],
    ['\\abs', 'path-traversal'],
    ['\\\\server\\share', 'path-traversal'],
    ['C:\\x', 'path-traversal'],
    ['z:', 'path-traversal'],
    ['./c:x', 'path-traversal'], // written as `c:x`: drive-relative on Windows
    ['.//z:/y', 'path-traversal'],
    ['..\\x', 'path-traversal'],
    ['a\\b\\c.txt', 'invalid-name'], // one policy for every reader: backslashes are refused
    ['', 'invalid-name'],
    ['a\0b', 'invalid-name'],
    ['x'.repeat(256), 'invalid-name'],
    [`${'d'.repeat(200)}/`.repeat(21), 'invalid-name'],
  ])('%j is refused (%s)', (name, reason) => {
    expect(reasonOf(() => normaliseEntryPath(name))).toBe(reason);
  });

  it('accepts a 255-byte component (multi-byte characters counted in bytes)', () => {
    expect(normaliseEntryPath('x'.repeat(255)).segments).toHaveLength(1);
    expect(reasonOf(() => normaliseEntryPath('ü'.repeat(128)))).toBe('invalid-name');
  });
});

describe('tar numbers and pax records', () => {
  const field = (text: string | number[]) => {
    const block = new Uint8Array(12);
    block.set(typeof text === 'string' ? new TextEncoder().encode(text) : text);
    return parseNumber(block, 0, 12);
  };

  it('reads octal with space/NUL padding and GNU base-256, refuses anything else', () => {
    expect(field('00000000644\0')).toBe(0o644);
    expect(field('  644 \0')).toBe(0o644);
    expect(field('')).toBe(0);
    expect(field([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0])).toBe(256);
    expect(field([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])).toBeUndefined();
    expect(field([0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])).toBeUndefined();
    expect(field('0644x')).toBeUndefined();
    expect(field('0648')).toBeUndefined();
    expect(field('06 44')).toBeUndefined();
  });

  it('parses pax records by their lengths, including values with newlines and "="', () => {
    const record = (key: string, value: string) => {
      const body = new TextEncoder().encode(` ${key}=${value}\n`).length;
      const digits = String(body + 2).length;
      return `${body + digits}${` ${key}=${value}\n`}`;
    };
    const text = `${record('path', 'a/b')}${record('comment', 'x=y\nz')}${record('path', 'override/ü.txt')}\0\0\0`;
    const records = new TextEncoder().encode(text);
    expect([...parsePaxRecords(records)]).toEqual([
      ['path', 'override/ü.txt'],
      ['comment', 'x=y\nz'],
    ]);
    expect(parsePaxSize('12345')).toBe(12345);
  });

  it.each([
    '8 path=a\n',
    '100 path=a\n',
    'x path=a\n',
    '9 path a\n',
    '10 path=ab',
    '9 =value\n',
    `${'9'.repeat(30)} path=a\n`,
  ])('refuses the malformed pax data %j', (text) => {
    expect(reasonOf(() => parsePaxRecords(new TextEncoder().encode(text)))).toBe('corrupt');
  });

  it('refuses pax sizes that are not plain decimal numbers', () => {
    for (const size of ['-1', '1e3', '0x10', '', '99999999999999999']) {
      expect(
        reasonOf(() => parsePaxSize(size)),
        size,
      ).toBe('corrupt');
    }
  });
});

describe('format recognition', () => {
  it('sniffs gzip, zip, empty zip, ustar, v7 and empty tar; nothing else', () => {
    expect(sniffArchiveFormat(gzip(tar([])))).toBe('tar.gz');
    expect(sniffArchiveFormat(zip([{ name: 'a', data: 'x' }]))).toBe('zip');
    expect(sniffArchiveFormat(zip([]))).toBe('zip');
    expect(sniffArchiveFormat(tarHeader({ name: 'a' }))).toBe('tar');
    expect(sniffArchiveFormat(tarHeader({ name: 'a', magic: 'v7' }))).toBe('tar');
    expect(sniffArchiveFormat(tar([]))).toBe('tar');
    expect(sniffArchiveFormat(tarHeader({ name: 'a', badChecksum: true }))).toBeUndefined();
    expect(sniffArchiveFormat(new TextEncoder().encode('PK'))).toBeUndefined();
    expect(sniffArchiveFormat(new Uint8Array(0))).toBeUndefined();
  });

  it('tells insigh.io packages from standard gzip, even one with a zero mtime', () => {
    expect(isInsighioPackage(insighioPackage(tar([])))).toBe(true);
    const standard = gzipSync(tar([]));
    expect(standard.subarray(4, 8)).toEqual(Buffer.alloc(4)); // Node writes mtime 0
    expect(isInsighioPackage(standard)).toBe(false);
    for (const level of [1, 9]) expect(isInsighioPackage(gzipSync(tar([]), { level }))).toBe(false);
  });

  it('decodes code page 437', () => {
    expect(decodeCp437(Uint8Array.from([0x41, 0x80, 0x82, 0xe1, 0xff]))).toBe('AÇéß\u00a0');
  });
});

describe('limits', () => {
  it('fills in defaults, keeps Infinity, refuses NaN and negatives', () => {
    expect(resolveArchiveLimits(undefined)).toEqual(DEFAULT_ARCHIVE_LIMITS);
    expect(resolveArchiveLimits({ maxEntries: 3, maxTotalBytes: Number.POSITIVE_INFINITY })).toEqual({
      ...DEFAULT_ARCHIVE_LIMITS,
      maxEntries: 3,
      maxTotalBytes: Number.POSITIVE_INFINITY,
    });
    expect(resolveArchiveLimits({ maxEntries: undefined } as never)).toEqual(DEFAULT_ARCHIVE_LIMITS);
    for (const limits of [{ maxEntries: -1 }, { maxEntryBytes: Number.NaN }, { maxCompressionRatio: 0 }]) {
      expect(() => resolveArchiveLimits(limits)).toThrow(expect.objectContaining({ code: 'CONFIG' }));
    }
  });
});

describe('ArchiveError', () => {
  it('is an InstallError with code INSTALL, a reason and the entry, and serialises them', () => {
    const error = new ArchiveError('path-traversal', 'Entry escapes', { entry: '../evil' });
    expect(error).toBeInstanceOf(InstallError);
    expect(isOtaError(error, 'INSTALL')).toBe(true);
    expect(isArchiveError(error)).toBe(true);
    expect(error.retryable).toBe(false);
    expect(error.message).toBe('Entry escapes (entry "../evil")');
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      name: 'ArchiveError',
      code: 'INSTALL',
      message: 'Entry escapes (entry "../evil")',
      retryable: false,
      reason: 'path-traversal',
      entry: '../evil',
    });
  });

  it('keeps control characters and huge names out of messages', () => {
    const error = new ArchiveError('invalid-name', 'Bad name', {
      entry: `a\nFAKE LOG LINE\u001b[31m${'x'.repeat(1000)}`,
    });
    expect(error.message).not.toContain('\n');
    expect(error.message).not.toContain('\u001b');
    expect(error.entry?.length).toBeLessThanOrEqual(257);
  });

  it('is recognised across realms by shape, and other INSTALL errors are not archive errors', () => {
    const foreign = {
      name: 'ArchiveError',
      code: 'INSTALL',
      reason: 'link',
      [Symbol.for('otakit.error')]: true,
    };
    expect(isArchiveError(foreign)).toBe(true);
    expect(isArchiveError(new InstallError('disk full'))).toBe(false);
    expect(isArchiveError({ name: 'ArchiveError', code: 'INSTALL', reason: 'link' })).toBe(false);
  });
});
