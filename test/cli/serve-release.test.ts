/**
 * `otakit release` into a root and `otakit serve` on it, checked with real HTTP requests: the
 * version file, a Range request, Basic auth (401 without credentials), a new release and a
 * rollback seen through the server; the password never printed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './fixtures.js';
import { type RunningCli, runCli, startCli } from './run-cli.js';

const PASSWORD = 'S3cret-pa55word';
const AUTH = `Basic ${Buffer.from(`otauser:${PASSWORD}`).toString('base64')}`;
const MAIN_V1 = 'print("v1.0.1")\n'.repeat(20);

let root: string;
let filesV1: string;
let filesV2: string;
let server: RunningCli;
let url: string;

const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${url}${path}`, { headers: { authorization: AUTH, ...headers } });

beforeAll(async () => {
  const dir = await tempDir('serve');
  root = join(dir, 'root');
  filesV1 = join(dir, 'v1');
  filesV2 = join(dir, 'v2');
  await mkdir(root);
  await mkdir(join(filesV1, 'lib'), { recursive: true });
  await mkdir(filesV2);
  await writeFile(join(filesV1, 'main.py'), MAIN_V1);
  await writeFile(join(filesV1, 'lib', 'util.py'), 'X = 1\n');
  await writeFile(join(filesV2, 'main.py'), 'print("v2")\n');
  const published = await runCli(['release', root, 'v1.0.1', '--project', 'sample', '--files', filesV1]);
  expect(published.code, published.stderr).toBe(0);
  server = startCli(
    ['serve', root, '--port', '0', '--user', 'otauser', '--password-env', 'OTA_PASSWORD', '--log'],
    {
      env: { OTA_PASSWORD: PASSWORD },
    },
  );
  const line = await server.line(/serving .* at http:\/\//);
  url = /at (http:\/\/\S+)/.exec(line)![1]!;
});

afterAll(async () => {
  await server?.stop();
});

describe('otakit serve + release', () => {
  it('serves the version file and a Range of a file; 401 without credentials', async () => {
    const version = await get('/sample/version');
    expect(version.status).toBe(200);
    expect((await version.text()).trim()).toBe('v1.0.1');
    const range = await get('/sample/v1.0.1_main.py', { range: 'bytes=0-9' });
    expect(range.status).toBe(206);
    expect(range.headers.get('content-range')).toBe(`bytes 0-9/${MAIN_V1.length}`);
    expect(await range.text()).toBe(MAIN_V1.slice(0, 10));
    const anonymous = await fetch(`${url}/sample/version`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic/);
  });

  it('a new release is served; a rollback serves the old tag again; --list shows both', async () => {
    // Without --files, the live release's files are published again under the new tag.
    const again = await runCli(['release', root, 'v1.0.2', '--project', 'sample', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      version: 'v1.0.2',
      live: true,
      files: ['lib/util.py', 'main.py'].sort(),
    });
    const v2 = await runCli([
      'release',
      root,
      'v2.0.0',
      '--project',
      'sample',
      '--files',
      filesV2,
      '--layout',
      'subdirectory',
    ]);
    expect(v2.code, v2.stderr).toBe(0);
    expect((await (await get('/sample/version')).text()).trim()).toBe('v2.0.0');
    expect(await (await get('/sample/v2.0.0/main.py')).text()).toBe('print("v2")\n');
    const rollback = await runCli(['release', root, '--project', 'sample', '--rollback', 'v1.0.1']);
    expect(rollback.code, rollback.stderr).toBe(0);
    expect((await (await get('/sample/version')).text()).trim()).toBe('v1.0.1');
    const list = await runCli(['release', root, '--project', 'sample', '--list', '--json']);
    expect(list.code).toBe(0);
    const listed = JSON.parse(list.stdout) as { live: string; releases: { version: string }[] };
    expect(listed.live).toBe('v1.0.1');
    expect(listed.releases.map((release) => release.version).sort()).toEqual(['v1.0.1', 'v1.0.2', 'v2.0.0']);
  });

  it('refuses to activate a tag never published (exit 1, the field named)', async () => {
    const result = await runCli(['release', root, 'v9.9.9', '--project', 'sample', '--activate']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('version');
  });

  it('stops on SIGTERM with exit 0, having never printed the password', async () => {
    await get('/sample/version');
    const result = await server.stop('SIGTERM');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('200 /sample/version');
    expect(`${result.stdout}${result.stderr}`).not.toContain(PASSWORD);
  });
});
