/**
 * Every checksum algorithm ThingsBoard assigns to a package (`ChecksumAlgorithm`: MD5, SHA256,
 * SHA384, SHA512, CRC32, MURMUR3_32, MURMUR3_128), computed over a staged file exactly as the
 * server prints it (Guava's `HashCode.toString()`). The protocol codec maps MD5 and SHA-256 to
 * the canonical manifest (checked by the machine while the bytes stream); the others travel in
 * `extensions.thingsboard`, and the ThingsBoard agent checks them here before anything is installed.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { crc32 } from 'node:zlib';
import { abortReason } from '../../core/abort.js';
import { IntegrityError, OtaError } from '../../core/errors.js';
import type { Manifest } from '../../manifest/schema.js';
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm } from '../../protocols/thingsboard/keys.js';
import { EXTENSION_KEY } from '../../protocols/thingsboard/schemas.js';
import { crc32LittleEndian, murmur3x64_128, murmur3x86_32, type StreamingChecksum } from './murmur3.js';

const CRYPTO_NAMES = { MD5: 'md5', SHA256: 'sha256', SHA384: 'sha384', SHA512: 'sha512' } as const;

/** Whether otakit computes `algorithm` (every algorithm ThingsBoard defines today). */
export function isSupportedChecksum(algorithm: string): algorithm is ChecksumAlgorithm {
  return Object.hasOwn(CHECKSUM_ALGORITHMS, algorithm);
}

/**
 * A streaming checksum of `algorithm`, printed as ThingsBoard prints it.
 * @throws OtaError `INTEGRITY` (not retryable) naming the algorithm when otakit does not know it.
 */
export function thingsBoardChecksum(algorithm: string): StreamingChecksum {
  if (!isSupportedChecksum(algorithm)) {
    throw new OtaError(
      'INTEGRITY',
      `fw_checksum_algorithm: otakit cannot verify "${String(algorithm).slice(0, 40)}" (known: ${Object.keys(CHECKSUM_ALGORITHMS).join(', ')})`,
    );
  }
  switch (algorithm) {
    case 'CRC32':
      return crc32LittleEndian(crc32);
    case 'MURMUR3_32':
      return murmur3x86_32();
    case 'MURMUR3_128':
      return murmur3x64_128();
    default: {
      const hash = createHash(CRYPTO_NAMES[algorithm]);
      return { update: (chunk) => void hash.update(chunk), digest: () => hash.digest('hex') };
    }
  }
}

/** The checksum of the file at `path`. */
export async function checksumFile(path: string, algorithm: string, signal?: AbortSignal): Promise<string> {
  const checksum = thingsBoardChecksum(algorithm);
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    if (signal?.aborted) throw abortReason(signal);
    checksum.update(chunk as Buffer);
  }
  return checksum.digest();
}

/** The checksum a manifest keeps in `extensions.thingsboard` (algorithms beyond MD5/SHA-256). */
export function extensionChecksum(manifest: Manifest): { algorithm: string; checksum: string } | undefined {
  const extension = manifest.extensions?.[EXTENSION_KEY] as
    | { checksumAlgorithm?: unknown; checksum?: unknown }
    | undefined;
  if (typeof extension?.checksumAlgorithm !== 'string' || typeof extension.checksum !== 'string')
    return undefined;
  return { algorithm: extension.checksumAlgorithm, checksum: extension.checksum };
}

/**
 * Checks the staged file against the checksum ThingsBoard announced.
 * @throws IntegrityError on a mismatch; OtaError `INTEGRITY` for an algorithm otakit does not know.
 */
export async function verifyThingsBoardChecksum(
  path: string,
  expected: { algorithm: string; checksum: string },
  subject: string,
  signal?: AbortSignal,
): Promise<void> {
  const actual = await checksumFile(path, expected.algorithm, signal);
  if (actual !== expected.checksum.toLowerCase()) {
    throw new IntegrityError(subject, {
      algorithm: expected.algorithm,
      expected: expected.checksum.toLowerCase(),
      actual,
    });
  }
}
