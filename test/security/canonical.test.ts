import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/core/encoding.js';
import { isOtaError, isTrustError } from '../../src/core/errors.js';
import { CANONICALIZATION, canonicalJson, canonicalManifestBytes } from '../../src/manifest/canonical.js';
import { ed25519Sign, ed25519Verify } from '../../src/manifest/ed25519.js';
import { signManifest, verifyManifestSignature } from '../../src/manifest/trust.js';
import { BASE_MANIFEST } from './keys.js';

const vector = JSON.parse(
  readFileSync(new URL('../fixtures/signing/manifest-v1.json', import.meta.url), 'utf8'),
) as {
  key: { privateKeySeedHex: string; publicKey: string; keyId: string };
  manifest: unknown;
  canonical: string;
  canonicalHex: string;
  signature: string;
  signedManifest: unknown;
  trustRoot: unknown;
};

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe('otakit-json-v1: the fixed test vector (test/fixtures/signing/manifest-v1.json)', () => {
  it('encodes the manifest to exactly the recorded bytes', () => {
    const bytes = canonicalManifestBytes(vector.manifest as never);
    expect(text(bytes)).toBe(vector.canonical);
    expect(toHex(bytes)).toBe(vector.canonicalHex);
  });

  for (const backend of ['webcrypto', 'js'] as const) {
    it(`signs to exactly the recorded signature and verifies it (${backend})`, async () => {
      const seed = fromHex(vector.key.privateKeySeedHex);
      const bytes = canonicalManifestBytes(vector.manifest as never);
      const signature = await ed25519Sign(seed, bytes, { backend });
      expect(Buffer.from(signature).toString('base64')).toBe(vector.signature);
      expect(
        await ed25519Verify(Buffer.from(vector.key.publicKey, 'base64'), bytes, signature, { backend }),
      ).toBe(true);
      const signed = await signManifest(vector.manifest as never, [seed], { backend });
      expect(signed.signature).toEqual((vector.signedManifest as { signature: unknown }).signature);
      await expect(
        verifyManifestSignature(vector.signedManifest as never, vector.trustRoot as never, { backend }),
      ).resolves.toMatchObject({ keyIds: [vector.key.keyId], threshold: 1, rootVersion: 1 });
    });
  }
});

describe('otakit-json-v1: the encoding', () => {
  it('sorts keys by UTF-16 code units, at every depth, with no whitespace', () => {
    // U+1F600 is the surrogate pair D83D DE00: before U+FF46 in UTF-16 order, after it in code points.
    expect(
      canonicalJson({ b: { z: 1, y: [{ d: 0, c: null }] }, a: true, '\uff46': 1, '😀': 2, B: 3, é: 4 }),
    ).toBe('{"B":3,"a":true,"b":{"y":[{"c":null,"d":0}],"z":1},"é":4,"😀":2,"ｆ":1}');
  });

  it('writes strings as JSON.stringify does (escapes, lone surrogates) and non-ASCII as UTF-8', () => {
    expect(canonicalJson('a"\\\n\t\u0001\u007f é\ud800')).toBe('"a\\"\\\\\\n\\t\\u0001\u007f é\\ud800"');
    const bytes = canonicalManifestBytes({ ...BASE_MANIFEST, provides: { k: 'é' } });
    expect(toHex(bytes)).toContain(toHex(new TextEncoder().encode('"k":"é"')));
    expect(toHex(bytes)).toContain('c3a9');
  });

  it('writes integers in plain decimal, -0 as 0, and leaves out undefined members', () => {
    expect(canonicalJson([0, -0, Number.MAX_SAFE_INTEGER, -42])).toBe('[0,0,9007199254740991,-42]');
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
  });

  it('refuses fractions, non-finite and unsafe numbers, and non-JSON values, with a typed error naming the path', () => {
    for (const bad of [1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      let thrown: unknown;
      try {
        canonicalJson({ artifacts: [{ size: bad }] });
      } catch (error) {
        thrown = error;
      }
      expect(isTrustError(thrown, 'not_canonical')).toBe(true);
      expect((thrown as Error).message).toContain('artifacts[0].size');
    }
    for (const bad of [10n, () => 1, Symbol('x'), new Date(0)]) {
      expect(() => canonicalJson({ x: bad })).toThrow(
        expect.objectContaining({ code: 'TRUST', reason: 'not_canonical' }),
      );
    }
  });

  it('covers the validated manifest: digests lowercased, unknown keys dropped, signature and extensions left out', () => {
    const plain = text(canonicalManifestBytes(BASE_MANIFEST));
    const noisy = text(
      canonicalManifestBytes({
        ...BASE_MANIFEST,
        artifacts: [
          { ...BASE_MANIFEST.artifacts[0]!, sha256: BASE_MANIFEST.artifacts[0]!.sha256.toUpperCase() },
        ],
        extensions: { degu: { anything: [1, 2] } },
        signature: {
          canonicalization: CANONICALIZATION,
          signatures: [{ keyId: 'k', algorithm: 'ed25519', value: `${'A'.repeat(86)}==` }],
        },
        unknownField: 1.5,
      } as never),
    );
    expect(noisy).toBe(plain);
    expect(plain).toBe(
      '{"artifacts":[{"sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","size":3,"target":"firmware","url":"https://cdn.example.test/fw.bin"}],"id":"fw-2","version":"2.0.0"}',
    );
  });

  it('refuses an invalid manifest with the ManifestError a device would get', () => {
    expect(() => canonicalManifestBytes({ ...BASE_MANIFEST, artifacts: [] })).toThrow(
      expect.objectContaining({ code: 'MANIFEST_INVALID' }),
    );
    let thrown: unknown;
    try {
      canonicalManifestBytes({ id: 'x' } as never);
    } catch (error) {
      thrown = error;
    }
    expect(isOtaError(thrown, 'MANIFEST_INVALID')).toBe(true);
  });
});
