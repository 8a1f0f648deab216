/**
 * The insigh.io cloud side end to end, against the real insigh.io device agent
 * (`createInsighioAgent`), an aedes broker in process (and mosquitto with the device's password)
 * and the package server of otakit/node on loopback: the publisher writes the package, stores it,
 * registers its file id against the release and sends the retained order; the device downloads
 * it from the package server, installs it and reports `e` = 1 or 2; the fleet shows the release
 * and its version. Nothing is timed: waits poll for a condition, and their generous limits only
 * catch a hang.
 */
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Fleet } from '../../src/cloud/fleet/fleet.js';
import { MemoryFleetStore } from '../../src/cloud/fleet/memory-store.js';
import type { DeviceSnapshot, FleetIngestResult } from '../../src/cloud/fleet/types.js';
import { MemoryPackageStore } from '../../src/cloud/insighio/package-store.js';
import type { PackageFile } from '../../src/cloud/insighio/package-writer.js';
import { createInsighIoPublisher, type InsighIoPublisher } from '../../src/cloud/insighio/publisher.js';
import type { Logger } from '../../src/core/logger.js';
import { MemoryStore } from '../../src/core/store.js';
import type { DeviceAgent } from '../../src/device/agent.js';
import type { UpdateOutcome } from '../../src/machine/record.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import {
  createInsighioAgent,
  type InsighioAgentOptions,
  type InsighioTarget,
  insighioMqttOptions,
} from '../../src/node/agents/insighio.js';
import {
  type InsighIoPackageServer,
  insighIoPackageHandler,
  startInsighIoPackageServer,
} from '../../src/node/cloud/insighio-package-server.js';
import { otaTopic } from '../../src/protocols/insighio/topics.js';
import { mqttChannel } from '../../src/transport/mqtt-channel.js';
import type { MqttConnection } from '../../src/transport/mqtt-connection.js';
import { startAedes, startMosquitto, type TestBroker } from '../device/insighio-support.js';
import { findSystemBinary, skipOrFailInCi, until } from '../support/system-services.js';

const KEY = 'dk-Cloud-S3cret-41d7';
const CC = 'ctrl-insighio-cloud';
const WAIT = 45_000;
const FAST_RETRY = { baseDelayMs: 10, maxDelayMs: 50 };
const MOSQUITTO = findSystemBinary('mosquitto', 'MOSQUITTO');

const FILES: PackageFile[] = [
  { path: 'boot.py', data: 'print("v2")\n' },
  { path: 'apps/demo_console/scenario.py', data: 'SCENARIO = 2\n' },
];
const INSTALLED = { 'boot.py': 'print("v2")\n', 'apps/demo_console/scenario.py': 'SCENARIO = 2\n' };
const RELEASE = { id: 'demo-app', version: '2.0.0', files: FILES };

/** A logger that keeps every line, context included, as text (for the secret check). */
function capture(lines: string[]): Logger {
  const keep =
    (level: string) =>
    (message: string, context?: Record<string, unknown>): void => {
      lines.push(`${level} ${message} ${JSON.stringify(context ?? {})}`);
    };
  return { debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') };
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

// ---------------------------------------------------------------------------------------------
// The service: publisher, fleet, catalog store, package store and package server
// ---------------------------------------------------------------------------------------------

const cleanups: (() => Promise<unknown>)[] = [];
const roots: string[] = [];
/** Every text a test produced that must never hold the key. */
const texts: (() => string[])[] = [];
let count = 0;

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  const leaks = texts
    .splice(0)
    .flatMap((source) => source())
    .filter((text) => text.includes(KEY));
  expect(leaks, 'the device key appears in a log line, an event or a message').toEqual([]);
});

afterAll(async () => {
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
});

/** What stays when the service restarts: its stores. */
interface Stores {
  catalog: MemoryStore;
  fleet: MemoryFleetStore;
  packages: MemoryPackageStore;
}

const newStores = (): Stores => ({
  catalog: new MemoryStore(),
  fleet: new MemoryFleetStore(),
  packages: new MemoryPackageStore(),
});

interface Service {
  publisher: InsighIoPublisher;
  fleet: Fleet;
  connection: MqttConnection;
  /** The latest snapshot of each device, as the fleet emitted it. */
  devices: Map<string, DeviceSnapshot>;
  results: FleetIngestResult[];
  logs: string[];
  close(): Promise<void>;
}

async function startService(
  url: string,
  stores: Stores,
  auth: { username?: string; password?: string } = {},
) {
  const connection = await connectMqtt(url, {
    clientId: `service-${process.pid}-${++count}`,
    reconnectPeriod: 50,
    ...auth,
  });
  const fleet = new Fleet({ store: stores.fleet });
  const devices = new Map<string, DeviceSnapshot>();
  fleet.on('device', (snapshot) => devices.set(snapshot.deviceId, snapshot));
  const logs: string[] = [];
  const publisher = createInsighIoPublisher({
    mqtt: mqttChannel(connection),
    store: stores.catalog,
    packages: stores.packages,
    fleet,
    logger: capture(logs),
  });
  const results: FleetIngestResult[] = [];
  publisher.on('status', (event) => results.push(event.result));
  texts.push(() => logs);
  const close = async () => {
    await publisher.close();
    await connection.close();
  };
  cleanups.push(close);
  const service: Service = { publisher, fleet, connection, devices, results, logs, close };
  return service;
}

async function startPackages(stores: Stores, keys: Map<string, string>) {
  const logs: string[] = [];
  const server = await startInsighIoPackageServer({
    packages: stores.packages,
    deviceKey: ({ deviceId, controlChannelId }) => (controlChannelId === CC ? keys.get(deviceId) : undefined),
    logger: capture(logs),
  });
  texts.push(() => logs);
  cleanups.push(() => server.close());
  return { server, logs };
}

// ---------------------------------------------------------------------------------------------
// The device: the real agent, its own ids and directories
// ---------------------------------------------------------------------------------------------

interface Device {
  deviceId: string;
  root: string;
  app: string;
  topic: string;
  target: InsighioTarget;
  agent: DeviceAgent<InsighioTarget>;
  outcomes: UpdateOutcome[];
  logs: string[];
  stop(): Promise<void>;
}

interface DeviceOptions {
  url: string;
  packages: InsighIoPackageServer;
  keys: Map<string, string>;
  /** The same device again (a reboot): same id and directories. */
  again?: Pick<Device, 'deviceId' | 'root'>;
  /** The key the device uses (another than the one the service knows, to test the refusal). */
  deviceKey?: string;
  mqttAuth?: { username: string; password: string };
  deviceId?: string;
  options?: Partial<InsighioAgentOptions>;
}

async function startDevice({
  url,
  packages,
  keys,
  again,
  deviceKey = KEY,
  mqttAuth,
  deviceId: givenId,
  options,
}: DeviceOptions): Promise<Device> {
  const deviceId = again?.deviceId ?? givenId ?? `dev-${process.pid}-${++count}`;
  keys.set(deviceId, KEY);
  const root = again?.root ?? (await mkdtemp(join(tmpdir(), 'otakit-insighio-cloud-')));
  if (again === undefined) roots.push(root);
  const connection = await connectMqtt(url, {
    ...insighioMqttOptions({ deviceId, deviceKey, clientId: `${deviceId}-${++count}` }),
    ...(mqttAuth ?? {}),
    reconnectPeriod: 50,
  });
  const logs: string[] = [];
  const target: InsighioTarget = {
    controlChannelId: CC,
    deviceId,
    baseUrl: packages.baseUrl,
    allowInsecureHttp: true,
  };
  const agent = createInsighioAgent({
    target,
    deviceKey,
    connection,
    installDirectory: join(root, 'app'),
    stateDirectory: join(root, 'agent'),
    fsync: false,
    logger: capture(logs),
    download: { retry: FAST_RETRY },
    machine: { retry: { download: FAST_RETRY } },
    ...options,
  });
  const outcomes: UpdateOutcome[] = [];
  agent.on('outcome', (outcome) => outcomes.push(outcome));
  texts.push(() => logs);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await agent.stop({ cancel: true }).catch(() => {});
    await connection.close();
  };
  cleanups.push(stop);
  await agent.start();
  return {
    deviceId,
    root,
    app: join(root, 'app'),
    topic: otaTopic({ controlChannelId: CC, deviceId }),
    target: { controlChannelId: CC, deviceId },
    agent,
    outcomes,
    logs,
    stop,
  };
}

const stateOf = (service: Service, deviceId: string) => service.devices.get(deviceId)?.state;

function fleetState(service: Service, deviceId: string, state: string) {
  return until(
    () => stateOf(service, deviceId) === state,
    () => `the fleet to show ${deviceId} ${state} (it shows ${stateOf(service, deviceId)})`,
    WAIT,
  );
}

// ---------------------------------------------------------------------------------------------

describe('insigh.io publisher, package server and the real device agent over aedes', () => {
  let broker: TestBroker;

  beforeAll(async () => {
    broker = await startAedes();
    texts.push(() => broker.publishes.map((publish) => publish.payload));
  });
  afterAll(async () => {
    await broker.stop();
  });

  it('publish → the device downloads and installs → e=1 → the fleet shows the release committed, with its version', async () => {
    const stores = newStores();
    const keys = new Map<string, string>();
    const { server, logs: serverLogs } = await startPackages(stores, keys);
    const service = await startService(broker.url, stores);
    const device = await startDevice({ url: broker.url, packages: server, keys });
    await service.publisher.watch(device.target);

    const published = await service.publisher.publish(device.target, {
      ...RELEASE,
      format: 'insighio-zlib',
    });
    const { fileId } = published.entry;
    expect(published.entry).toMatchObject({ fileType: '.tar.gz', releaseId: 'demo-app', version: '2.0.0' });
    expect(published.lost).toEqual([]);
    expect(published.messages).toEqual([
      {
        channel: 'mqtt',
        address: device.topic,
        payload: `[{"n":"e","v":0},{"n":"i","vs":"${fileId}"},{"n":"t","vs":".tar.gz"},{"n":"s","v":${published.entry.size}}]`,
        qos: 1,
        retain: true,
      },
    ]);

    await fleetState(service, device.deviceId, 'committed');
    const snapshot = await service.fleet.device(device.deviceId);
    expect(snapshot).toMatchObject({
      state: 'committed',
      update: { id: 'demo-app', version: '2.0.0' },
      current: { id: 'demo-app', version: '2.0.0' },
      protocol: 'insighIo',
    });
    const history = await service.fleet.history(device.deviceId);
    expect(history.map((entry) => [entry.from, entry.to])).toEqual([
      ['idle', 'available'],
      ['available', 'committed'],
    ]);
    expect(await service.fleet.anomalies()).toEqual([]);
    await until(
      () => device.outcomes.length > 0,
      () => 'the device outcome',
      WAIT,
    );
    expect(device.outcomes[0]).toMatchObject({ state: 'committed', update: { id: fileId } });
    expect(await readTree(device.app)).toEqual(INSTALLED);
    // The device cleared the order; the download was one authorised 200.
    await until(
      () => broker.publishes.some((p) => p.topic === device.topic && p.payload === '' && p.retain),
      () => 'the retained order cleared by the device',
      WAIT,
    );
    expect(await broker.retained(device.topic)).toBeNull();
    expect(serverLogs.filter((line) => line.includes('download'))).toHaveLength(1);
    expect(serverLogs[0]).toContain(`"fileId":"${fileId}"`);
    expect(serverLogs[0]).toContain('"status":200');
  }, 90_000);

  it('a device without enough space reports e=2 "not enough space": the fleet shows download_failed for the release', async () => {
    const stores = newStores();
    const keys = new Map<string, string>();
    const { server } = await startPackages(stores, keys);
    const service = await startService(broker.url, stores);
    const device = await startDevice({
      url: broker.url,
      packages: server,
      keys,
      options: { download: { retry: FAST_RETRY, reserveBytes: 2 ** 50 } },
    });
    await service.publisher.watch(device.target);
    await service.publisher.publish(device.target, RELEASE);
    await fleetState(service, device.deviceId, 'download_failed');
    const snapshot = await service.fleet.device(device.deviceId);
    expect(snapshot?.update).toEqual({ id: 'demo-app', version: '2.0.0' });
    expect(snapshot?.lastError).toMatchObject({ code: 'DOWNLOAD', message: 'not enough space' });
    // The order stays for the next attempt, as the firmware does.
    expect(await broker.retained(device.topic)).not.toBeNull();
    expect(await readTree(device.app)).toEqual({});
  }, 90_000);

  it('a package corrupted in storage: the device refuses it, e=2 "rolled back", the fleet shows the failure', async () => {
    const stores = newStores();
    const keys = new Map<string, string>();
    const { server } = await startPackages(stores, keys);
    const service = await startService(broker.url, stores);
    // Published while the device is away, corrupted before it comes to download.
    const deviceId = `dev-${process.pid}-corrupt`;
    const target = { controlChannelId: CC, deviceId };
    await service.publisher.watch(target);
    const { entry } = await service.publisher.publish(target, { ...RELEASE, format: 'insighio-zlib' });
    const stored = (await stores.packages.get(entry.fileId))!.slice();
    stored[stored.length - 1]! ^= 0xff; // the CRC-32 trailer no longer matches
    await stores.packages.put(entry.fileId, stored);

    const device = await startDevice({ url: broker.url, packages: server, keys, deviceId });
    await fleetState(service, device.deviceId, 'rolled_back');
    const snapshot = await service.fleet.device(device.deviceId);
    expect(snapshot).toMatchObject({
      update: { id: 'demo-app', version: '2.0.0' },
      current: null,
      lastError: { code: 'INSTALL', message: 'rolled back' },
    });
    expect(await readTree(device.app)).toEqual({});
  }, 90_000);

  it('a wrong device key: the package server refuses the download (403), the device reports e=2, the key in no log', async () => {
    const stores = newStores();
    const keys = new Map<string, string>();
    const { server, logs: serverLogs } = await startPackages(stores, keys);
    const service = await startService(broker.url, stores);
    const device = await startDevice({
      url: broker.url,
      packages: server,
      keys,
      deviceKey: `${KEY}-stale`,
      options: { download: { retry: { ...FAST_RETRY, attempts: 1 } } },
    });
    await service.publisher.watch(device.target);
    await service.publisher.publish(device.target, RELEASE);
    await fleetState(service, device.deviceId, 'download_failed');
    expect((await service.fleet.device(device.deviceId))?.lastError?.message).toBe('can not download');
    expect(serverLogs.some((line) => line.includes('"status":403'))).toBe(true);
    expect(serverLogs.some((line) => line.includes('"status":200'))).toBe(false);
    expect(serverLogs.join('\n')).not.toContain('stale');
    expect(await readTree(device.app)).toEqual({});
  }, 90_000);

  it('a device offline mid-update comes back: the retained order waits, the fleet shows available, then committed', async () => {
    const stores = newStores();
    const keys = new Map<string, string>();
    const { server } = await startPackages(stores, keys);
    const service = await startService(broker.url, stores);
    const first = await startDevice({ url: broker.url, packages: server, keys });
    await service.publisher.watch(first.target);
    await first.stop(); // goes offline before the order comes
    await service.publisher.publish(first.target, RELEASE);
    expect((await service.fleet.device(first.deviceId))?.state).toBe('available');
    expect(await broker.retained(first.topic)).not.toBeNull();

    const back = await startDevice({ url: broker.url, packages: server, keys, again: first });
    await fleetState(service, back.deviceId, 'committed');
    expect((await service.fleet.device(back.deviceId))?.update).toEqual({ id: 'demo-app', version: '2.0.0' });
    expect(await readTree(back.app)).toEqual(INSTALLED);
  }, 90_000);

  it('a download cut midway resumes with Range + If-Range from the package server (206) and installs once', async () => {
    const stores = newStores();
    const keys = new Map<string, string>();
    const logs: string[] = [];
    texts.push(() => logs);
    const handler = insighIoPackageHandler({
      packages: stores.packages,
      deviceKey: ({ deviceId }) => keys.get(deviceId),
      logger: capture(logs),
    });
    // The agent's file sink writes in 1 MiB batches: a resume needs more than that on disk.
    const CUT_AT = 2.5 * 1024 * 1024;
    let cut = false;
    // The connection drops after CUT_AT bytes of the first download: what a flaky network does.
    const http = createServer((request, response: ServerResponse) => {
      if (!cut) {
        cut = true;
        response.end = ((body: Uint8Array) => {
          // A FIN, not a reset: the bytes sent arrive, then the body ends short of its length.
          response.write(body.subarray(0, CUT_AT), () => response.socket?.end());
          return response;
        }) as typeof response.end;
      }
      handler(request, response);
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    cleanups.push(() => new Promise((resolve) => http.close(resolve)));
    const baseUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mf-rproxy`;
    const server = { baseUrl, server: http, close: async () => {} } satisfies InsighIoPackageServer;

    const service = await startService(broker.url, stores);
    const device = await startDevice({ url: broker.url, packages: server, keys });
    await service.publisher.watch(device.target);
    const big = Uint8Array.from({ length: 3 * 1024 * 1024 }, (_, index) => (index * 7919) % 256);
    await service.publisher.publish(device.target, {
      ...RELEASE,
      files: [...FILES, { path: 'data/blob.bin', data: big }],
    });
    await fleetState(service, device.deviceId, 'committed');
    const downloads = logs.filter((line) => line.includes('download'));
    expect(downloads).toHaveLength(2);
    expect(downloads[0]).toContain('"status":200');
    expect(downloads[1]).toContain('"status":206');
    expect(downloads[1]).toMatch(/"start":[1-9]\d*/);
    expect(new Uint8Array(await readFile(join(device.app, 'data/blob.bin')))).toEqual(big);
  }, 90_000);

  it('withdraw clears the retained order: the fleet shows canceled and a device coming online gets nothing', async () => {
    const stores = newStores();
    const keys = new Map<string, string>();
    const { server, logs: serverLogs } = await startPackages(stores, keys);
    const service = await startService(broker.url, stores);
    const deviceId = `dev-${process.pid}-withdrawn`;
    const target = { controlChannelId: CC, deviceId };
    await service.publisher.watch(target);
    await service.publisher.publish(target, RELEASE);
    expect(await broker.retained(otaTopic(target))).not.toBeNull();

    const withdrawal = await service.publisher.withdraw(target);
    expect(withdrawal).toEqual([
      { channel: 'mqtt', address: otaTopic(target), payload: '', qos: 1, retain: true },
    ]);
    expect(await broker.retained(otaTopic(target))).toBeNull();
    expect(await service.fleet.device(deviceId)).toMatchObject({
      state: 'canceled',
      update: { id: 'demo-app', version: '2.0.0' },
    });

    const device = await startDevice({ url: broker.url, packages: server, keys, deviceId });
    // The device subscribed and found nothing to do: no request reached the package server.
    await device.agent.stop();
    expect(device.outcomes).toEqual([]);
    expect(serverLogs).toEqual([]);
    expect(await readTree(device.app)).toEqual({});
  }, 90_000);

  it('a publisher restart mid-update (new publisher and fleet on the same stores) still completes, with the version', async () => {
    const stores = newStores();
    const keys = new Map<string, string>();
    const { server } = await startPackages(stores, keys);
    const before = await startService(broker.url, stores);
    const deviceId = `dev-${process.pid}-restart`;
    const target = { controlChannelId: CC, deviceId };
    await before.publisher.watch(target);
    const { entry } = await before.publisher.publish(target, RELEASE);
    await before.close(); // the service goes down with the order out

    const after = await startService(broker.url, stores);
    expect(after.publisher.catalog.cached(entry.fileId)).toBeUndefined(); // nothing in memory
    await after.publisher.watch(target);
    const device = await startDevice({ url: broker.url, packages: server, keys, deviceId });
    await fleetState(after, device.deviceId, 'committed');
    expect(await after.fleet.device(deviceId)).toMatchObject({
      update: { id: 'demo-app', version: '2.0.0' },
      current: { id: 'demo-app', version: '2.0.0' },
    });
    expect((await after.fleet.history(deviceId)).map((item) => item.to)).toEqual(['available', 'committed']);
    expect(await readTree(device.app)).toEqual(INSTALLED);
  }, 90_000);

  it('a duplicate e=1 (over MQTT or ingested directly) is a duplicate, not a second commit', async () => {
    const stores = newStores();
    const keys = new Map<string, string>();
    const { server } = await startPackages(stores, keys);
    const service = await startService(broker.url, stores);
    const device = await startDevice({ url: broker.url, packages: server, keys });
    await service.publisher.watch(device.target);
    const { entry } = await service.publisher.publish(device.target, RELEASE);
    await fleetState(service, device.deviceId, 'committed');
    await until(
      () => service.results.some((result) => result.outcome === 'applied' && result.state === 'committed'),
      () => 'the e=1 ingested',
      WAIT,
    );

    // The device's report, once more (a QoS 1 redelivery, a replay).
    const seen = service.results.length;
    await service.connection.publish(device.topic, `[{"n":"e","v":1},{"n":"i","vs":"${entry.fileId}"}]`, {
      qos: 1,
      retain: false,
    });
    // The device's own clearing of the order (an empty retained message, `ignored`) may be
    // ingested in between: look at the first status after the replay.
    const statusAfterReplay = () =>
      service.results.slice(seen).find((result) => result.outcome !== 'ignored');
    await until(
      () => statusAfterReplay() !== undefined,
      () => 'the repeated e=1 ingested',
      WAIT,
    );
    expect(statusAfterReplay()).toMatchObject({ outcome: 'duplicate', state: 'committed' });
    const history = await service.fleet.history(device.deviceId);
    expect(history.filter((item) => item.to === 'committed')).toHaveLength(1);

    // A webhook-style ingest of the same report gives the same answer.
    const again = await service.publisher.ingest(device.target, {
      address: device.topic,
      payload: `[{"n":"e","v":1},{"n":"i","vs":"${entry.fileId}"}]`,
    });
    expect(again.outcome).toBe('duplicate');
  }, 90_000);
});

describe('against a real mosquitto (the device and the service log in with the device credentials)', () => {
  it('publish → e=1 → committed with the release version', async (context) => {
    if (!MOSQUITTO)
      skipOrFailInCi(context, 'no mosquitto on PATH or in /usr/sbin (apt-get install mosquitto)');
    const deviceId = `dev-${process.pid}-mosquitto`;
    const mosquitto = await startMosquitto(MOSQUITTO!, deviceId, KEY);
    cleanups.push(() => mosquitto.stop());
    const stores = newStores();
    const keys = new Map<string, string>();
    const { server } = await startPackages(stores, keys);
    const service = await startService(mosquitto.url, stores, { username: deviceId, password: KEY });
    const device = await startDevice({ url: mosquitto.url, packages: server, keys, deviceId });
    await service.publisher.watch(device.target);
    const { entry } = await service.publisher.publish(device.target, { ...RELEASE, format: 'tar' });
    expect(entry.fileType).toBe('.tar');
    await fleetState(service, deviceId, 'committed');
    expect(await service.fleet.device(deviceId)).toMatchObject({
      update: { id: 'demo-app', version: '2.0.0' },
    });
    expect(await readTree(device.app)).toEqual(INSTALLED);
    // mosquitto saw the service's retained order and the device's retained clear (which the
    // device may send after its e=1, so after the fleet shows committed: wait for the log line).
    expect(mosquitto.log()).toMatch(/Received PUBLISH from service-\d+-\d+ \(d0, q1, r1, m\d+, '[^']+\/ota'/);
    const clear = new RegExp(
      `Received PUBLISH from ${deviceId}-\\d+ \\(d0, q1, r1, m\\d+, '[^']+', \\.\\.\\. \\(0 bytes\\)\\)`,
    );
    await until(
      () => clear.test(mosquitto.log()),
      () => `the device's retained clear in mosquitto's log:\n${mosquitto.log()}`,
      WAIT,
    );
    expect(mosquitto.log()).not.toContain(KEY);
  }, 90_000);
});
