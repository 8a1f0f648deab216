import { describe, expect, it } from 'vitest';
import { ManifestError } from '../../../src/core/errors.js';
import { type ManifestInput, manifestIntegrity, parseManifest } from '../../../src/manifest/schema.js';
import * as insighIo from '../../../src/protocols/insighio/index.js';
import { CONTEXT, DK, I2_URL, ORDER } from './fixtures.js';

/** The firmware's URL without its key: the key stays out of what is persisted. */
const URL_WITHOUT_KEY = I2_URL.replace(/&dk=[^&]+/, '');

const CANONICAL = {
  id: 'fa8884d2',
  version: 'fa8884d2',
  artifacts: [{ url: URL_WITHOUT_KEY, size: 3987, target: 'package', name: 'fa8884d2.tar.gz' }],
  extensions: { insighio: { fileId: 'fa8884d2', fileType: '.tar.gz' } },
};

describe('insigh.io order <-> canonical manifest', () => {
  it('toCanonical keeps the key out of the manifest by default, and fromCanonical still works', () => {
    const { value } = insighIo.toCanonical(ORDER, CONTEXT);
    const url = new URL(value.artifacts[0]!.url);
    expect(url.searchParams.has('dk')).toBe(false);
    expect(JSON.stringify(value)).not.toContain(DK);
    expect(url.searchParams.get('fuid')).toBe(ORDER.fileId);
    expect(insighIo.fromCanonical(value).value).toMatchObject({ fileId: ORDER.fileId, size: ORDER.size });
  });

  it("toCanonical with deviceKeyInUrl: true gives the firmware's own URL, key included", () => {
    const { value } = insighIo.toCanonical(ORDER, { ...CONTEXT, deviceKeyInUrl: true });
    expect(value.artifacts[0]?.url).toBe(I2_URL);
  });

  it('downloadAuth adds dk as a query credential, on the wire only', () => {
    expect(insighIo.downloadAuth(DK)).toEqual({ type: 'query', name: 'dk', value: DK });
  });

  it('toCanonical: one package artifact, download URL from the context, size from s, no digest', () => {
    const { value, lost } = insighIo.toCanonical(ORDER, CONTEXT);
    expect(value).toEqual(CANONICAL);
    expect(lost).toEqual([]);
    expect(manifestIntegrity(value)).toBe('none');
    expect(parseManifest(value)).toEqual(value);
  });

  it('toCanonical uses the configured base URL and refuses http unless allowed', () => {
    const { value } = insighIo.toCanonical(ORDER, { ...CONTEXT, baseUrl: 'https://ota.test/rp' });
    expect(value.artifacts[0]?.url).toBe(
      URL_WITHOUT_KEY.replace('https://console.insigh.io/mf-rproxy', 'https://ota.test/rp'),
    );
    expect(() => insighIo.toCanonical(ORDER, { ...CONTEXT, baseUrl: 'http://ota.test' })).toThrow(/https/);
    const insecure = insighIo.toCanonical(ORDER, {
      ...CONTEXT,
      baseUrl: 'http://ota.test',
      allowInsecureHttp: true,
    });
    expect(insecure.value.artifacts[0]?.url).toMatch(/^http:\/\/ota\.test\/packages\/download\?/);
  });

  it('toCanonical refuses an invalid order with MANIFEST_INVALID', () => {
    expect(() => insighIo.toCanonical({ ...ORDER, size: 0 }, CONTEXT)).toThrow(ManifestError);
  });

  it('fromCanonical inverts toCanonical exactly, losing nothing', () => {
    expect(insighIo.fromCanonical(CANONICAL)).toEqual({ value: ORDER, lost: [] });
  });

  it('fromCanonical without the extension: file id from the URL or the id, file type from the name or URL', () => {
    const { extensions: _, ...withoutExtension } = CANONICAL;
    const fromUrl = { ...withoutExtension, id: 'deploy-1', version: '2.0' };
    expect(insighIo.fromCanonical(fromUrl).value).toEqual(ORDER);
    const fromId: ManifestInput = {
      id: 'abc123',
      version: 'abc123',
      artifacts: [{ url: 'https://cdn.test/builds/pkg.TAR', size: 10, target: 'package' }],
    };
    expect(insighIo.fromCanonical(fromId).value).toEqual({ fileId: 'abc123', fileType: '.tar', size: 10 });
    const named: ManifestInput = {
      ...fromId,
      artifacts: [{ url: 'https://cdn.test/blob/123', size: 10, target: 'package', name: 'release.tar.gz' }],
    };
    expect(insighIo.fromCanonical(named).value.fileType).toBe('.tar.gz');
  });

  it('fromCanonical lists everything the order cannot carry', () => {
    const rich: ManifestInput = {
      id: 'deploy-7',
      version: '3.1.0',
      artifacts: [
        {
          url: 'https://cdn.test/app.tar.gz',
          size: 100,
          md5: '9e107d9d372bb6826bd81d3542a419d6',
          sha256: 'd7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592',
          target: 'firmware',
          name: 'app.tar.gz',
        },
      ],
      compatibility: { deviceTypes: ['esp32'] },
      provides: { app: '3.1.0' },
      depends: { base: '1' },
      expiresAt: '2030-01-01T00:00:00Z',
      minVersion: '3.0.0',
      extensions: { insighio: { fileId: 'fa8884d2' }, degu: { key: 'x' } },
    };
    const { value, lost } = insighIo.fromCanonical(rich);
    expect(value).toEqual({ fileId: 'fa8884d2', fileType: '.tar.gz', size: 100 });
    expect(lost.map((loss) => loss.field)).toEqual([
      'id',
      'version',
      'artifacts[0].url',
      'artifacts[0].md5',
      'artifacts[0].sha256',
      'artifacts[0].target',
      'artifacts[0].name',
      'compatibility',
      'provides',
      'depends',
      'expiresAt',
      'minVersion',
      'extensions.degu',
    ]);
    expect(lost.find((loss) => loss.field === 'artifacts[0].sha256')?.reason).toBe(
      'insigh.io orders carry no digest (only the size)',
    );
  });

  it('fromCanonical refuses what cannot be an order, naming the path', () => {
    const cases: [unknown, string][] = [
      [{ ...CANONICAL, artifacts: [CANONICAL.artifacts[0], CANONICAL.artifacts[0]] }, 'artifacts'],
      [{ ...CANONICAL, artifacts: [{ ...CANONICAL.artifacts[0], size: undefined }] }, 'artifacts[0].size'],
      [
        { id: 'a.b', version: '1', artifacts: [{ url: 'https://x.test/p.tar', size: 1, target: 'package' }] },
        'id',
      ],
      [
        { id: 'ab', version: '1', artifacts: [{ url: 'https://x.test/p.zip', size: 1, target: 'package' }] },
        'artifacts[0].name',
      ],
      [{ ...CANONICAL, extensions: { insighio: 'fa8884d2' } }, 'extensions.insighio'],
      [{ ...CANONICAL, extensions: { insighio: { fileType: 'tar' } } }, 'extensions.insighio'],
      [{ id: '' }, 'id'],
      ['not a manifest', ''],
    ];
    for (const [input, path] of cases) {
      let error: unknown;
      try {
        insighIo.fromCanonical(input);
      } catch (caught) {
        error = caught;
      }
      expect(error, JSON.stringify(input)).toBeInstanceOf(ManifestError);
      expect((error as ManifestError).issues.map((issue) => issue.path)).toContain(path);
    }
  });

  it('no loss reason or error of the conversion contains the device key', () => {
    const { value } = insighIo.toCanonical(ORDER, { ...CONTEXT, deviceKeyInUrl: true });
    // Asked to, the manifest holds the key (as the firmware's URL does)...
    expect(value.artifacts[0]?.url).toContain(DK);
    // ...but what fromCanonical says about it never does.
    const moved = {
      ...value,
      artifacts: [{ ...value.artifacts[0]!, url: `https://other.test/x.tar?dk=${DK}` }],
    };
    const { lost } = insighIo.fromCanonical(moved);
    expect(lost.map((loss) => loss.field)).toEqual(['artifacts[0].url']);
    expect(JSON.stringify(lost)).not.toContain(DK);
  });
});
