/**
 * The Exosite device agent (`createExositeAgent`) end to end, against an in-process emulation of
 * Murano's device side (`createExositeEmulator` of otakit/testing: the HTTP device API on loopback
 * with long polls, `Last-Modified`/`If-Modified-Since`/`304`, the connector content API with
 * `Range`, and `$resource` over a real MQTT broker, aedes in process). Absolute payload URLs are
 * served by the fault server (a third-party host: it must never see the device token).
 *
 * Every agent logs into a recorder; after each test no log line, error, status or acknowledgement
 * may hold the device token. Nothing is timed: waits poll for a condition and only their generous
 * limits catch a hang.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isOtaError, type OtaError } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/logger.js';
import type { DeviceAgent } from '../../src/device/agent.js';
import type { IgnoredEvent } from '../../src/device/events.js';
import type { UpdateOutcome } from '../../src/machine/record.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { createExositeAgent, type ExositeAgentOptions, type ExositeTarget } from '../../src/node/index.js';
import type { OtauManifestInput } from '../../src/protocols/exosite/schemas.js';
import { createExositeEmulator, type ExositeEmulator } from '../../src/testing/exosite-murano.js';
import { createFaultServer, type FaultServer } from '../../src/testing/fault-server.js';
import type { MqttConnection } from '../../src/transport/mqtt-connection.js';
import { until } from '../support/system-services.js';

const TOKEN = 'cik-S3cret-9d2e4f7a0b1c';
const CHILD = join(import.meta.dirname, 'exosite-agent-child.ts');
const FAST = { attempts: 2, baseDelayMs: 5, maxDelayMs: 20 };

const cleanups: (() => Promise<unknown>)[] = [];
const roots: string[] = [];
/** Every text the device produced in a test: log lines, errors, statuses, acknowledgements. */
let texts: string[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  for (const text of texts) expect(text).not.toContain(TOKEN);
  texts = [];
});
afterAll(async () => {
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
});

async function tempRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'otakit-exosite-'));
  roots.push(root);
  return root;
}

async function murano(content: Record<string, string | Uint8Array> = {}): Promise<ExositeEmulator> {
  const emulator = await createExositeEmulator({
    productId: 'emul8ted',
    identity: 'sensor-7',
    token: TOKEN,
    content,
  });
  cleanups.push(async () => {
    for (const write of emulator.writes()) texts.push(write.value);
    await emulator.close();
  });
  return emulator;
}

function recordingLogger(): Logger {
  const line = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    texts.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}

interface Seen {
  outcomes: UpdateOutcome[];
  ignored: IgnoredEvent[];
  errors: OtaError[];
  orders: string[];
}

function watch(agent: DeviceAgent<ExositeTarget>): Seen {
  const seen: Seen = { outcomes: [], ignored: [], errors: [], orders: [] };
  agent.on('outcome', (outcome) => seen.outcomes.push(outcome));
  agent.on('ignored', (event) => seen.ignored.push(event));
  agent.on('error', (error) => {
    seen.errors.push(error);
    texts.push(error.message);
  });
  agent.on('order', (event) => seen.orders.push(event.manifest.version));
  return seen;
}

interface AgentSetup {
  emulator: ExositeEmulator;
  root?: string;
  transport?: 'http' | 'mqtt';
  connection?: MqttConnection;
  token?: string;
  extra?: Partial<ExositeAgentOptions>;
  start?: boolean;
}

async function startAgent(setup: AgentSetup) {
  const root = setup.root ?? (await tempRoot());
  const agent = createExositeAgent({
    target: {
      productId: setup.emulator.productId,
      identity: setup.emulator.identity,
      transport: setup.transport ?? 'http',
      token: setup.token ?? TOKEN,
      longPollTimeoutMs: 1_000,
    },
    ...(setup.connection === undefined ? {} : { connection: setup.connection }),
    apiOrigin: setup.emulator.origin,
    installDirectory: join(root, 'app'),
    stateDirectory: join(root, 'agent'),
    currentVersion: '1.0.0',
    fsync: false,
    logger: recordingLogger(),
    download: { retry: FAST },
    machine: { retry: { download: FAST } },
    poll: { backoff: { baseDelayMs: 20, maxDelayMs: 100 } },
    ...setup.extra,
  });
  const seen = watch(agent);
  cleanups.push(() => agent.stop({ cancel: true }));
  if (setup.start !== false) await agent.start();
  return { agent, seen, root, app: join(root, 'app') };
}

const words = (emulator: ExositeEmulator) => emulator.statuses().map((status) => status.status);

async function outcome(seen: Seen, count = 1): Promise<UpdateOutcome> {
  await until(
    () => seen.outcomes.length >= count,
    () => `${count} outcome(s), got ${JSON.stringify(seen)}`,
  );
  return seen.outcomes[count - 1]!;
}

async function listing(directory: string): Promise<string[]> {
  return (await readdir(directory).catch(() => [] as string[])).sort();
}

// ---------------------------------------------------------------------------------------------
// An in-process MQTT broker (aedes): the device authenticates as Murano's do (identity, token).
// ---------------------------------------------------------------------------------------------

interface Broker {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

async function startBroker(): Promise<Broker> {
  const broker = await Aedes.createBroker({
    authenticate(_client, username, password, callback) {
      const ok = username === 'murano' || (username === 'sensor-7' && password?.toString() === TOKEN);
      if (ok) return callback(null, true);
      callback(Object.assign(new Error('Not authorized'), { returnCode: 5 }) as never, false);
    },
  });
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  let port = 0;
  const start = async () => {
    const created = createServer((socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      broker.handle(socket);
    });
    created.listen(port, '127.0.0.1');
    await once(created, 'listening');
    port = (created.address() as AddressInfo).port;
    server = created;
  };
  const stop = async () => {
    const current = server;
    server = undefined;
    if (current === undefined) return;
    const closed = new Promise<void>((resolve) => current.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  await start();
  cleanups.push(async () => {
    await stop();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
  });
  return {
    get url() {
      return `mqtt://127.0.0.1:${port}`;
    },
    stop,
    start,
  };
}

let clients = 0;
async function connect(broker: Broker, username: string, password: string): Promise<MqttConnection> {
  const connection = await connectMqtt(broker.url, {
    clientId: `exosite-test-${process.pid}-${++clients}`,
    username,
    password,
    reconnect: { initialMs: 20, maxMs: 100 },
  });
  cleanups.push(() => connection.close());
  return connection;
}

// ---------------------------------------------------------------------------------------------
// Happy paths: each manifest type over each transport
// ---------------------------------------------------------------------------------------------

let files: FaultServer;
beforeAll(async () => {
  files = await createFaultServer();
  files.route('/cdn/second.bin', { body: new TextEncoder().encode('second file\n') });
  files.route('/cdn/otau.exe', { body: new TextEncoder().encode('an executable\n') });
});
afterAll(() => files.close());

const CONTENT = { 'firmware_updatev102.txt': 'firmware 1.0.2\n' };

function manifestOf(type: 'URL_LIST' | 'FILE' | 'JSON', version = '1.0.2'): OtauManifestInput {
  if (type === 'JSON') {
    return { version, name: 'settings', type, payload: { interval: 30, mode: 'eco' } } as OtauManifestInput;
  }
  if (type === 'FILE')
    return { version, name: 'tool', type, payload: `${files.url}/cdn/otau.exe` } as OtauManifestInput;
  return {
    version,
    name: 'Firmware update',
    description: 'firmware package updated',
    type,
    payload: ['firmware_updatev102.txt', `${files.url}/cdn/second.bin`],
  } as OtauManifestInput;
}

const EXPECTED_FILES = {
  URL_LIST: { 'firmware_updatev102.txt': 'firmware 1.0.2\n', 'second.bin': 'second file\n' },
  FILE: { 'otau.exe': 'an executable\n' },
  JSON: { 'payload.json': JSON.stringify({ interval: 30, mode: 'eco' }) },
} as const;

const EXPECTED_WORDS = {
  URL_LIST: [
    'INSTALLED_VERSION',
    'INIT',
    'TEST',
    'TEST_SUCCESS',
    'DOWNLOAD',
    'DOWNLOAD_STEP',
    'DOWNLOAD_STEP',
    'DOWNLOAD_SUCCESS',
    'INSTALL',
    'INSTALL_SUCCESS',
    'INSTALLED_VERSION',
  ],
  FILE: [
    'INSTALLED_VERSION',
    'INIT',
    'TEST',
    'TEST_SUCCESS',
    'DOWNLOAD',
    'DOWNLOAD_STEP',
    'DOWNLOAD_SUCCESS',
    'INSTALL',
    'INSTALL_SUCCESS',
    'INSTALLED_VERSION',
  ],
  // Nothing to download: E8.
  JSON: [
    'INSTALLED_VERSION',
    'INIT',
    'TEST',
    'TEST_SUCCESS',
    'INSTALL',
    'INSTALL_SUCCESS',
    'INSTALLED_VERSION',
  ],
};

describe.each(['http', 'mqtt'] as const)('happy path over %s', (transport) => {
  it.each(['URL_LIST', 'FILE', 'JSON'] as const)(
    '%s: acknowledged, statuses in order, installed',
    async (type) => {
      const emulator = await murano(CONTENT);
      let connection: MqttConnection | undefined;
      if (transport === 'mqtt') {
        const broker = await startBroker();
        await emulator.attachMqtt(await connect(broker, 'murano', 'platform'));
        connection = await connect(broker, 'sensor-7', TOKEN);
      }
      const { seen, app, root } = await startAgent({
        emulator,
        transport,
        ...(connection === undefined ? {} : { connection }),
      });
      const manifest = manifestOf(type);
      await emulator.setConfig(manifest);
      const result = await outcome(seen);
      expect(result).toMatchObject({ state: 'committed', update: { id: '1.0.2', version: '1.0.2' } });
      await until(
        () => words(emulator).length >= EXPECTED_WORDS[type].length,
        () => words(emulator).join(','),
      );
      expect(words(emulator)).toEqual(EXPECTED_WORDS[type]);
      const statuses = emulator.statuses();
      expect(statuses[0]).toEqual({ version: '1.0.0', status: 'INSTALLED_VERSION', message: '' });
      expect(statuses.slice(1).every((status) => status.version === '1.0.2')).toBe(true);
      if (type === 'URL_LIST') {
        expect(
          statuses.filter((status) => status.status === 'DOWNLOAD_STEP').map((status) => status.message),
        ).toEqual(['Downloading file 1 of 2', 'Downloading file 2 of 2']);
      }
      // The acknowledgement is the identical string, written before the first status of the update.
      const writes = emulator.writes();
      const ack = writes.findIndex((write) => write.alias === 'config_otau');
      expect(writes[ack]!.value).toBe(emulator.config().set);
      expect(emulator.acks()).toHaveLength(1);
      expect(ack).toBeLessThan(writes.findIndex((write) => write.value.includes('"INIT"')));
      for (const [name, text] of Object.entries(EXPECTED_FILES[type])) {
        expect(await readFile(join(app, name), 'utf8')).toBe(text);
      }
      // The downloads and their update's folder are gone once committed.
      expect(await readdir(join(root, 'agent', 'staging'))).toEqual([]);
      expect(await listing(app)).toEqual(['.otau.json', ...Object.keys(EXPECTED_FILES[type])].sort());
      expect(JSON.parse(await readFile(join(app, '.otau.json'), 'utf8'))).toMatchObject({
        version: '1.0.2',
        type,
      });
      // Connector content came with the token; the third-party host never saw it.
      if (type === 'URL_LIST') {
        expect(
          emulator.requests().filter((request) => request.path.startsWith('/provision/download')),
        ).toEqual([expect.objectContaining({ authorized: true, status: 200 })]);
      }
      // Over MQTT every write went by MQTT: no HTTP write reached the device API.
      if (transport === 'mqtt')
        expect(emulator.requests().filter((request) => request.method === 'POST')).toEqual([]);
      for (const headers of files.stats('/cdn/second.bin').headers)
        expect(headers['x-exosite-cik']).toBeUndefined();
      for (const headers of files.stats('/cdn/otau.exe').headers)
        expect(headers['x-exosite-cik']).toBeUndefined();
      expect(seen.errors).toEqual([]);
    },
  );
});

// ---------------------------------------------------------------------------------------------
// The HTTP long poll
// ---------------------------------------------------------------------------------------------

describe('HTTP long poll', () => {
  it('re-polls at once after a 304, then sends If-Modified-Since from the last Last-Modified', async () => {
    const emulator = await murano(CONTENT);
    // A plain-poll interval no test would wait for: only an immediate re-poll can pass.
    const { seen } = await startAgent({ emulator, extra: { poll: { intervalMs: 600_000 } } });
    const polls = () => emulator.requests().filter((request) => request.requestTimeout !== undefined);
    await until(
      () => polls().filter((poll) => poll.status === 304).length >= 2,
      () => JSON.stringify(polls()),
    );
    expect(polls().every((poll) => poll.requestTimeout === '1000')).toBe(true);
    // Before any change was seen, the poll asks since the epoch (a write made before it is not missed).
    expect(polls()[0]!.ifModifiedSince).toBe(new Date(0).toUTCString());
    await emulator.setConfig(manifestOf('JSON'));
    await outcome(seen);
    const lastModified = new Date(emulator.config().modifiedMs).toUTCString();
    await until(
      () => polls().some((poll) => poll.ifModifiedSince === lastModified),
      () => JSON.stringify(polls().slice(-3)),
    );
    // The read at start (no Request-Timeout) found nothing.
    expect(emulator.requests().find((request) => request.method === 'GET')).toBeDefined();
    expect(
      emulator
        .requests()
        .filter((request) => request.method === 'GET' && request.requestTimeout === undefined)[0],
    ).toMatchObject({ status: 204 });
  });

  it('takes an order written while the device API was down, once it is back', async () => {
    const emulator = await murano(CONTENT);
    const { seen } = await startAgent({ emulator });
    await emulator.stop();
    await until(
      () => seen.errors.length >= 2,
      () => `poll failures, got ${JSON.stringify(seen.errors)}`,
    );
    expect(seen.errors.every((error) => isOtaError(error, 'TRANSPORT') && error.retryable)).toBe(true);
    await emulator.setConfig(manifestOf('URL_LIST'));
    await emulator.start();
    expect(await outcome(seen)).toMatchObject({ state: 'committed' });
  });

  it('bad credentials: start() rejects with a typed 401 error, nothing installed, the token in no message', async () => {
    const emulator = await murano(CONTENT);
    await emulator.setConfig(manifestOf('URL_LIST'));
    const { agent, seen, app } = await startAgent({ emulator, token: 'wrong-token-0000', start: false });
    const failure = await agent.start().then(
      () => null,
      (error: unknown) => error as OtaError,
    );
    expect(failure).not.toBeNull();
    expect(isOtaError(failure, 'TRANSPORT')).toBe(true);
    expect(failure).toMatchObject({ status: 401, retryable: false });
    expect(failure!.message).not.toContain('wrong-token-0000');
    texts.push(failure!.message);
    for (const error of seen.errors) expect(error.message).not.toContain('wrong-token-0000');
    expect(await listing(app)).toEqual([]);
    expect(emulator.statuses()).toEqual([]);
    expect(emulator.acks()).toEqual([]);
    expect(agent.running).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// Failures: corrupt artifact, preflight, invalid manifest, cancel
// ---------------------------------------------------------------------------------------------

describe('failures', () => {
  it('a truncated artifact ends in DOWNLOAD_ERROR and installs nothing', async () => {
    const emulator = await murano(CONTENT);
    emulator.putContent('firmware_updatev102.txt', new Uint8Array(4096).fill(7), {
      truncateAfterBytes: 1000,
    });
    const root = await tempRoot();
    await mkdir(join(root, 'app'));
    await writeFile(join(root, 'app', 'old.txt'), 'old');
    const { seen, app } = await startAgent({ emulator, root });
    await emulator.setConfig(manifestOf('URL_LIST'));
    expect(await outcome(seen)).toMatchObject({ state: 'download_failed' });
    await until(
      () => words(emulator).includes('DOWNLOAD_ERROR'),
      () => words(emulator).join(','),
    );
    expect(words(emulator)).not.toContain('INSTALL');
    expect(await listing(app)).toEqual(['old.txt']);
  });

  it('bytes a verify hook refuses end in DOWNLOAD_ERROR and install nothing', async () => {
    const emulator = await murano(CONTENT);
    const { seen, app } = await startAgent({
      emulator,
      extra: { hooks: { verify: async () => false } },
    });
    await emulator.setConfig(manifestOf('FILE'));
    expect(await outcome(seen)).toMatchObject({ state: 'verify_failed' });
    await until(
      () => words(emulator).at(-1) === 'DOWNLOAD_ERROR',
      () => words(emulator).join(','),
    );
    expect(await listing(app)).toEqual([]);
  });

  it('a failed preflight is TEST_ERROR with its message, before any download', async () => {
    const emulator = await murano(CONTENT);
    const { seen } = await startAgent({
      emulator,
      extra: {
        preflight: () => {
          throw new Error('Not enough memory (required: 1024MB, available: 512MB).');
        },
      },
    });
    await emulator.setConfig(manifestOf('URL_LIST', '1.2.4'));
    expect(await outcome(seen)).toMatchObject({ state: 'download_failed', error: { code: 'CHECK' } });
    await until(
      () => words(emulator).at(-1) === 'TEST_ERROR',
      () => words(emulator).join(','),
    );
    expect(words(emulator)).toEqual(['INSTALLED_VERSION', 'INIT', 'TEST', 'TEST_ERROR']);
    expect(emulator.statuses().at(-1)).toEqual({
      version: '1.2.4',
      status: 'TEST_ERROR',
      message: 'Not enough memory (required: 1024MB, available: 512MB).',
    });
    expect(emulator.requests().some((request) => request.path.startsWith('/provision/download'))).toBe(false);
  });

  it('an unknown manifest type is acknowledged, then answered with TEST_ERROR (E9)', async () => {
    const emulator = await murano(CONTENT);
    const { seen } = await startAgent({ emulator });
    const value = JSON.stringify({ version: '9.9.9', name: 'zip', type: 'ZIP', payload: 'x.zip' });
    await emulator.setConfig(value);
    await until(
      () => words(emulator).includes('TEST_ERROR'),
      () => words(emulator).join(','),
    );
    expect(emulator.acks()).toEqual([value]);
    expect(emulator.statuses().at(-1)).toMatchObject({ version: '9.9.9', status: 'TEST_ERROR' });
    expect(seen.errors.some((error) => isOtaError(error, 'MANIFEST_INVALID'))).toBe(true);
    expect(seen.outcomes).toEqual([]);
  });

  it('withdrawing config_otau mid-download cancels: INSTALL_ABORTED, nothing installed', async () => {
    const emulator = await murano(CONTENT);
    emulator.putContent('firmware_updatev102.txt', new Uint8Array(64 * 1024).fill(1), {
      stallAfterBytes: 1024,
    });
    const { seen, app } = await startAgent({ emulator });
    await emulator.setConfig(manifestOf('URL_LIST'));
    await emulator.stalled('firmware_updatev102.txt');
    await emulator.setConfig('');
    expect(await outcome(seen)).toMatchObject({ state: 'canceled' });
    await until(
      () => words(emulator).at(-1) === 'INSTALL_ABORTED',
      () => words(emulator).join(','),
    );
    expect(emulator.acks()).toEqual([JSON.stringify(manifestOf('URL_LIST')), '']);
    expect(await listing(app)).toEqual([]);
  });

  it('cancel() mid-download: INSTALL_ABORTED', async () => {
    const emulator = await murano(CONTENT);
    emulator.putContent('firmware_updatev102.txt', new Uint8Array(64 * 1024).fill(1), {
      stallAfterBytes: 1024,
    });
    const { agent, seen, app } = await startAgent({ emulator });
    await emulator.setConfig(manifestOf('URL_LIST'));
    await emulator.stalled('firmware_updatev102.txt');
    expect(await agent.cancel('operator')).toBe(true);
    expect(await outcome(seen)).toMatchObject({ state: 'canceled' });
    await until(
      () => words(emulator).at(-1) === 'INSTALL_ABORTED',
      () => words(emulator).join(','),
    );
    expect(emulator.statuses().at(-1)).toMatchObject({ version: '1.0.2', message: 'operator' });
    expect(await listing(app)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// Duplicates, replays, stale orders, restarts
// ---------------------------------------------------------------------------------------------

describe('duplicate, replayed and stale orders', () => {
  it('HTTP: the same manifest again, an old answer replayed and a restart install nothing twice', async () => {
    const emulator = await murano(CONTENT);
    const first = await startAgent({ emulator });
    const value = JSON.stringify(manifestOf('URL_LIST'));
    await emulator.setConfig(value);
    await outcome(first.seen);
    const installs = () => emulator.statuses().filter((status) => status.status === 'INSTALL').length;
    // The platform writes the same manifest again: a new Last-Modified, the same version.
    await emulator.setConfig(value);
    await until(
      () => first.seen.ignored.some((event) => event.reason === 'already_installed'),
      () => JSON.stringify(first.seen.ignored),
    );
    // A proxy replays an answer from before the install (an older Last-Modified): stale.
    const older = JSON.stringify(manifestOf('FILE', '0.9.0'));
    emulator.replayOnce(older, emulator.config().modifiedMs - 60_000);
    await until(
      () => first.seen.ignored.some((event) => event.reason === 'no_order'),
      () => JSON.stringify(first.seen.ignored),
    );
    expect(first.seen.orders).toEqual(['1.0.2', '1.0.2']);
    expect(emulator.acks()).toEqual([value]);
    expect(installs()).toBe(1);
    await first.agent.stop();

    // A restart: INSTALLED_VERSION of what runs, and the manifest read at start is not run again.
    const before = emulator.statuses().length;
    const second = await startAgent({ emulator, root: first.root });
    await until(
      () => second.seen.ignored.some((event) => event.reason === 'already_installed'),
      () => JSON.stringify(second.seen),
    );
    expect(emulator.statuses().slice(before)).toEqual([
      { version: '1.0.2', status: 'INSTALLED_VERSION', message: '' },
    ]);
    expect(second.seen.outcomes).toEqual([]);
    expect(installs()).toBe(1);
  });

  it('MQTT: a re-sync at reconnect is not installed again; an older change is stale and not acknowledged', async () => {
    const broker = await startBroker();
    const emulator = await murano(CONTENT);
    const platform = await connect(broker, 'murano', 'platform');
    await emulator.attachMqtt(platform);
    const device = await connect(broker, 'sensor-7', TOKEN);
    const { seen, app } = await startAgent({ emulator, transport: 'mqtt', connection: device });
    await emulator.setConfig(manifestOf('URL_LIST'));
    await outcome(seen);
    const acks = emulator.acks().length;
    const oldTopic = `$resource/config_otau/${(emulator.config().modifiedMs - 60_000) * 1000}`;

    // The broker goes away and comes back: the device resubscribes and gets the retained value again.
    await broker.stop();
    await broker.start();
    await until(
      () => seen.ignored.some((event) => event.reason === 'already_installed'),
      () => JSON.stringify(seen.ignored),
    );
    // A change older than the one installed, delivered late (a stale order): neither run nor acknowledged.
    await platform.publish(oldTopic, JSON.stringify(manifestOf('FILE', '0.9.0')), { qos: 1 });
    await until(
      () => seen.ignored.filter((event) => event.reason === 'no_order').length >= 1,
      () => JSON.stringify(seen.ignored),
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen.orders).toEqual(['1.0.2', '1.0.2']);
    expect(emulator.acks()).toHaveLength(acks);
    expect(seen.outcomes).toHaveLength(1);
    expect(await listing(app)).toEqual(['.otau.json', 'firmware_updatev102.txt', 'second.bin']);
  });

  it('MQTT: refused credentials are a typed error naming no secret', async () => {
    const broker = await startBroker();
    const failure = await connectMqtt(broker.url, {
      clientId: `exosite-bad-${process.pid}`,
      username: 'sensor-7',
      password: 'wrong-token-1111',
      reconnectPeriod: 0,
    }).then(
      async (connection) => {
        await connection.close();
        return null;
      },
      (error: unknown) => error as OtaError,
    );
    expect(isOtaError(failure, 'TRANSPORT')).toBe(true);
    expect(failure!.retryable).toBe(false);
    expect(failure!.message).not.toContain('wrong-token-1111');
  });
});

// ---------------------------------------------------------------------------------------------
// SIGKILL of the agent's process, then a restart
// ---------------------------------------------------------------------------------------------

let childBundle: Promise<string> | undefined;
/** The child bundled once (esbuild), so each process starts as plain node. */
function childScript(): Promise<string> {
  childBundle ??= (async () => {
    const directory = await tempRoot();
    const outfile = join(directory, 'exosite-agent-child.mjs');
    await build({
      entryPoints: [CHILD],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile,
      logLevel: 'error',
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
    });
    return outfile;
  })();
  return childBundle;
}

async function runChild(
  config: Record<string, unknown>,
  killWhen?: () => Promise<void>,
): Promise<{ signal: NodeJS.Signals | null; lines: Record<string, unknown>[] }> {
  const child = spawn(process.execPath, [await childScript(), JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  void killWhen?.().then(() => child.kill('SIGKILL'));
  const lines: Record<string, unknown>[] = [];
  let buffer = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop()!;
    for (const part of parts) {
      const line = JSON.parse(part) as Record<string, unknown>;
      lines.push(line);
      texts.push(part);
    }
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('exit', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
  );
  if (code !== 0 && signal === null) throw new Error(`agent child exited ${code}:\n${stderr}`);
  return { signal, lines };
}

describe('SIGKILL of the agent process, then a restart', () => {
  // Over the file sink's 1 MiB write batch, so that a kill leaves bytes on disk to resume from.
  const MiB = 1024 * 1024;
  const BIG = new Uint8Array(3 * MiB).map((_, index) => (index * 7) % 251);

  async function prepare(emulator: ExositeEmulator) {
    const root = await tempRoot();
    await mkdir(join(root, 'app'));
    await writeFile(join(root, 'app', 'old.txt'), 'old');
    const config = (extra: Record<string, unknown> = {}) => ({
      root,
      origin: emulator.origin,
      productId: emulator.productId,
      identity: emulator.identity,
      token: TOKEN,
      ...extra,
    });
    return { root, config };
  }

  const outcomeOf = (lines: Record<string, unknown>[]) =>
    lines.find((line) => line.event === 'outcome')?.outcome as UpdateOutcome | undefined;

  it('mid-download: the restart resumes with Range and installs', async () => {
    const emulator = await murano({ 'big.bin': BIG });
    emulator.putContent('big.bin', BIG, { stallAfterBytes: 2.5 * MiB });
    await emulator.setConfig({ version: '2.0.0', name: 'big', type: 'URL_LIST', payload: ['big.bin'] });
    const { root, config } = await prepare(emulator);
    // Killed once the server holds the response and at least 1 MiB is on disk (the file sink
    // writes 1 MiB batches): there is something to resume from.
    const part = join(root, 'agent', 'staging', '2.0.0', '0.part');
    const first = await runChild(config(), async () => {
      await emulator.stalled('big.bin');
      for (;;) {
        const size = await stat(part).then(
          (stats) => stats.size,
          () => 0,
        );
        if (size >= MiB) return;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    });
    expect(first.signal).toBe('SIGKILL');
    expect(await listing(join(root, 'app'))).toEqual(['old.txt']);
    emulator.release('big.bin');
    const before = emulator.statuses().length;

    const second = await runChild(config());
    expect(outcomeOf(second.lines)).toMatchObject({ state: 'committed', update: { version: '2.0.0' } });
    const ranges = emulator
      .requests()
      .filter((request) => request.path.includes('id=big.bin'))
      .map((request) => request.range);
    expect(ranges[0]).toBeUndefined();
    expect(ranges.at(-1)).toMatch(/^bytes=\d+-$/);
    // The first batch was on disk before the second began: at least 1 MiB was not fetched again.
    expect(Number(/^bytes=(\d+)-$/.exec(ranges.at(-1)!)![1])).toBeGreaterThanOrEqual(MiB);
    // Buffer.equals: a deep equality of 3 MiB element by element takes vitest minutes.
    expect(Buffer.from(BIG).equals(await readFile(join(root, 'app', 'big.bin')))).toBe(true);
    expect(await listing(join(root, 'app'))).toEqual(['.otau.json', 'big.bin']);
    await until(
      () =>
        words(emulator)
          .slice(before)
          .filter((word) => word === 'INSTALLED_VERSION').length === 2,
      () => words(emulator).join(','),
    );
    expect(words(emulator).slice(before)).toEqual([
      'TEST',
      'TEST_SUCCESS',
      'DOWNLOAD',
      'DOWNLOAD_STEP',
      'DOWNLOAD_SUCCESS',
      'INSTALL',
      'INSTALL_SUCCESS',
      'INSTALLED_VERSION',
      // The boot report, sent once start() finished what the restart found.
      'INSTALLED_VERSION',
    ]);
  });

  it('mid-install: the restart installs again and commits, the old version gone, no backup left', async () => {
    const emulator = await murano(CONTENT);
    await emulator.setConfig(manifestOf('URL_LIST', '3.0.0'));
    const { root, config } = await prepare(emulator);
    const first = await runChild(config({ killAtStep: 'renamed' }));
    expect(first.signal).toBe('SIGKILL');
    expect(first.lines.some((line) => line.event === 'step' && line.step === 'renamed')).toBe(true);
    const before = emulator.statuses().length;

    const second = await runChild(config());
    expect(outcomeOf(second.lines)).toMatchObject({ state: 'committed', update: { version: '3.0.0' } });
    expect(await listing(join(root, 'app'))).toEqual(['.otau.json', 'firmware_updatev102.txt', 'second.bin']);
    expect(await listing(root)).toEqual(['agent', 'app']);
    await until(
      () =>
        words(emulator)
          .slice(before)
          .filter((word) => word === 'INSTALLED_VERSION').length === 2,
      () => words(emulator).join(','),
    );
    // The last is the boot report, sent once start() finished what the restart found.
    expect(words(emulator).slice(before)).toEqual([
      'INSTALL',
      'INSTALL_SUCCESS',
      'INSTALLED_VERSION',
      'INSTALLED_VERSION',
    ]);
  });
});
