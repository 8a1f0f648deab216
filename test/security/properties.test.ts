/**
 * Properties (fast-check): any valid manifest signs and verifies; any single-byte change of its
 * canonical (covered) bytes that still makes a valid, different manifest, and any single-byte
 * change of a signature, is refused with a TrustError. Changes to `extensions` are not covered.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase64, encodeBase64 } from '../../src/core/encoding.js';
import { isOtaError, isTrustError } from '../../src/core/errors.js';
import { canonicalManifestBytes } from '../../src/manifest/canonical.js';
import { type Manifest, safeParseManifest } from '../../src/manifest/schema.js';
import { signManifest, verifyManifestSignature } from '../../src/manifest/trust.js';
import { rootOf, testKeys } from './keys.js';

const RUNS = Number(process.env.OTAKIT_PROPERTY_RUNS ?? 150);

const text = fc.string({ minLength: 1, maxLength: 12, unit: 'binary' });
const hex = (length: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: length, maxLength: length });
const artifact = fc.record(
  {
    url: fc.webUrl(),
    size: fc.nat(),
    md5: hex(32),
    sha256: hex(64),
    target: fc.constantFrom('script', 'config', 'firmware', 'package', 'file'),
    name: text,
  },
  { requiredKeys: ['url', 'target'] },
);
const manifestArbitrary = fc.record(
  {
    id: text,
    version: text,
    artifacts: fc.array(artifact, { minLength: 1, maxLength: 3 }),
    compatibility: fc.record(
      {
        deviceTypes: fc.array(text, { minLength: 1, maxLength: 3 }),
        deviceIds: fc.array(text, { minLength: 1, maxLength: 3 }),
      },
      { requiredKeys: [] },
    ),
    provides: fc.dictionary(text, text, { maxKeys: 4 }),
    depends: fc.dictionary(text, fc.oneof(text, fc.array(text, { minLength: 1, maxLength: 2 })), {
      maxKeys: 3,
    }),
    minVersion: text,
    expiresAt: fc
      .date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
      .map((date) => date.toISOString()),
    extensions: fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
  },
  { requiredKeys: ['id', 'version', 'artifacts'] },
);

const decoder = new TextDecoder('utf-8', { fatal: true });

describe('signing properties (fast-check)', async () => {
  const keys = await testKeys(1, 2);
  const root = rootOf(keys, 2);
  const seeds = keys.map((key) => key.seed);

  it('verify(sign(m)) passes for any valid manifest, whatever its extensions become', async () => {
    await fc.assert(
      fc.asyncProperty(
        manifestArbitrary,
        fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 })),
        async (m, ext) => {
          const signed = await signManifest(m as never, seeds);
          await expect(verifyManifestSignature(signed, root)).resolves.toMatchObject({ threshold: 2 });
          // Through JSON (a wire) and with extensions rewritten by a codec: still valid.
          const rewired = JSON.parse(JSON.stringify({ ...signed, extensions: ext }));
          await expect(verifyManifestSignature(rewired, root)).resolves.toBeDefined();
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('any single-byte change of the canonical bytes that yields another valid manifest is refused (TrustError)', async () => {
    let delivered = 0;
    await fc.assert(
      fc.asyncProperty(manifestArbitrary, fc.nat(), fc.integer({ min: 1, max: 255 }), async (m, at, xor) => {
        const signed = await signManifest(m as never, seeds);
        const bytes = canonicalManifestBytes(signed);
        const changed = bytes.slice();
        changed[at % bytes.length]! ^= xor;
        let candidate: unknown;
        try {
          candidate = JSON.parse(decoder.decode(changed));
        } catch {
          return; // not UTF-8 JSON: no device would read it as a manifest
        }
        const parsed = safeParseManifest(candidate);
        if (!parsed.success) return; // refused as MANIFEST_INVALID before any signature check
        const forged = { ...parsed.data, signature: signed.signature } as Manifest;
        let same: boolean;
        try {
          same = encodeBase64(canonicalManifestBytes(forged)) === encodeBase64(bytes);
        } catch (error) {
          expect(isTrustError(error, 'not_canonical')).toBe(true); // e.g. a digit turned into "1e400"
          return;
        }
        if (same) return; // normalised back (an upper-case digest, a dropped unknown key's twin)
        delivered += 1;
        let thrown: unknown;
        try {
          await verifyManifestSignature(forged, root);
        } catch (error) {
          thrown = error;
        }
        expect(isTrustError(thrown, 'bad_signature')).toBe(true);
      }),
      { numRuns: RUNS * 4 },
    );
    // The property must have been exercised, not skipped every time.
    expect(delivered).toBeGreaterThan(RUNS / 2);
  });

  it('any single-byte change of a signature is refused (TrustError), with either backend', async () => {
    await fc.assert(
      fc.asyncProperty(
        manifestArbitrary,
        fc.nat({ max: 63 }),
        fc.integer({ min: 1, max: 255 }),
        fc.nat({ max: 1 }),
        fc.constantFrom('webcrypto' as const, 'js' as const),
        async (m, at, xor, which, backend) => {
          const signed = await signManifest(m as never, seeds);
          const signatures = signed.signature!.signatures.map((s) => ({ ...s }));
          const raw = decodeBase64(signatures[which]!.value)!;
          raw[at]! ^= xor;
          signatures[which]!.value = encodeBase64(raw);
          let thrown: unknown;
          try {
            await verifyManifestSignature(
              { ...signed, signature: { ...signed.signature!, signatures } },
              root,
              {
                backend,
              },
            );
          } catch (error) {
            thrown = error;
          }
          expect(isOtaError(thrown, 'TRUST')).toBe(true);
          expect(isTrustError(thrown, 'below_threshold')).toBe(true);
          expect((thrown as Error).message).toContain('bad_signature');
        },
      ),
      { numRuns: RUNS },
    );
  });
});
