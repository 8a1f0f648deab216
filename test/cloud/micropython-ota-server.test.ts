/**
 * The micropython_ota server and publisher end to end with the real device agent: publish a
 * release and watch a device install it, another in the subdirectory layout, a rollback, refused
 * credentials, a publish that crashes before its `version` file, a server restart; HTTP
 * semantics (HEAD, Range, ETag) with plain fetch; traversal refused, and a property test of the
 * path resolution.
 */
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isOtaError, ManifestError } from '../../src/core/errors.js';
import {
  createMicropythonOtaAgent,
  type MicropythonOtaAgent,
} from '../../src/node/agents/micropython-ota.js';
import { otaUpdate } from '../../src/node/agents/micropython-ota-once.js';
import {
  activateRelease,
  listReleases,
  publishRelease,
} from '../../src/node/cloud/micropython-ota-publish.js';
import {
  isInside,
  RefusedPathError,
  requestSegments,
  resolveInsideRoot,
} from '../../src/node/cloud/micropython-ota-request-path.js';
import {
  type FetchEvent,
  type StartedMicropythonOtaServer,
  startMicropythonOtaServer,
} from '../../src/node/cloud/micropython-ota-server.js';
import { readTree, writeTree } from '../device/micropython-ota-support.js';

const AUTH = { user: 'otauser', password: 'pw-Server-Secret-9' };
const PROJECT = 'app';
const FILENAMES = ['main.py', 'lib/util.py'];
const encode = (text: string) => new TextEncoder().encode(text);
const files = (version: string) => ({
  'main.py': encode(`print("${version}")\n`),
  'lib/util.py': encode(`util ${version}\n`),
});
const installed = (version: string) => ({
  'main.py': `print("${version}")\n`,
  'lib/util.py': `util ${version}\n`,
  'boot.py': 'boot\n',
  version,
});

const directories: string[] = [];
const servers: StartedMicropythonOtaServer[] = [];
const agents: MicropythonOtaAgent[] = [];
afterEach(async () => {
  await Promise.allSettled(agents.splice(0).map((agent) => agent.stop({ cancel: true })));
  await Promise.allSettled(servers.splice(0).map((server) => server.close()));
});
afterAll(async () => {
  await Promise.all(directories.splice(0).map((path) => rm(path, { recursive: true, force: true })));
});

async function temporary(): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), 'otakit-mpota-server-'));
  directories.push(path);
  return path;
}

async function serve(root: string, extra: Partial<Parameters<typeof startMicropythonOtaServer>[0]> = {}) {
  const server = await startMicropythonOtaServer({ root, auth: AUTH, ...extra });
  servers.push(server);
  const events: FetchEvent[] = [];
  server.handler.on('fetch', (event) => events.push(event));
  return { server, events };
}

/** A device with boot.py and release 0.9 of the app, and the options of otaUpdate for it. */
async function device(host: string, layout: 'prefix' | 'subdirectory' = 'prefix', password = AUTH.password) {
  const directory = await temporary();
  await writeTree(join(directory, 'app'), { ...installed('0.9'), version: '0.9' });
  return {
    directory,
    options: {
      target: { host, project: PROJECT, filenames: FILENAMES, layout, auth: { user: AUTH.user, password } },
      appDirectory: join(directory, 'app'),
      stateDirectory: join(directory, 'agent'),
      fsync: false,
      hardReset: false,
      download: { retry: { attempts: 1, baseDelayMs: 5, maxDelayMs: 10 } },
    },
  };
}

const authorization = `Basic ${btoa(`${AUTH.user}:${AUTH.password}`)}`;

/** A raw request, sent as given (fetch and URL would normalise `..` away). */
function raw(
  url: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      { hostname, port, path, headers: { authorization, ...headers } },
      (response) => {
        let body = '';
        response.setEncoding('latin1');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    request.on('error', reject);
    request.end();
  });
}

describe('micropython_ota server with the device agent', () => {
  it('publish v1 → the agent installs it; v2 in the subdirectory layout; rollback to v1; the fetches are events', async () => {
    const root = await temporary();
    await publishRelease({ root, project: PROJECT, version: 'v1', files: files('v1'), fsync: false });
    const { server, events } = await serve(root);
    const { directory, options } = await device(server.url);

    const agent = createMicropythonOtaAgent({ ...options, poll: { intervalMs: 3_600_000 } });
    agents.push(agent);
    const outcome = new Promise((resolve) => agent.once('outcome', resolve));
    await agent.start();
    expect(await outcome).toMatchObject({ state: 'committed', update: { version: 'v1' } });
    await agent.stop();
    expect(await readTree(join(directory, 'app'))).toEqual(installed('v1'));
    expect(events.find((event) => event.kind === 'version')).toMatchObject({
      path: '/app/version',
      status: 200,
      version: 'v1',
      user: AUTH.user,
      remoteAddress: '127.0.0.1',
    });
    expect(
      events.filter((event) => event.kind === 'file').map((event) => [event.path, event.status]),
    ).toEqual([
      ['/app/v1_main.py', 200],
      ['/app/v1_lib/util.py', 200],
    ]);

    // v2 in the subdirectory layout, for a device configured so.
    await publishRelease({
      root,
      project: PROJECT,
      version: 'v2',
      files: files('v2'),
      layout: 'subdirectory',
      fsync: false,
    });
    const subdirectory = { ...options, target: { ...options.target, layout: 'subdirectory' as const } };
    expect(await otaUpdate(subdirectory)).toMatchObject({
      changed: true,
      version: 'v2',
      outcome: { state: 'committed' },
    });
    expect(await readTree(join(directory, 'app'))).toEqual(installed('v2'));
    expect(events.at(-1)).toMatchObject({ path: '/app/v2/lib/util.py', status: 200 });

    // Rollback: v1 is live again, its files kept.
    expect(await activateRelease({ root, project: PROJECT, version: 'v1', fsync: false })).toMatchObject({
      layout: 'prefix',
      live: true,
    });
    expect(await otaUpdate(options)).toMatchObject({
      changed: true,
      version: 'v1',
      outcome: { state: 'committed' },
    });
    expect(await readTree(join(directory, 'app'))).toEqual(installed('v1'));

    // Publishing the older tag again (the same bytes) is a rollback too.
    await publishRelease({
      root,
      project: PROJECT,
      version: 'v2',
      files: files('v2'),
      layout: 'subdirectory',
      fsync: false,
    });
    await publishRelease({ root, project: PROJECT, version: 'v1', files: files('v1'), fsync: false });
    expect(await otaUpdate(options)).toMatchObject({ changed: false, version: 'v1' });

    const listed = await listReleases({ root, project: PROJECT });
    expect(listed.live).toBe('v1');
    expect(listed.releases.map((release) => [release.version, release.layout, release.files])).toEqual(
      expect.arrayContaining([
        ['v1', 'prefix', FILENAMES],
        ['v2', 'subdirectory', FILENAMES],
      ]),
    );
    // No temporary file is left behind.
    expect((await readdir(join(root, PROJECT))).filter((name) => name.startsWith('.'))).toEqual([]);
  }, 120_000);

  it('wrong Basic credentials: the device gets a typed 401 and installs nothing; no secret in any log line', async () => {
    const root = await temporary();
    await publishRelease({ root, project: PROJECT, version: 'v1', files: files('v1'), fsync: false });
    const lines: string[] = [];
    const log = (message: string, context?: Record<string, unknown>) =>
      lines.push(`${message} ${JSON.stringify(context)}`);
    const { server, events } = await serve(root, {
      logger: { debug: log, info: log, warn: log, error: log },
    });
    const wrong = 'Wrong-Pass-31';
    const { directory, options } = await device(server.url, 'prefix', wrong);
    const error = await otaUpdate(options).then(
      () => null,
      (problem: unknown) => problem,
    );
    expect(isOtaError(error, 'TRANSPORT')).toBe(true);
    expect(error).toMatchObject({ status: 401 });
    expect(await readTree(join(directory, 'app'))).toEqual({ ...installed('0.9'), version: '0.9' });
    expect(events).toEqual([expect.objectContaining({ path: '/app/version', status: 401 })]);
    expect(events[0]!.user).toBeUndefined();
    const text = lines.join('\n');
    expect(text).toContain('401');
    for (const secret of [wrong, AUTH.password, btoa(`${AUTH.user}:${wrong}`), authorization]) {
      expect(text).not.toContain(secret);
    }
  }, 120_000);

  it('per-project credentials replace the global ones; a project without auth is open', async () => {
    const root = await temporary();
    await publishRelease({ root, project: 'fleet/a', version: 'v1', files: files('v1'), fsync: false });
    await publishRelease({ root, project: 'open', version: 'v1', files: files('v1'), fsync: false });
    const server = await startMicropythonOtaServer({
      root,
      projectAuth: {
        'fleet/a': [
          { user: 'a', password: 'pa-1' },
          { user: 'b', password: 'pb-2' },
        ],
      },
    });
    servers.push(server);
    expect((await fetch(`${server.url}/open/version`)).status).toBe(200);
    expect((await fetch(`${server.url}/fleet/a/version`)).status).toBe(401);
    const b = { authorization: `Basic ${btoa('b:pb-2')}` };
    expect((await fetch(`${server.url}/fleet/a/version`, { headers: b })).status).toBe(200);
    const crossed = { authorization: `Basic ${btoa('a:pb-2')}` };
    expect((await fetch(`${server.url}/fleet/a/version`, { headers: crossed })).status).toBe(401);
  });

  it('a publish that stops between the files and the version file: devices keep seeing the old release; a restarted server serves the same', async () => {
    const root = await temporary();
    await publishRelease({ root, project: PROJECT, version: 'v1', files: files('v1'), fsync: false });
    let { server } = await serve(root);
    const { directory, options } = await device(server.url);
    expect(await otaUpdate(options)).toMatchObject({ version: 'v1', outcome: { state: 'committed' } });

    const crash = new Error('power cut');
    await expect(
      publishRelease({
        root,
        project: PROJECT,
        version: 'v2',
        files: files('v2'),
        fsync: false,
        onStep: (step) => {
          if (step === 'synced') throw crash;
        },
      }),
    ).rejects.toBe(crash);
    // The files are there, the version file is not switched: nothing changes for a device.
    expect((await fetch(`${server.url}/app/v2_main.py`, { headers: { authorization } })).status).toBe(200);
    expect(await (await fetch(`${server.url}/app/version`, { headers: { authorization } })).text()).toBe(
      'v1\n',
    );
    expect(await otaUpdate(options)).toMatchObject({ changed: false, version: 'v1' });

    // A crash inside the file phase leaves no partial file under a served name.
    await expect(
      publishRelease({
        root,
        project: PROJECT,
        version: 'v3',
        files: files('v3'),
        fsync: false,
        onStep: (step) => {
          if (step === 'file') throw crash;
        },
      }),
    ).rejects.toBe(crash);
    expect((await fetch(`${server.url}/app/v3_lib/util.py`, { headers: { authorization } })).status).toBe(
      404,
    );

    // The server restarts (a new process on the same root): same answers, and the finished publish lands.
    await server.close();
    ({ server } = await serve(root));
    const restarted = { ...options, target: { ...options.target, host: server.url } };
    expect(await otaUpdate(restarted)).toMatchObject({ changed: false, version: 'v1' });
    await publishRelease({ root, project: PROJECT, version: 'v2', files: files('v2'), fsync: false });
    expect(await otaUpdate(restarted)).toMatchObject({
      changed: true,
      version: 'v2',
      outcome: { state: 'committed' },
    });
    expect(await readTree(join(directory, 'app'))).toEqual(installed('v2'));
  }, 120_000);
});

describe('micropython_ota publishRelease refusals', () => {
  it('a bad tag, project, layout or file name is a ManifestError naming the field; a live tag never changes bytes', async () => {
    const root = await temporary();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ version: 'v 1' }, 'version'],
      [{ version: '..' }, 'version'],
      [{ version: 'version' }, 'version'],
      [{ project: '../x' }, 'project'],
      [{ project: '.hidden' }, 'project'],
      [{ layout: 'flat' }, 'layout'],
      [{ files: { 'main.py': encode('x'), '../boot.py': encode('x') } }, 'files[1]'],
      [{ files: { '.env': encode('x') } }, 'files[0]'],
      [{ files: { version: encode('x') } }, 'files[0]'],
      [{ files: {} }, 'files'],
    ];
    for (const [change, path] of cases) {
      const error = await publishRelease({
        root,
        project: PROJECT,
        version: 'v1',
        files: files('v1'),
        fsync: false,
        ...change,
      } as Parameters<typeof publishRelease>[0]).then(
        () => null,
        (problem: unknown) => problem,
      );
      expect(error, JSON.stringify(change)).toBeInstanceOf(ManifestError);
      expect((error as ManifestError).issues.map((issue) => issue.path)).toEqual([path]);
    }
    expect(await readdir(root)).toEqual([]);

    await publishRelease({ root, project: PROJECT, version: 'v1', files: files('v1'), fsync: false });
    const changed = { ...files('v1'), 'main.py': encode('other\n') };
    for (const replace of [false, true]) {
      const error = await publishRelease({
        root,
        project: PROJECT,
        version: 'v1',
        files: changed,
        replace,
        fsync: false,
      }).catch((problem: unknown) => problem);
      expect((error as ManifestError).issues).toEqual([
        { path: 'files[0]', expected: expect.stringContaining('live') },
      ]);
    }
    // Not live: replace allows it.
    await publishRelease({ root, project: PROJECT, version: 'v2', files: files('v2'), fsync: false });
    await publishRelease({
      root,
      project: PROJECT,
      version: 'v1',
      files: changed,
      replace: true,
      activate: false,
      fsync: false,
    });
    expect(await activateRelease({ root, project: PROJECT, version: 'v1', fsync: false })).toMatchObject({
      live: true,
    });
    await expect(
      activateRelease({ root, project: PROJECT, version: 'v9', fsync: false }),
    ).rejects.toMatchObject({
      issues: [{ path: 'version' }],
    });
  });
});

describe('micropython_ota publishRelease sources', () => {
  it('copies a file given by path; a missing source is a CONFIG error naming its index, and nothing is laid out', async () => {
    const root = await temporary();
    const sources = await temporary();
    await writeFile(join(sources, 'main.py'), 'from disk\n');
    const missing = await publishRelease({
      root,
      project: PROJECT,
      version: 'v1',
      files: { 'main.py': join(sources, 'main.py'), 'lib/util.py': join(sources, 'absent.py') },
      fsync: false,
    }).catch((problem: unknown) => problem);
    expect(missing).toMatchObject({ code: 'CONFIG', message: expect.stringContaining('files[1]') });
    expect(await readdir(root)).toEqual([]);
    await publishRelease({
      root,
      project: PROJECT,
      version: 'v1',
      files: { 'main.py': join(sources, 'main.py') },
    });
    expect(await readTree(join(root, PROJECT))).toEqual({
      'v1_main.py': 'from disk\n',
      v1_manifest: 'main.py\n',
      version: 'v1\n',
    });
  });
});

describe('micropython_ota server HTTP semantics', () => {
  async function served() {
    const root = await temporary();
    const body = encode('0123456789abcdef');
    await publishRelease({ root, project: PROJECT, version: 'v1', files: { 'main.py': body }, fsync: false });
    const { server } = await serve(root);
    return { root, server, url: `${server.url}/app/v1_main.py` };
  }
  const get = (url: string, headers: Record<string, string> = {}, method = 'GET') =>
    fetch(url, { method, headers: { authorization, ...headers } });

  it('GET and HEAD: Content-Length, ETag, no-cache on the version file; 304 on If-None-Match', async () => {
    const { server, url } = await served();
    const full = await get(url);
    expect(full.status).toBe(200);
    expect(await full.text()).toBe('0123456789abcdef');
    expect(full.headers.get('content-length')).toBe('16');
    expect(full.headers.get('accept-ranges')).toBe('bytes');
    const etag = full.headers.get('etag')!;
    expect(etag).toMatch(/^"[0-9a-f-]+"$/);

    const head = await get(url, {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('16');
    expect(head.headers.get('etag')).toBe(etag);
    expect(await head.text()).toBe('');

    const notModified = await get(url, { 'if-none-match': `W/"x", ${etag}` });
    expect(notModified.status).toBe(304);
    expect(await notModified.text()).toBe('');
    expect((await get(url, { 'if-none-match': '"other"' })).status).toBe(200);

    const version = await get(`${server.url}/app/version`);
    expect(version.headers.get('cache-control')).toBe('no-cache');
    expect(await version.text()).toBe('v1\n');
  });

  it('Range: one range is 206 with Content-Range; a suffix; If-Range with another ETag sends all; unsatisfiable is 416; several ranges send all', async () => {
    const { url } = await served();
    const etag = (await get(url, {}, 'HEAD')).headers.get('etag')!;
    const part = await get(url, { range: 'bytes=4-7' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 4-7/16');
    expect(part.headers.get('content-length')).toBe('4');
    expect(await part.text()).toBe('4567');
    const rest = await get(url, { range: 'bytes=10-', 'if-range': etag });
    expect(rest.status).toBe(206);
    expect(await rest.text()).toBe('abcdef');
    const suffix = await get(url, { range: 'bytes=-3' });
    expect(await suffix.text()).toBe('def');
    const beyond = await get(url, { range: 'bytes=4-99' });
    expect(beyond.headers.get('content-range')).toBe('bytes 4-15/16');
    const changed = await get(url, { range: 'bytes=10-', 'if-range': '"stale"' });
    expect(changed.status).toBe(200);
    expect(await changed.text()).toBe('0123456789abcdef');
    const unsatisfiable = await get(url, { range: 'bytes=16-' });
    expect(unsatisfiable.status).toBe(416);
    expect(unsatisfiable.headers.get('content-range')).toBe('bytes */16');
    const several = await get(url, { range: 'bytes=0-1,4-5' });
    expect(several.status).toBe(200);
    expect(await several.text()).toBe('0123456789abcdef');
  });

  it('traversal is refused: dot segments, encoded ones, encoded separators, backslashes, dot files, symlinks out of the root, directories; other methods 405', async () => {
    const { root, server } = await served();
    const outside = await temporary();
    await writeFile(join(outside, 'secret.txt'), 'TOP-SECRET-CONTENT');
    await symlink(join(outside, 'secret.txt'), join(root, PROJECT, 'v1_link.py'));
    await symlink(outside, join(root, PROJECT, 'v1_dir'));
    await mkdir(join(root, PROJECT, 'v1_inner'));
    await writeFile(join(root, PROJECT, 'v1_inner', 'x.py'), 'inner');
    await symlink(join(root, PROJECT, 'v1_inner', 'x.py'), join(root, PROJECT, 'v1_alias.py'));
    await writeFile(join(root, PROJECT, '.htpasswd'), 'TOP-SECRET-CONTENT');
    const attempts = [
      '/app/../../secret.txt',
      '/app/%2e%2e/%2E%2E/secret.txt',
      '/app/..%2f..%2fsecret.txt',
      '/app/..%5c..%5csecret.txt',
      '/app/..\\..\\secret.txt',
      '/app/%00',
      '/app/%zz',
      '/app/.htpasswd',
      '/app/%2ehtpasswd',
      '/app/v1_link.py',
      '/app/v1_dir/secret.txt',
      '/app',
      '/app/',
      '/app/v1_inner',
    ];
    for (const path of attempts) {
      const answer = await raw(server.url, path);
      expect([400, 404], path).toContain(answer.status);
      expect(answer.body, path).not.toContain('TOP-SECRET');
      expect(answer.body, path).not.toContain('x.py');
    }
    // A symlink that stays inside the root is followed; double slashes (a host ending in /) are merged.
    expect(await raw(server.url, '/app/v1_alias.py')).toEqual({ status: 200, body: 'inner' });
    expect(await raw(server.url, '//app//version')).toEqual({ status: 200, body: 'v1\n' });
    expect(
      (await fetch(`${server.url}/app/version`, { method: 'PUT', headers: { authorization } })).status,
    ).toBe(405);
  });

  it('works as middleware: what it does not serve goes to next(); basePath answers under a prefix', async () => {
    const root = await temporary();
    await publishRelease({ root, project: PROJECT, version: 'v1', files: files('v1'), fsync: false });
    const { createMicropythonOtaHandler } = await import('../../src/node/cloud/micropython-ota-server.js');
    const handler = createMicropythonOtaHandler({ root, basePath: '/ota' });
    const { createServer } = await import('node:http');
    const app = createServer((request, response) =>
      handler(request, response, () => response.writeHead(299, { 'content-length': '0' }).end()),
    );
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const { port } = app.address() as { port: number };
    try {
      expect(await (await fetch(`http://127.0.0.1:${port}/ota/app/version`)).text()).toBe('v1\n');
      expect((await fetch(`http://127.0.0.1:${port}/ota/app/v9_main.py`)).status).toBe(299);
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(299);
      expect((await fetch(`http://127.0.0.1:${port}/ota/app/version`, { method: 'POST' })).status).toBe(299);
    } finally {
      app.closeAllConnections();
      await new Promise((resolve) => app.close(resolve));
    }
  });
});

describe('micropython_ota request path resolution (property)', () => {
  it('whatever the request target, a resolved file lies inside the root', async () => {
    const base = await temporary();
    const root = join(base, 'root');
    await writeTree(root, { 'app/version': 'v1\n', 'app/v1_main.py': 'x', 'app/v1/lib/util.py': 'y' });
    await writeTree(base, { 'secret.txt': 'no', 'root-sibling/version': 'no' });
    await symlink(join(base, 'secret.txt'), join(root, 'app', 'v1_out.py'));
    const piece = fc.constantFrom(
      '..',
      '.',
      '%2e%2e',
      '%2E.',
      '%2f',
      '%5c',
      '\\',
      '/',
      '//',
      'app',
      'version',
      'v1_main.py',
      'v1_out.py',
      'v1',
      'lib',
      'util.py',
      '..%2f',
      '%00',
      'root-sibling',
      'secret.txt',
      '%',
      '?',
    );
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 8 }), async (pieces) => {
        const target = `/${pieces.join('/')}`;
        let segments: string[];
        try {
          segments = requestSegments(target);
        } catch (error) {
          expect(error).toBeInstanceOf(RefusedPathError);
          return;
        }
        for (const segment of segments) {
          expect(segment).not.toMatch(/^\.|[/\\\0]/);
        }
        const resolved = await resolveInsideRoot(root, segments);
        if (resolved !== null) {
          expect(isInside(root, resolved)).toBe(true);
          expect(resolved).not.toBe(join(base, 'secret.txt'));
        }
      }),
      { numRuns: 400 },
    );
  });
});
