/**
 * Attack: credentials leaking. A whole update runs (success and failure paths) with a device
 * holding a secret: the micropython_ota agent with HTTP Basic auth (real server, real agent), and
 * a generic device whose artifact URL carries a token in its query and its user info. A logger
 * captures every line, every event the agent and machine emit is recorded, every error message and
 * stack, and every file the FileStore persisted is read back. No string may contain a secret, its
 * base64 form (the Basic header) or its URL-encoded form. Redaction: src/transport (redactUrl,
 * redactHeaders), src/protocols/secrets.ts, the machine's logging (states, ids, codes only).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  createMicropythonOtaAgent,
  type MicropythonOtaAgent,
} from '../../src/node/agents/micropython-ota.js';
import { publishRelease } from '../../src/node/cloud/micropython-ota-publish.js';
import {
  type StartedMicropythonOtaServer,
  startMicropythonOtaServer,
} from '../../src/node/cloud/micropython-ota-server.js';
import { writeTree } from '../device/micropython-ota-support.js';
import { artifactServer, cleanup, device, encode, md5, sha256 } from './harness.js';
import { capturingLogger, expectNoSecret, filesUnder, forms, recordEmits, strings } from './leak-scan.js';

const AUTH = { user: 'otauser', password: 'pw-Leak%Test/Secret+7' };

describe('attack: credentials leaking (micropython_ota, Basic auth)', () => {
  const dirs: string[] = [];
  const servers: StartedMicropythonOtaServer[] = [];
  const agents: MicropythonOtaAgent[] = [];
  afterEach(async () => {
    await Promise.allSettled(agents.splice(0).map((agent) => agent.stop({ cancel: true })));
    await Promise.allSettled(servers.splice(0).map((server) => server.close()));
  });
  afterAll(async () => {
    await Promise.all(dirs.splice(0).map((path) => rm(path, { recursive: true, force: true })));
  });

  it('a committed update and a failed one: no log line, event, error or stored file holds the password', async () => {
    const root = await mkdtemp(join(tmpdir(), 'otakit-attack-leak-'));
    dirs.push(root);
    const server = await startMicropythonOtaServer({ root, auth: AUTH });
    servers.push(server);
    const home = await mkdtemp(join(tmpdir(), 'otakit-attack-leak-device-'));
    dirs.push(home);
    await writeTree(join(home, 'app'), { 'main.py': 'print("v0")\n', version: 'v0' });
    const lines: unknown[] = [];
    const emitted: unknown[] = [];
    const agent = createMicropythonOtaAgent({
      target: { host: server.url, project: 'app', filenames: ['main.py'], auth: AUTH },
      appDirectory: join(home, 'app'),
      stateDirectory: join(home, 'agent'),
      fsync: false,
      logger: capturingLogger(lines),
      poll: { intervalMs: 3_600_000 },
      download: { retry: { attempts: 1, baseDelayMs: 5, maxDelayMs: 10 } },
      machine: { retry: { download: { attempts: 1, baseDelayMs: 1, maxDelayMs: 2 } } },
    });
    agents.push(agent);
    recordEmits(agent as never, emitted);
    const outcomes: Array<{ state: string }> = [];
    agent.on('outcome', (outcome) => outcomes.push(outcome));
    const thrown: unknown[] = [];

    // Success path.
    await publishRelease({
      root,
      project: 'app',
      version: 'v1',
      files: { 'main.py': encode('print("v1")\n') },
      fsync: false,
    });
    await agent.start();
    await agent.checkNow().catch((error: unknown) => thrown.push(error));
    await expect.poll(() => outcomes.length).toBeGreaterThan(0);
    expect(outcomes[0]!.state).toBe('committed');

    // Failure path: v2's file is gone from the server (404), the download fails.
    await publishRelease({
      root,
      project: 'app',
      version: 'v2',
      files: { 'main.py': encode('print("v2")\n') },
      fsync: false,
    });
    await rm(join(root, 'app', 'v2_main.py'), { force: true });
    await agent.checkNow().catch((error: unknown) => thrown.push(error));
    await expect.poll(() => outcomes.length).toBeGreaterThan(1);
    expect(outcomes[1]!.state).toMatch(/failed|rolled_back/);
    await agent.stop({ cancel: true });

    const haystack = [
      ...strings(lines),
      ...strings(emitted),
      ...strings(thrown),
      ...strings(outcomes),
      ...(await filesUnder(join(home, 'agent'))),
    ];
    expect(
      haystack.some(
        (text) => text.includes('download_failed') || text.includes('DOWNLOAD') || text.includes('TRANSPORT'),
      ),
    ).toBe(true);
    expectNoSecret(haystack, forms(AUTH.password, AUTH.user));
  });
});

describe('attack: credentials leaking (generic device, token in the URL, Basic user info)', () => {
  afterEach(cleanup);
  const TOKEN = 'tok-LEAK-abc123-Secret';
  const PASSWORD = 'pw-userinfo-Secret';

  it('success and failure: the token and password appear in no log, event, error or stored file', async () => {
    const server = await artifactServer();
    const body = encode('firmware 2\n');
    server.route('/fw.bin', { body });
    server.route('/missing.bin', { body, fail: { status: 500, times: 100 } });
    const lines: unknown[] = [];
    server.route('/fw.bin', { body, basicAuth: { username: 'device', password: PASSWORD } });
    const rig = await device({
      logger: capturingLogger(lines),
      download: { auth: { type: 'basic', username: 'device', password: PASSWORD } },
    });
    recordEmits(rig.machine as never, rig.events);
    const ok = await rig.machine.apply({
      id: 'fw-2',
      version: '2.0.0',
      artifacts: [
        {
          url: `${server.url}/fw.bin?access_token=${TOKEN}&dk=${TOKEN}`,
          target: 'firmware',
          sha256: sha256(body),
        },
      ],
    });
    const failed = await rig.machine.apply({
      id: 'fw-3',
      version: '3.0.0',
      artifacts: [
        { url: `${server.url}/missing.bin?access_token=${TOKEN}`, target: 'firmware', md5: md5(body) },
      ],
    });
    // Credentials written into the URL itself are refused, and the refusal is redacted too.
    const inUrl = await rig.machine.apply({
      id: 'fw-4',
      version: '4.0.0',
      artifacts: [
        {
          url: server.url.replace('http://', `http://device:${PASSWORD}@`) + `/fw.bin?token=${TOKEN}`,
          target: 'firmware',
          sha256: sha256(body),
        },
      ],
    });
    expect(ok.state, JSON.stringify(ok.error)).toBe('committed');
    expect(failed.state).toBe('download_failed');
    expect(inUrl).toMatchObject({ state: 'download_failed', error: { code: 'CONFIG' } });
    expect(server.stats('/fw.bin').headers[0]?.authorization).toBe(
      `Basic ${Buffer.from(`device:${PASSWORD}`).toString('base64')}`,
    );
    const haystack = [
      ...strings(lines),
      ...strings(rig.events),
      ...strings(rig.errors),
      ...strings([ok, failed, inUrl]),
      ...strings(rig.machine.snapshot?.() ?? null),
      ...(await filesUnder(rig.stateDirectory)),
    ];
    expectNoSecret(haystack, [...forms(TOKEN), ...forms(PASSWORD, 'device')]);
    // The scan itself catches a leak (negative control).
    expect(() =>
      expectNoSecret([`Basic ${forms(PASSWORD, 'device')[3]}`], forms(PASSWORD, 'device')),
    ).toThrow();
  });
});
