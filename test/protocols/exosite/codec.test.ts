import { describe, expect, it } from 'vitest';
import {
  createUpdateMachine,
  isOtaError,
  type Manifest,
  manifestIntegrity,
  parseManifest,
} from '../../../src/index.js';
import * as exosite from '../../../src/protocols/exosite/index.js';

const PID = 'd1zzd6dflnt50000';

function caught(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

const list: exosite.OtauManifest = {
  version: '1.0.2',
  name: 'Firmware update',
  description: 'firmware package updated',
  type: 'URL_LIST',
  payload: ['firmware_updatev102.txt', 'https://mycontentserver.com/dir/file2'],
};

describe('toCanonical', () => {
  it('keeps everything a re-encode needs in extensions.exosite, and says integrity is none', () => {
    const { value, lost } = exosite.toCanonical(list, { content: exosite.contentBaseUrl(PID) });
    const resolved = `https://${PID}.m2.exosite.io/provision/download?vendor=${PID}&model=${PID}&id=firmware_updatev102.txt`;
    expect(value).toEqual({
      id: '1.0.2',
      version: '1.0.2',
      artifacts: [
        { url: resolved, target: 'file', name: 'firmware_updatev102.txt' },
        { url: 'https://mycontentserver.com/dir/file2', target: 'file', name: 'file2' },
      ],
      extensions: {
        exosite: {
          name: 'Firmware update',
          description: 'firmware package updated',
          type: 'URL_LIST',
          content: { [resolved]: 'firmware_updatev102.txt' },
        },
      },
    });
    expect(parseManifest(value)).toEqual(value);
    expect(manifestIntegrity(value)).toBe('none');
    expect(lost).toHaveLength(1);
    expect(lost[0]?.field).toBe('artifacts');
    expect(lost[0]?.reason).toMatch(/no digest.*integrity is none/);
  });

  it('keeps content ids as relative artifact URLs when no content locator is given', () => {
    const { value } = exosite.toCanonical(list);
    expect(value.artifacts[0]).toEqual({
      url: 'firmware_updatev102.txt',
      target: 'file',
      name: 'firmware_updatev102.txt',
    });
    expect(value.extensions?.exosite).not.toHaveProperty('content');
  });

  it('takes the artifact target from the caller', () => {
    expect(exosite.toCanonical(list, { target: 'firmware' }).value.artifacts.map((a) => a.target)).toEqual([
      'firmware',
      'firmware',
    ]);
  });
});

describe('fromCanonical', () => {
  it('re-encodes the same manifest for every type', () => {
    const file: exosite.OtauManifest = { version: '3', name: 'F', type: 'FILE', payload: 'a.bin' };
    const json: exosite.OtauManifest = {
      version: '4',
      name: 'J',
      type: 'JSON',
      payload: { a: { b: [1, 'x'] } },
    };
    for (const manifest of [list, file, json]) {
      for (const options of [{}, { content: exosite.contentBaseUrl(PID) }]) {
        const canonical = exosite.toCanonical(manifest, options).value;
        expect(exosite.fromCanonical(canonical)).toEqual({ value: manifest, lost: [] });
      }
    }
  });

  it('encodes a plain canonical manifest as URL_LIST named after its version, listing what it loses', () => {
    const canonical: Manifest = parseManifest({
      id: 'deploy-42',
      version: '2.1.0',
      artifacts: [
        { url: 'https://cdn.example/fw.bin', size: 10, sha256: 'a'.repeat(64), target: 'firmware' },
        { url: 'https://cdn.example/app.tgz', md5: 'b'.repeat(32), target: 'package' },
      ],
      compatibility: { deviceTypes: ['x'] },
      provides: { a: 'b' },
      depends: { c: 'd' },
      expiresAt: '2030-01-01T00:00:00Z',
      minVersion: '2.0.0',
      extensions: { degu: { key: 'firmware_system' } },
    });
    const { value, lost } = exosite.fromCanonical(canonical);
    expect(value).toEqual({
      version: '2.1.0',
      name: '2.1.0',
      type: 'URL_LIST',
      payload: ['https://cdn.example/fw.bin', 'https://cdn.example/app.tgz'],
    });
    expect(lost.map((loss) => loss.field)).toEqual([
      'id',
      'artifacts[0].size',
      'artifacts[0].sha256',
      'artifacts[1].md5',
      'compatibility',
      'provides',
      'depends',
      'expiresAt',
      'minVersion',
      'extensions.degu',
    ]);
    expect(exosite.fromCanonical(canonical, { type: 'FILE' }).value.type).toBe('URL_LIST');
  });

  it('sends FILE when asked and there is one artifact; falls back to URL_LIST otherwise', () => {
    const one = parseManifest({
      id: '1',
      version: '1',
      artifacts: [{ url: 'https://a.example/x', target: 'file' }],
    });
    expect(exosite.fromCanonical(one, { type: 'FILE' }).value).toEqual({
      version: '1',
      name: '1',
      type: 'FILE',
      payload: 'https://a.example/x',
    });
    const two = exosite.toCanonical({
      version: '1',
      name: 'n',
      type: 'FILE',
      payload: 'https://a.example/x',
    }).value;
    two.artifacts.push({ url: 'https://a.example/y', target: 'file' });
    const { value, lost } = exosite.fromCanonical(two);
    expect(value).toMatchObject({
      type: 'URL_LIST',
      payload: ['https://a.example/x', 'https://a.example/y'],
    });
    expect(lost).toEqual([
      { field: 'extensions.exosite.type', reason: 'FILE carries one URL; sent as URL_LIST' },
    ]);
  });

  it('rebuilds a JSON payload from its data: URL when the extension lacks it', () => {
    const canonical = exosite.toCanonical({ version: '4', name: 'J', type: 'JSON', payload: { k: 1 } }).value;
    canonical.extensions = { exosite: { name: 'J', type: 'JSON' } };
    expect(exosite.fromCanonical(canonical).value).toEqual({
      version: '4',
      name: 'J',
      type: 'JSON',
      payload: { k: 1 },
    });
  });

  it('refuses artifacts Exosite devices must not fetch, and malformed extensions', () => {
    // A scheme-relative URL is a content path to the canonical manifest, but names a host to
    // Exosite's WHATWG-style readers: refused by the Exosite payload rule.
    const bad = parseManifest({
      id: '1',
      version: '1',
      artifacts: [{ url: '//evil.example/shadow', target: 'file' }],
    });
    expect(caught(() => exosite.fromCanonical(bad))).toMatchObject({
      code: 'MANIFEST_INVALID',
      issues: [{ path: 'artifacts[0].url', expected: exosite.PAYLOAD_ITEM_EXPECTED }],
    });
    const json = parseManifest({
      id: '1',
      version: '1',
      artifacts: [{ url: 'https://a.example/x', target: 'file' }],
      extensions: { exosite: { name: 'n', type: 'JSON' } },
    });
    expect(caught(() => exosite.fromCanonical(json))).toMatchObject({
      issues: [{ path: 'payload', expected: 'a JSON object' }],
    });
    const malformed = parseManifest({
      id: '1',
      version: '1',
      artifacts: [{ url: 'https://a.example/x', target: 'file' }],
      extensions: { exosite: { name: 'n', type: 'ZIP' } },
    });
    expect(
      isOtaError(
        caught(() => exosite.fromCanonical(malformed)),
        'MANIFEST_INVALID',
      ),
    ).toBe(true);
  });
});

describe('a tracker fed by otau_in', () => {
  it('follows the recommended happy path of Exosite statuses, then a boot report', async () => {
    const tracker = createUpdateMachine({ id: 'dev-1', role: 'tracker' });
    const path: exosite.OtauStatusCode[] = [
      'INIT',
      'TEST',
      'TEST_SUCCESS',
      'DOWNLOAD',
      'DOWNLOAD_STEP',
      'DOWNLOAD_SUCCESS',
      'INSTALL',
      'INSTALL_STEP',
      'INSTALL_SUCCESS',
      'INSTALLED_VERSION',
    ];
    let previous: string | null = null;
    for (const code of path) {
      const fields = exosite.statusToCanonical(
        exosite.decodeStatus(exosite.encodeStatus({ version: '1.0.2', status: code })),
        { updateVersion: '1.0.2', current: tracker.snapshot().state },
      );
      const result = await tracker.ingest({
        machineId: 'dev-1',
        updateId: fields.updateId,
        version: fields.version,
        state: fields.state,
        previous,
        at: new Date().toISOString(),
        error: fields.error,
      });
      expect(result.accepted, code).toBe(true);
      previous = fields.state;
    }
    expect(tracker.snapshot().lastOutcome).toMatchObject({ state: 'committed', update: { id: '1.0.2' } });
    // At the next boot the device reports its version again: read as idle, not a new update.
    const boot = exosite.statusToCanonical(
      { version: '1.0.2', status: 'INSTALLED_VERSION' },
      { updateVersion: null },
    );
    expect(boot).toMatchObject({ state: 'idle', updateId: null });
  });
});
