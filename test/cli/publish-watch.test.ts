/**
 * `otakit publish` and `otakit watch` as subprocesses against real devices: an aedes broker in
 * process on a loopback port, the real insigh.io agent (`createInsighioAgent`) downloading its
 * package from a loopback package service, and the real Degu agent (`createDeguAgent`) on the
 * self-hosted shadow service (`createShadowService`), downloading from a loopback file server.
 *
 * What is proved: a publish follows the device to `committed` (exit 0, JSON lines `published`,
 * transitions, `outcome`), and the device really installed the files; a device that fails ends
 * the publish with exit 1 and the failure state; no device at all is `timed_out` after
 * `--timeout` (exit 1); a bad `--target` or a missing `--manifest` file is a usage error (exit 2)
 * naming the option; `watch` started first prints the device's transitions and exits 0 on
 * SIGINT. Nothing is timed: waits are for lines or exits, and their limits only catch hangs.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createShadowService, type ShadowService } from '../../src/cloud/shadow-service/service.js';
import { isFailureState, type UpdateState } from '../../src/core/states.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { createDeguAgent } from '../../src/node/agents/degu.js';
import { createInsighioAgent, insighioMqttOptions } from '../../src/node/agents/insighio.js';
import { createFaultServer, type FaultServer } from '../../src/testing/fault-server.js';
import type { MqttConnection } from '../../src/transport/mqtt-connection.js';
import { type PackageServer, startPackageServer } from '../device/insighio-support.js';
import { makeTar } from '../protocols/insighio/fixtures.js';
import { type LoopbackAedes, startLoopbackAedes } from '../support/aedes.js';
import { tempDir, writeJson } from './fixtures.js';
import { type CliResult, type RunningCli, runCli, startCli } from './run-cli.js';

const KEY = 'dk-Cli-S3cret-5b2e';
const CC = 'ctrl-cli';
const FAST_RETRY = { attempts: 2, baseDelayMs: 10, maxDelayMs: 50 };
const md5 = (bytes: Uint8Array | string) => createHash('md5').update(bytes).digest('hex');

let broker: LoopbackAedes;
let root: string;
let count = 0;
const cleanups: (() => Promise<unknown>)[] = [];
const running: RunningCli[] = [];

beforeAll(async () => {
  broker = await startLoopbackAedes();
  root = await tempDir('publish');
});

afterEach(async () => {
  await Promise.allSettled(running.splice(0).map((run) => run.stop('SIGKILL')));
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

afterAll(async () => {
  await broker?.close();
});

/** The stdout lines as JSON values: with --json, every line must be one. */
function events(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const transitions = (result: CliResult) =>
  events(result.stdout)
    .filter((event) => event.event === 'transition')
    .map((event) => event.to);

function publish(platform: string, manifest: string, target: unknown, ...extra: string[]) {
  return runCli([
    'publish',
    platform,
    '--broker',
    broker.url,
    '--manifest',
    manifest,
    '--target',
    JSON.stringify(target),
    '--json',
    ...extra,
  ]);
}

async function startWatch(platform: string, target: unknown): Promise<RunningCli> {
  const watch = startCli([
    'watch',
    platform,
    '--broker',
    broker.url,
    '--target',
    JSON.stringify(target),
    '--json',
  ]);
  running.push(watch);
  await watch.line(/"event":"watching"/);
  return watch;
}

// ---------------------------------------------------------------------------------------------
// insigh.io
// ---------------------------------------------------------------------------------------------

describe('insighio', () => {
  let packages: PackageServer;

  beforeAll(async () => {
    packages = await startPackageServer({ deviceKey: KEY, controlChannelId: CC });
  });
  afterAll(async () => {
    await packages?.close();
  });

  /** A real insigh.io agent on its own device id, installing into its own directory. */
  async function device() {
    const deviceId = `cli-dev-${process.pid}-${++count}`;
    const directory = join(root, deviceId);
    const connection: MqttConnection = await connectMqtt(broker.url, {
      ...insighioMqttOptions({ deviceId, deviceKey: KEY, clientId: `${deviceId}-agent` }),
      reconnectPeriod: 50,
    });
    cleanups.push(() => connection.close());
    const agent = createInsighioAgent({
      target: { controlChannelId: CC, deviceId, baseUrl: packages.baseUrl, allowInsecureHttp: true },
      deviceKey: KEY,
      connection,
      installDirectory: join(directory, 'app'),
      stateDirectory: join(directory, 'state'),
      fsync: false,
      download: { retry: FAST_RETRY },
      machine: { retry: { download: FAST_RETRY } },
    });
    cleanups.push(() => agent.stop({ cancel: true }));
    await agent.start();
    return { deviceId, app: join(directory, 'app'), target: { controlChannelId: CC, deviceId } };
  }

  /**
   * A manifest naming the package by file id (`extensions.insighio`), with its size: what an
   * insigh.io order carries. The URL is not sent (the device downloads the file id).
   */
  async function manifestFor(fileId: string, body: Uint8Array): Promise<string> {
    return writeJson(root, `insighio-${fileId}.json`, {
      id: 'app',
      version: '2.0.0',
      artifacts: [{ url: `${packages.baseUrl}/app.tar`, size: body.length, target: 'package' }],
      extensions: { insighio: { fileId, fileType: '.tar' } },
    });
  }

  it('publish follows the device to committed (exit 0); watch, started first, prints the transitions', async () => {
    const fileId = 'f0000001';
    const body = makeTar([{ name: 'boot.py', data: 'print("v2")\n' }]);
    packages.put(fileId, body);
    const dev = await device();
    const watch = await startWatch('insighio', dev.target);

    const result = await publish('insighio', await manifestFor(fileId, body), dev.target);
    expect(result.code, `${result.stdout}${result.stderr}`).toBe(0);
    const printed = events(result.stdout);
    expect(printed[0]).toMatchObject({
      event: 'published',
      messages: [{ channel: 'mqtt', address: `channels/${CC}/messages/${dev.deviceId}/ota` }],
    });
    expect(transitions(result)).toContain('committed');
    expect(printed.at(-1)).toEqual({ event: 'outcome', state: 'committed' });
    // The device really installed the package it was sent.
    expect(await readFile(join(dev.app, 'boot.py'), 'utf8')).toBe('print("v2")\n');
    expect(packages.requests.filter((request) => request.deviceId === dev.deviceId)).toMatchObject([
      { fileId, keyAccepted: true, status: 200 },
    ]);

    await watch.line(/"to":"committed"/);
    const watched = await watch.stop('SIGINT');
    expect(watched.code, watched.stderr).toBe(0);
    expect(events(watched.stdout).filter((event) => event.event === 'transition')).toContainEqual(
      expect.objectContaining({ deviceId: dev.deviceId, to: 'committed' }),
    );
    expect(`${result.stdout}${result.stderr}${watched.stdout}${watched.stderr}`).not.toContain(KEY);
  });

  it('a package the device cannot install ends the publish with exit 1 and the failure state', async () => {
    const fileId = 'fbad0001';
    const body = new TextEncoder().encode('this is not a tar archive at all, just text'.repeat(20));
    packages.put(fileId, body);
    const dev = await device();
    const result = await publish('insighio', await manifestFor(fileId, body), dev.target);
    expect(result.code, result.stdout).toBe(1);
    const outcome = events(result.stdout).at(-1) as { event: string; state: UpdateState; error?: string };
    // The agent restores what it had and says so (`rolled back`); any failure state would do.
    expect(outcome).toMatchObject({ event: 'outcome', error: expect.any(String) });
    expect(isFailureState(outcome.state), outcome.state).toBe(true);
    expect(transitions(result)).toEqual([outcome.state]);
    expect(result.stderr).toContain(`the update did not commit: ${outcome.state}`);
    // The device downloaded it and installed nothing.
    expect(packages.requests.filter((request) => request.deviceId === dev.deviceId)).toMatchObject([
      { fileId, status: 200 },
    ]);
    await expect(readFile(join(dev.app, 'boot.py'), 'utf8')).rejects.toThrow(/ENOENT/);
  });

  it('with no device, --timeout 2 ends in timed_out (exit 1)', async () => {
    const body = makeTar([{ name: 'boot.py', data: 'x\n' }]);
    const result = await publish(
      'insighio',
      await manifestFor('f0000dea', body),
      { controlChannelId: CC, deviceId: `nobody-${process.pid}` },
      '--timeout',
      '2',
    );
    expect(result.code).toBe(1);
    expect(events(result.stdout).map((event) => event.event)).toEqual(['published', 'outcome']);
    expect(events(result.stdout).at(-1)).toEqual({ event: 'outcome', state: 'timed_out' });
  });
});

// ---------------------------------------------------------------------------------------------
// Degu, on the self-hosted shadow service
// ---------------------------------------------------------------------------------------------

describe('degu', () => {
  let files: FaultServer;
  let service: ShadowService;
  let serviceConnection: MqttConnection;
  const SCRIPT = Buffer.from("print('B')\n");

  beforeAll(async () => {
    files = await createFaultServer();
    files.route('/main_B.py', { body: SCRIPT });
    serviceConnection = await connectMqtt(broker.url, { clientId: `cli-shadow-${process.pid}` });
    service = createShadowService({ connection: serviceConnection });
    await service.start();
  });
  afterAll(async () => {
    await service?.stop();
    await serviceConnection?.close();
    await files?.close();
  });

  async function device() {
    const thingName = `CLIDEGU${process.pid}X${++count}`;
    const directory = join(root, thingName);
    await mkdir(directory, { recursive: true });
    const paths = {
      script: join(directory, 'main.py'),
      config: join(directory, 'CONFIG'),
      firmware: join(directory, 'degu.bin'),
    };
    await writeFile(paths.script, "print('A')\n");
    await writeFile(paths.firmware, 'firmware A');
    const connection = await connectMqtt(broker.url, { clientId: `agent-${thingName}` });
    cleanups.push(() => connection.close());
    const agent = createDeguAgent({
      thingName,
      connection,
      files: paths,
      stateDirectory: join(directory, 'state'),
      fsync: false,
      download: { retry: FAST_RETRY },
    });
    cleanups.push(() => agent.stop({ cancel: true }));
    await agent.start();
    return { thingName, paths, target: { thingName } };
  }

  const manifest = (name: string, sum: string) =>
    writeJson(root, name, {
      id: 'script',
      version: '2.0.0',
      artifacts: [{ url: `${files.url}/main_B.py`, md5: sum, target: 'script' }],
    });

  it('publish follows the device to committed (exit 0); watch, started first, prints the transitions', async () => {
    const dev = await device();
    const watch = await startWatch('degu', dev.target);
    const result = await publish('degu', await manifest('degu-good.json', md5(SCRIPT)), dev.target);
    expect(result.code, result.stderr).toBe(0);
    const printed = events(result.stdout);
    expect(printed[0]).toMatchObject({
      event: 'published',
      messages: [{ channel: 'mqtt', address: `$aws/things/${dev.thingName}/shadow/update` }],
    });
    expect(transitions(result)).toContain('committed');
    expect(printed.at(-1)).toEqual({ event: 'outcome', state: 'committed' });
    expect(await readFile(dev.paths.script)).toEqual(SCRIPT);

    await watch.line(/"to":"committed"/);
    const watched = await watch.stop('SIGINT');
    expect(watched.code, watched.stderr).toBe(0);
    const seen = events(watched.stdout).filter((event) => event.event === 'transition');
    expect(seen.map((event) => event.to)).toContain('committed');
    expect(seen.every((event) => event.deviceId === dev.thingName)).toBe(true);
  });

  it('an artifact whose MD5 differs from the order is never installed: no commit, exit 1', async () => {
    // Degu has no word for a failure: the device keeps reporting its old MD5s, so the publish
    // ends at its timeout, not committed.
    const dev = await device();
    const result = await publish(
      'degu',
      await manifest('degu-bad.json', md5('not the script')),
      dev.target,
      '--timeout',
      '2',
    );
    expect(result.code).toBe(1);
    expect(events(result.stdout).at(-1)).toEqual({ event: 'outcome', state: 'timed_out' });
    expect(transitions(result)).not.toContain('committed');
    expect(await readFile(dev.paths.script, 'utf8')).toBe("print('A')\n");
  });
});

// ---------------------------------------------------------------------------------------------
// Usage errors: nothing is sent
// ---------------------------------------------------------------------------------------------

describe('usage errors (exit 2, the option named)', () => {
  it('a --target that is not JSON', async () => {
    const manifest = await writeJson(root, 'usage.json', {
      id: 'app',
      version: '1.0.0',
      artifacts: [{ url: 'https://files.example.test/a.tar', size: 10, target: 'package' }],
    });
    const [published, watched] = await Promise.all([
      runCli([
        'publish',
        'insighio',
        '--broker',
        broker.url,
        '--manifest',
        manifest,
        '--target',
        '{"deviceId":',
      ]),
      runCli(['watch', 'degu', '--broker', broker.url, '--target', 'not json']),
    ]);
    expect(published.code).toBe(2);
    expect(published.stderr).toContain('--target');
    expect(published.stdout).toBe('');
    expect(watched.code).toBe(2);
    expect(watched.stderr).toContain('--target');
  });

  it('a --manifest file that does not exist', async () => {
    const missing = join(root, 'no-such-manifest.json');
    const result = await runCli([
      'publish',
      'degu',
      '--broker',
      broker.url,
      '--manifest',
      missing,
      '--target',
      '{"thingName":"X"}',
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--manifest');
    expect(result.stderr).toContain(missing);
  });
});
