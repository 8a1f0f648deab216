/** Fixed test keys (never trust them outside tests) and helpers shared by the security tests. */
import { encodeBase64 } from '../../src/core/encoding.js';
import { ed25519PublicKey } from '../../src/manifest/ed25519.js';
import { keyIdOf, type TrustRootInput } from '../../src/manifest/trust-root.js';

/** A 32-byte seed filled with `n`: a distinct, reproducible key per `n`. */
export function seed(n: number): Uint8Array {
  return new Uint8Array(32).fill(n);
}

export interface TestKey {
  seed: Uint8Array;
  publicKey: string;
  keyId: string;
}

export async function testKey(n: number): Promise<TestKey> {
  const raw = await ed25519PublicKey(seed(n));
  return { seed: seed(n), publicKey: encodeBase64(raw), keyId: keyIdOf(raw) };
}

export async function testKeys(...ns: number[]): Promise<TestKey[]> {
  return Promise.all(ns.map(testKey));
}

export function rootOf(
  keys: readonly TestKey[],
  threshold: number,
  extra: Partial<TrustRootInput> = {},
): TrustRootInput {
  return {
    version: 1,
    keys: keys.map(({ keyId, publicKey }) => ({ keyId, publicKey })),
    threshold,
    ...extra,
  };
}

export const BASE_MANIFEST = {
  id: 'fw-2',
  version: '2.0.0',
  artifacts: [
    {
      url: 'https://cdn.example.test/fw.bin',
      target: 'firmware' as const,
      size: 3,
      sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    },
  ],
};
