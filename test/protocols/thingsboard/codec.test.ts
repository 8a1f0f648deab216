/** ThingsBoard attributes: decoding, the package, and the canonical manifest both ways. */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { isOtaError, ManifestError } from '../../../src/core/errors.js';
import { type ManifestInput, manifestIntegrity } from '../../../src/manifest/schema.js';
import * as thingsBoard from '../../../src/protocols/thingsboard/index.js';

const SHA = '03e693d9f2f687e0f40e36a8df7fcb4d1c22974012b7c2a55c000eb30f305824';
const MD5 = '100e360cc768f15a35ed9ddf05e354ce';

function issuesOf(run: () => unknown) {
  try {
    run();
  } catch (error) {
    if (error instanceof ManifestError) return error.issues;
    throw error;
  }
  throw new Error('expected a ManifestError');
}

describe('ThingsBoard shared attributes', () => {
  it('decodes a push with other attributes and a deletion, keeping both', () => {
    const push = thingsBoard.decodeAttributes(
      '{"fw_title":"f","fw_version":"1.2","targetTemperature":21.5,"deleted":["fw_url","fw_tag"]}',
    );
    expect(push).toEqual({
      fw_title: 'f',
      fw_version: '1.2',
      targetTemperature: 21.5,
      deleted: ['fw_url', 'fw_tag'],
    });
    expect(thingsBoard.isPackageRemoved(push)).toBe(false);
    expect(thingsBoard.isPackageRemoved({ deleted: ['fw_title', 'fw_version'] })).toBe(true);
    expect(thingsBoard.isPackageRemoved({ deleted: ['fw_title'] }, 'software')).toBe(false);
  });

  it('names the bad key and what it expected', () => {
    expect(
      issuesOf(() =>
        thingsBoard.decodeAttributes({
          fw_title: '',
          fw_size: -1,
          fw_checksum_algorithm: 'SHA1',
          fw_checksum: 'xyz',
          sw_url: 'ftp://x',
        }),
      ).map((issue) => issue.path),
    ).toEqual(['fw_title', 'fw_size', 'fw_checksum', 'fw_checksum_algorithm', 'sw_url']);
  });

  it('reads an attribute response and its shared package', () => {
    const response = thingsBoard.decodeAttributeResponse(
      `{"client":{"x":1},"shared":{"sw_title":"app","sw_version":"2","sw_size":5,"sw_checksum_algorithm":"MD5","sw_checksum":"${MD5.toUpperCase()}"}}`,
    );
    expect(thingsBoard.readPackage(response.shared ?? {}, 'software')).toEqual({
      type: 'software',
      title: 'app',
      version: '2',
      size: 5,
      checksumAlgorithm: 'MD5',
      checksum: MD5,
    });
  });

  it('requires a complete package, naming wire keys', () => {
    expect(issuesOf(() => thingsBoard.readPackage({ fw_title: 'f' })).map((issue) => issue.path)).toEqual([
      'fw_version',
    ]);
    expect(issuesOf(() => thingsBoard.readPackage({ fw_title: 'f', fw_version: '1' }))).toEqual([
      { path: 'fw_size', expected: 'the size (required without a URL)' },
      { path: 'fw_checksum', expected: 'a checksum (required without a URL)' },
    ]);
    expect(
      issuesOf(() =>
        thingsBoard.readPackage({ fw_title: 'f', fw_version: '1', fw_size: 1, fw_checksum: MD5 }),
      ),
    ).toEqual([{ path: 'fw_checksum_algorithm', expected: 'the algorithm of the checksum' }]);
    expect(
      issuesOf(() =>
        thingsBoard.readPackage({
          fw_title: 'f',
          fw_version: '1',
          fw_size: 1,
          fw_checksum_algorithm: 'SHA512',
          fw_checksum: SHA,
        }),
      ),
    ).toEqual([{ path: 'fw_checksum', expected: '128 hex characters (SHA512)' }]);
    // A URL package needs neither size nor checksum.
    expect(
      thingsBoard.readPackage({ fw_title: 'f', fw_version: '1', fw_url: 'https://cdn.example/f.bin' }),
    ).toEqual({
      type: 'firmware',
      title: 'f',
      version: '1',
      url: 'https://cdn.example/f.bin',
    });
  });

  it('builds the attribute request the client SDKs send', () => {
    expect(
      thingsBoard.attributeRequest('firmware', [
        'title',
        'version',
        'checksum',
        'checksum_algorithm',
        'size',
      ]),
    ).toEqual({
      sharedKeys: 'fw_title,fw_version,fw_checksum,fw_checksum_algorithm,fw_size',
    });
    expect(thingsBoard.attributeRequest('software').sharedKeys).toBe(
      'sw_title,sw_version,sw_size,sw_checksum,sw_checksum_algorithm,sw_url,sw_tag',
    );
    expect(thingsBoard.AttributeRequestSchema.parse(thingsBoard.attributeRequest())).toEqual(
      thingsBoard.attributeRequest(),
    );
  });

  it('knows every checksum algorithm of the ThingsBoard enum, with its length', () => {
    expect(thingsBoard.CHECKSUM_ALGORITHM_NAMES).toEqual([
      'MD5',
      'SHA256',
      'SHA384',
      'SHA512',
      'CRC32',
      'MURMUR3_32',
      'MURMUR3_128',
    ]);
    for (const [algorithm, length] of Object.entries(thingsBoard.CHECKSUM_ALGORITHMS)) {
      const pkg = {
        fw_title: 'f',
        fw_version: '1',
        fw_size: 1,
        fw_checksum_algorithm: algorithm,
        fw_checksum: 'a'.repeat(length),
      };
      expect(thingsBoard.readPackage(thingsBoard.decodeAttributes(pkg)).checksum).toHaveLength(length);
    }
  });

  it('spells keys as OtaPackageUtil does', () => {
    expect(thingsBoard.attributeKey('firmware', 'checksum_algorithm')).toBe('fw_checksum_algorithm');
    expect(thingsBoard.currentTelemetryKey('software', 'version')).toBe('current_sw_version');
    expect(thingsBoard.targetTelemetryKey('firmware', 'title')).toBe('target_fw_title');
  });
});

describe('ThingsBoard ⇄ canonical manifest', () => {
  const stored = {
    fw_title: 'f',
    fw_version: '1.2',
    fw_size: 421,
    fw_checksum_algorithm: 'SHA256',
    fw_checksum: SHA,
    fw_tag: 'f 1.2',
  } as const;

  it('keeps type, title and tag in the extension, and the digest where otakit verifies it', () => {
    const { value, lost } = thingsBoard.toCanonical(stored);
    expect(value).toEqual({
      id: 'fw:f@1.2',
      version: '1.2',
      artifacts: [
        { url: 'firmware?title=f&version=1.2', size: 421, sha256: SHA, target: 'firmware', name: 'f' },
      ],
      extensions: { thingsboard: { type: 'firmware', title: 'f', tag: 'f 1.2' } },
    });
    expect(lost).toEqual([]);
    expect(thingsBoard.fromCanonical(value)).toEqual({ value: stored, lost: [] });
  });

  it('reads software packages from sw_* keys and targets them as packages', () => {
    const { value } = thingsBoard.toCanonical(
      { sw_title: 'app', sw_version: '3', sw_url: 'https://cdn.example/app.tgz', fw_title: 'ignored' },
      { type: 'software' },
    );
    expect(value.artifacts).toEqual([{ url: 'https://cdn.example/app.tgz', target: 'package', name: 'app' }]);
    expect(manifestIntegrity(value)).toBe('none');
    expect(thingsBoard.fromCanonical(value).value).toEqual({
      sw_title: 'app',
      sw_version: '3',
      sw_url: 'https://cdn.example/app.tgz',
    });
  });

  it('says the integrity is none for an external package without checksum', () => {
    const { lost } = thingsBoard.toCanonical({
      fw_title: 'f',
      fw_version: '1',
      fw_url: 'https://cdn.example/f',
    });
    expect(lost).toEqual([{ field: 'fw_checksum', reason: expect.stringContaining('integrity is none') }]);
  });

  it('keeps every unverifiable algorithm in extensions and says otakit cannot verify it', () => {
    for (const algorithm of ['SHA384', 'SHA512', 'CRC32', 'MURMUR3_32', 'MURMUR3_128'] as const) {
      const checksum = 'b'.repeat(thingsBoard.CHECKSUM_ALGORITHMS[algorithm]);
      const attributes = {
        fw_title: 'f',
        fw_version: '1',
        fw_size: 1,
        fw_checksum_algorithm: algorithm,
        fw_checksum: checksum,
      };
      const { value, lost } = thingsBoard.toCanonical(attributes);
      expect(value.artifacts[0]?.sha256).toBeUndefined();
      expect(value.artifacts[0]?.md5).toBeUndefined();
      expect(value.extensions?.thingsboard).toMatchObject({ checksumAlgorithm: algorithm, checksum });
      expect(lost).toEqual([
        { field: 'fw_checksum', reason: expect.stringContaining(`cannot verify ${algorithm}`) },
      ]);
      expect(thingsBoard.fromCanonical(value)).toEqual({ value: attributes, lost: [] });
    }
  });

  it('converts a foreign manifest, preferring SHA-256, and lists what it drops', () => {
    const foreign: ManifestInput = {
      id: 'deploy-9',
      version: '2.0',
      artifacts: [
        {
          url: 'https://cdn.example/fw.bin',
          size: 9,
          md5: MD5,
          sha256: SHA,
          target: 'firmware',
          name: 'fw.bin',
        },
      ],
      compatibility: { deviceTypes: ['esp32'] },
      expiresAt: '2030-01-01T00:00:00Z',
      minVersion: '1.0',
      provides: { a: 'b' },
      depends: { c: 'd' },
      extensions: { degu: { key: 'firmware_system' } },
    };
    const { value, lost } = thingsBoard.fromCanonical(foreign);
    expect(value).toEqual({
      fw_title: 'fw.bin',
      fw_version: '2.0',
      fw_size: 9,
      fw_checksum_algorithm: 'SHA256',
      fw_checksum: SHA,
      fw_url: 'https://cdn.example/fw.bin',
    });
    expect(lost.map((loss) => loss.field)).toEqual([
      'artifacts[0].md5',
      'id',
      'compatibility',
      'provides',
      'depends',
      'expiresAt',
      'minVersion',
      'extensions.degu',
    ]);
    const md5Only = thingsBoard.fromCanonical({
      ...foreign,
      artifacts: [{ ...foreign.artifacts[0]!, sha256: undefined }] as never,
    });
    expect(md5Only.value).toMatchObject({ fw_checksum_algorithm: 'MD5', fw_checksum: MD5 });
  });

  it('refuses what a ThingsBoard package cannot be', () => {
    const one = { url: 'https://cdn.example/a', target: 'firmware' as const };
    expect(
      issuesOf(() => thingsBoard.fromCanonical({ id: 'x', version: '1', artifacts: [one, one] })),
    ).toEqual([{ path: 'artifacts', expected: 'exactly one artifact (a ThingsBoard package is one file)' }]);
    expect(
      issuesOf(() =>
        thingsBoard.fromCanonical({
          id: 'x',
          version: '1',
          artifacts: [{ url: 'store/a.bin', target: 'firmware' }],
        }),
      ),
    ).toEqual([{ path: 'artifacts[0].url', expected: 'an absolute URL, or the ThingsBoard content path' }]);
    expect(
      issuesOf(() =>
        thingsBoard.fromCanonical({
          id: 'x',
          version: '1',
          artifacts: [{ url: 'firmware?title=f&version=1', target: 'firmware', name: 'f' }],
        }),
      ),
    ).toEqual([
      {
        path: 'artifacts[0]',
        expected: 'a size and a digest (a package stored in ThingsBoard carries both)',
      },
    ]);
    expect(
      issuesOf(() =>
        thingsBoard.fromCanonical({
          id: 'x',
          version: 'v\n1',
          artifacts: [{ url: 'https://cdn.example/a', target: 'firmware', name: 'a' }],
        }),
      ).map((issue) => issue.path),
    ).toEqual(['version']);
  });

  it('emits a JSON Schema for every listed schema', () => {
    for (const [name, schema] of Object.entries(thingsBoard.jsonSchemas)) {
      expect(z.toJSONSchema(schema, { io: 'input' }).type, name).toBe('object');
    }
    const telemetry = z.toJSONSchema(thingsBoard.TelemetrySchema, { io: 'input' });
    expect((telemetry.properties?.fw_state as { enum?: unknown } | undefined)?.enum).toEqual([
      ...thingsBoard.FW_STATES,
    ]);
  });

  it('never throws a raw error on nonsense', () => {
    for (const input of [null, 42, 'x', [], { fw_title: {} }]) {
      let caught: unknown;
      try {
        thingsBoard.toCanonical(input as never);
      } catch (error) {
        caught = error;
      }
      expect(isOtaError(caught, 'MANIFEST_INVALID')).toBe(true);
    }
  });
});
