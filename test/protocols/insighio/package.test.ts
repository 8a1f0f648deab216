import { describe, expect, it, vi } from 'vitest';
import { InstallError, isOtaError } from '../../../src/core/errors.js';
import { insighIoPackage } from '../../../src/node/index.js';
import type * as insighIo from '../../../src/protocols/insighio/index.js';
import { crc32 } from '../../../src/protocols/insighio/package.js';
import { concat, fromBase64, MICROFREEZER_PACKAGE_B64, makeTar, microfreezer, text } from './fixtures.js';

async function refusal(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a refusal');
}

describe('insigh.io packages', () => {
  it('crc32 matches zlib.crc32', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('detects the formats by their bytes', async () => {
    const tar = makeTar([{ name: 'a.py', data: 'a' }]);
    expect(insighIoPackage.detectPackageFormat(tar)).toBe('tar');
    expect(insighIoPackage.detectPackageFormat(await microfreezer(tar))).toBe('insighio-zlib');
    expect(insighIoPackage.detectPackageFormat(new Uint8Array(600))).toBe('unknown');
    expect(insighIoPackage.detectPackageFormat(Uint8Array.of(0x1f, 0x8b))).toBe('unknown');
    expect(isOtaError(await refusal(insighIoPackage.readPackage(new Uint8Array(600))), 'INSTALL')).toBe(true);
  });

  it('reads a plain tar as is and round-trips our own microfreezer packages', async () => {
    const tar = makeTar([
      { name: 'apps/', type: '5' },
      { name: 'apps/main.py', data: 'print(1)\n' },
      { name: 'x.py', prefix: 'deep/dir', data: 'prefixed' },
    ]);
    const expected = [
      ['apps', 'directory', ''],
      ['apps/main.py', 'file', 'print(1)\n'],
      ['deep/dir/x.py', 'file', 'prefixed'],
    ];
    const read = (entries: insighIo.TarEntry[]) =>
      entries.map((entry) => [entry.path, entry.type, text(entry.data)]);
    expect(read(await insighIoPackage.readPackage(tar))).toEqual(expected);
    expect(read(await insighIoPackage.readPackage(await microfreezer(tar)))).toEqual(expected);
  });

  it('normalises ./ prefixes and skips the archive root, as `tar -C dir .` writes it', () => {
    const tar = makeTar([
      { name: './', type: '5' },
      { name: './lib/', type: '5' },
      { name: './lib/x.py', data: 'x' },
      { name: 'old-style-dir/', type: '0' },
    ]);
    expect(insighIoPackage.readTar(tar).map((entry) => [entry.path, entry.type])).toEqual([
      ['lib', 'directory'],
      ['lib/x.py', 'file'],
      ['old-style-dir', 'directory'],
    ]);
  });

  it('refuses device entries, unknown types, bad checksums, truncation and a dangling pax header', () => {
    const cases: [Uint8Array, RegExp][] = [
      [makeTar([{ name: 'dev', type: '3' }]), /device or FIFO/],
      [makeTar([{ name: 'fifo', type: '6' }]), /device or FIFO/],
      [makeTar([{ name: 'odd', type: 'S' }]), /unsupported type/],
      [makeTar([{ name: 'a.py', data: 'a', badChecksum: true }]), /checksum does not match/],
      [makeTar([{ name: 'a.py', data: 'a'.repeat(1000) }]).subarray(0, 1024), /truncated/],
      [makeTar([{ name: 'a.py', data: 'a' }]).subarray(0, 1100), /middle of a header/],
      [
        makeTar([{ name: '././@PaxHeader', type: 'x', data: '13 path=a.py\n' }]),
        /extension header and no entry/,
      ],
      [
        makeTar([{ name: '././@PaxHeader', type: 'x', data: '99 path=a\n' }, { name: 'a' }]),
        /pax header .* malformed/,
      ],
      [
        makeTar([{ name: '././@PaxHeader', type: 'x', data: '0x9 a=b\n' }, { name: 'a' }]),
        /pax header .* malformed/,
      ],
    ];
    for (const [tar, message] of cases) {
      let error: unknown;
      try {
        insighIoPackage.readTar(tar);
      } catch (caught) {
        error = caught;
      }
      expect(error, String(message)).toBeInstanceOf(InstallError);
      expect((error as Error).message).toMatch(message);
    }
  });

  it('honours a GNU long name (L) and skips a global pax header (g)', () => {
    const long = `src/${'n'.repeat(150)}.py`;
    const tar = makeTar([
      { name: 'pax_global_header', type: 'g', data: '19 comment=hello!!\n' },
      { name: '././@LongLink', type: 'L', data: `${long}\0` },
      { name: long.slice(0, 99), data: 'long' },
    ]);
    expect(insighIoPackage.readTar(tar).map((entry) => entry.path)).toEqual([long]);
  });

  it('caps entries and total size (a tar or decompression bomb stops early)', async () => {
    const many = makeTar(Array.from({ length: 5 }, (_, index) => ({ name: `f${index}`, data: 'x' })));
    expect(() => insighIoPackage.readTar(many, { maxEntries: 4 })).toThrow(/more than 4 tar entries/);
    expect(insighIoPackage.readTar(many, { maxEntries: 5 })).toHaveLength(5);
    const big = makeTar([{ name: 'big.bin', data: new Uint8Array(100_000) }]);
    expect(() => insighIoPackage.readTar(big, { maxBytes: 99_999 })).toThrow(/more than 99999 bytes/);
    const bomb = await microfreezer(makeTar([{ name: 'zeros', data: new Uint8Array(20_000_000) }]));
    expect(bomb.length).toBeLessThan(100_000);
    // Counts the inflated bytes the package reader takes from its stream: it stops just past the cap.
    let inflated = 0;
    const read = ReadableStreamDefaultReader.prototype.read;
    const spy = vi.spyOn(ReadableStreamDefaultReader.prototype, 'read').mockImplementation(async function (
      this: ReadableStreamDefaultReader<Uint8Array>,
    ) {
      const result = await read.call(this);
      if (!result.done) inflated += result.value.byteLength;
      return result;
    });
    let error: Error;
    try {
      error = await refusal(insighIoPackage.readPackage(bomb, { maxBytes: 1_000_000 }));
    } finally {
      spy.mockRestore();
    }
    expect(error.message).toMatch(/inflates to more than 1000000 bytes/);
    expect(inflated).toBeGreaterThan(1_000_000);
    expect(inflated).toBeLessThan(1_000_000 + 1024 * 1024);
    await expect(insighIoPackage.unpackPackage(new Uint8Array(11), { maxBytes: 10 })).rejects.toThrow(
      /larger than 10 bytes/,
    );
  });

  it('refuses a zlib stream that is corrupt even when its CRC trailer was recomputed', async () => {
    const bytes = fromBase64(MICROFREEZER_PACKAGE_B64);
    const zlib = bytes.slice(8, bytes.length - 4);
    zlib[zlib.length - 2]! ^= 0xff; // breaks the Adler-32 at the end of the zlib stream
    const trailer = new Uint8Array(4);
    new DataView(trailer.buffer).setUint32(0, crc32(zlib), false);
    const tampered = concat([bytes.subarray(0, 8), zlib, trailer]);
    const error = await refusal(insighIoPackage.readPackage(tampered));
    expect(error).toBeInstanceOf(InstallError);
    expect(error.message).toBe('Package zlib stream is corrupt');
  });
});
