/**
 * Exosite's cloud side end to end: the local Murano device-API service (`createExositeDeviceApi`)
 * on loopback, real Exosite device agents (`createExositeAgent`, HTTP long poll) as its devices,
 * and the publisher (`createExositePublisher`) writing `config_otau` through the management API
 * and following `otau_in` and the acknowledgements into a fleet over the write feed.
 *
 * Every log line, error and request record of a test is collected; none may hold a device token or
 * the management token. Nothing is timed: waits poll for a condition, and only their generous
 * limits catch a hang.
 */
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createExositePublisher } from '../../src/cloud/exosite/publisher.js';
import { Fleet } from '../../src/cloud/fleet/fleet.js';
import { MemoryFleetStore } from '../../src/cloud/fleet/memory-store.js';
import type { Logger } from '../../src/core/logger.js';
import type { StateStore } from '../../src/core/store.js';
import type { ManifestInput } from '../../src/manifest/schema.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { createExositeAgent, type ExositeTarget } from '../../src/node/agents/exosite.js';
import {
  createExositeDeviceApi,
  type ExositeDeviceApi,
  type ExositeDeviceApiOptions,
  type ExositeRequestRecord,
} from '../../src/node/cloud/exosite-device-api.js';
import { FileStore } from '../../src/node/file-store.js';
import { activateRequest, decodeActivateResponse } from '../../src/protocols/exosite/provision.js';
import { encodeStatus } from '../../src/protocols/exosite/resource.js';
import { httpChannel } from '../../src/transport/http-channel.js';
import type { MqttConnection } from '../../src/transport/mqtt-connection.js';
import { until } from '../support/system-services.js';

const PRODUCT = 'devfleet1';
const TOKENS: Record<string, string> = {
  'sensor-1': 'cik-One-3f9a0c1d2e4b5a6978',
  'sensor-2': 'cik-Two-7b1c2d3e4f5a6b7c80',
  'sensor-3': 'cik-Three-0a9b8c7d6e5f4a3b',
};
const MANAGEMENT = 'mgmt-S3cret-5e6f7a8b9c0d1e2f';
const SECRETS = [...Object.values(TOKENS), MANAGEMENT];
const WAIT = 45_000;
const RETRY = { attempts: 30, baseDelayMs: 20, maxDelayMs: 200 };

const cleanups: (() => Promise<unknown>)[] = [];
const roots: string[] = [];
let texts: string[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  for (const text of texts) for (const secret of SECRETS) expect(text).not.toContain(secret);
  texts = [];
});
afterAll(async () => {
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
});

async function tempRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'otakit-exosite-cloud-'));
  roots.push(root);
  return root;
}

function recordingLogger(): Logger {
  const line = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    texts.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}

const CONTENT = { 'app-2.0.0.bin': 'application 2.0.0\n', 'notes.txt': 'release notes\n' };

async function startService(
  extra: Partial<ExositeDeviceApiOptions> = {},
): Promise<{ service: ExositeDeviceApi; requests: ExositeRequestRecord[] }> {
  const requests: ExositeRequestRecord[] = [];
  const service = await createExositeDeviceApi({
    productId: PRODUCT,
    devices: Object.entries(TOKENS).map(([identity, token]) => ({ identity, token })),
    content: CONTENT,
    managementToken: MANAGEMENT,
    logger: recordingLogger(),
    onRequest: (record) => {
      requests.push(record);
      texts.push(JSON.stringify(record));
    },
    ...extra,
  });
  cleanups.push(() => service.close());
  return { service, requests };
}

function targetOf(identity: string): ExositeTarget {
  return {
    productId: PRODUCT,
    identity,
    transport: 'http',
    token: TOKENS[identity]!,
    longPollTimeoutMs: 1_000,
  };
}

function startPublisher(
  service: ExositeDeviceApi,
  options: { fleet?: Fleet; token?: string; positions?: Record<string, number> } = {},
) {
  const publisher = createExositePublisher({
    http: httpChannel({
      baseUrl: service.origin,
      headers: { authorization: `Bearer ${options.token ?? MANAGEMENT}` },
    }),
    ...(options.fleet === undefined ? {} : { fleet: options.fleet }),
    ...(options.positions === undefined ? {} : { positions: options.positions }),
    pollWaitMs: 1_000,
    backoff: { baseDelayMs: 20, maxDelayMs: 200 },
    logger: recordingLogger(),
  });
  const errors: string[] = [];
  publisher.on('error', (error) => {
    errors.push(error.message);
    texts.push(error.message);
  });
  cleanups.push(() => publisher.close());
  return { publisher, errors };
}

async function startAgent(service: ExositeDeviceApi, identity: string, root?: string, mqtt?: MqttConnection) {
  const directory = root ?? (await tempRoot());
  const agent = createExositeAgent({
    target: { ...targetOf(identity), transport: mqtt === undefined ? 'http' : 'mqtt' },
    ...(mqtt === undefined ? {} : { connection: mqtt }),
    apiOrigin: service.origin,
    installDirectory: join(directory, 'app'),
    stateDirectory: join(directory, 'agent'),
    currentVersion: '1.0.0',
    fsync: false,
    logger: recordingLogger(),
    download: { retry: RETRY },
    machine: { retry: { download: RETRY } },
    poll: { backoff: { baseDelayMs: 20, maxDelayMs: 200 } },
  });
  agent.on('error', (error) => texts.push(error.message));
  cleanups.push(() => agent.stop({ cancel: true }));
  await agent.start();
  return { agent, root: directory };
}

/** A canonical manifest whose artifacts are connector content ids (the device downloads them with its token). */
function manifest(version: string, payload: string[] = ['app-2.0.0.bin', 'notes.txt']): ManifestInput {
  return {
    id: version,
    version,
    artifacts: payload.map((url) => ({ url, target: 'file' as const })),
    extensions: { exosite: { name: 'Application', type: 'URL_LIST' } },
  };
}

async function stateOf(fleet: Fleet, identity: string): Promise<string | undefined> {
  return (await fleet.device(identity))?.state;
}

async function settle(fleet: Fleet, identity: string, state: string): Promise<void> {
  let last: string | undefined;
  const deadline = Date.now() + WAIT;
  for (;;) {
    last = await stateOf(fleet, identity);
    if (last === state) return;
    if (Date.now() > deadline) throw new Error(`${identity}: expected ${state}, still ${last}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const otauWords = (service: ExositeDeviceApi, identity: string) =>
  service
    .writesAfter(0)
    .filter((write) => write.identity === identity && write.alias === 'otau_in')
    .map((write) => (JSON.parse(write.value) as { status: string }).status);

async function deviceWrite(service: ExositeDeviceApi, token: string, body: string): Promise<Response> {
  return fetch(`${service.origin}/onep:v1/stack/alias`, {
    method: 'POST',
    headers: { 'x-exosite-cik': token, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body,
  });
}

describe('publish to a fleet of devices', () => {
  it('three devices: acknowledged, INIT … INSTALL_SUCCESS, INSTALLED_VERSION, committed in the fleet', async () => {
    const { service } = await startService();
    const { publisher } = startPublisher(service);
    const acks: string[] = [];
    publisher.on('acknowledged', (ack) => acks.push(`${ack.target.identity}:${ack.current}`));
    const identities = Object.keys(TOKENS);
    const roots: Record<string, string> = {};
    for (const identity of identities) {
      await publisher.watch(targetOf(identity));
      roots[identity] = (await startAgent(service, identity)).root;
    }
    for (const identity of identities) await settle(publisher.fleet, identity, 'idle');
    for (const identity of identities) await publisher.publish(targetOf(identity), manifest('2.0.0'));
    for (const identity of identities) await settle(publisher.fleet, identity, 'committed');

    for (const identity of identities) {
      expect(otauWords(service, identity)).toEqual([
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
      ]);
      expect(await readFile(join(roots[identity]!, 'app', 'app-2.0.0.bin'), 'utf8')).toBe(
        'application 2.0.0\n',
      );
      const device = await publisher.fleet.device(identity);
      expect(device).toMatchObject({ state: 'committed', current: { id: '2.0.0', version: '2.0.0' } });
      // The state API agrees: the device wrote config_otau back.
      expect(await publisher.sync(targetOf(identity))).toMatchObject({ inSync: true });
    }
    await until(
      () => acks.length >= 3,
      () => JSON.stringify(acks),
      WAIT,
    );
    expect(acks.sort()).toEqual(identities.map((identity) => `${identity}:true`));
    expect(await publisher.fleet.anomalies()).toEqual([]);
    expect((await publisher.fleet.counts()).committed).toBe(3);
  }, 120_000);

  it('a device ordered content that is not there fails in the fleet; the other commits', async () => {
    const { service } = await startService();
    const { publisher } = startPublisher(service);
    for (const identity of ['sensor-1', 'sensor-2']) {
      await publisher.watch(targetOf(identity));
      await startAgent(service, identity);
      await settle(publisher.fleet, identity, 'idle');
    }
    await publisher.publish(targetOf('sensor-1'), manifest('2.0.0'));
    await publisher.publish(targetOf('sensor-2'), manifest('2.0.0', ['missing.bin']));
    await settle(publisher.fleet, 'sensor-1', 'committed');
    await settle(publisher.fleet, 'sensor-2', 'download_failed');
    expect(otauWords(service, 'sensor-2').at(-1)).toBe('DOWNLOAD_ERROR');
    expect((await publisher.fleet.device('sensor-2'))?.lastError).toMatchObject({ code: expect.any(String) });
  }, 120_000);

  it('withdraw: an order not yet taken is cleared from the device state', async () => {
    const { service } = await startService();
    const { publisher } = startPublisher(service);
    await publisher.publish(targetOf('sensor-3'), manifest('3.0.0'));
    expect(service.resource('sensor-3', 'config_otau')?.set).toContain('3.0.0');
    await publisher.withdraw(targetOf('sensor-3'));
    expect(service.resource('sensor-3', 'config_otau')?.set).toBe('');
    const { agent } = await startAgent(service, 'sensor-3');
    await publisher.watch(targetOf('sensor-3'));
    await settle(publisher.fleet, 'sensor-3', 'idle');
    expect(agent.machine.snapshot().state).toBe('idle');
    expect(otauWords(service, 'sensor-3')).toEqual(['INSTALLED_VERSION']);
  }, 120_000);
});

describe('interruptions', () => {
  it('a device offline mid-download, then back: it resumes and commits, nothing lost in the fleet', async () => {
    const { service } = await startService();
    const { publisher } = startPublisher(service);
    service.putContent('big.bin', 'b'.repeat(64 * 1024), { stallAfterBytes: 16 * 1024 });
    await publisher.watch(targetOf('sensor-1'));
    const first = await startAgent(service, 'sensor-1');
    await settle(publisher.fleet, 'sensor-1', 'idle');
    await publisher.publish(targetOf('sensor-1'), manifest('2.0.0', ['big.bin']));
    await service.stalled('big.bin');
    await settle(publisher.fleet, 'sensor-1', 'downloading');
    // Offline: the agent stops without cancelling, as a device losing power would.
    await first.agent.stop();
    service.release('big.bin');
    await startAgent(service, 'sensor-1', first.root);
    await settle(publisher.fleet, 'sensor-1', 'committed');
    expect(await readFile(join(first.root, 'app', 'big.bin'), 'utf8')).toBe('b'.repeat(64 * 1024));
    expect(otauWords(service, 'sensor-1').at(-1)).toBe('INSTALLED_VERSION');
  }, 120_000);

  it('the service and the publisher restart mid-update: resources, journal and fleet lose nothing', async () => {
    const directory = await tempRoot();
    const store: StateStore = new FileStore(join(directory, 'murano'), { fsync: false });
    const fleetStore = new MemoryFleetStore();
    const first = await startService({ store });
    const port = Number(new URL(first.service.origin).port);
    first.service.putContent('big.bin', 'c'.repeat(64 * 1024), { stallAfterBytes: 8 * 1024 });
    const before = startPublisher(first.service, { fleet: new Fleet({ store: fleetStore }) });
    await before.publisher.watch(targetOf('sensor-2'));
    const device = await startAgent(first.service, 'sensor-2');
    await settle(before.publisher.fleet, 'sensor-2', 'idle');
    await before.publisher.publish(targetOf('sensor-2'), manifest('2.0.0', ['big.bin']));
    await first.service.stalled('big.bin');
    await settle(before.publisher.fleet, 'sensor-2', 'downloading');
    const positions = before.publisher.positions();
    const written = first.service.writesAfter(0);

    // Both go down; the device keeps retrying against the port.
    await before.publisher.close();
    await first.service.close();
    const second = await startService({ store, port, devices: [] });
    second.service.putContent('big.bin', 'c'.repeat(64 * 1024));
    expect(second.service.devices().sort()).toEqual(Object.keys(TOKENS));
    expect(second.service.writesAfter(0)).toEqual(written);
    expect(second.service.resource('sensor-2', 'config_otau')?.set).toContain('2.0.0');
    const after = startPublisher(second.service, { fleet: new Fleet({ store: fleetStore }), positions });
    await after.publisher.watch(targetOf('sensor-2'));
    await settle(after.publisher.fleet, 'sensor-2', 'committed');

    expect(otauWords(second.service, 'sensor-2').at(-1)).toBe('INSTALLED_VERSION');
    expect(await after.publisher.fleet.anomalies()).toEqual([]);
    const history = await after.publisher.fleet.history('sensor-2');
    expect(history.map((entry) => entry.to)).toContain('installing');
    expect(history.at(-1)?.to).toBe('committed');
    expect(await readFile(join(device.root, 'app', 'big.bin'), 'utf8')).toBe('c'.repeat(64 * 1024));
    // The download was cut with the first service and fetched again from the second.
    expect(second.requests.some((record) => record.path.includes('id=big.bin') && record.status >= 200)).toBe(
      true,
    );
  }, 120_000);
});

describe('duplicate and out-of-order statuses', () => {
  it('a repeated otau_in is a duplicate; a stale one mid-update is an out_of_order anomaly', async () => {
    const { service } = await startService();
    const { publisher } = startPublisher(service);
    const outcomes: string[] = [];
    publisher.on('status', ({ result }) => outcomes.push(result.outcome));
    service.putContent('big.bin', 'd'.repeat(32 * 1024), { stallAfterBytes: 4 * 1024 });
    await publisher.watch(targetOf('sensor-1'));
    await startAgent(service, 'sensor-1');
    await settle(publisher.fleet, 'sensor-1', 'idle');
    await publisher.publish(targetOf('sensor-1'), manifest('2.0.0', ['big.bin']));
    await service.stalled('big.bin');
    await settle(publisher.fleet, 'sensor-1', 'downloading');
    await until(
      () => otauWords(service, 'sensor-1').includes('DOWNLOAD_STEP'),
      () => 'DOWNLOAD_STEP',
      WAIT,
    );
    const seen = () => service.writesAfter(0).filter((write) => write.alias === 'otau_in').length;
    await until(
      () => outcomes.length >= seen(),
      () => JSON.stringify(outcomes),
      WAIT,
    );
    const settled = outcomes.length;
    const token = TOKENS['sensor-1']!;
    const again = encodeStatus({ version: '2.0.0', status: 'DOWNLOAD', message: '' });
    expect((await deviceWrite(service, token, `otau_in=${encodeURIComponent(again)}`)).status).toBe(204);
    const stale = encodeStatus({ version: '2.0.0', status: 'TEST', message: '' });
    expect((await deviceWrite(service, token, `otau_in=${encodeURIComponent(stale)}`)).status).toBe(204);
    await until(
      () => outcomes.length >= settled + 2,
      () => JSON.stringify(outcomes),
      WAIT,
    );
    expect(outcomes.slice(settled)).toEqual(['duplicate', 'refused']);
    expect(await publisher.fleet.anomalies()).toEqual([
      expect.objectContaining({ deviceId: 'sensor-1', kind: 'out_of_order', from: 'downloading' }),
    ]);
    service.release('big.bin');
    await settle(publisher.fleet, 'sensor-1', 'committed');
  }, 120_000);
});

describe('the write feed', () => {
  it('a reader behind the bounded journal is told of a gap and catches up from the device state', async () => {
    const { service } = await startService({ journalLimit: 2 });
    const token = TOKENS['sensor-1']!;
    for (const status of ['INIT', 'TEST', 'TEST_SUCCESS', 'DOWNLOAD']) {
      const value = encodeStatus({ version: '2.0.0', status, message: '' } as never);
      expect((await deviceWrite(service, token, `otau_in=${encodeURIComponent(value)}`)).status).toBe(204);
    }
    const page = await fetch(`${service.origin}/api:1/service/${PRODUCT}/device2/events?after=0`, {
      headers: { authorization: `Bearer ${MANAGEMENT}` },
    });
    expect(await page.json()).toMatchObject({ gap: true, next: 4, events: [{ seq: 3 }, { seq: 4 }] });
    const { publisher } = startPublisher(service);
    const outcomes: string[] = [];
    publisher.on('status', ({ result }) => outcomes.push(result.outcome));
    await publisher.watch(targetOf('sensor-1'));
    // The two writes the journal kept, then the device state read for the gap.
    await until(
      () => outcomes.length >= 3,
      () => JSON.stringify(outcomes),
      WAIT,
    );
    expect(outcomes).toEqual(['applied', 'applied', 'duplicate']);
    expect(await stateOf(publisher.fleet, 'sensor-1')).toBe('downloading');
    expect(await publisher.fleet.anomalies()).toEqual([]);
  }, 120_000);
});

describe('credentials and limits', () => {
  it('a wrong device token is 401 with nothing in the body; a wrong management token is 401 and a typed error', async () => {
    const { service, requests } = await startService();
    const wrong = await deviceWrite(service, 'cik-wrong-0000000000000', 'otau_in=x');
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toBe('');
    const poll = await fetch(`${service.origin}/onep:v1/stack/alias?config_otau`, {
      headers: { 'x-exosite-cik': 'nope', 'request-timeout': '1000' },
    });
    expect(poll.status).toBe(401);
    const inQuery = await fetch(
      `${service.origin}/onep:v1/stack/alias?config_otau&cik=${TOKENS['sensor-1']}`,
    );
    expect(inQuery.status).toBe(401);
    const state = await fetch(`${service.origin}/api:1/service/${PRODUCT}/device2/identity/sensor-1/state`, {
      headers: { authorization: `Bearer ${TOKENS['sensor-1']}` },
    });
    expect(state.status).toBe(401);
    expect(await state.text()).toBe('');

    const { publisher, errors } = startPublisher(service, { token: 'not-the-management-token' });
    await expect(publisher.publish(targetOf('sensor-1'), manifest('2.0.0'))).rejects.toMatchObject({
      code: 'TRANSPORT',
      retryable: false,
    });
    await publisher.watch(targetOf('sensor-1'));
    await until(
      () => errors.length > 0,
      () => 'a feed error',
      WAIT,
    );
    expect(errors[0]).toContain('HTTP 401');
    expect(service.resource('sensor-1', 'config_otau')).toBeUndefined();
    expect(requests.filter((record) => record.status === 401).length).toBeGreaterThanOrEqual(4);
    expect(requests.every((record) => !record.authorized || record.status !== 401)).toBe(true);
  }, 120_000);

  it('activation hands out a token once; unknown identities are 404; the token then works', async () => {
    const { service } = await startService({ devices: [{ identity: 'fresh-1' }] });
    const activate = async (identity: string) => {
      const request = activateRequest({ productId: PRODUCT, identity });
      const response = await fetch(new URL(request.path, service.origin), request);
      return { status: response.status, body: await response.text() };
    };
    const first = await activate('fresh-1');
    expect(first.status).toBe(200);
    const token = decodeActivateResponse(first);
    SECRETS.push(token);
    expect((await activate('fresh-1')).status).toBe(409);
    expect((await activate('nobody')).status).toBe(404);
    const status = encodeStatus({ version: '1.0.0', status: 'INSTALLED_VERSION', message: '' });
    expect((await deviceWrite(service, token, `otau_in=${encodeURIComponent(status)}`)).status).toBe(204);
    expect(service.resource('fresh-1', 'otau_in')?.reported).toBe(status);
    SECRETS.pop();
  });

  it('bodies over their limit are 413, malformed ones 400, a bad Request-Timeout 400', async () => {
    const { service } = await startService();
    const token = TOKENS['sensor-1']!;
    const huge = `otau_in=${'a'.repeat(3 * 1_048_576 + 8192)}`;
    expect((await deviceWrite(service, token, huge)).status).toBe(413);
    expect((await deviceWrite(service, token, 'not an alias=1')).status).toBe(400);
    const poll = await fetch(`${service.origin}/onep:v1/stack/alias?config_otau`, {
      headers: { 'x-exosite-cik': token, 'request-timeout': 'soon' },
    });
    expect(poll.status).toBe(400);
    const patch = await fetch(`${service.origin}/api:1/service/${PRODUCT}/device2/identity/sensor-1/state`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${MANAGEMENT}`, 'content-type': 'application/json' },
      body: JSON.stringify({ config_otau: 42 }),
    });
    expect(patch.status).toBe(400);
    expect(service.writesAfter(0)).toEqual([]);
  });
});

describe('MQTT', () => {
  it('a device on MQTT: config_otau retained on $resource/config_otau/<µs>, statuses by $resource/otau_in, committed', async () => {
    // An in-process broker (aedes) in place of Murano's: the device authenticates with its token.
    const broker = await Aedes.createBroker({
      authenticate(_client, username, password, callback) {
        const ok =
          username === 'murano' || (username === 'sensor-1' && password?.toString() === TOKENS['sensor-1']);
        if (ok) return callback(null, true);
        callback(Object.assign(new Error('Not authorized'), { returnCode: 5 }) as never, false);
      },
    });
    const server = createServer(broker.handle);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const connect = async (username: string, password: string, id: string) => {
      const connection = await connectMqtt(url, {
        clientId: `exosite-cloud-${process.pid}-${id}`,
        username,
        password,
      });
      cleanups.push(() => connection.close());
      return connection;
    };
    const { service, requests } = await startService();
    await service.attachMqtt('sensor-1', await connect('murano', 'murano-bridge', 'service'));
    const { publisher } = startPublisher(service);
    const acks: boolean[] = [];
    publisher.on('acknowledged', (ack) => acks.push(ack.current));
    await publisher.watch(targetOf('sensor-1'));
    const device = await connect('sensor-1', TOKENS['sensor-1']!, 'device');
    const { root } = await startAgent(service, 'sensor-1', undefined, device);
    await settle(publisher.fleet, 'sensor-1', 'idle');
    await publisher.publish(targetOf('sensor-1'), manifest('2.0.0'));
    await settle(publisher.fleet, 'sensor-1', 'committed');
    expect(await readFile(join(root, 'app', 'app-2.0.0.bin'), 'utf8')).toBe('application 2.0.0\n');
    expect(otauWords(service, 'sensor-1')).toContain('DOWNLOAD_SUCCESS');
    expect(acks).toEqual([true]);
    // Over MQTT every write went by MQTT; HTTP carried only the content download.
    expect(requests.filter((record) => record.method === 'POST' && record.identity === 'sensor-1')).toEqual(
      [],
    );
    expect(await publisher.fleet.anomalies()).toEqual([]);
  }, 120_000);
});
