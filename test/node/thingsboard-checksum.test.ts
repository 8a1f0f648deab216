// ThingsBoard's checksums as the server prints them. The vectors were computed with Guava 32.1.3
// (`Hashing.<algorithm>().hashBytes(bytes).toString()`, what ThingsBoard's OtaPackageService
// stores) over bytes[i] = (31 * i + 7) & 0xff, and over the text of test vector T4.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isOtaError } from '../../src/core/errors.js';
import {
  checksumFile,
  extensionChecksum,
  thingsBoardChecksum,
  verifyThingsBoardChecksum,
} from '../../src/node/agents/thingsboard-checksum.js';
import { toCanonical } from '../../src/protocols/thingsboard/codec.js';
import vectors from './thingsboard-checksum-vectors.json' with { type: 'json' };

const ALGORITHMS = ['MD5', 'SHA256', 'SHA384', 'SHA512', 'CRC32', 'MURMUR3_32', 'MURMUR3_128'] as const;

function bytesOf(vector: { length?: number; text?: string }): Uint8Array {
  if (vector.text !== undefined) return new TextEncoder().encode(vector.text);
  return Uint8Array.from({ length: vector.length ?? 0 }, (_, index) => (index * 31 + 7) & 0xff);
}

const roots: string[] = [];
afterAll(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

describe('ThingsBoard checksums (Guava vectors)', () => {
  it.each(ALGORITHMS)('%s matches Guava for every length, fed whole and byte by byte', (algorithm) => {
    for (const vector of vectors as Record<string, unknown>[]) {
      const bytes = bytesOf(vector as { length?: number; text?: string });
      const whole = thingsBoardChecksum(algorithm);
      whole.update(bytes);
      expect(whole.digest(), `${algorithm} of ${JSON.stringify(vector.length ?? vector.text)}`).toBe(
        vector[algorithm],
      );
      const split = thingsBoardChecksum(algorithm);
      for (let index = 0; index < bytes.length; index += 3) split.update(bytes.subarray(index, index + 3));
      expect(split.digest()).toBe(vector[algorithm]);
    }
  });

  it("T4: CRC32 of print('hello') reads d800ca65 (little-endian), as ThingsBoard prints it", () => {
    const crc = thingsBoardChecksum('CRC32');
    crc.update(new TextEncoder().encode("print('hello')\n"));
    expect(crc.digest()).toBe('d800ca65');
  });

  it('an unknown algorithm is a typed INTEGRITY error naming fw_checksum_algorithm', () => {
    let error: unknown;
    try {
      thingsBoardChecksum('WHIRLPOOL');
    } catch (thrown) {
      error = thrown;
    }
    expect(isOtaError(error, 'INTEGRITY')).toBe(true);
    expect((error as Error).message).toMatch(/fw_checksum_algorithm.*WHIRLPOOL/);
  });

  it('checks a staged file against the checksum kept in extensions.thingsboard', async () => {
    const root = await mkdtemp(join(tmpdir(), 'otakit-tb-checksum-'));
    roots.push(root);
    const path = join(root, 'fw.bin');
    const bytes = bytesOf({ length: 1000 });
    await writeFile(path, bytes);
    const vector = (vectors as Record<string, string>[])[15]!;
    const { value: manifest } = toCanonical({
      fw_title: 'f',
      fw_version: '2',
      fw_size: 1000,
      fw_checksum_algorithm: 'MURMUR3_128',
      fw_checksum: vector.MURMUR3_128!,
    });
    const expected = extensionChecksum(manifest);
    expect(expected).toEqual({ algorithm: 'MURMUR3_128', checksum: vector.MURMUR3_128 });
    await verifyThingsBoardChecksum(path, expected!, 'fw');
    expect(await checksumFile(path, 'SHA512')).toBe(vector.SHA512);
    await expect(
      verifyThingsBoardChecksum(path, { algorithm: 'SHA384', checksum: 'ab'.repeat(48) }, 'fw'),
    ).rejects.toMatchObject({ code: 'INTEGRITY', algorithm: 'SHA384' });
  });
});
