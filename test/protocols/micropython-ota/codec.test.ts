/** Release ⇄ canonical manifest, the status mapping, JSON Schemas and browser safety. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { ManifestError } from '../../../src/core/errors.js';
import { UPDATE_STATES } from '../../../src/core/states.js';
import { type ManifestInput, manifestIntegrity } from '../../../src/manifest/schema.js';
import * as micropythonOta from '../../../src/protocols/micropython-ota/index.js';

const { fromCanonical, statusMapping, toCanonical } = micropythonOta;

const release = {
  host: 'https://ota.example.com',
  project: 'sample',
  version: 'v1.0.1',
  filenames: ['boot.py', 'main.py', 'lib/util.mpy', 'config.json'],
};

function issuesOf(run: () => unknown) {
  try {
    run();
  } catch (error) {
    if (error instanceof ManifestError) return error.issues;
    throw error;
  }
  throw new Error('expected a ManifestError');
}

describe('micropython_ota ⇄ canonical manifest', () => {
  it('turns a release into a manifest with integrity none, and says so', () => {
    const { value, lost } = toCanonical(release);
    expect(value).toEqual({
      id: 'sample@v1.0.1',
      version: 'v1.0.1',
      artifacts: [
        { url: 'https://ota.example.com/sample/v1.0.1_boot.py', target: 'script', name: 'boot.py' },
        { url: 'https://ota.example.com/sample/v1.0.1_main.py', target: 'script', name: 'main.py' },
        { url: 'https://ota.example.com/sample/v1.0.1_lib/util.mpy', target: 'script', name: 'lib/util.mpy' },
        { url: 'https://ota.example.com/sample/v1.0.1_config.json', target: 'file', name: 'config.json' },
      ],
      extensions: {
        micropython_ota: { host: 'https://ota.example.com', project: 'sample', layout: 'prefix' },
      },
    });
    expect(manifestIntegrity(value)).toBe('none');
    expect(lost).toEqual([{ field: 'artifacts', reason: expect.stringContaining('integrity is none') }]);
  });

  it('round-trips a release through the manifest without loss, in both layouts', () => {
    for (const layout of ['prefix', 'subdirectory'] as const) {
      const input = { ...release, layout };
      const back = fromCanonical(toCanonical(input).value);
      expect(back).toEqual({ value: input, lost: [] });
    }
  });

  it('infers host, project and layout from the URLs when the extension is gone', () => {
    const { value } = toCanonical({ ...release, layout: 'subdirectory' });
    const { extensions: _dropped, ...bare } = value;
    expect(fromCanonical(bare).value).toEqual({ ...release, layout: 'subdirectory' });
  });

  it('converts a foreign manifest and lists everything it drops', () => {
    const foreign: ManifestInput = {
      id: 'deploy-42',
      version: 'v2',
      artifacts: [
        {
          url: 'https://ota.example.com/fleet/v2/main.py',
          name: 'main.py',
          target: 'firmware',
          size: 10,
          md5: '100e360cc768f15a35ed9ddf05e354ce',
          sha256: '03e693d9f2f687e0f40e36a8df7fcb4d1c22974012b7c2a55c000eb30f305824',
        },
      ],
      compatibility: { deviceTypes: ['esp32'] },
      provides: { app: 'v2' },
      depends: { base: '1' },
      expiresAt: '2030-01-01T00:00:00Z',
      minVersion: 'v1',
      extensions: { thingsboard: { type: 'firmware' } },
    };
    const { value, lost } = fromCanonical(foreign);
    expect(value).toEqual({
      host: 'https://ota.example.com',
      project: 'fleet',
      version: 'v2',
      filenames: ['main.py'],
      layout: 'subdirectory',
    });
    expect(lost.map((loss) => loss.field)).toEqual([
      'id',
      'artifacts[0].sha256',
      'artifacts[0].md5',
      'artifacts[0].size',
      'artifacts[0].target',
      'compatibility',
      'provides',
      'depends',
      'expiresAt',
      'minVersion',
      'extensions.thingsboard',
    ]);
  });

  it('refuses a manifest micropython_ota cannot serve, naming the path', () => {
    const url = 'https://ota.example.com/sample/v1_main.py';
    expect(
      issuesOf(() => fromCanonical({ id: 'x', version: 'v 1', artifacts: [{ url, target: 'script' }] })),
    ).toEqual([
      {
        path: 'version',
        expected: expect.stringMatching(/^micropython_ota a version tag: .*; found U\+0020$/),
      },
    ]);
    expect(
      issuesOf(() =>
        fromCanonical({
          id: 'x',
          version: 'v1',
          artifacts: [
            { url, target: 'script', name: 'main.py' },
            { url: 'https://cdn.example/other.py', target: 'script', name: 'other.py' },
          ],
        }),
      ),
    ).toEqual([{ path: 'artifacts[1].url', expected: expect.stringContaining('<host>/<project>') }]);
    expect(
      issuesOf(() =>
        fromCanonical({ id: 'x', version: 'v1', artifacts: [{ url: 'https://h/p/..', target: 'file' }] }),
      ),
    ).toEqual([{ path: 'artifacts[0].name', expected: 'a relative file name' }]);
  });

  it('refuses an extension that does not match the artifact URLs', () => {
    const { value } = toCanonical(release);
    const moved = {
      ...value,
      extensions: {
        micropython_ota: { host: 'https://elsewhere.example', project: 'sample', layout: 'prefix' },
      },
    };
    expect(issuesOf(() => fromCanonical(moved)).map((issue) => issue.path)).toEqual([
      'artifacts[0].url',
      'artifacts[1].url',
      'artifacts[2].url',
      'artifacts[3].url',
    ]);
  });

  it('decodes a release from JSON text, naming each bad path', () => {
    expect(micropythonOta.decodeRelease(JSON.stringify(release))).toEqual({ ...release, layout: 'prefix' });
    expect(
      issuesOf(() => micropythonOta.decodeRelease('{"host":"http://h","project":"p","version":"v1"')),
    ).toEqual([{ path: '', expected: 'valid JSON' }]);
    expect(
      issuesOf(() =>
        micropythonOta.decodeRelease({
          ...release,
          filenames: ['a.py', 'a.py'],
          layout: 'flat',
          version: '',
        }),
      ).map((issue) => issue.path),
    ).toEqual(['version', 'filenames', 'layout']);
  });
});

describe('micropython_ota status mapping (local-only)', () => {
  const wires = micropythonOta.LOCAL_PHASES;

  it('maps every local phase and every canonical state', () => {
    expect(Object.keys(statusMapping.toCanonical).sort()).toEqual([...wires].sort());
    expect(Object.keys(statusMapping.fromCanonical).sort()).toEqual([...UPDATE_STATES].sort());
    expect(statusMapping.system).toBe('micropython_ota');
  });

  it('round-trips every local phase', () => {
    for (const wire of wires) {
      const state = statusMapping.toCanonical[wire];
      const back = statusMapping.fromCanonical[state];
      expect(back, wire).not.toBeNull();
      expect(statusMapping.toCanonical[back!], wire).toBe(state);
    }
  });

  it('round-trips every expressible canonical state; installed reads back as committed', () => {
    for (const state of UPDATE_STATES) {
      const wire = statusMapping.fromCanonical[state];
      if (wire === null) {
        expect(statusMapping.notes?.[state], state).toBeTruthy();
        continue;
      }
      const expected = state === 'installed' ? 'committed' : state;
      expect(statusMapping.toCanonical[wire], state).toBe(expected);
    }
    expect(UPDATE_STATES.filter((state) => statusMapping.fromCanonical[state] === null)).toEqual([
      'verifying',
      'rolling_back',
      'verify_failed',
      'rolled_back',
      'canceled',
    ]);
  });

  it('names a device status by its local phase', () => {
    expect(micropythonOta.statusToPhase({ state: 'downloaded' })).toBe('staged');
    expect(micropythonOta.statusToPhase({ state: 'canceled' })).toBeNull();
    expect(micropythonOta.phaseToState('version_written')).toBe('committed');
  });
});

describe('micropython_ota module hygiene', () => {
  it('emits a JSON Schema for every listed schema', () => {
    for (const [name, schema] of Object.entries(micropythonOta.jsonSchemas)) {
      const json = z.toJSONSchema(schema, { io: 'input' });
      expect(json.type, name).toBe('object');
    }
    const release = z.toJSONSchema(micropythonOta.jsonSchemas.release!, { io: 'input' });
    expect(release.required).toEqual(['host', 'project', 'version', 'filenames']);
  });

  it('is browser-safe and imports no other protocol', () => {
    const dir = join(import.meta.dirname, '../../../src/protocols/micropython-ota');
    for (const file of readdirSync(dir)) {
      const source = readFileSync(join(dir, file), 'utf8');
      expect(source, file).not.toMatch(/from '(node:|mqtt)|\bBuffer\./);
      // Outside its folder a protocol may use the shared protocol vocabulary, core and the
      // canonical manifest, nothing else (no other protocol, machine, transport, device, cloud).
      for (const [, specifier] of source.matchAll(/from '(\.\.\/[^']*)'/g)) {
        expect(specifier, file).toMatch(
          /^\.\.\/(?:(?:contract|conversion|losses|signed-statement|update-status)\.js|\.\.\/(?:core|manifest)\/[\w-]+\.js)$/,
        );
      }
    }
  });
});
