/**
 * The Connhex agent end to end, against real components: Debian's nats-server (statuses on
 * `heartbeat.ota.service`, through `otakit/nats`), a loopback release server answering the
 * `HEAD` with the release headers and the `GET` with a redirect to otakit's fault server (Range,
 * drops, stalls), real zips extracted into `.store/ota/current`, and a real `update.sh`. Cases
 * follow docs/protocols/connhex.md (C4–C9, C12, C13) and docs/agents/connhex.md. Without
 * nats-server the file skips locally and fails in CI.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isOtaError, type OtaError, TransportError, type UpdateOutcome } from '../../src/index.js';
import { connectNats, natsChannel } from '../../src/nats/index.js';
import { type ConnhexAgent, type ConnhexAgentOptions, createConnhexAgent } from '../../src/node/index.js';
import { NATS_MISSING, NATS_SERVER, NatsServer } from '../nats/nats-server.js';
import { bundled } from '../support/bundle.js';
import { IN_CI, until } from '../support/system-services.js';
import { ReleaseServer, releaseZip, StatusWatcher, sha256 } from './connhex-support.js';

const INIT_ID = 'edge-42';
const KEY = `thing-${randomBytes(12).toString('hex')}`;
const CHILD = join(import.meta.dirname, 'connhex-agent-child.ts');
/** The child bundled once: it starts as plain node, not through tsx. */
let childBundle: string;
beforeAll(async () => {
  childBundle = await bundled(CHILD);
});

if (!NATS_SERVER) {
  if (IN_CI) {
    describe('Connhex agent', () => {
      it('has nats-server to run (CI must run the NATS tests)', () => {
        throw new Error(`${NATS_MISSING}. .ci/run apt-installs nats-server when CI is set.`);
      });
    });
  } else {
    console.warn(`test/device/connhex-agent.test.ts skipped: ${NATS_MISSING}`);
  }
}

/**
 * An agent's outcome (or a child's exit) can come before its last heartbeat, `updated`, reaches
 * the NATS watcher on a busy machine: wait for it before reading the wire sequence.
 */
function heardUpdated(watcher: StatusWatcher): Promise<void> {
  return until(
    () => watcher.changes().at(-1) === 'updated',
    () => `updated on the wire, got ${JSON.stringify(watcher.changes())}`,
  );
}

describe.skipIf(!NATS_SERVER)('Connhex agent over real NATS and HTTP', () => {
  let root: string;
  let nats: NatsServer;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'otakit-connhex-agent-'));
    nats = await NatsServer.start({ directory: root });
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });
  afterAll(async () => {
    await nats?.stop();
    await rm(root, { recursive: true, force: true });
  });

  interface Setup {
    agent: ConnhexAgent;
    server: ReleaseServer;
    watcher: StatusWatcher;
    dir: string;
    marker: string;
    errors: OtaError[];
    outcomes: UpdateOutcome[];
    release: Uint8Array;
  }

  /** A device at 0.0.2, a release server offering 0.0.3, a service watching the bus. */
  async function setup(
    options: Partial<ConnhexAgentOptions> & { serverKey?: string; start?: boolean } = {},
  ): Promise<Setup> {
    const dir = await mkdtemp(join(root, 'case-'));
    const marker = join(dir, 'update-sh-ran');
    const server = await ReleaseServer.start(INIT_ID, options.serverKey ?? KEY);
    cleanups.push(() => server.close());
    const release = releaseZip('0.0.3', marker);
    server.publish({ version: '0.0.3', body: release });
    const watcher = await StatusWatcher.start(nats.url);
    cleanups.push(() => watcher.close());
    const connection = await connectNats(nats.url, { reconnectTimeWait: 50 });
    cleanups.push(() => connection.close());
    const { serverKey: _key, start = true, ...agentOptions } = options;
    const agent = createConnhexAgent({
      target: { baseUrl: server.url, allowHttp: true, initId: INIT_ID, key: KEY },
      nats: natsChannel(connection),
      installDirectory: join(dir, 'edge'),
      stateDirectory: join(dir, 'state'),
      currentVersion: '0.0.2',
      heartbeatIntervalMs: 60_000,
      fsync: false,
      poll: { intervalMs: 60_000, backoff: { baseDelayMs: 20, maxDelayMs: 100 } },
      ...(agentOptions.configFile === undefined ? { config: { autoInstall: true } } : {}),
      ...agentOptions,
    });
    cleanups.push(() => agent.stop({ cancel: true }));
    const errors: OtaError[] = [];
    const outcomes: UpdateOutcome[] = [];
    agent.on('error', (error) => errors.push(error));
    agent.on('outcome', (outcome) => outcomes.push(outcome));
    if (start) await agent.start();
    return { agent, server, watcher, dir, marker, errors, outcomes, release };
  }

  const currentDir = (setup: Setup) => join(setup.dir, 'edge/.store/ota/current');

  async function words(setup: Setup, expected: string[]): Promise<void> {
    await until(
      () => setup.watcher.words().length >= expected.length,
      () => `${expected.length} statuses, got ${JSON.stringify(setup.watcher.words())}`,
    );
    expect(setup.watcher.words()).toEqual(expected);
  }

  it('happy path (C6): statuses in order on NATS, the release extracted, update.sh run there, then up to date (C13)', async () => {
    const configFile = join(root, 'agent.toml');
    await writeFile(configFile, "[ota]\nauto_install = true\ncheck_interval = '1m'\n");
    const s = await setup({ configFile, runUpdateScript: true });
    expect(s.agent.config).toEqual({
      autoDownload: true,
      autoInstall: true,
      checkIntervalMs: 60_000,
      checkInterval: '1m0s',
    });
    await until(
      () => s.outcomes.length > 0,
      () => 'an outcome',
    );
    expect(s.outcomes[0]).toMatchObject({ state: 'committed', update: { id: '0.0.3', version: '0.0.3' } });
    await words(s, [
      'updated',
      'checking',
      'update_available',
      'downloading',
      'update_ready',
      'updating',
      'updated',
    ]);
    const [boot, checking, available, , , , updated] = s.watcher.payloads;
    expect(boot).toMatchObject({ current_version: '0.0.2', latest_version: '0.0.2', last_checked: '' });
    expect(checking).toMatchObject({ current_version: '0.0.2', error: '' });
    expect(available).toMatchObject({ current_version: '0.0.2', latest_version: '0.0.3' });
    expect(available!.last_checked).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(updated).toMatchObject({ current_version: '0.0.3', latest_version: '0.0.3', status: 'updated' });

    const current = currentDir(s);
    expect((await readdir(current)).sort()).toEqual(['new_service.py', 'update.sh']);
    // update.sh ran once, in the extracted folder.
    expect(await readFile(s.marker, 'utf8')).toBe(`${await realpath(current)}\n`);
    // The download went to .store/ota and was removed after the commit; no backup is left.
    expect((await readdir(join(s.dir, 'edge/.store/ota'))).sort()).toEqual(['current']);
    expect(s.server.requests.every((request) => request.authorization === `Thing ${KEY}`)).toBe(true);

    // The same release again (a replay, C13): nothing is downloaded or run; the device says it rests.
    await expect(s.agent.checkNow()).resolves.toBeNull();
    await words(s, [
      ...['updated', 'checking', 'update_available', 'downloading', 'update_ready', 'updating', 'updated'],
      'checking',
      'updated',
    ]);
    expect(s.server.count('GET')).toBe(1);
    expect(await readFile(s.marker, 'utf8')).toBe(`${await realpath(current)}\n`);
    expect(s.errors).toEqual([]);
  });

  it('update.sh is not run unless opted in', async () => {
    const s = await setup();
    await until(
      () => s.outcomes.length > 0,
      () => 'an outcome',
    );
    expect(s.outcomes[0]?.state).toBe('committed');
    expect((await readdir(currentDir(s))).sort()).toEqual(['new_service.py', 'update.sh']);
    expect(existsSync(s.marker)).toBe(false);
  });

  it('update.sh failing (C7): update_failed with the reason, the previous release back', async () => {
    const s = await setup({ runUpdateScript: true, start: false });
    s.server.publish({
      version: '0.0.3',
      body: (await import('../support/archives.js')).zip([
        { name: 'update.sh', data: 'echo nope >&2\nexit 3\n' },
      ]),
    });
    await s.agent.start();
    await until(
      () => s.outcomes.length > 0,
      () => 'an outcome',
    );
    expect(s.outcomes[0]?.state).toBe('rolled_back');
    await words(s, [
      'updated',
      'checking',
      'update_available',
      'downloading',
      'update_ready',
      'updating',
      'update_failed',
    ]);
    expect(s.watcher.payloads.at(-1)?.error).toMatch(/update\.sh exited with code 3/);
    expect(existsSync(currentDir(s))).toBe(false);
    expect(s.agent.current).toEqual({ id: '0.0.2', version: '0.0.2' });
  });

  it('corrupt artifact (C12): the SHA-256 mismatch is download_failed, nothing installed', async () => {
    const s = await setup({ start: false });
    const tampered = s.release.slice();
    const at = tampered.length - 30;
    tampered[at] = tampered[at]! ^ 0xff;
    s.server.publish({ version: '0.0.3', body: tampered, sha256: sha256(s.release) });
    await s.agent.start();
    await until(
      () => s.outcomes.length > 0,
      () => 'an outcome',
    );
    expect(['download_failed', 'verify_failed']).toContain(s.outcomes[0]?.state);
    expect(s.outcomes[0]?.error?.code).toBe('INTEGRITY');
    await words(s, ['updated', 'checking', 'update_available', 'downloading', 'download_failed']);
    expect(s.watcher.payloads.at(-1)?.error).toMatch(/SHA-256|sha256|digest/i);
    expect(existsSync(currentDir(s))).toBe(false);
    expect(s.agent.current?.version).toBe('0.0.2');
  });

  it('release server down, then up (C8): check_failed with last_checked, then the next check updates', async () => {
    const s = await setup({ start: false });
    await s.server.down();
    await s.agent.start();
    await until(
      () => s.watcher.words().includes('check_failed'),
      () => `check_failed, got ${JSON.stringify(s.watcher.words())}`,
    );
    const failed = s.watcher.payloads.find((payload) => payload.status === 'check_failed')!;
    expect(failed.error).not.toBe('');
    expect(failed.last_checked).toMatch(/^\d{4}-/);
    expect(s.errors.some((error) => error instanceof TransportError && error.retryable)).toBe(true);
    await s.server.up();
    await until(
      () => s.outcomes.length > 0,
      () => 'an outcome',
    );
    expect(s.outcomes[0]?.state).toBe('committed');
    await heardUpdated(s.watcher);
    const changes = s.watcher.changes();
    expect(changes.slice(0, 3)).toEqual(['updated', 'checking', 'check_failed']);
    expect(changes.slice(-6)).toEqual([
      'checking',
      'update_available',
      'downloading',
      'update_ready',
      'updating',
      'updated',
    ]);
  });

  it('a download broken off (C9) resumes with Range and completes', async () => {
    const s = await setup({ start: false });
    const body = releaseZip('0.0.3', s.marker, [
      { name: 'payload.bin', data: randomBytes(48 * 1024).toString('base64') },
    ]);
    s.server.publish({ version: '0.0.3', body }, { drop: { afterBytes: 16_000, times: 1 } });
    await s.agent.start();
    await until(
      () => s.outcomes.length > 0,
      () => 'an outcome',
    );
    expect(s.outcomes[0]?.state).toBe('committed');
    // The retry asks for the rest when the bytes before the break reached the agent (on a loaded
    // machine the reset may discard them in flight: then it starts over, which is also right).
    const { ranges, requests } = s.server.fault.stats('/release.zip');
    expect(requests).toBe(2);
    expect(ranges[1] === null || /^bytes=[1-9]\d*-$/.test(ranges[1]!)).toBe(true);
    expect((await readdir(currentDir(s))).sort()).toEqual(['new_service.py', 'payload.bin', 'update.sh']);
  });

  it('bad credentials: HTTP 401 is a typed, non-retryable error; check_failed; nothing installed; the key never shown', async () => {
    const s = await setup({ serverKey: 'the-right-key-0000' });
    await until(
      () => s.watcher.words().includes('check_failed'),
      () => `check_failed, got ${JSON.stringify(s.watcher.words())}`,
    );
    const error = await s.agent.checkNow().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(isOtaError(error, 'TRANSPORT')).toBe(true);
    expect((error as TransportError).retryable).toBe(false);
    expect((error as TransportError).status).toBe(401);
    expect(s.errors[0]).toMatchObject({ code: 'TRANSPORT', retryable: false });
    expect(s.watcher.payloads.find((p) => p.status === 'check_failed')?.error).toMatch(
      /refused the credentials \(HTTP 401\)/,
    );
    expect(s.server.count('GET')).toBe(0);
    expect(existsSync(currentDir(s))).toBe(false);
    const everything = JSON.stringify([
      s.watcher.raw,
      s.errors.map((e) => [e.message, e.toJSON()]),
      String(error),
    ]);
    expect(everything).not.toContain(KEY);
  });

  it('auto_download off (C4): update_available only; install() then downloads and installs', async () => {
    const s = await setup({ config: {} });
    await words(s, ['updated', 'checking', 'update_available']);
    expect(s.watcher.payloads.at(-1)).toMatchObject({ latest_version: '0.0.3', current_version: '0.0.2' });
    expect(s.agent.config.autoDownload).toBe(false);
    expect(s.agent.available?.version).toBe('0.0.3');
    expect(s.server.count('GET')).toBe(0);
    const outcome = await s.agent.install();
    expect(outcome?.state).toBe('committed');
    expect(s.agent.available).toBeNull();
    await heardUpdated(s.watcher);
    expect(s.watcher.changes().slice(-5)).toEqual([
      'update_available',
      'downloading',
      'update_ready',
      'updating',
      'updated',
    ]);
    expect(existsSync(join(currentDir(s), 'update.sh'))).toBe(true);
  });

  it('auto_install off (C5): downloaded into .store/ota, held at update_ready until install()', async () => {
    const s = await setup({ config: { autoDownload: true } });
    await until(
      () => s.agent.awaitingInstall !== null,
      () => 'the release held for install',
    );
    await words(s, ['updated', 'checking', 'update_available', 'downloading', 'update_ready']);
    expect(s.agent.awaitingInstall?.version).toBe('0.0.3');
    const held = await readdir(join(s.dir, 'edge/.store/ota'));
    expect(held).toEqual(['0.0.3']);
    expect(await readdir(join(s.dir, 'edge/.store/ota/0.0.3'))).toEqual(['0.part']);
    expect(existsSync(currentDir(s))).toBe(false);
    // A periodic check meanwhile is not news: the device goes on saying update_ready.
    await expect(s.agent.checkNow()).resolves.toBeNull();
    await words(s, [
      'updated',
      'checking',
      'update_available',
      'downloading',
      'update_ready',
      'checking',
      'update_ready',
    ]);
    const outcome = await s.agent.install();
    expect(outcome?.state).toBe('committed');
    await heardUpdated(s.watcher);
    expect(s.watcher.changes().slice(-3)).toEqual(['update_ready', 'updating', 'updated']);
    expect(existsSync(join(currentDir(s), 'new_service.py'))).toBe(true);
  });

  it('cancel during the download: reported as download_failed, nothing installed', async () => {
    const s = await setup({ start: false });
    s.server.publish({ version: '0.0.3', body: s.release }, { bytesPerSecond: 2_000, chunkSize: 256 });
    s.agent.once('progress', () => void s.agent.cancel('Canceled by the operator'));
    await s.agent.start();
    await until(
      () => s.outcomes.length > 0,
      () => 'an outcome',
    );
    expect(s.outcomes[0]?.state).toBe('canceled');
    await words(s, ['updated', 'checking', 'update_available', 'downloading', 'download_failed']);
    expect(s.watcher.payloads.at(-1)?.error).toBe('Canceled by the operator');
    expect(existsSync(currentDir(s))).toBe(false);
  });

  it('heartbeats repeat the last status, and resume after nats-server restarts', async () => {
    const bus = await NatsServer.start({ directory: root });
    cleanups.push(() => bus.stop());
    const watcher = await StatusWatcher.start(bus.url);
    cleanups.push(() => watcher.close());
    const connection: NatsConnection = await connectNats(bus.url, { reconnectTimeWait: 50 });
    cleanups.push(() => connection.close());
    const s = await setup({ nats: natsChannel(connection), heartbeatIntervalMs: 50, config: {} });
    s.server.release = undefined; // 404: no release for this device, the device rests
    await until(
      () => watcher.words().length >= 4,
      () => `heartbeats, got ${JSON.stringify(watcher.words())}`,
    );
    expect(new Set(watcher.words())).toEqual(new Set(['updated', 'checking']));
    expect(watcher.words().at(-1)).toBe('updated');

    await bus.stop();
    await bus.start();
    const before = watcher.words().length;
    await until(
      () => watcher.words().length >= before + 3,
      () => `heartbeats after the restart, got ${watcher.words().length - before}`,
    );
    expect(
      watcher
        .words()
        .slice(before)
        .every((word) => word === 'updated'),
    ).toBe(true);
  });

  describe('SIGKILL of the agent process, then a restart', () => {
    function child(
      dir: string,
      server: ReleaseServer,
      env: Record<string, string>,
      onLine: (line: string, kill: () => void) => void,
    ): Promise<{ code: number | null; lines: string[] }> {
      const process_: ChildProcess = spawn(
        process.execPath,
        [childBundle, dir, server.url, nats.url, INIT_ID, KEY],
        { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } },
      );
      const lines: string[] = [];
      let buffer = '';
      process_.stdout!.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        const parts = buffer.split('\n');
        buffer = parts.pop()!;
        for (const line of parts) {
          lines.push(line);
          onLine(line, () => process_.kill('SIGKILL'));
        }
      });
      return new Promise((resolve) => process_.on('exit', (code) => resolve({ code, lines })));
    }

    it('mid-download: the new process resumes with Range and installs', async () => {
      const dir = await mkdtemp(join(root, 'kill-download-'));
      const marker = join(dir, 'update-sh-ran');
      const server = await ReleaseServer.start(INIT_ID, KEY);
      cleanups.push(() => server.close());
      // Over the file sink's 1 MiB write batch, so the killed process leaves bytes on disk.
      const payload = randomBytes(3 * 1024 * 1024);
      const body = releaseZip('0.0.3', marker, [{ name: 'payload.bin', data: payload, method: 0 }]);
      // Throttled, and stalled at 85 %: however late the kill lands, the download is unfinished.
      server.publish(
        { version: '0.0.3', body },
        {
          bytesPerSecond: 6 * 1024 * 1024,
          chunkSize: 64 * 1024,
          stall: { afterBytes: Math.floor(body.length * 0.85), times: 1 },
        },
      );
      const watcher = await StatusWatcher.start(nats.url);
      cleanups.push(() => watcher.close());
      const first = await child(dir, server, {}, (line, kill) => {
        // Past 2 MiB the sink has written its first 1 MiB batch (it waits for it before the
        // second), so the killed process leaves bytes on disk to resume from.
        if (line.startsWith('progress ') && Number(line.slice(9)) >= 2.1 * 1024 * 1024) kill();
      });
      expect(first.code).toBeNull();
      expect(existsSync(join(dir, 'edge/.store/ota/current'))).toBe(false);

      server.fault.update('/release.zip', { bytesPerSecond: 0 });
      const second = await child(dir, server, {}, () => {});
      expect(second.code).toBe(0);
      expect(second.lines).toContain('outcome committed');
      expect(second.lines).toContain('transition downloading');
      const ranges = server.fault.stats('/release.zip').ranges;
      expect(ranges.at(-1)).toMatch(/^bytes=[1-9]\d*-$/);
      // The release server got the resume too (the redirect carries it to the artifact).
      expect(server.requests.at(-1)?.range).toBe(ranges.at(-1));
      expect(await readFile(marker, 'utf8')).toBe(
        `${await realpath(join(dir, 'edge/.store/ota/current'))}\n`,
      );
      await heardUpdated(watcher);
      expect(watcher.changes().slice(-3)).toEqual(['update_ready', 'updating', 'updated']);
    });

    it('mid-install: the new process rolls the half install back (update_failed), then the next check installs', async () => {
      const dir = await mkdtemp(join(root, 'kill-install-'));
      const marker = join(dir, 'update-sh-ran');
      const server = await ReleaseServer.start(INIT_ID, KEY);
      cleanups.push(() => server.close());
      server.publish({ version: '0.0.3', body: releaseZip('0.0.3', marker) });
      // A previous release in place, so the rollback has something to bring back.
      const current = join(dir, 'edge/.store/ota/current');
      await mkdir(current, { recursive: true });
      await writeFile(join(current, 'old.txt'), '0.0.2');
      const watcher = await StatusWatcher.start(nats.url);
      cleanups.push(() => watcher.close());

      const first = await child(dir, server, { KILL_AT_STEP: 'renamed' }, (line, kill) => {
        if (line === 'step renamed') kill();
      });
      expect(first.code).toBeNull();
      expect(existsSync(marker)).toBe(false);

      const second = await child(dir, server, {}, () => {});
      expect(second.code).toBe(0);
      expect(second.lines).toContain('outcome rolled_back');
      expect(second.lines.at(-1)).toBe('outcome committed');
      expect(watcher.changes()).toContain('update_failed');
      expect(watcher.payloads.find((p) => p.status === 'update_failed')?.error).toMatch(
        /interrupted by a restart/,
      );
      await heardUpdated(watcher);
      expect(watcher.changes().slice(-3)).toEqual(['update_ready', 'updating', 'updated']);
      expect((await readdir(current)).sort()).toEqual(['new_service.py', 'update.sh']);
      expect(await readFile(marker, 'utf8')).toBe(`${await realpath(current)}\n`);
      expect((await readdir(join(dir, 'edge/.store/ota'))).sort()).toEqual(['current']);
    });
  });
});
