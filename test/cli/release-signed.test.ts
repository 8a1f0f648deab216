/**
 * `otakit release --manifest <signed.json>`, run as the command: the signed statement lands
 * beside the release as `<project>/<version>.otakit.json` (what otakit devices fetch before any
 * download), and a manifest that is not this release's (another version, unsigned) is refused
 * naming the field, before a file of the release is written. The independent runs share one
 * `Promise.all`, since each start of the command costs about a second of CPU.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/manifest/schema.js';
import { signManifest } from '../../src/manifest/trust.js';
import { testKey } from '../security/keys.js';
import { tempDir, writeJson } from './fixtures.js';
import { runCli } from './run-cli.js';

const MAIN_PY = 'print("v2")\n';
const PROJECT = 'sample';

async function signedRelease(version: string): Promise<Manifest> {
  const key = await testKey(7);
  return signManifest(
    {
      id: `${PROJECT}@${version}`,
      version,
      artifacts: [
        {
          url: `https://ota.example.test/${PROJECT}/${version}_main.py`,
          target: 'file',
          name: 'main.py',
          size: MAIN_PY.length,
          sha256: '0d3b5e1e5b9e0b3c1b8fd3e3b1e5a4c9f2b6d7a8c9e0f1a2b3c4d5e6f7a8b9c0',
        },
      ],
    },
    [key.seed],
  );
}

describe('otakit release --manifest', () => {
  it("publishes the release's signed statement beside it, and refuses one that is not this release's", async () => {
    const dir = await tempDir('release-signed');
    const files = join(dir, 'build');
    await mkdir(files);
    await writeFile(join(files, 'main.py'), MAIN_PY);
    const signed = await signedRelease('v2');
    const { signature: _none, ...unsigned } = signed;
    const manifests = {
      good: await writeJson(dir, 'v2.signed.json', signed),
      otherVersion: await writeJson(dir, 'v3.signed.json', await signedRelease('v3')),
      unsigned: await writeJson(dir, 'v2.json', unsigned),
    };
    const roots = { good: join(dir, 'good'), other: join(dir, 'other'), unsigned: join(dir, 'unsigned') };
    const release = (root: string, manifest: string, ...extra: string[]) =>
      runCli(['release', root, ...extra, '--project', PROJECT, '--files', files, '--manifest', manifest]);

    const [good, other, bare, misuse] = await Promise.all([
      release(roots.good, manifests.good, 'v2', '--json'),
      release(roots.other, manifests.otherVersion, 'v2'),
      release(roots.unsigned, manifests.unsigned, 'v2'),
      release(roots.good, manifests.good, '--rollback', 'v1'),
    ]);

    expect(good.code, good.stderr).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ version: 'v2', live: true, signed: true });
    const statement = JSON.parse(await readFile(join(roots.good, PROJECT, 'v2.otakit.json'), 'utf8'));
    expect(statement).toEqual(signed);
    expect(await readFile(join(roots.good, PROJECT, 'version'), 'utf8')).toMatch(/^v2\s*$/);

    // Not this release's manifest: exit 1 naming the field, and nothing of the release written.
    expect(other.code, other.stderr).toBe(1);
    expect(other.stderr).toContain('manifest.version');
    expect(bare.code, bare.stderr).toBe(1);
    expect(bare.stderr).toContain('manifest.signature');
    for (const root of [roots.other, roots.unsigned]) {
      expect(existsSync(join(root, PROJECT, 'version'))).toBe(false);
      expect(existsSync(join(root, PROJECT, 'v2.otakit.json'))).toBe(false);
      expect(existsSync(join(root, PROJECT, 'v2_main.py'))).toBe(false);
    }

    // Only a release being published can be signed this way.
    expect(misuse.code, misuse.stderr).toBe(2);
    expect(misuse.stderr).toContain('--manifest');
  });
});
