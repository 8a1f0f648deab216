import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  isManifestExpired,
  isOtaError,
  type ManifestInput,
  manifestIntegrity,
  parseManifest,
  safeParseManifest,
  verifyStaged,
} from '../src/index.js';

const MD5 = '9e107d9d372bb6826bd81d3542a419d6';
const SHA = 'd7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592';

const valid: ManifestInput = {
  id: 'deploy-42',
  version: '2.1.0',
  artifacts: [
    {
      url: 'https://cdn.example/fw.bin',
      size: 1024,
      md5: MD5.toUpperCase(),
      sha256: SHA,
      target: 'firmware',
      name: 'firmware_system',
    },
  ],
  compatibility: { deviceTypes: ['degu-v2'] },
  provides: { 'rootfs.version': '2.1.0' },
  depends: { 'bootloader.version': ['1.0', '1.1'] },
  expiresAt: '2026-12-31T23:59:59Z',
  minVersion: '2.0.0',
  extensions: { degu: { key: 'firmware_system' } },
};

function issuesOf(input: unknown) {
  const result = safeParseManifest(input);
  if (result.success) throw new Error('expected a failure');
  return result.error.issues;
}

describe('canonical manifest', () => {
  it('accepts a full manifest and normalises digests to lowercase', () => {
    const manifest = parseManifest(valid);
    expect(manifest.artifacts[0]?.md5).toBe(MD5);
    expect(manifest.minVersion).toBe('2.0.0');
  });

  it('names the failing path and what it expected', () => {
    expect(issuesOf({ ...valid, artifacts: [{ ...valid.artifacts[0], sha256: 'abc' }] })).toEqual([
      { path: 'artifacts[0].sha256', expected: '64 hex characters (SHA-256)' },
    ]);
    expect(issuesOf({ ...valid, artifacts: [] })).toEqual([
      { path: 'artifacts', expected: 'at least one artifact' },
    ]);
    expect(issuesOf({ ...valid, id: 7 })).toEqual([{ path: 'id', expected: 'string' }]);
    expect(issuesOf({ ...valid, expiresAt: 'tomorrow' })).toEqual([
      { path: 'expiresAt', expected: 'an ISO 8601 date-time' },
    ]);
    expect(issuesOf({ ...valid, artifacts: [{ ...valid.artifacts[0], size: -1 }] })).toEqual([
      { path: 'artifacts[0].size', expected: 'number >= 0' },
    ]);
    expect(issuesOf(null)).toEqual([{ path: '', expected: 'object' }]);
  });

  it('never echoes the rejected value (it may hold credentials)', () => {
    const secretUrl = 'https://user:hunter2@cdn.example/fw.bin?dk=SECRET-KEY';
    const result = safeParseManifest({
      ...valid,
      artifacts: [{ ...valid.artifacts[0], url: secretUrl, md5: 'x' }],
    });
    expect(result.success).toBe(false);
    if (!result.success) {
      expect(result.error.message).not.toContain('hunter2');
      expect(result.error.message).not.toContain('SECRET-KEY');
    }
  });

  it('reserves an Ed25519 signature envelope', () => {
    const signature = {
      canonicalization: 'otakit-json-v1',
      signatures: [{ keyId: 'release-2026', algorithm: 'ed25519', value: `${'A'.repeat(86)}==` }],
    };
    expect(parseManifest({ ...valid, signature }).signature?.signatures).toHaveLength(1);
    expect(
      issuesOf({
        ...valid,
        signature: { ...signature, signatures: [{ ...signature.signatures[0], algorithm: 'rsa' }] },
      })[0]?.path,
    ).toBe('signature.signatures[0].algorithm');
  });

  it('states how well it can be verified', () => {
    expect(manifestIntegrity(parseManifest(valid))).toBe('sha256');
    expect(manifestIntegrity({ artifacts: [{ url: 'a', target: 'file', md5: MD5 }] })).toBe('md5');
    expect(
      manifestIntegrity({
        artifacts: [
          { url: 'a', target: 'file', sha256: SHA },
          { url: 'b', target: 'file' },
        ],
      }),
    ).toBe('none');
  });

  it('knows when it expired', () => {
    const manifest = parseManifest(valid);
    expect(isManifestExpired(manifest, Date.parse('2026-12-31T23:59:58Z'))).toBe(false);
    expect(isManifestExpired(manifest, Date.parse('2026-12-31T23:59:59Z'))).toBe(true);
    expect(isManifestExpired({}, 0)).toBe(false);
  });

  it('verifyStaged checks size, then every digest present', () => {
    const manifest = parseManifest(valid);
    const good = { location: '/tmp/a', size: 1024, md5: MD5, sha256: SHA };
    expect(() => verifyStaged(manifest, [good])).not.toThrow();
    expect(() => verifyStaged(manifest, [{ ...good, size: 1023 }])).toThrow(
      /size mismatch, expected 1024, got 1023/,
    );
    expect(() => verifyStaged(manifest, [{ ...good, md5: MD5.replace('9', '8') }])).toThrow(/md5 mismatch/);
    expect(() => verifyStaged(manifest, [{ location: 'x', size: 1024 }])).toThrow(
      /not measured by the download/,
    );
    expect(() => verifyStaged(manifest, [])).toThrow(/Expected 1 staged artifacts/);
  });
});

/** Valid manifests: every property that breaks one field starts from one of these. */
const hex = (length: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: length, maxLength: length });
const artifact = fc.record(
  {
    url: fc.webUrl(),
    size: fc.nat(),
    md5: hex(32),
    sha256: hex(64),
    target: fc.constantFrom('script', 'config', 'firmware', 'package', 'file'),
    name: fc.string({ minLength: 1 }),
  },
  { requiredKeys: ['url', 'target'] },
);
const validManifest = fc.record(
  {
    id: fc.string({ minLength: 1 }),
    version: fc.string({ minLength: 1 }),
    artifacts: fc.array(artifact, { minLength: 1, maxLength: 4 }),
    minVersion: fc.string({ minLength: 1 }),
    expiresAt: fc
      .date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
      .map((date) => date.toISOString()),
  },
  { requiredKeys: ['id', 'version', 'artifacts'] },
);

describe('manifest parser properties (fast-check)', () => {
  it('turns any JSON value into a manifest or a MANIFEST_INVALID error, never anything else', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        try {
          parseManifest(value);
        } catch (error) {
          expect(isOtaError(error, 'MANIFEST_INVALID')).toBe(true);
        }
      }),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1_000) },
    );
  });

  it('refuses a valid manifest with one field broken, off the wire as bytes, naming that field', () => {
    // Structured input: random bytes are almost never a JSON object and never reach the validator.
    /** Breaks one field of a (cloned) manifest and returns the path an error must name. */
    type Breakage = (manifest: Record<string, unknown>) => string;
    const topField = (field: string, values: unknown[]) =>
      fc.constantFrom(...values).map(
        (bad): Breakage =>
          (manifest) => {
            if (bad === undefined) delete manifest[field];
            else manifest[field] = bad;
            return field;
          },
      );
    const artifactField = (field: string, values: unknown[]) =>
      fc.tuple(fc.nat(), fc.constantFrom(...values)).map(
        ([at, bad]): Breakage =>
          (manifest) => {
            const artifacts = manifest.artifacts as Array<Record<string, unknown>>;
            const index = at % artifacts.length;
            if (bad === undefined) delete artifacts[index]![field];
            else artifacts[index]![field] = bad;
            return `artifacts[${index}].${field}`;
          },
      );
    const breakage = fc.oneof(
      topField('id', [undefined, '', 7, null]),
      topField('version', [undefined, '', 2.1, []]),
      topField('artifacts', [undefined, [], {}, 'https://cdn.example/fw.bin']),
      topField('expiresAt', ['tomorrow', '2026-13-01T00:00:00Z', 1_700_000_000]),
      topField('minVersion', ['', 3]),
      artifactField('url', [undefined, '', 'ftp://cdn.example/fw.bin', 'javascript:alert(1)', 42]),
      artifactField('md5', ['abc', MD5.slice(1), `${MD5.slice(1)}g`, 5]),
      artifactField('sha256', ['abc', SHA.slice(2), `${SHA.slice(1)}z`, null]),
      artifactField('target', [undefined, 'bootloader', '', 1]),
      artifactField('size', [-1, 1.5, '1024']),
    );
    fc.assert(
      fc.property(validManifest, breakage, (input, breakOne) => {
        expect(safeParseManifest(input).success).toBe(true);
        const manifest = structuredClone(input) as unknown as Record<string, unknown>;
        const path = breakOne(manifest);
        const bytes = new TextEncoder().encode(JSON.stringify(manifest));
        const result = safeParseManifest(JSON.parse(new TextDecoder().decode(bytes)));
        expect(result.success).toBe(false);
        if (result.success) return;
        expect(result.error.code).toBe('MANIFEST_INVALID');
        expect(result.error.issues.map((issue) => issue.path)).toContain(path);
      }),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 500) },
    );
  });

  it('round-trips generated valid manifests through JSON', () => {
    fc.assert(
      fc.property(validManifest, (input) => {
        const parsed = parseManifest(input);
        expect(parseManifest(JSON.parse(JSON.stringify(parsed)))).toEqual(parsed);
        for (const [index, item] of parsed.artifacts.entries()) {
          expect(item.md5).toBe(input.artifacts[index]?.md5?.toLowerCase());
        }
      }),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1_000) },
    );
  });
});

describe('absurd nesting', () => {
  it('turns a stack overflow in validation into MANIFEST_INVALID', () => {
    let deep: unknown = 1;
    for (let level = 0; level < 100_000; level++) deep = [deep];
    const result = safeParseManifest({
      id: 'a',
      version: '1',
      artifacts: [{ url: 'u', target: 'file' }],
      extensions: { x: deep },
    });
    expect(result.success).toBe(false);
    if (!result.success) expect(result.error.issues[0]?.expected).toBe('a less deeply nested value');
    expect(() =>
      parseManifest({
        id: 'a',
        version: '1',
        artifacts: [{ url: 'u', target: 'file' }],
        extensions: { x: deep },
      }),
    ).toThrow(/less deeply nested/);
  });
});
