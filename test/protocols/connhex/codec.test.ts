import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isOtaError, type ManifestInput, manifestIntegrity, parseManifest } from '../../../src/index.js';
import * as connhex from '../../../src/protocols/connhex/index.js';
import { manifestError, onlyTypedErrors, SHA } from './support.js';

const URL_ = 'https://apis.example.com/iot/ota/dev-42';

const release: connhex.Release = {
  url: URL_,
  version: '0.0.3',
  size: 4096,
  sha256: SHA,
  minVersion: '0.0.1',
  maxVersion: '1.0.0',
  etag: '"r-42"',
  contentType: 'application/octet-stream',
  fileName: 'release-0.0.3.zip',
};

describe('toCanonical', () => {
  it('makes one package artifact and records the package rules in extensions.connhex', () => {
    const { value, lost } = connhex.toCanonical(release);
    expect(lost).toEqual([]);
    expect(value).toEqual({
      id: '0.0.3',
      version: '0.0.3',
      artifacts: [{ url: URL_, size: 4096, sha256: SHA, target: 'package', name: 'release-0.0.3.zip' }],
      extensions: {
        connhex: {
          package: 'zip',
          entrypoint: 'update.sh',
          minVersion: '0.0.1',
          maxVersion: '1.0.0',
          etag: '"r-42"',
          contentType: 'application/octet-stream',
        },
      },
    });
    expect(parseManifest(value)).toEqual(value);
    // Min-Version bounds the installed version: it is not the canonical anti-rollback floor.
    expect(value.minVersion).toBeUndefined();
  });

  it('without Content-Digest the manifest integrity is none', () => {
    const { value } = connhex.toCanonical({ url: URL_, version: '1' });
    expect(manifestIntegrity(value)).toBe('none');
    expect(value.artifacts[0]).toEqual({ url: URL_, target: 'package' });
  });

  it('rejects an invalid release with a typed error', () => {
    expect(manifestError(() => connhex.toCanonical({ ...release, url: 'ftp://x/y' })).issues[0]!.path).toBe(
      'url',
    );
    expect(manifestError(() => connhex.toCanonical({ ...release, sha256: 'ABC' })).issues[0]!.path).toBe(
      'sha256',
    );
  });
});

describe('fromCanonical', () => {
  it('is lossless for what toCanonical produced', () => {
    const { value, lost } = connhex.fromCanonical(connhex.toCanonical(release).value);
    expect(lost).toEqual([]);
    expect(value).toEqual(release);
  });

  it('lists everything a Connhex release cannot carry', () => {
    const rich: ManifestInput = {
      id: 'deploy-7',
      version: '2.0.0',
      artifacts: [
        {
          url: 'https://cdn.example/fw.zip',
          md5: '9e107d9d372bb6826bd81d3542a419d6',
          target: 'firmware',
          name: 'dir/fw.zip',
        },
        { url: 'https://cdn.example/cfg.json', target: 'config' },
      ],
      compatibility: { deviceTypes: ['gw'] },
      provides: { a: 'b' },
      depends: { c: 'd' },
      expiresAt: '2030-01-01T00:00:00Z',
      minVersion: '1.0.0',
      extensions: { degu: { x: 1 }, connhex: { package: 'tar' } },
    };
    const { value, lost } = connhex.fromCanonical(rich);
    expect(value).toEqual({ url: 'https://cdn.example/fw.zip', version: '2.0.0' });
    expect(lost.map((loss) => loss.field)).toEqual([
      'id',
      'artifacts[1]',
      'artifacts[0].target',
      'artifacts[0].md5',
      'compatibility',
      'provides',
      'depends',
      'expiresAt',
      'minVersion',
      'extensions.degu',
      'extensions.connhex',
      'artifacts[0].name',
    ]);
    for (const loss of lost) expect(loss.reason.length).toBeGreaterThan(10);
  });

  it('refuses what cannot be a release at all: invalid manifest, non-http URL, non-ASCII version', () => {
    manifestError(() => connhex.fromCanonical({ id: 'x' } as ManifestInput));
    manifestError(() =>
      connhex.fromCanonical({ id: '1', version: '1', artifacts: [{ url: 'fw.zip', target: 'package' }] }),
    );
    manifestError(() =>
      connhex.fromCanonical({ id: 'é', version: 'é', artifacts: [{ url: URL_, target: 'package' }] }),
    );
  });
});

describe('codec properties', () => {
  const version = fc.stringMatching(/^[\x21-\x7e]([\x20-\x7e]{0,12}[\x21-\x7e])?$/);
  const releaseArb = fc.record(
    {
      url: fc.constantFrom(
        URL_,
        'https://apis.example.com/iot/firmwares/fw-1/artifact',
        'http://127.0.0.1:8080/iot/ota/a',
      ),
      version,
      size: fc.nat(),
      sha256: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex')),
      minVersion: version,
      maxVersion: version,
      etag: fc.stringMatching(/^[a-z0-9]{0,8}$/).map((tag) => `"${tag}"`),
      contentType: fc.constant('application/zip'),
      fileName: fc.stringMatching(/^[A-Za-z0-9._-]{1,16}$/).filter((n) => n !== '.' && n !== '..'),
    },
    { requiredKeys: ['url', 'version'] },
  );

  it('release → canonical → release is the identity with nothing lost (1000 runs)', () => {
    fc.assert(
      fc.property(releaseArb, (value) => {
        const manifest = connhex.toCanonical(value);
        const back = connhex.fromCanonical(manifest.value);
        expect(back).toEqual({ value, lost: [] });
      }),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000) },
    );
  });

  it('arbitrary values give a conversion or a typed error (1000 runs)', () => {
    const manifestish = fc.record(
      {
        id: fc.string(),
        version: fc.string(),
        artifacts: fc.array(
          fc.record({
            url: fc.oneof(fc.webUrl(), fc.string()),
            target: fc.constantFrom('package', 'file', 'x'),
          }),
        ),
        extensions: fc.dictionary(fc.constantFrom('connhex', 'x'), fc.jsonValue()),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          manifestish,
          releaseArb.map((r) => ({ ...r, size: -1 })),
        ),
        (input) => {
          onlyTypedErrors(() => connhex.fromCanonical(input as ManifestInput));
          onlyTypedErrors(() => connhex.toCanonical(input as connhex.Release));
        },
      ),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000) },
    );
  });
});

describe('release package', () => {
  it('accepts a zip with update.sh at the root and normalises names', () => {
    expect(
      connhex.checkPackageEntries([
        { name: 'update.sh', size: 120 },
        { name: 'lib/', type: 'directory' },
        { name: './lib/new_service.py', size: 2000 },
      ]),
    ).toEqual({ entrypoint: 'update.sh', files: ['update.sh', 'lib/new_service.py'], totalBytes: 2120 });
  });

  it('refuses zip-slip, links, duplicates and oversize archives with INSTALL errors', () => {
    const bad: (connhex.PackageEntry | string)[][] = [
      ['update.sh', '../evil.sh'],
      ['update.sh', 'a/../../evil.sh'],
      ['update.sh', '/etc/passwd'],
      ['update.sh', 'C:/x'],
      ['update.sh', 'a\\..\\b'],
      ['update.sh', { name: 'link', type: 'symlink' }],
      ['update.sh', { name: 'dev', type: 'other' }],
      ['update.sh', './update.sh'],
      ['update.sh', 'a\u0000b'],
      ['update.sh', ''],
      [
        { name: 'update.sh', size: connhex.LIMITS.maxPackageBytes },
        { name: 'x', size: 1 },
      ],
      [{ name: 'update.sh', size: -1 }],
      Array.from({ length: connhex.LIMITS.maxPackageEntries + 1 }, (_, i) => `f${i}`),
    ];
    for (const entries of bad) {
      expect(() => connhex.checkPackageEntries(entries)).toThrow(
        expect.objectContaining({ code: 'INSTALL' }) as unknown as Error,
      );
    }
  });

  it('points at a nested update.sh', () => {
    expect(() => connhex.checkPackageEntries(['release/update.sh', 'release/x.py'])).toThrow(
      /zip the folder's contents/,
    );
  });

  it('knows where releases go and how update.sh ends', () => {
    expect(connhex.storePaths()).toEqual({
      storeDir: '/opt/connhex/.store/ota',
      extractDir: '/opt/connhex/.store/ota/current',
      entrypoint: '/opt/connhex/.store/ota/current/update.sh',
    });
    expect(connhex.storePaths('/srv/edge/').storeDir).toBe('/srv/edge/.store/ota');
    for (const dir of ['relative', '/a/../b', '/a\nb'])
      expect(() => connhex.storePaths(dir)).toThrow(/absolute/);
    expect(connhex.updateScriptResult({ code: 0 })).toBeUndefined();
    expect(connhex.updateScriptResult({ code: 1 })?.message).toBe('update.sh exited with status 1');
    expect(connhex.updateScriptResult({ code: null, signal: 'SIGKILL' })?.message).toMatch(/SIGKILL/);
  });
});

describe('release URLs', () => {
  it('builds and parses both endpoints', () => {
    const device = connhex.deviceReleaseUrl({ domain: 'Example.com', initId: 'dev 42' });
    expect(device).toBe('https://apis.example.com/iot/ota/dev%2042');
    expect(connhex.parseReleaseUrl(device)).toEqual({
      kind: 'device',
      baseUrl: 'https://apis.example.com',
      initId: 'dev 42',
    });
    const artifact = connhex.artifactUrl({ baseUrl: 'https://proxy.example/connhex/', firmwareId: 'fw/1' });
    expect(artifact).toBe('https://proxy.example/connhex/iot/firmwares/fw%2F1/artifact');
    expect(connhex.parseReleaseUrl(artifact)).toEqual({
      kind: 'artifact',
      baseUrl: 'https://proxy.example/connhex',
      firmwareId: 'fw/1',
    });
  });

  it('refuses plain http unless allowed, and never echoes credentials', () => {
    manifestError(() => connhex.deviceReleaseUrl({ baseUrl: 'http://127.0.0.1:8080', initId: 'a' }));
    expect(connhex.deviceReleaseUrl({ baseUrl: 'http://127.0.0.1:8080', initId: 'a', allowHttp: true })).toBe(
      'http://127.0.0.1:8080/iot/ota/a',
    );
    const withPassword = manifestError(() =>
      connhex.deviceReleaseUrl({ baseUrl: 'https://user:hunter2@apis.example.com', initId: 'a' }),
    );
    expect(withPassword.message).not.toContain('hunter2');
    const parsed = manifestError(() =>
      connhex.parseReleaseUrl('https://user:hunter2@apis.example.com/iot/ota/a'),
    );
    expect(parsed.message).not.toContain('hunter2');
    const query = manifestError(() =>
      connhex.parseReleaseUrl('https://apis.example.com/iot/ota/a?token=SECRET9'),
    );
    expect(query.message).not.toContain('SECRET9');
    for (const bad of ['not a url', 'https://apis.example.com/other', 'https://apis.example.com/iot/ota/']) {
      manifestError(() => connhex.parseReleaseUrl(bad));
    }
    manifestError(() => connhex.deviceReleaseUrl({ domain: 'bad domain', initId: 'a' }));
    manifestError(() => connhex.deviceReleaseUrl({ domain: 'example.com', initId: '' }));
  });

  it('arbitrary URLs parse or fail with a typed error (1000 runs)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.webUrl({ withQueryParameters: true }), fc.string()), (url) => {
        onlyTypedErrors(() => connhex.parseReleaseUrl(url));
      }),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000) },
    );
    expect(isOtaError(manifestError(() => connhex.parseReleaseUrl('x')))).toBe(true);
  });
});
