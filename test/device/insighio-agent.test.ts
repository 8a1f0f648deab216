/**
 * The insigh.io device agent (`createInsighioAgent`) end to end, against real components: an
 * aedes broker in process (stopped and started again on the same port for the broker-loss
 * case), mosquitto with the device's password for the MQTT 5 and 3.1.1 happy path, and a
 * loopback package service that serves `/mf-rproxy/packages/download?fuid&did&dk&cid` as the
 * console does. The console's side (the retained order) is published by a second MQTT client.
 *
 * What the broker saw each client publish (topic, payload, retain flag, QoS, in order) is recorded
 * on the broker itself, so the tests check the device's wire messages as sent, not as forwarded.
 * Nothing is timed: waits poll for a condition and only their generous limits catch a hang.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isOtaError, type OtaError } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/logger.js';
import type { DeviceAgent } from '../../src/device/agent.js';
import type { IgnoredEvent } from '../../src/device/events.js';
import type { UpdateOutcome } from '../../src/machine/record.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import {
  createInsighioAgent,
  type InsighioAgentOptions,
  type InsighioTarget,
  insighioMqttOptions,
} from '../../src/node/agents/insighio.js';
import { orderPublication } from '../../src/protocols/insighio/publish.js';
import { otaTopic } from '../../src/protocols/insighio/topics.js';
import type { MqttConnection } from '../../src/transport/mqtt-connection.js';
import {
  gzip,
  makeTar,
  microfreezer,
  CC as VECTOR_CC,
  DID as VECTOR_DID,
  DK as VECTOR_DK,
} from '../protocols/insighio/fixtures.js';
import { findSystemBinary, skipOrFailInCi, until } from '../support/system-services.js';
import {
  type PackageServer,
  type SeenPublish,
  startAedes,
  startMosquitto,
  startPackageServer,
  type TestBroker,
} from './insighio-support.js';

/** A key nobody could mistake for anything else: the tests look for it in every log and message. */
const KEY = 'dk-S3cret-7f1c9a0e';
const CC = 'ctrl-insighio';
const FAST_RETRY = { baseDelayMs: 10, maxDelayMs: 50 };
const CHILD = join(import.meta.dirname, 'insighio-agent-child.ts');

const encoder = new TextEncoder();
type Format = 'tar' | 'microfreezer' | 'gzip';

/** The files of a package: the firmware's layout, paths relative to the device root. */
const NEW_FILES: Record<string, string> = {
  'boot.py': 'print("v2")\n',
  'apps/demo_console/scenario.py': 'SCENARIO = 2\n',
};

/** A package as microfreezer writes it: pax headers before every member, directories with `/`. */
async function packageOf(format: Format, files: Record<string, string> = NEW_FILES): Promise<Uint8Array> {
  const entries = [
    { name: 'apps/', type: '5', pax: { path: 'apps/' } },
    { name: 'apps/demo_console/', type: '5' },
    ...Object.entries(files).map(([name, data]) => ({ name, data, pax: { path: name } })),
  ];
  const tar = makeTar(entries);
  if (format === 'tar') return tar;
  return format === 'microfreezer' ? microfreezer(tar) : gzip(tar);
}

const fileTypeOf = (format: Format) => (format === 'tar' ? '.tar' : '.tar.gz');

/** A logger that keeps every line, context included, as text. */
function capture(lines: string[]): Logger {
  const keep =
    (level: string) =>
    (message: string, context?: Record<string, unknown>): void => {
      lines.push(`${level} ${message} ${JSON.stringify(context ?? {})}`);
    };
  return { debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') };
}

/** Everything an agent said, as events and as text (for the secret check). */
function watch(agent: DeviceAgent<InsighioTarget>) {
  const seen = {
    outcomes: [] as UpdateOutcome[],
    ignored: [] as IgnoredEvent[],
    errors: [] as OtaError[],
    states: [] as string[],
    text: [] as string[],
  };
  agent.on('outcome', (outcome) => {
    seen.outcomes.push(outcome);
    seen.text.push(JSON.stringify(outcome));
  });
  agent.on('ignored', (event) => {
    seen.ignored.push(event);
    seen.text.push(JSON.stringify(event));
  });
  agent.on('error', (error) => {
    seen.errors.push(error);
    seen.text.push(`${error.message} ${inspect(error)}`);
  });
  agent.on('transition', (event) => {
    seen.states.push(event.to);
    seen.text.push(JSON.stringify(event));
  });
  agent.on('order', (event) => seen.text.push(JSON.stringify(event)));
  agent.on('report', (event) => seen.text.push(JSON.stringify(event)));
  return seen;
}

async function readTree(root: string, prefix = ''): Promise<Record<string, string>> {
  const tree: Record<string, string> = {};
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(join(root, prefix), { withFileTypes: true });
  } catch {
    return tree;
  }
  for (const entry of entries) {
    const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) Object.assign(tree, await readTree(root, path));
    else tree[path] = await readFile(join(root, path), 'utf8');
  }
  return tree;
}

const OLD_TREE = { 'boot.py': 'print("v1")\n', 'keep/settings.json': '{"a":1}\n' };

async function writeTree(root: string, tree: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(tree)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

/** What a device published, as `[payload, retain]`, without the broker's other clients. */
const wire = (publishes: SeenPublish[], clientId: string, topic: string) =>
  publishes
    .filter((publish) => publish.clientId === clientId && publish.topic === topic)
    .map((publish) => [publish.payload, publish.retain, publish.qos] as const);

const applied = (fileId: string) => `[{"n":"e","v":1},{"n":"i","vs":"${fileId}"}]`;
const failed = (fileId: string, message: string) =>
  `[{"n":"e","v":2},{"n":"i","vs":"${fileId}"},{"n":"m","vs":"${message}"}]`;

// ---------------------------------------------------------------------------------------------
// Shared components, and one device (own ids, topic and directories) per test
// ---------------------------------------------------------------------------------------------

const roots: string[] = [];
const agents: DeviceAgent<InsighioTarget>[] = [];
const connections: MqttConnection[] = [];
/** Every text a test produced (logs, events, errors, MQTT payloads) that must never hold the key. */
const texts: (() => string[])[] = [];
let deviceCount = 0;

afterEach(async () => {
  await Promise.allSettled(agents.splice(0).map((agent) => agent.stop({ cancel: true })));
  await Promise.allSettled(connections.splice(0).map((connection) => connection.close()));
  const leaks = texts
    .splice(0)
    .flatMap((source) => source())
    .filter((text) => text.includes(KEY));
  expect(leaks, 'the device key appears in a log line, an event or an error').toEqual([]);
});

afterAll(async () => {
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
});

interface Rig {
  deviceId: string;
  clientId: string;
  root: string;
  app: string;
  topic: string;
  agent: DeviceAgent<InsighioTarget>;
  seen: ReturnType<typeof watch>;
  logs: string[];
  /** Install steps the directory installer passed (the `installed` step is one install done). */
  steps: string[];
}

interface RigOptions {
  broker: TestBroker;
  packages: PackageServer;
  /** Reuse this device (a restart): same ids and directories. */
  device?: Pick<Rig, 'deviceId' | 'root'>;
  tree?: Record<string, string>;
  options?: Partial<InsighioAgentOptions>;
  start?: boolean;
}

let clientCount = 0;

async function rig({ broker, packages, device, tree, options, start = true }: RigOptions): Promise<Rig> {
  const deviceId = device?.deviceId ?? `dev-${process.pid}-${++deviceCount}`;
  const root = device?.root ?? (await mkdtemp(join(tmpdir(), 'otakit-insighio-agent-')));
  if (device === undefined) roots.push(root);
  const app = join(root, 'app');
  if (tree !== undefined) await writeTree(app, tree);
  const clientId = `${deviceId}-${++clientCount}`;
  const connection = await connectMqtt(broker.url, {
    ...insighioMqttOptions({ deviceId, deviceKey: KEY, clientId }),
    reconnectPeriod: 50,
  });
  connections.push(connection);
  const logs: string[] = [];
  const steps: string[] = [];
  const agent = createInsighioAgent({
    target: { controlChannelId: CC, deviceId, baseUrl: packages.baseUrl, allowInsecureHttp: true },
    deviceKey: KEY,
    connection,
    installDirectory: app,
    stateDirectory: join(root, 'agent'),
    fsync: false,
    logger: capture(logs),
    download: { retry: FAST_RETRY },
    machine: { retry: { download: FAST_RETRY } },
    installer: { onStep: (step) => void steps.push(step) },
    ...options,
  });
  agents.push(agent);
  const seen = watch(agent);
  texts.push(
    () => logs,
    () => seen.text,
    () => broker.publishes.map((publish) => publish.payload),
  );
  if (start) await agent.start();
  return {
    deviceId,
    clientId,
    root,
    app,
    topic: otaTopic({ controlChannelId: CC, deviceId }),
    agent,
    seen,
    logs,
    steps,
  };
}

/** The console: publishes orders retained (QoS 1) on a device's OTA topic. */
async function startConsole(broker: TestBroker) {
  const connection = await connectMqtt(broker.url, {
    clientId: `console-${++clientCount}`,
    reconnectPeriod: 50,
  });
  return {
    close: () => connection.close(),
    async order(deviceId: string, fileId: string, fileType: string, size: number): Promise<void> {
      const publication = orderPublication({ controlChannelId: CC, deviceId }, { fileId, fileType, size });
      await connection.publish(publication.topic, publication.payload, publication.options);
    },
  };
}

const outcomes = (device: Rig, count: number) =>
  until(
    () => device.seen.outcomes.length >= count,
    () =>
      `${count} outcome(s); states so far: ${device.seen.states.join(' > ')}; errors: ${device.seen.errors.map((e) => e.message).join(' | ')}`,
  );

describe('createInsighioAgent against an in-process aedes broker and a loopback package service', () => {
  let broker: TestBroker;
  let packages: PackageServer;
  let cloud: Awaited<ReturnType<typeof startConsole>>;

  beforeAll(async () => {
    broker = await startAedes();
    packages = await startPackageServer({ deviceKey: KEY, controlChannelId: CC });
    cloud = await startConsole(broker);
  });
  afterAll(async () => {
    await cloud.close();
    await packages.close();
    await broker.stop();
  });

  it.each([
    ['a plain tar (.tar)', 'tar', 'f0000001'],
    ["microfreezer's pseudo-gzip (.tar.gz)", 'microfreezer', 'f0000002'],
    ['a standard gzip (.tar.gz)', 'gzip', 'f0000003'],
  ] as const)(
    'installs %s over the current tree, reports e=1, then clears the retained order',
    async (_, format, fileId) => {
      const body = await packageOf(format);
      packages.put(fileId, body);
      const device = await rig({ broker, packages, tree: OLD_TREE });
      await cloud.order(device.deviceId, fileId, fileTypeOf(format), body.length);
      await outcomes(device, 1);

      expect(device.seen.outcomes[0]).toMatchObject({
        state: 'committed',
        update: { id: fileId, version: fileId },
      });
      expect(device.agent.current).toEqual({ id: fileId, version: fileId });
      // The package's files over the old tree; the file it does not carry stays (overlay).
      expect(await readTree(device.app)).toEqual({ ...OLD_TREE, ...NEW_FILES });
      expect(await readdir(device.root)).toEqual(['agent', 'app']); // no backup, no staging left
      expect(await readdir(join(device.root, 'agent', 'staging'))).toEqual([]); // nor a download
      // The status first, then the empty retained payload that clears the order, both QoS 1.
      expect(wire(broker.publishes, device.clientId, device.topic)).toEqual([
        [applied(fileId), false, 1],
        ['', true, 1],
      ]);
      expect(await broker.retained(device.topic)).toBeNull();
      // Downloaded by file id, as this device, with its key on the wire only.
      expect(packages.requests.filter((request) => request.deviceId === device.deviceId)).toMatchObject([
        { fileId, keyAccepted: true, status: 200 },
      ]);
      expect(device.steps.filter((step) => step === 'installed')).toHaveLength(1);
    },
  );

  it('with installMode "replace", the directory becomes exactly the package', async () => {
    const body = await packageOf('tar');
    packages.put('f0000004', body);
    const device = await rig({ broker, packages, tree: OLD_TREE, options: { installMode: 'replace' } });
    await cloud.order(device.deviceId, 'f0000004', '.tar', body.length);
    await outcomes(device, 1);
    expect(device.seen.outcomes[0]?.state).toBe('committed');
    expect(await readTree(device.app)).toEqual(NEW_FILES);
  });

  describe('a corrupt artifact is reported (e=2) and nothing is installed', () => {
    it.each([
      ['c0000001', 'more', 100],
      ['c0000006', 'fewer', -100],
    ])(
      'size mismatch (%s: the order says %s bytes): refused, the order kept for the next attempt',
      async (fileId, _, delta) => {
        const body = await packageOf('tar');
        packages.put(fileId, body);
        const device = await rig({ broker, packages, tree: OLD_TREE });
        await cloud.order(device.deviceId, fileId, '.tar', body.length + delta);
        await outcomes(device, 1);
        // The download engine counts the bytes against `s` as they arrive.
        expect(device.seen.outcomes[0]?.state).toBe('download_failed');
        expect(device.seen.outcomes[0]?.error).toMatchObject({ name: 'IntegrityError', code: 'INTEGRITY' });
        expect(device.seen.outcomes[0]?.error?.message).toMatch(/size mismatch, expected \d+, got \d+$/);
        expect(await readTree(device.app)).toEqual(OLD_TREE);
        expect(wire(broker.publishes, device.clientId, device.topic)).toEqual([
          [failed(fileId, 'can not download'), false, 1],
        ]);
        // Not cleared: the firmware retries a failed download at its next wake.
        expect(await broker.retained(device.topic)).not.toBeNull();
        expect(device.steps).toEqual([]);
      },
    );

    it.each([
      [
        'a broken CRC-32 trailer (microfreezer)',
        'c0000002',
        async () => {
          const body = await packageOf('microfreezer');
          body[body.length - 1] = body[body.length - 1]! ^ 0xff;
          return body;
        },
      ],
      ['a truncated gzip', 'c0000003', async () => (await packageOf('gzip')).subarray(0, 60)],
      [
        'an entry that climbs out of the root (../)',
        'c0000004',
        () => packageOf('tar', { '../escaped.py': 'x\n' }),
      ],
      [
        'bytes that are no archive at all',
        'c0000005',
        async () => encoder.encode('<html>not a package</html>'),
      ],
    ])('broken archive: %s → e=2, the order cleared, the old tree untouched', async (_, fileId, make) => {
      const body = await make();
      packages.put(fileId, body);
      const device = await rig({ broker, packages, tree: OLD_TREE });
      await cloud.order(device.deviceId, fileId, '.tar.gz', body.length);
      await outcomes(device, 1);
      // The install step failed before the tree was touched; the machine rolls back (a no-op).
      expect(device.seen.outcomes[0]?.state).toBe('rolled_back');
      expect(device.seen.outcomes[0]?.error?.code).toMatch(/^(INSTALL|INTEGRITY)$/);
      expect(await readTree(device.app)).toEqual(OLD_TREE);
      expect(await readdir(device.root)).toEqual(['agent', 'app']);
      await expect(readFile(join(device.root, 'escaped.py'))).rejects.toThrow();
      expect(wire(broker.publishes, device.clientId, device.topic)).toEqual([
        [failed(fileId, 'rolled back'), false, 1],
        ['', true, 1],
      ]);
      expect(await broker.retained(device.topic)).toBeNull();
      expect(device.agent.current).toBeNull();
    });
  });

  it('a failed health check after the install puts the previous tree back: e=2 "rolled back", order cleared', async () => {
    const body = await packageOf('gzip');
    packages.put('g0000001', body);
    let sawNewTree: Record<string, string> | undefined;
    const device = await rig({
      broker,
      packages,
      tree: OLD_TREE,
      options: {
        hooks: {
          healthCheck: async () => {
            sawNewTree = await readTree(join(device.root, 'app'));
            return false;
          },
        },
      },
    });
    await cloud.order(device.deviceId, 'g0000001', '.tar.gz', body.length);
    await outcomes(device, 1);
    expect(sawNewTree).toEqual({ ...OLD_TREE, ...NEW_FILES }); // the health check ran on the new tree
    expect(device.seen.outcomes[0]).toMatchObject({ state: 'rolled_back', error: { code: 'HEALTH_CHECK' } });
    expect(await readTree(device.app)).toEqual(OLD_TREE);
    expect(await readdir(device.root)).toEqual(['agent', 'app']);
    expect(wire(broker.publishes, device.clientId, device.topic)).toEqual([
      [failed('g0000001', 'rolled back'), false, 1],
      ['', true, 1],
    ]);
    expect(device.agent.current).toBeNull();
  });

  it('not enough free space for `s`: refused before any request, reported e=2 "not enough space", order kept', async () => {
    const device = await rig({ broker, packages, tree: OLD_TREE });
    const huge = 2 ** 50; // 1 PiB: no test machine has it free
    await cloud.order(device.deviceId, 's0000001', '.tar.gz', huge);
    await outcomes(device, 1);
    const [outcome] = device.seen.outcomes;
    expect(outcome?.state).toBe('download_failed');
    expect(outcome?.error).toMatchObject({
      name: 'InsufficientSpaceError',
      code: 'DOWNLOAD',
      retryable: false,
    });
    expect(outcome?.error?.message).toMatch(/Not enough free space/);
    expect(packages.requests.filter((request) => request.fileId === 's0000001')).toEqual([]);
    expect(wire(broker.publishes, device.clientId, device.topic)).toEqual([
      [failed('s0000001', 'not enough space'), false, 1],
    ]);
    expect(await broker.retained(device.topic)).not.toBeNull();
    expect(await readTree(device.app)).toEqual(OLD_TREE);
  });

  it('the package service down, then up: the download is retried and the update completes', async () => {
    const body = await packageOf('microfreezer');
    packages.put('h0000001', body);
    const device = await rig({
      broker,
      packages,
      options: { download: { retry: { ...FAST_RETRY, attempts: 50 } } },
    });
    await packages.down();
    try {
      await cloud.order(device.deviceId, 'h0000001', '.tar.gz', body.length);
      await until(
        () => device.logs.some((line) => line.includes('otakit download retry')),
        () => 'a download retry',
      );
    } finally {
      await packages.up();
    }
    await outcomes(device, 1);
    expect(device.seen.outcomes[0]?.state).toBe('committed');
    expect(await readTree(device.app)).toEqual(NEW_FILES);
    expect(wire(broker.publishes, device.clientId, device.topic)).toEqual([
      [applied('h0000001'), false, 1],
      ['', true, 1],
    ]);
  });

  it('a duplicate order while the update runs is ignored; a replay after it is confirmed, not reinstalled', async () => {
    const body = await packageOf('tar');
    packages.put('d0000001', body);
    packages.stall('d0000001', 1024);
    const device = await rig({ broker, packages, tree: OLD_TREE });
    await cloud.order(device.deviceId, 'd0000001', '.tar', body.length);
    await until(
      () => device.seen.states.includes('downloading'),
      () => 'downloading',
    );
    // The console publishes the same order again while the device downloads it.
    await cloud.order(device.deviceId, 'd0000001', '.tar', body.length);
    await until(
      () => device.seen.ignored.some((event) => event.reason === 'duplicate'),
      () => 'duplicate',
    );
    packages.release();
    await outcomes(device, 1);
    expect(device.seen.outcomes[0]?.state).toBe('committed');

    // Replayed after the update: not installed again; confirmed (e=1) and cleared again.
    await cloud.order(device.deviceId, 'd0000001', '.tar', body.length);
    await until(
      () => wire(broker.publishes, device.clientId, device.topic).length === 4,
      () => 'the replay confirmed',
    );
    expect(device.seen.ignored.map((event) => event.reason)).toContain('already_installed');
    expect(wire(broker.publishes, device.clientId, device.topic)).toEqual([
      [applied('d0000001'), false, 1],
      ['', true, 1],
      [applied('d0000001'), false, 1],
      ['', true, 1],
    ]);
    expect(await broker.retained(device.topic)).toBeNull();
    expect(device.steps.filter((step) => step === 'installed')).toHaveLength(1);
    expect(device.seen.outcomes).toHaveLength(1);
    expect(packages.requests.filter((request) => request.fileId === 'd0000001')).toHaveLength(1);
  });

  it('a stale order (the installed file id, still retained) after a restart is not reinstalled', async () => {
    const body = await packageOf('gzip');
    packages.put('r0000001', body);
    const first = await rig({ broker, packages });
    await cloud.order(first.deviceId, 'r0000001', '.tar.gz', body.length);
    await outcomes(first, 1);
    expect(first.seen.outcomes[0]?.state).toBe('committed');
    await first.agent.stop();

    // The device was away; the console's order for the same package came back retained.
    await cloud.order(first.deviceId, 'r0000001', '.tar.gz', body.length);
    const second = await rig({ broker, packages, device: first });
    await until(
      () => second.seen.ignored.some((event) => event.reason === 'already_installed'),
      () => 'ignored',
    );
    await until(
      () => wire(broker.publishes, second.clientId, second.topic).length === 2,
      () => 'confirmation',
    );
    expect(wire(broker.publishes, second.clientId, second.topic)).toEqual([
      [applied('r0000001'), false, 1],
      ['', true, 1],
    ]);
    expect(await broker.retained(second.topic)).toBeNull();
    expect(second.seen.outcomes).toEqual([]);
    expect(second.steps).toEqual([]);
    expect(second.agent.current).toEqual({ id: 'r0000001', version: 'r0000001' });
    expect(packages.requests.filter((request) => request.fileId === 'r0000001')).toHaveLength(1);
  });

  it('cancel during the download: e=3, the order cleared, nothing installed', async () => {
    const body = await packageOf('tar');
    packages.put('x0000001', body);
    packages.stall('x0000001', 1024);
    const device = await rig({ broker, packages, tree: OLD_TREE });
    await cloud.order(device.deviceId, 'x0000001', '.tar', body.length);
    await until(
      () => device.seen.states.includes('downloading'),
      () => 'downloading',
    );
    await expect(device.agent.cancel('operator said no')).resolves.toBe(true);
    await outcomes(device, 1);
    packages.release();
    expect(device.seen.outcomes[0]?.state).toBe('canceled');
    expect(await readTree(device.app)).toEqual(OLD_TREE);
    expect(wire(broker.publishes, device.clientId, device.topic)).toEqual([
      ['[{"n":"e","v":3},{"n":"i","vs":"x0000001"}]', false, 1],
      ['', true, 1],
    ]);
    expect(await broker.retained(device.topic)).toBeNull();
  });

  it('a wrong device key for downloads (HTTP 403): e=2 "can not download", nothing installed, the key in no message', async () => {
    const body = await packageOf('tar');
    packages.put('k0000001', body);
    const device = await rig({ broker, packages, tree: OLD_TREE, options: { deviceKey: `${KEY}-revoked` } });
    await cloud.order(device.deviceId, 'k0000001', '.tar', body.length);
    await outcomes(device, 1);
    // Refused by the server: a typed transport failure, not retried (a 403 is no network weather).
    expect(device.seen.outcomes[0]).toMatchObject({
      state: 'download_failed',
      error: { name: 'TransportError', code: 'TRANSPORT', retryable: false },
    });
    expect(device.seen.outcomes[0]?.error?.message).toMatch(/403/);
    expect(packages.requests.filter((request) => request.fileId === 'k0000001')).toMatchObject([
      { keyAccepted: false, status: 403 },
    ]);
    expect(wire(broker.publishes, device.clientId, device.topic)).toEqual([
      [failed('k0000001', 'can not download'), false, 1],
    ]);
    expect(await readTree(device.app)).toEqual(OLD_TREE);
    // The revoked key (which contains KEY) in no event, log line or MQTT message.
    expect(broker.publishes.some((publish) => publish.payload.includes('revoked'))).toBe(false);
    expect([...device.logs, ...device.seen.text].some((line) => line.includes('revoked'))).toBe(false);
  });

  it('the broker refuses a subscription to the control topic: start() rejects with a typed error', async () => {
    const refusing = await startAedes({ refuseFiltersStartingWith: `channels/${CC}/` });
    try {
      const device = await rig({ broker: refusing, packages, start: false });
      const error = await device.agent.start().catch((caught: unknown) => caught);
      expect(isOtaError(error, 'TRANSPORT')).toBe(true);
      expect(device.agent.running).toBe(false);
      expect(await readTree(device.app)).toEqual({});
    } finally {
      await refusing.stop();
    }
  });
});

describe('bad MQTT credentials', () => {
  it('the broker refuses the device: connectMqtt rejects with a typed, non-retryable error, never echoing the key', async () => {
    const broker = await startAedes({
      authenticate: (user, password) => user === 'dev-good' && password === KEY,
    });
    try {
      const error = await connectMqtt(broker.url, {
        ...insighioMqttOptions({ deviceId: 'dev-good', deviceKey: `${KEY}-wrong` }),
        reconnectPeriod: 0,
      }).catch((caught: unknown) => caught);
      expect(isOtaError(error, 'TRANSPORT')).toBe(true);
      expect((error as OtaError).retryable).toBe(false);
      for (const text of [(error as Error).message, inspect(error), JSON.stringify(error)]) {
        expect(text).not.toContain(KEY);
      }
      expect(broker.publishes).toEqual([]);
    } finally {
      await broker.stop();
    }
  });
});

describe('configuration', () => {
  const connection = {} as MqttConnection;
  const base = {
    target: { controlChannelId: CC, deviceId: 'dev-config' },
    connection,
    installDirectory: '/nonexistent/app',
    stateDirectory: '/nonexistent/agent',
  };

  it('insighioMqttOptions: user = device id, password = key; printing it hides the key', () => {
    const options = insighioMqttOptions({ deviceId: VECTOR_DID, deviceKey: VECTOR_DK });
    expect({ ...options }).toEqual({
      username: VECTOR_DID,
      password: VECTOR_DK,
      clientId: VECTOR_DID,
      keepalive: 120,
    });
    for (const text of [JSON.stringify(options), inspect(options), `${inspect({ nested: options })}`]) {
      expect(text).not.toContain(VECTOR_DK);
      expect(text).toContain('***');
    }
  });

  it.each([
    [{ deviceId: 'a/b', deviceKey: KEY }, 'deviceId'],
    [{ deviceId: 'dev', deviceKey: '' }, 'deviceKey'],
    [{ deviceId: 'dev', deviceKey: `${KEY}\n` }, 'deviceKey'],
    [{ deviceId: 'dev', deviceKey: KEY, keepalive: -1 }, 'keepalive'],
  ])('insighioMqttOptions refuses %j naming %s, without the key', (settings, field) => {
    const error = (() => {
      try {
        insighioMqttOptions(settings);
      } catch (caught) {
        return caught as OtaError;
      }
      throw new Error('accepted');
    })();
    expect(isOtaError(error, 'CONFIG')).toBe(true);
    expect(error.message).toContain(field);
    expect(error.message).not.toContain(KEY);
  });

  it('needs the device key, once, and keeps it out of agent.target', () => {
    expect(() => createInsighioAgent(base)).toThrow(/deviceKey/);
    expect(() =>
      createInsighioAgent({ ...base, deviceKey: KEY, target: { ...base.target, deviceKey: 'other' } }),
    ).toThrow(/differ/);
    const agent = createInsighioAgent({ ...base, target: { ...base.target, deviceKey: KEY } });
    expect(agent.target).toEqual(base.target);
    expect(JSON.stringify(agent.target)).not.toContain(KEY);
  });

  it('refuses an invalid target naming the field, and an http: package service without allowInsecureHttp', () => {
    expect(() =>
      createInsighioAgent({ ...base, deviceKey: KEY, target: { controlChannelId: 'a#b', deviceId: 'dev' } }),
    ).toThrow(/controlChannelId/);
    expect(() =>
      createInsighioAgent({
        ...base,
        deviceKey: KEY,
        target: { ...base.target, baseUrl: 'http://127.0.0.1:1' },
      }),
    ).toThrow(/baseUrl/);
  });
});

// ---------------------------------------------------------------------------------------------
// SIGKILL of the agent's process, then a restart
// ---------------------------------------------------------------------------------------------

let childBundle: Promise<string> | undefined;
/**
 * The child bundled once (esbuild), so each process starts as plain node instead of compiling
 * TypeScript. Only otakit's sources are bundled; the packages (mqtt, zod…) stay imports, resolved
 * from the repository's node_modules, which is why the bundle is written below it.
 */
function childScript(): Promise<string> {
  childBundle ??= (async () => {
    const cache = join(import.meta.dirname, '../../node_modules/.cache');
    await mkdir(cache, { recursive: true });
    const directory = await mkdtemp(join(cache, 'otakit-insighio-child-'));
    roots.push(directory);
    const outfile = join(directory, 'insighio-agent-child.mjs');
    await build({
      entryPoints: [CHILD],
      bundle: true,
      packages: 'external',
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile,
      logLevel: 'error',
    });
    return outfile;
  })();
  return childBundle;
}

/** Agent processes still running: a failed test must not leave one behind. */
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: Record<string, unknown>[];
}

async function runChild(
  config: Record<string, unknown>,
  onLine: (line: Record<string, unknown>, kill: () => void) => void = () => {},
): Promise<ChildRun> {
  const script = await childScript();
  const child = spawn(process.execPath, [script, JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
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
      onLine(line, () => child.kill('SIGKILL'));
    }
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('exit', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
  );
  if (code !== 0 && signal === null) throw new Error(`agent child exited ${code}:\n${stderr}`);
  // What the agent's process printed (events, errors) never holds the key.
  texts.push(() => [...lines.map((line) => JSON.stringify(line)), stderr]);
  return { code, signal, lines };
}

// Each case starts processes (start-up dominates): they run concurrently, each its own device.
describe.concurrent('SIGKILL of the agent process, then a restart', () => {
  let broker: TestBroker;
  let packages: PackageServer;
  let cloud: Awaited<ReturnType<typeof startConsole>>;

  beforeAll(async () => {
    broker = await startAedes();
    packages = await startPackageServer({ deviceKey: KEY, controlChannelId: CC });
    cloud = await startConsole(broker);
  });
  afterAll(async () => {
    await cloud.close();
    await packages.close();
    await broker.stop();
  });

  async function prepare(fileId: string, body: Uint8Array) {
    const deviceId = `dev-kill-${process.pid}-${++deviceCount}`;
    const root = await mkdtemp(join(tmpdir(), 'otakit-insighio-kill-'));
    roots.push(root);
    await writeTree(join(root, 'app'), OLD_TREE);
    packages.put(fileId, body);
    const config = (run: number, extra: Record<string, unknown> = {}) => ({
      root,
      brokerUrl: broker.url,
      baseUrl: packages.baseUrl,
      controlChannelId: CC,
      deviceId,
      deviceKey: KEY,
      clientId: `${deviceId}-run${run}`,
      ...extra,
    });
    const topic = otaTopic({ controlChannelId: CC, deviceId });
    const sent = () =>
      broker.publishes
        .filter((publish) => publish.topic === topic && publish.clientId?.startsWith(deviceId))
        .map((publish) => [publish.payload, publish.retain] as const);
    return { deviceId, root, config, topic, sent };
  }

  it('killed mid-download: the new process resumes with Range and installs once', async ({ expect }) => {
    // 4 MiB: the file sink writes in 1 MiB batches, so a resume needs more than that on disk.
    const files = { ...NEW_FILES, 'lib/blob.bin': 'x'.repeat(4 * 1024 * 1024) };
    const body = await packageOf('tar', files);
    const { deviceId, root, config, topic, sent } = await prepare('k1000001', body);
    // The first response stops at 3/4 (socket open): however late the kill lands after 5/8 of
    // the package arrived (two batches written), the first process cannot have finished.
    packages.stall('k1000001', Math.floor((body.length * 3) / 4));
    const first = runChild(config(1), (line, kill) => {
      if (line.event === 'progress' && (line.bytes as number) >= (body.length * 5) / 8) kill();
    });
    await cloud.order(deviceId, 'k1000001', '.tar', body.length);
    const killed = await first;
    expect(killed.signal).toBe('SIGKILL');
    expect(sent()).toEqual([]); // insigh.io has no progress messages
    packages.release();

    const second = await runChild(config(2));
    expect(second.code).toBe(0);
    expect(second.lines.find((line) => line.event === 'outcome')).toMatchObject({
      outcome: { state: 'committed', update: { id: 'k1000001' } },
    });
    const requests = packages.requests.filter((request) => request.fileId === 'k1000001');
    expect(requests.at(-1)).toMatchObject({ status: 206 });
    expect(requests.at(-1)?.range).toMatch(/^bytes=[1-9]\d*-$/);
    expect(await readTree(join(root, 'app'))).toEqual({ ...OLD_TREE, ...files });
    expect(sent()).toEqual([
      [applied('k1000001'), false],
      ['', true],
    ]);
    expect(await broker.retained(topic)).toBeNull();
  });

  it.for(['staged', 'backed-up', 'renamed'])(
    'killed mid-install (after the installer step "%s"): the new process finishes it, e=1 once',
    async (step, { expect }) => {
      const fileId = `k2${step
        .replace(/[^a-z]/g, '')
        .slice(0, 6)
        .padEnd(6, '0')}`;
      const body = await packageOf('microfreezer');
      const { deviceId, root, config, topic, sent } = await prepare(fileId, body);
      const first = runChild(config(1, { killAtStep: step }));
      await cloud.order(deviceId, fileId, '.tar.gz', body.length);
      const killed = await first;
      expect(killed.signal).toBe('SIGKILL');
      expect(killed.lines.at(-1)).toEqual({ event: 'step', step });
      expect(sent()).toEqual([]);

      const second = await runChild(config(2));
      expect(second.lines.find((line) => line.event === 'outcome')).toMatchObject({
        outcome: { state: 'committed', update: { id: fileId } },
      });
      expect(await readTree(join(root, 'app'))).toEqual({ ...OLD_TREE, ...NEW_FILES });
      expect((await readdir(root)).sort()).toEqual(['agent', 'app']);
      expect(sent()).toEqual([
        [applied(fileId), false],
        ['', true],
      ]);
      expect(await broker.retained(topic)).toBeNull();
      expect(packages.requests.filter((request) => request.fileId === fileId)).toHaveLength(1);
    },
  );
});

// ---------------------------------------------------------------------------------------------
// Broker down, then up
// ---------------------------------------------------------------------------------------------

describe('the broker down, then up on the same port', () => {
  it('the retained order is delivered again, the running update is not started twice, and a report made meanwhile goes out once it is back', async () => {
    const broker = await startAedes();
    const packages = await startPackageServer({ deviceKey: KEY, controlChannelId: CC });
    try {
      const cloud = await startConsole(broker);
      connections.push({ close: cloud.close } as MqttConnection);
      const body = await packageOf('microfreezer');
      packages.put('b0000001', body);
      packages.stall('b0000001', 100);
      const device = await rig({ broker, packages, tree: OLD_TREE });
      await cloud.order(device.deviceId, 'b0000001', '.tar.gz', body.length);
      await until(
        () => device.seen.states.includes('downloading'),
        () => 'downloading',
      );

      await broker.stop();
      await broker.start();
      // mqtt.js reconnects and subscribes again; the broker sends the retained order again.
      await until(
        () => device.seen.ignored.some((event) => event.reason === 'duplicate'),
        () => 'the order delivered again (ignored as a duplicate)',
      );
      packages.release();
      await outcomes(device, 1);
      expect(device.seen.outcomes[0]?.state).toBe('committed');
      expect(await readTree(device.app)).toEqual({ ...OLD_TREE, ...NEW_FILES });
      await until(
        () => wire(broker.publishes, device.clientId, device.topic).length === 2,
        () => 'e=1 and clear',
      );
      expect(wire(broker.publishes, device.clientId, device.topic)).toEqual([
        [applied('b0000001'), false, 1],
        ['', true, 1],
      ]);
      expect(await broker.retained(device.topic)).toBeNull();

      // Down and up again: nothing retained any more, nothing happens.
      const ignoredBefore = device.seen.ignored.length;
      await broker.stop();
      await broker.start();
      await cloud.order(device.deviceId, 'b0000001', '.tar.gz', body.length);
      await until(
        () => device.seen.ignored.slice(ignoredBefore).some((event) => event.reason === 'already_installed'),
        () => 'the replay, ignored as installed',
      );
      expect(device.steps.filter((step) => step === 'installed')).toHaveLength(1);
      expect(device.seen.outcomes).toHaveLength(1);

      // The broker away while the device commits: its report waits for the broker, then goes.
      packages.put('b0000002', body);
      packages.stall('b0000002', 100);
      await cloud.order(device.deviceId, 'b0000002', '.tar.gz', body.length);
      await until(
        () => device.seen.states.filter((state) => state === 'downloading').length === 2,
        () => 'downloading',
      );
      await broker.stop();
      packages.release();
      await until(
        () => device.seen.states.filter((state) => state === 'committed').length === 2,
        () => 'committed',
      );
      await broker.start();
      await outcomes(device, 2);
      expect(device.seen.outcomes[1]?.state).toBe('committed');
      const second = () => {
        const sent = wire(broker.publishes, device.clientId, device.topic);
        return sent.slice(sent.findIndex(([payload]) => payload === applied('b0000002')));
      };
      await until(
        () => second().length >= 2 && second()[0]?.[0] === applied('b0000002'),
        () => 'e=1 and the clear for the second package',
      );
      expect(second().slice(0, 2)).toEqual([
        [applied('b0000002'), false, 1],
        ['', true, 1],
      ]);
      expect(await broker.retained(device.topic)).toBeNull();
      expect(device.steps.filter((step) => step === 'installed')).toHaveLength(2);
    } finally {
      await packages.close();
      await broker.stop();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// mosquitto
// ---------------------------------------------------------------------------------------------

const MOSQUITTO = findSystemBinary('mosquitto', 'MOSQUITTO_PATH');

describe('against a real mosquitto (user = device id, password = device key): the happy path, and a wrong key refused', () => {
  it.for([
    ['MQTT 5', 5],
    ['MQTT 3.1.1', 4],
  ] as const)('%s', async ([name, protocolVersion], context) => {
    if (!MOSQUITTO)
      skipOrFailInCi(context, 'no mosquitto on PATH or in /usr/sbin (apt-get install mosquitto)');
    const mosquitto = await startMosquitto(MOSQUITTO!, VECTOR_DID, VECTOR_DK);
    const packages = await startPackageServer({
      deviceId: VECTOR_DID,
      deviceKey: VECTOR_DK,
      controlChannelId: VECTOR_CC,
    });
    const root = await mkdtemp(join(tmpdir(), 'otakit-insighio-mosquitto-'));
    roots.push(root);
    try {
      const options = {
        ...insighioMqttOptions({ deviceId: VECTOR_DID, deviceKey: VECTOR_DK }),
        protocolVersion,
        reconnectPeriod: 50,
      };
      const device = await connectMqtt(mosquitto.url, options);
      connections.push(device);
      // The console, as a second session of the same thing (mosquitto has one user here).
      const consoleSession = await connectMqtt(mosquitto.url, {
        ...options,
        clientId: `console-${protocolVersion}`,
      });
      connections.push(consoleSession);
      const topic = otaTopic({ controlChannelId: VECTOR_CC, deviceId: VECTOR_DID });
      const heard: string[] = [];
      await consoleSession.subscribe(topic, (message) =>
        heard.push(new TextDecoder().decode(message.payload)),
      );

      const logs: string[] = [];
      const agent = createInsighioAgent({
        target: {
          controlChannelId: VECTOR_CC,
          deviceId: VECTOR_DID,
          baseUrl: packages.baseUrl,
          allowInsecureHttp: true,
        },
        deviceKey: VECTOR_DK,
        connection: device,
        installDirectory: join(root, `app-${protocolVersion}`),
        stateDirectory: join(root, `agent-${protocolVersion}`),
        fsync: false,
        logger: capture(logs),
      });
      agents.push(agent);
      const seen = watch(agent);
      await agent.start();
      const body = await packageOf('microfreezer');
      packages.put('fa8884d2', body);
      const order = orderPublication(
        { controlChannelId: VECTOR_CC, deviceId: VECTOR_DID },
        { fileId: 'fa8884d2', fileType: '.tar.gz', size: body.length },
      );
      await consoleSession.publish(order.topic, order.payload, order.options);
      await until(
        () => seen.outcomes.length > 0,
        () => `${name}: an outcome`,
      );
      expect(seen.outcomes[0]?.state).toBe('committed');
      expect(await readTree(join(root, `app-${protocolVersion}`))).toEqual(NEW_FILES);
      await until(
        () => heard.length >= 3,
        () => `${name}: order, e=1 and the clear`,
      );
      expect(heard.slice(1)).toEqual([applied('fa8884d2'), '']);
      // mosquitto's log shows the protocol and the retained clear (r1) from the device.
      const tag = protocolVersion === 5 ? 'p5' : 'p2';
      expect(mosquitto.log()).toMatch(new RegExp(`New client connected .* as ${VECTOR_DID} \\(${tag}`));
      expect(mosquitto.log()).toMatch(
        new RegExp(
          `Received PUBLISH from ${VECTOR_DID} \\(d0, q1, r1, m\\d+, '${topic}', \\.\\.\\. \\(0 bytes\\)\\)`,
        ),
      );
      for (const line of [...logs, ...seen.text]) expect(line).not.toContain(VECTOR_DK);

      // The same device with a wrong key: refused by the broker, a typed error without the key.
      const wrongKey = `${VECTOR_DK}-old`;
      const refused = await connectMqtt(mosquitto.url, {
        ...insighioMqttOptions({
          deviceId: VECTOR_DID,
          deviceKey: wrongKey,
          clientId: `refused-${protocolVersion}`,
        }),
        protocolVersion,
        reconnectPeriod: 0,
      }).catch((caught: unknown) => caught);
      expect(isOtaError(refused, 'TRANSPORT')).toBe(true);
      expect((refused as OtaError).retryable).toBe(false);
      expect(`${(refused as Error).message} ${inspect(refused)}`).not.toContain(VECTOR_DK);
    } finally {
      await Promise.allSettled(agents.splice(0).map((agent) => agent.stop()));
      await Promise.allSettled(connections.splice(0).map((connection) => connection.close()));
      await packages.close();
      await mosquitto.stop();
    }
  });
});
