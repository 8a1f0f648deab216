/**
 * Incremental hashing that runs anywhere (browser, worker, Node): MD5 with spark-md5 (every seed
 * platform that hashes uses MD5) and SHA-256 with @noble/hashes (audited, pure JS, incremental;
 * WebCrypto's `digest()` cannot hash a stream). `otakit/node` provides node:crypto hashers,
 * several times faster, with the same interface.
 *
 * @module
 */
import { sha256 } from '@noble/hashes/sha2';
import SparkMD5 from 'spark-md5';
import { exactArrayBuffer, toHex } from '../core/encoding.js';

export type HashAlgorithm = 'md5' | 'sha256';

/**
 * A hash fed chunk by chunk while bytes stream past. `update` and `digest` may be asynchronous
 * (hashing in a worker thread); callers await them. A hash must be done with `chunk` (or have
 * copied it) when `update` returns or its promise settles: the download engine reuses the memory.
 */
export interface IncrementalHash {
  update(chunk: Uint8Array): void | Promise<void>;
  /** Lowercase hex. The hash must not be used after. */
  digest(): string | Promise<string>;
  /** Releases the hash without a digest (an abandoned download). Optional. */
  dispose?(): void;
}

/** Feeds `chunk` to every hash, in parallel where they are asynchronous. */
export async function updateAll(hashes: Iterable<IncrementalHash>, chunk: Uint8Array): Promise<void> {
  const pending: Promise<void>[] = [];
  for (const hash of hashes) {
    const result = hash.update(chunk);
    if (result !== undefined) pending.push(result);
  }
  if (pending.length > 0) await Promise.all(pending);
}

/** Creates an {@link IncrementalHash}; the download engine takes one so Node can plug node:crypto. */
export type HashFactory = (algorithm: HashAlgorithm) => IncrementalHash;

/** The browser-safe hashers. */
export const createWebHash: HashFactory = (algorithm) => {
  if (algorithm === 'md5') {
    const md5 = new SparkMD5.ArrayBuffer();
    return {
      update(chunk) {
        // spark-md5 wants an ArrayBuffer of exactly these bytes.
        md5.append(exactArrayBuffer(chunk));
      },
      digest: () => md5.end(),
    };
  }
  const hash = sha256.create();
  return {
    update(chunk) {
      hash.update(chunk);
    },
    digest: () => toHex(hash.digest()),
  };
};

/** Hashes a whole buffer at once with the given factory. */
export async function hashBytes(
  bytes: Uint8Array,
  algorithm: HashAlgorithm,
  factory: HashFactory = createWebHash,
): Promise<string> {
  const hash = factory(algorithm);
  await hash.update(bytes);
  return hash.digest();
}
