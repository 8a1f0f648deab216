import { describe, expect, it } from 'vitest';
import { isOtaError, type ManifestInput } from '../../../src/index.js';
import * as degu from '../../../src/protocols/degu/index.js';

const A = 'c19cde3ac637be761b372ec031a4de72';
const B = '4f3e01b7dc12348ebbd1acfe11ef6328';
const F = 'c4ff012243272695c13fa5b2f9a62b1e';

function errorOf(run: () => unknown) {
  try {
    run();
  } catch (error) {
    if (isOtaError(error, 'MANIFEST_INVALID')) return error;
    throw error;
  }
  throw new Error('expected a MANIFEST_INVALID error');
}

describe('toCanonical', () => {
  it('builds one manifest with every flagged item, in install order, id derived from the MD5s', () => {
    const desired = {
      firmware_system: 'https://example.com/degu.bin',
      firmware_system_ver: F.toUpperCase(),
      script_user: 'https://example.com/main.py',
      script_user_ver: B,
      config_user: 'https://example.com/CONFIG',
      config_user_ver: A,
      colors: ['RED'],
    };
    const reported = { script_user_ver: A, config_user_ver: A, firmware_system_ver: 'none' };
    const { value, lost } = degu.toCanonical({ desired, reported });
    expect(lost).toEqual([]);
    expect(value).toEqual({
      id: `degu:script_user=${B},config_user=${A},firmware_system=${F}`,
      version: `${B}+${A}+${F}`,
      artifacts: [
        { url: 'https://example.com/main.py', md5: B, target: 'script', name: 'main.py' },
        { url: 'https://example.com/degu.bin', md5: F, target: 'firmware', name: 'degu.bin' },
      ],
    });
  });

  it('names the whole order: a half-done order keeps its id, and the id is the one of desired alone', () => {
    const desired = {
      script_user: 'https://e.com/main.py',
      script_user_ver: B,
      firmware_system: 'https://e.com/degu.bin',
      firmware_system_ver: F,
    };
    const fresh = degu.toCanonical({ desired, reported: { script_user_ver: A, firmware_system_ver: A } })
      .value!;
    const halfDone = degu.toCanonical({ desired, reported: { script_user_ver: B, firmware_system_ver: A } })
      .value!;
    expect(halfDone.artifacts.map((artifact) => artifact.target)).toEqual(['firmware']);
    expect(halfDone.id).toBe(fresh.id);
    expect(degu.toCanonical({ desired }).value?.id).toBe(fresh.id);
    expect(degu.statusFromWire({ script_user_ver: B, firmware_system_ver: F }, desired).updateId).toBe(
      fresh.id,
    );
  });

  it('gives the same id for the same order, whatever the digest case', () => {
    const view = (md5: string) => ({ desired: { script_user: 'https://e.com/m.py', script_user_ver: md5 } });
    expect(degu.toCanonical(view(B)).value?.id).toBe(degu.toCanonical(view(B.toUpperCase())).value?.id);
  });

  it('lists an item that differs but has no URL as lost (hardened) and as unusable (strict)', () => {
    const view = { desired: { script_user_ver: B }, reported: { script_user_ver: A } };
    expect(degu.toCanonical(view)).toEqual({
      value: null,
      lost: [{ field: 'desired.script_user', reason: expect.stringContaining('no URL') }],
    });
    expect(degu.checkUpdate(view.desired, view.reported, { strictCompat: true }).update).toBe(true);
    const strict = degu.toCanonical(view, { strictCompat: true });
    expect(strict.value).toBeNull();
    expect(strict.lost).toEqual([
      { field: 'desired.script_user', reason: expect.stringContaining('fails this item') },
    ]);
  });

  it('reads deltas and /get/accepted documents', () => {
    const delta = degu.decodeMessage('update/delta', {
      state: { script_user: 'https://e.com/m.py', script_user_ver: B.toUpperCase() },
      metadata: {},
      version: 4,
      timestamp: 1,
    });
    // Without `reported`, every *_ver of the delta counts (as AWS compared them).
    expect(degu.deltaToCanonical(delta).value?.artifacts).toHaveLength(1);
    // With it, the hardened comparison ignores case (D6).
    expect(degu.deltaToCanonical(delta, { reported: { script_user_ver: B } }).value).toBeNull();
    expect(
      degu.deltaToCanonical(delta, { reported: { script_user_ver: B }, strictCompat: true }).value,
    ).not.toBeNull();

    const shadow = degu.decodeMessage('get/accepted', {
      state: {
        desired: { script_user: 'https://e.com/m.py', script_user_ver: B },
        reported: { script_user_ver: B },
      },
      version: 9,
      timestamp: 1,
    });
    expect(degu.getAcceptedToCanonical(shadow).value).toBeNull();
  });

  it('validates its input and names the failing path', () => {
    const error = errorOf(() => degu.toCanonical({ desired: { script_user_ver: 'not-a-digest' } }));
    expect(error.issues).toEqual([{ path: 'desired.script_user_ver', expected: '32 hex characters (MD5)' }]);
  });
});

describe('fromCanonical', () => {
  const manifest: ManifestInput = {
    id: 'rollout-7',
    version: '2.0.0',
    artifacts: [
      {
        url: 'https://example.com/degu.bin',
        md5: F.toUpperCase(),
        sha256: 'a'.repeat(64),
        size: 9,
        target: 'firmware',
      },
      { url: 'https://example.com/main.py', md5: B, target: 'script', name: 'app.py' },
    ],
    expiresAt: '2030-01-01T00:00:00Z',
    minVersion: '1.0.0',
  };

  it('publishes the order with lowercase digests, in the documented key order, and lists every loss', () => {
    const { value, lost } = degu.fromCanonical(manifest, { clientToken: 'op-1' });
    expect(value).toEqual({
      state: {
        desired: {
          script_user: 'https://example.com/main.py',
          script_user_ver: B,
          firmware_system: 'https://example.com/degu.bin',
          firmware_system_ver: F,
        },
      },
      clientToken: 'op-1',
    });
    expect(Object.keys(value.state.desired)).toEqual([
      'script_user',
      'script_user_ver',
      'firmware_system',
      'firmware_system_ver',
    ]);
    expect(lost.map((loss) => loss.field).sort()).toEqual(
      [
        'artifacts[0].size',
        'artifacts[0].sha256',
        'artifacts[1].name',
        'id',
        'version',
        'expiresAt',
        'minVersion',
      ].sort(),
    );
    expect(degu.decodeMessage('request', JSON.stringify(value))).toEqual(value);
  });

  it('loses nothing for a manifest that came from a Degu order', () => {
    const { value: canonical } = degu.toCanonical({
      desired: { config_user: 'https://e.com/CONFIG', config_user_ver: A },
    });
    expect(degu.fromCanonical(canonical!).lost).toEqual([]);
  });

  it('clears the other items when exclusive', () => {
    const { value } = degu.fromCanonical(
      { id: 'x', version: '1', artifacts: [{ url: 'https://e.com/c', md5: A, target: 'config' }] },
      { exclusive: true },
    );
    expect(value.state.desired).toEqual({
      script_user: null,
      script_user_ver: null,
      config_user: 'https://e.com/c',
      config_user_ver: A,
      firmware_system: null,
      firmware_system_ver: null,
    });
  });

  it('rejects what Degu cannot deliver, naming each artifact', () => {
    const error = errorOf(() =>
      degu.fromCanonical({
        id: 'x',
        version: '1',
        artifacts: [
          { url: 'https://e.com/p.tgz', md5: A, target: 'package' },
          { url: 'https://e.com/a.py', target: 'script', sha256: 'b'.repeat(64) },
          { url: 'https://e.com/c1', md5: A, target: 'config' },
          { url: 'https://e.com/c2', md5: A, target: 'config' },
          // A URL the manifest accepts (inline data) but the Degu gateway cannot download.
          { url: 'data:,firmware', md5: A, target: 'firmware' },
        ],
      }),
    );
    expect(error.issues.map((issue) => issue.path)).toEqual([
      'artifacts[0].target',
      'artifacts[1].md5',
      'artifacts[3].target',
      'artifacts[4].url',
    ]);
    expect(() => degu.fromCanonical({ id: 'x', version: '1', artifacts: [] })).toThrow(
      /at least one artifact/,
    );
    expect(() =>
      degu.fromCanonical(
        { id: 'x', version: '1', artifacts: [{ url: 'https://e.com/c', md5: A, target: 'config' }] },
        { clientToken: 't'.repeat(65) },
      ),
    ).toThrow(/clientToken/);
  });

  it('never puts a credential of a URL into an error message', () => {
    const secretUrl = 'ftp://operator:hunter2@files.example.com/fw.bin?X-Amz-Signature=deadbeefcafe';
    const error = errorOf(() =>
      degu.fromCanonical({
        id: 'x',
        version: '1',
        artifacts: [{ url: secretUrl, md5: A, target: 'firmware' }],
      }),
    );
    expect(error.message).not.toMatch(/hunter2|deadbeefcafe/);
    const decoded = errorOf(() =>
      degu.decodeMessage('update/delta', { state: { firmware_system: secretUrl }, version: 1, timestamp: 1 }),
    );
    expect(decoded.message).not.toMatch(/hunter2|deadbeefcafe/);
    expect(JSON.stringify(decoded.issues)).not.toMatch(/hunter2|deadbeefcafe/);
  });

  it('round-trips an order through the canonical manifest', () => {
    const desired = {
      script_user: 'https://e.com/main.py',
      script_user_ver: B,
      firmware_system: 'https://e.com/degu.bin',
      firmware_system_ver: F,
    };
    const { value: canonical } = degu.toCanonical({ desired });
    expect(degu.fromCanonical(canonical!).value.state.desired).toEqual(desired);
  });
});

describe('reports and clearing', () => {
  it('rejects a report whose digest is neither MD5 nor "none"', () => {
    const error = errorOf(() =>
      degu.encodeReport({ script_user_ver: 'missing', config_user_ver: 'none', firmware_system_ver: F }),
    );
    expect(error.issues).toEqual([
      { path: 'state.reported.script_user_ver', expected: '32 hex characters (MD5) or "none"' },
    ]);
  });

  it('lowercases digests and carries a clientToken', () => {
    const request = degu.encodeReport(
      { script_user_ver: A.toUpperCase(), config_user_ver: 'none', firmware_system_ver: F },
      { clientToken: 'boot-1' },
    );
    expect(request).toEqual({
      state: { reported: { script_user_ver: A, config_user_ver: 'none', firmware_system_ver: F } },
      clientToken: 'boot-1',
    });
  });

  it('hashes a view into a larger buffer by its own bytes only', () => {
    const buffer = new TextEncoder().encode('xxprint(1)yy');
    expect(degu.md5Ver(buffer.subarray(2, 10))).toBe(degu.md5Ver(new TextEncoder().encode('print(1)')));
  });

  it('clears all items by default, or the items of a manifest, with an optional version lock', () => {
    expect(degu.encodeClearDesired().state.desired).toEqual({
      script_user: null,
      script_user_ver: null,
      config_user: null,
      config_user_ver: null,
      firmware_system: null,
      firmware_system_ver: null,
    });
    const cleared = degu.encodeClearDesired(
      { artifacts: [{ url: 'https://e.com/fw', md5: F, target: 'firmware' }] },
      { version: 12, clientToken: 'c' },
    );
    expect(cleared).toEqual({
      state: { desired: { firmware_system: null, firmware_system_ver: null } },
      clientToken: 'c',
      version: 12,
    });
  });
});
