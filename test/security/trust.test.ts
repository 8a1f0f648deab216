import { describe, expect, it } from 'vitest';
import { encodeBase64 } from '../../src/core/encoding.js';
import {
  fromSerializedError,
  isOtaError,
  isTrustError,
  OTA_ERROR_CODES,
  TRUST_REASONS,
  TrustError,
} from '../../src/core/errors.js';
import { SerializedOtaErrorSchema } from '../../src/core/status.js';
import type { Manifest } from '../../src/manifest/schema.js';
import { rotateRoot, signManifest, signRoot, verifyManifestSignature } from '../../src/manifest/trust.js';
import { canonicalRootBytes, keyIdOf, parseTrustRoot } from '../../src/manifest/trust-root.js';
import { BASE_MANIFEST, rootOf, type TestKey, testKeys } from './keys.js';

async function refusal(promise: Promise<unknown>): Promise<TrustError> {
  try {
    await promise;
  } catch (error) {
    expect(isTrustError(error)).toBe(true);
    return error as TrustError;
  }
  throw new Error('expected a TrustError');
}

/** Every string a refusal carries must be free of key material (seeds, public keys). */
function expectNoKeyMaterial(error: TrustError, keys: readonly TestKey[]) {
  const text = JSON.stringify({ message: error.message, json: error.toJSON(), field: error.field });
  for (const key of keys) {
    expect(text).not.toContain(key.publicKey);
    expect(text).not.toContain(encodeBase64(key.seed));
    expect(text).not.toContain(Buffer.from(key.seed).toString('hex'));
  }
}

describe('TrustError', () => {
  it('has the TRUST code, a closed reason, is never retryable, and is recognised by the guards', () => {
    expect(OTA_ERROR_CODES).toContain('TRUST');
    const error = new TrustError('below_floor', 'version "1.0.0": expected at least "2.0.0"', {
      field: 'version',
    });
    expect(error).toMatchObject({
      name: 'TrustError',
      code: 'TRUST',
      reason: 'below_floor',
      retryable: false,
    });
    expect(error.message).toBe('version "1.0.0": expected at least "2.0.0" (below_floor)');
    expect(isOtaError(error, 'TRUST')).toBe(true);
    expect(isTrustError(error, 'below_floor')).toBe(true);
    expect(isTrustError(error, 'unsigned')).toBe(false);
    expect(isTrustError(new Error('x'))).toBe(false);
    expect(error.toJSON()).toEqual({
      name: 'TrustError',
      code: 'TRUST',
      message: error.message,
      retryable: false,
      reason: 'below_floor',
      field: 'version',
    });
    // Serialised into a status or a record, it still reads as a TRUST error.
    expect(SerializedOtaErrorSchema.parse(error.toJSON()).code).toBe('TRUST');
    expect(isOtaError(fromSerializedError(error.toJSON()), 'TRUST')).toBe(true);
    expect(new Set(TRUST_REASONS).size).toBe(TRUST_REASONS.length);
  });
});

describe('trust roots', () => {
  it('derives key ids (hex SHA-256 of the raw key) and refuses a root whose key id is not its key', async () => {
    const [a, b] = await testKeys(1, 2);
    expect(a!.keyId).toMatch(/^[0-9a-f]{64}$/);
    expect(keyIdOf(a!.publicKey)).toBe(a!.keyId);
    expect(() => parseTrustRoot(rootOf([a!], 1))).not.toThrow();
    expect(() =>
      parseTrustRoot({ version: 1, keys: [{ keyId: b!.keyId, publicKey: a!.publicKey }], threshold: 1 }),
    ).toThrow(/keys\[0\]\.keyId: expected the hex SHA-256 of publicKey/);
  });

  it('refuses duplicate keys, a threshold above the usable keys, bad keys, version 0', async () => {
    const [a, b] = await testKeys(1, 2);
    expect(() => parseTrustRoot(rootOf([a!, a!], 1))).toThrow(
      /keys\[1\]\.keyId: expected a key not listed before/,
    );
    expect(() => parseTrustRoot(rootOf([a!, b!], 3))).toThrow(
      /threshold: expected at most the number of non-revoked keys \(2\)/,
    );
    expect(() => parseTrustRoot(rootOf([a!, b!], 2, { revokedKeyIds: [b!.keyId] }))).toThrow(/threshold/);
    expect(() =>
      parseTrustRoot({ version: 1, keys: [{ keyId: a!.keyId, publicKey: 'AAAA' }], threshold: 1 }),
    ).toThrow(/publicKey/);
    expect(() => parseTrustRoot(rootOf([a!], 1, { version: 0 }))).toThrow(/version/);
  });

  it('a validated root is frozen and not validated again; a changed copy is', async () => {
    const [a, b] = await testKeys(1, 2);
    const root = parseTrustRoot(rootOf([a!, b!], 2, { revokedKeyIds: [] }));
    expect(Object.isFrozen(root) && Object.isFrozen(root.keys) && Object.isFrozen(root.keys[0])).toBe(true);
    expect(Object.isFrozen(root.revokedKeyIds)).toBe(true);
    expect(() => {
      (root.keys as { publicKey: string }[])[0]!.publicKey = b!.publicKey;
    }).toThrow(TypeError);
    expect(parseTrustRoot(root)).toBe(root);
    // A copy with a key that is not its id's is a new object: validated, and refused.
    const forged = { ...root, keys: [{ keyId: a!.keyId, publicKey: b!.publicKey }, root.keys[1]!] };
    expect(() => parseTrustRoot(forged)).toThrow(/keys\[0\]\.keyId/);
    await expect(verifyManifestSignature(BASE_MANIFEST, forged)).rejects.toMatchObject({
      reason: 'invalid_root',
    });
  });
});

describe('signManifest / verifyManifestSignature', () => {
  for (const backend of ['webcrypto', 'js'] as const) {
    it(`signs and verifies (${backend}); the other backend verifies the same signature`, async () => {
      const [a] = await testKeys(1);
      const signed = await signManifest(BASE_MANIFEST, [a!.seed], { backend });
      expect(signed.signature).toEqual({
        canonicalization: 'otakit-json-v1',
        signatures: [
          { keyId: a!.keyId, algorithm: 'ed25519', value: expect.stringMatching(/^[A-Za-z0-9+/]{86}==$/) },
        ],
      });
      for (const verifier of ['webcrypto', 'js'] as const) {
        await expect(
          verifyManifestSignature(signed, rootOf([a!], 1), { backend: verifier }),
        ).resolves.toEqual({
          keyIds: [a!.keyId],
          threshold: 1,
          rootVersion: 1,
          rejected: [],
        });
      }
    });
  }

  it('survives a codec round trip: extensions and key order changed, digest case changed', async () => {
    const [a] = await testKeys(1);
    const signed = await signManifest(BASE_MANIFEST, [a!.seed]);
    const reencoded = JSON.parse(
      JSON.stringify({
        extensions: { exosite: { rewritten: true } },
        ...signed,
        artifacts: [{ ...signed.artifacts[0]!, sha256: signed.artifacts[0]!.sha256!.toUpperCase() }],
      }),
    );
    await expect(verifyManifestSignature(reencoded, rootOf([a!], 1))).resolves.toMatchObject({
      keyIds: [a!.keyId],
    });
  });

  it('k of n: 2 of 3 passes with any two keys, fails with one (below_threshold)', async () => {
    const keys = await testKeys(1, 2, 3);
    const root = rootOf(keys, 2);
    for (const pair of [
      [0, 1],
      [0, 2],
      [1, 2],
    ]) {
      const signed = await signManifest(
        BASE_MANIFEST,
        pair.map((index) => keys[index]!.seed),
      );
      await expect(verifyManifestSignature(signed, root)).resolves.toMatchObject({ threshold: 2 });
    }
    const one = await signManifest(BASE_MANIFEST, [keys[0]!.seed]);
    const error = await refusal(verifyManifestSignature(one, root));
    expect(error.reason).toBe('below_threshold');
    expect(error.message).toContain(
      'expected valid signatures from 2 distinct trusted key(s) of trust root version 1, found 1',
    );
    expectNoKeyMaterial(error, keys);
  });

  it('signing in turn adds signatures (k holders each add theirs); re-signing replaces its own', async () => {
    const keys = await testKeys(1, 2);
    const first = await signManifest(BASE_MANIFEST, [keys[0]!.seed]);
    const both = await signManifest(first, [keys[1]!.seed]);
    expect(both.signature?.signatures.map((s) => s.keyId)).toEqual([keys[0]!.keyId, keys[1]!.keyId]);
    const again = await signManifest(both, [keys[0]!.seed]);
    expect(again.signature?.signatures).toHaveLength(2);
    await expect(verifyManifestSignature(again, rootOf(keys, 2))).resolves.toMatchObject({
      keyIds: [keys[1]!.keyId, keys[0]!.keyId],
    });
  });

  it('counts a key id given twice once (duplicate), so one key cannot meet a threshold of 2', async () => {
    const keys = await testKeys(1, 2);
    const signed = await signManifest(BASE_MANIFEST, [keys[0]!.seed]);
    const sig = signed.signature!.signatures[0]!;
    const doubled: Manifest = { ...signed, signature: { ...signed.signature!, signatures: [sig, sig] } };
    const error = await refusal(verifyManifestSignature(doubled, rootOf(keys, 2)));
    expect(error.reason).toBe('below_threshold');
    expect(error.message).toContain('duplicate_key');
  });

  it('refuses unsigned, unknown canonicalization, bad signature, unknown key, revoked key', async () => {
    const keys = await testKeys(1, 2, 9);
    const [a, b, stranger] = keys as [TestKey, TestKey, TestKey];
    const root = rootOf([a, b], 1);
    expect((await refusal(verifyManifestSignature(BASE_MANIFEST, root))).reason).toBe('unsigned');

    const signed = await signManifest(BASE_MANIFEST, [a.seed]);
    const other = { ...signed, signature: { ...signed.signature!, canonicalization: 'otakit-json-v2' } };
    const unknownEncoding = await refusal(verifyManifestSignature(other as never, root));
    expect(unknownEncoding).toMatchObject({
      reason: 'unknown_canonicalization',
      field: 'signature.canonicalization',
    });

    const tampered = { ...signed, version: '2.0.1' };
    const bad = await refusal(verifyManifestSignature(tampered, root));
    expect(bad).toMatchObject({ reason: 'bad_signature', keyIds: [a.keyId] });

    const byStranger = await signManifest(BASE_MANIFEST, [stranger.seed]);
    expect((await refusal(verifyManifestSignature(byStranger, root))).reason).toBe('unknown_key');

    const revokedRoot = rootOf([a, b], 1, { revokedKeyIds: [a.keyId] });
    const revoked = await refusal(verifyManifestSignature(signed, revokedRoot));
    expect(revoked.reason).toBe('revoked_key');
    // A dropped key is simply unknown.
    expect((await refusal(verifyManifestSignature(signed, rootOf([b], 1)))).reason).toBe('unknown_key');
    for (const error of [bad, revoked, unknownEncoding]) expectNoKeyMaterial(error, keys);
  });

  it('a valid signature outweighs a bad one when the threshold is still met (TUF counting)', async () => {
    const keys = await testKeys(1, 2);
    const signed = await signManifest(BASE_MANIFEST, [keys[0]!.seed, keys[1]!.seed]);
    const broken = signed.signature!.signatures[1]!;
    const mixed: Manifest = {
      ...signed,
      signature: {
        ...signed.signature!,
        signatures: [signed.signature!.signatures[0]!, { ...broken, value: `${'A'.repeat(86)}==` }],
      },
    };
    await expect(verifyManifestSignature(mixed, rootOf(keys, 1))).resolves.toMatchObject({
      keyIds: [keys[0]!.keyId],
      rejected: [{ keyId: keys[1]!.keyId, reason: 'bad_signature' }],
    });
    expect((await refusal(verifyManifestSignature(mixed, rootOf(keys, 2)))).reason).toBe('below_threshold');
  });

  it('refuses under an expired root, and an invalid root as invalid_root', async () => {
    const [a] = await testKeys(1);
    const signed = await signManifest(BASE_MANIFEST, [a!.seed]);
    const expired = rootOf([a!], 1, { expiresAt: '2026-01-01T00:00:00Z' });
    const now = Date.parse('2026-06-01T00:00:00Z');
    expect((await refusal(verifyManifestSignature(signed, expired, { now }))).reason).toBe('root_expired');
    await expect(
      verifyManifestSignature(signed, expired, { now: Date.parse('2025-06-01T00:00:00Z') }),
    ).resolves.toBeDefined();
    expect(
      (await refusal(verifyManifestSignature(signed, { ...rootOf([a!], 1), threshold: 0 }))).reason,
    ).toBe('invalid_root');
  });
});

describe('rotateRoot', () => {
  async function setup() {
    const keys = await testKeys(1, 2, 3, 4, 5);
    const [k1, k2, k3, k4, k5] = keys as [TestKey, TestKey, TestKey, TestKey, TestKey];
    const current = parseTrustRoot(rootOf([k1, k2, k3], 2));
    const next = parseTrustRoot({ ...rootOf([k3, k4, k5], 2), version: 2 });
    return { keys, k1, k2, k3, k4, k5, current, next };
  }

  it('accepts a greater version signed by a threshold of the current keys and of its own', async () => {
    const { k1, k2, k4, k5, current, next } = await setup();
    const signed = await signRoot(next, [k1.seed, k2.seed, k4.seed, k5.seed]);
    await expect(rotateRoot(current, signed)).resolves.toEqual(next);
    // One key in both roots counts for both: k3 + k1 (current), k3 + k4 (new).
    const { k3 } = await setup();
    await expect(rotateRoot(current, await signRoot(next, [k3.seed, k1.seed, k4.seed]))).resolves.toEqual(
      next,
    );
  });

  it('refuses when the old keys do not reach their threshold (an attacker with new keys only)', async () => {
    const { keys, k1, k4, k5, current, next } = await setup();
    const error = await refusal(rotateRoot(current, await signRoot(next, [k1.seed, k4.seed, k5.seed])));
    expect(error).toMatchObject({ reason: 'root_rejected', field: 'signatures' });
    expect(error.message).toContain("from the current root's keys (version 1), found 1");
    expect(isTrustError(error.cause, 'below_threshold')).toBe(true);
    expectNoKeyMaterial(error, keys);
  });

  it('refuses when the new keys do not reach their own threshold', async () => {
    const { k1, k2, k4, current, next } = await setup();
    const error = await refusal(rotateRoot(current, await signRoot(next, [k1.seed, k2.seed, k4.seed])));
    expect(error.message).toContain("from the new root's keys (version 2), found 1");
  });

  it('refuses a version that is not greater (replaying an old root, or the same one)', async () => {
    const { k1, k2, current } = await setup();
    for (const version of [1, 0.5]) {
      const same = { ...current, version };
      const error = await refusal(
        rotateRoot(current, {
          root: same,
          signatures: (await signRoot(current, [k1.seed, k2.seed])).signatures,
        }),
      );
      expect(error.reason).toBe('root_rejected');
    }
    const error = await refusal(
      rotateRoot({ ...current, version: 3 }, await signRoot({ ...current, version: 2 }, [k1.seed, k2.seed])),
    );
    expect(error.message).toContain('version: expected greater than the current version 3');
  });

  it('refuses signatures over different bytes (a root changed after signing)', async () => {
    const { k1, k2, k4, k5, current, next } = await setup();
    const signed = await signRoot(next, [k1.seed, k2.seed, k4.seed, k5.seed]);
    const widened = { ...signed, root: { ...signed.root, threshold: 1 } };
    expect((await refusal(rotateRoot(current, widened))).reason).toBe('root_rejected');
  });

  it('revokes: a new root listing a key as revoked stops it counting, for manifests and for the next rotation', async () => {
    const { k1, k2, k3, current } = await setup();
    const revoking = parseTrustRoot({ ...rootOf([k1, k2, k3], 2), version: 2, revokedKeyIds: [k1.keyId] });
    const adopted = await rotateRoot(current, await signRoot(revoking, [k1.seed, k2.seed, k3.seed]));
    const byK1K2 = await signManifest(BASE_MANIFEST, [k1.seed, k2.seed]);
    const error = await refusal(verifyManifestSignature(byK1K2, adopted));
    expect(error.reason).toBe('below_threshold');
    expect(error.message).toContain('revoked_key');
    const v3 = { ...revoking, version: 3 };
    expect((await refusal(rotateRoot(adopted, await signRoot(v3, [k1.seed, k2.seed])))).reason).toBe(
      'root_rejected',
    );
  });

  it('refuses a malformed signed root and an expired new root; may rotate out of an expired current root', async () => {
    const { k1, k2, k4, k5, current, next } = await setup();
    expect((await refusal(rotateRoot(current, { root: next, signatures: [] }))).reason).toBe('root_rejected');
    expect((await refusal(rotateRoot(current, null as never))).reason).toBe('root_rejected');
    const now = Date.parse('2030-01-01T00:00:00Z');
    const stale = { ...next, expiresAt: '2029-01-01T00:00:00Z' };
    const signers = [k1.seed, k2.seed, k4.seed, k5.seed];
    expect((await refusal(rotateRoot(current, await signRoot(stale, signers), { now }))).reason).toBe(
      'root_rejected',
    );
    const expiredCurrent = { ...current, expiresAt: '2029-01-01T00:00:00Z' };
    await expect(rotateRoot(expiredCurrent, await signRoot(next, signers), { now })).resolves.toEqual(next);
  });

  it('signs roots over {"_type":"otakit-root", …}: a root signature is never a manifest signature', async () => {
    const { current } = await setup();
    expect(new TextDecoder().decode(canonicalRootBytes(current))).toMatch(
      /^\{"_type":"otakit-root","keys":\[/,
    );
  });
});
