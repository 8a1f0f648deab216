// The ThingsBoard cloud side end to end: the publisher assigns packages through the local device
// gateway (aedes in process, ThingsBoard's device MQTT API and HTTP firmware endpoint on
// loopback), real ThingsBoard device agents install them over MQTT chunks or HTTP, and their
// fw_state telemetry lands in the fleet. The REST client is checked against a loopback server
// that plays ThingsBoard's REST API. Nothing is timed: timeouts only catch hangs.
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer, type IncomingMessage } from 'node:http';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { Aedes } from 'aedes';
import { afterEach, describe, expect, it } from 'vitest';
import { Fleet } from '../../src/cloud/fleet/fleet.js';
import { MemoryFleetStore } from '../../src/cloud/fleet/memory-store.js';
import {
  createThingsBoardPublisher,
  type ThingsBoardPublisher,
} from '../../src/cloud/thingsboard/publisher.js';
import { createThingsBoardRestClient } from '../../src/cloud/thingsboard/rest-client.js';
import { isOtaError } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/logger.js';
import { MemoryStore } from '../../src/core/store.js';
import type { DeviceAgent } from '../../src/device/agent.js';
import type { UpdateOutcome } from '../../src/machine/record.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { createThingsBoardAgent } from '../../src/node/agents/thingsboard.js';
import {
  createThingsBoardDeviceGateway,
  type GatewayDevice,
  type ThingsBoardDeviceGateway,
} from '../../src/node/cloud/thingsboard-device-gateway.js';
import { thingsBoardGatewayHttpHandler } from '../../src/node/cloud/thingsboard-gateway-http.js';
import type { MqttConnection } from '../../src/transport/mqtt-connection.js';
import { until } from '../support/system-services.js';

const OLD = new TextEncoder().encode('firmware 1.0\n');
const FAST = { baseDelayMs: 5, maxDelayMs: 50 };
const E2E = 60_000;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

const device = (n: number): GatewayDevice => ({
  deviceId: `sensor-${n}`,
  accessToken: `TB_TOKEN_${n}_${randomBytes(6).toString('hex')}`,
});

function recordingLogger(lines: string[]): Logger {
  const record = (message: string, context?: Record<string, unknown>) =>
    void lines.push(`${message} ${inspect(context, { depth: 5 })}`);
  return { debug: record, info: record, warn: record, error: record };
}

function listen(server: Server | HttpServer, port: number): Promise<number> {
  server.listen(port, '127.0.0.1');
  return once(server, 'listening').then(() => (server.address() as AddressInfo).port);
}

// ---------------------------------------------------------------------------------------------
// The service: broker + gateway + publisher + fleet, restartable on the same ports and stores
// ---------------------------------------------------------------------------------------------

interface ServiceStores {
  attributes: MemoryStore;
  fleet: MemoryFleetStore;
}

interface Service {
  gateway: ThingsBoardDeviceGateway;
  publisher: ThingsBoardPublisher;
  fleet: Fleet;
  mqttPort: number;
  httpPort: number;
  logs: string[];
  stop(): Promise<void>;
}

async function startService(options: {
  devices: GatewayDevice[];
  stores: ServiceStores;
  packages?: { title: string; version: string; data: Uint8Array }[];
  mqttPort?: number;
  httpPort?: number;
}): Promise<Service> {
  const logs: string[] = [];
  const logger = recordingLogger(logs);
  const broker = await Aedes.createBroker();
  const gateway = createThingsBoardDeviceGateway({
    broker,
    devices: options.devices,
    store: options.stores.attributes,
    logger,
  });
  for (const pkg of options.packages ?? []) gateway.addPackage(pkg);
  const fleet = new Fleet({ store: options.stores.fleet, logger });
  const publisher = createThingsBoardPublisher({ backend: gateway, fleet, logger });
  publisher.watch();
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  const http = createHttpServer(thingsBoardGatewayHttpHandler(gateway));
  const mqttPort = await listen(server, options.mqttPort ?? 0);
  const httpPort = await listen(http, options.httpPort ?? 0);
  let stopped: Promise<void> | undefined;
  const service: Service = {
    gateway,
    publisher,
    fleet,
    mqttPort,
    httpPort,
    logs,
    stop() {
      stopped ??= (async () => {
        await publisher.close();
        await gateway.close();
        const closing = new Promise<void>((resolve) => server.close(() => resolve()));
        await new Promise<void>((resolve) => broker.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await closing;
        http.closeAllConnections();
        await new Promise<void>((resolve) => http.close(() => resolve()));
      })();
      return stopped;
    },
  };
  cleanups.push(() => service.stop());
  return service;
}

function newStores(): ServiceStores {
  return { attributes: new MemoryStore(), fleet: new MemoryFleetStore() };
}

// ---------------------------------------------------------------------------------------------
// A device: the real ThingsBoard agent, its own MQTT session (token as user name)
// ---------------------------------------------------------------------------------------------

interface Device {
  file: string;
  connection: MqttConnection;
  agent: DeviceAgent<unknown>;
  outcomes: UpdateOutcome[];
  logs: string[];
}

async function startDevice(
  identity: GatewayDevice,
  service: { mqttPort: number; httpPort: number },
  options: { transfer?: 'mqtt' | 'http'; mqttPort?: number; healthy?: boolean } = {},
): Promise<Device> {
  const root = await mkdtemp(join(tmpdir(), 'otakit-tb-cloud-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const file = join(root, 'app.bin');
  await writeFile(file, OLD);
  const connection = await connectMqtt(`mqtt://127.0.0.1:${options.mqttPort ?? service.mqttPort}`, {
    username: identity.accessToken,
    reconnect: { initialMs: 20, maxMs: 100 },
  });
  const logs: string[] = [];
  const agent = createThingsBoardAgent({
    target: { accessToken: identity.accessToken, baseUrl: `http://127.0.0.1:${service.httpPort}` },
    connection,
    current: { title: 'app', version: '1.0' },
    transfer: options.transfer ?? 'mqtt',
    chunkSize: 4096,
    chunkTimeoutMs: 1_000,
    chunkRetry: { attempts: 30, ...FAST },
    installTarget: file,
    stateDirectory: join(root, 'agent'),
    fsync: false,
    download: { retry: { attempts: 2, ...FAST } },
    logger: recordingLogger(logs),
    ...(options.healthy === false ? { hooks: { healthCheck: async () => false } } : {}),
  }) as DeviceAgent<unknown>;
  const outcomes: UpdateOutcome[] = [];
  agent.on('outcome', (outcome) => outcomes.push(outcome));
  cleanups.push(async () => {
    await agent.stop({ cancel: true });
    await connection.close();
  });
  await agent.start();
  return { file, connection, agent, outcomes, logs };
}

const pkg = (version: string, size = 40_000) => ({
  title: 'app',
  version,
  data: new Uint8Array(randomBytes(size)),
});

async function settled(fleet: Fleet, deviceId: string, state: string, what = state): Promise<void> {
  let last = '';
  const deadline = Date.now() + 45_000;
  for (;;) {
    last = (await fleet.device(deviceId))?.state ?? 'unknown';
    if (last === state) return;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${deviceId} to be ${what} (is ${last})`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('ThingsBoard publisher + local device gateway, with real device agents', () => {
  it(
    'publishes to several devices (MQTT chunks and HTTP): DOWNLOADING…UPDATED, committed in the fleet',
    async () => {
      const devices = [device(1), device(2), device(3)];
      const service = await startService({ devices, stores: newStores() });
      const next = service.gateway.addPackage(pkg('1.1'));
      const agents = await Promise.all(
        devices.map((each, index) => startDevice(each, service, { transfer: index === 2 ? 'http' : 'mqtt' })),
      );
      const chunks: string[] = [];
      service.gateway.onChunk(({ deviceId }) => chunks.push(deviceId));
      for (const each of devices) await service.publisher.publish(each.deviceId, next.manifest);
      for (const each of devices) await settled(service.fleet, each.deviceId, 'committed');
      for (const agent of agents) {
        await until(
          () => agent.outcomes.length > 0,
          () => 'the outcome',
        );
        expect(agent.outcomes).toMatchObject([{ state: 'committed', update: { id: 'fw:app@1.1' } }]);
        expect(new Uint8Array(await readFile(agent.file))).toEqual(next.data);
      }
      for (const each of devices) {
        const snapshot = await service.fleet.device(each.deviceId);
        expect(snapshot).toMatchObject({
          state: 'committed',
          protocol: 'thingsBoard',
          current: { version: '1.1' },
        });
        const states = (await service.fleet.history(each.deviceId)).map((entry) => entry.to);
        expect(states).toEqual(
          expect.arrayContaining(['available', 'downloading', 'downloaded', 'installing', 'committed']),
        );
      }
      // Devices 1 and 2 took chunks, device 3 HTTP.
      expect(new Set(chunks)).toEqual(new Set(['sensor-1', 'sensor-2']));
      expect(await service.fleet.anomalies()).toEqual([]);
      // Tokens are secrets: not in the fleet, not in the service's or the devices' logs.
      const said = [
        JSON.stringify(await service.fleet.snapshot()),
        service.logs.join('\n'),
        ...agents.map((agent) => agent.logs.join('\n')),
      ].join('\n');
      for (const each of devices) expect(said).not.toContain(each.accessToken);
    },
    E2E,
  );

  it(
    'a checksum that does not match the bytes: FAILED on the device, a failure in the fleet',
    async () => {
      const [one] = [device(1)];
      const service = await startService({ devices: [one!], stores: newStores() });
      const stored = service.gateway.addPackage(pkg('1.1'));
      const agent = await startDevice(one!, service);
      const artifact = stored.manifest.artifacts[0]!;
      const corrupt = { ...stored.manifest, artifacts: [{ ...artifact, sha256: 'ab'.repeat(32) }] };
      await service.publisher.publish(one!.deviceId, corrupt);
      await until(
        () => agent.outcomes.length > 0,
        () => 'the outcome',
      );
      expect(agent.outcomes[0]).toMatchObject({ state: 'download_failed', error: { code: 'INTEGRITY' } });
      await settled(service.fleet, one!.deviceId, 'download_failed');
      const snapshot = await service.fleet.device(one!.deviceId);
      expect(snapshot?.lastError).toMatchObject({ code: 'INTEGRITY' });
      expect(new Uint8Array(await readFile(agent.file))).toEqual(OLD);
    },
    E2E,
  );

  it(
    'a device whose new version fails its health check rolls back: rolled_back in the fleet, the old file kept',
    async () => {
      const one = device(1);
      const service = await startService({ devices: [one], stores: newStores() });
      const next = service.gateway.addPackage(pkg('1.1'));
      const agent = await startDevice(one, service, { healthy: false });
      await service.publisher.publish(one.deviceId, next.manifest);
      await settled(service.fleet, one.deviceId, 'rolled_back');
      await until(
        () => agent.outcomes.length > 0,
        () => 'the outcome',
      );
      expect(agent.outcomes[0]).toMatchObject({ state: 'rolled_back' });
      expect(new Uint8Array(await readFile(agent.file))).toEqual(OLD);
      expect(await service.fleet.device(one.deviceId)).toMatchObject({ state: 'rolled_back', current: null });
    },
    E2E,
  );

  it(
    'a device offline mid-update, then back: it resumes, commits once, the fleet follows',
    async () => {
      const one = device(1);
      const service = await startService({ devices: [one], stores: newStores() });
      const next = service.gateway.addPackage(pkg('1.1', 80_000));
      // The device reaches the broker through a proxy the test cuts and restores.
      const links = new Set<Socket>();
      let open = true;
      const proxy = createServer((inbound) => {
        if (!open) return void inbound.destroy();
        const outbound = connect(service.mqttPort, '127.0.0.1');
        links.add(inbound).add(outbound);
        inbound.pipe(outbound).pipe(inbound);
        const drop = () => {
          inbound.destroy();
          outbound.destroy();
        };
        inbound.on('error', drop).on('close', drop);
        outbound.on('error', drop).on('close', drop);
      });
      const proxyPort = await listen(proxy, 0);
      cleanups.push(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
      const agent = await startDevice(one, service, { mqttPort: proxyPort });
      const offline = new Promise<void>((resolve) =>
        agent.connection.onStateChange?.((change) => change.state === 'offline' && resolve()),
      );
      const stop = service.gateway.onChunk(({ chunk }) => {
        if (chunk !== 5) return;
        open = false;
        for (const link of links) link.destroy();
        stop();
      });
      await service.publisher.publish(one.deviceId, next.manifest);
      await offline;
      expect((await service.fleet.device(one.deviceId))?.state).toBe('downloading');
      open = true;
      await settled(service.fleet, one.deviceId, 'committed');
      await until(
        () => agent.outcomes.length > 0,
        () => 'the outcome',
      );
      expect(agent.outcomes).toMatchObject([{ state: 'committed', update: { id: 'fw:app@1.1' } }]);
      expect(new Uint8Array(await readFile(agent.file))).toEqual(next.data);
      expect(await service.fleet.anomalies()).toEqual([]);
    },
    E2E,
  );

  it(
    'a service restart mid-update (new broker, gateway, publisher and fleet on the same stores) loses nothing',
    async () => {
      const one = device(1);
      const stores = newStores();
      const next = pkg('1.1', 80_000);
      const first = await startService({ devices: [one], stores, packages: [next] });
      const manifest = first.gateway.packages.get('firmware', 'app', '1.1')!.manifest;
      const agent = await startDevice(one, first);
      const stopped = new Promise<void>((resolve) => {
        const stop = first.gateway.onChunk(({ chunk }) => {
          if (chunk !== 5) return;
          stop();
          void first.stop().then(resolve);
        });
      });
      await first.publisher.publish(one.deviceId, manifest);
      await stopped;
      expect((await first.fleet.device(one.deviceId))?.state).toBe('downloading');
      const second = await startService({
        devices: [one],
        stores,
        packages: [next],
        mqttPort: first.mqttPort,
        httpPort: first.httpPort,
      });
      await settled(second.fleet, one.deviceId, 'committed');
      await until(
        () => agent.outcomes.length > 0,
        () => 'the outcome',
      );
      expect(agent.outcomes).toMatchObject([{ state: 'committed', update: { id: 'fw:app@1.1' } }]);
      expect(new Uint8Array(await readFile(agent.file))).toEqual(next.data);
      const history = (await second.fleet.history(one.deviceId)).map((entry) => `${entry.from}>${entry.to}`);
      expect(history.at(-1)).toBe('installing>committed');
      expect(history).toContain('idle>available');
      expect(await second.fleet.anomalies()).toEqual([]);
      // The assignment survived in the attribute store.
      expect(await second.gateway.sharedAttributes(one.deviceId)).toMatchObject({
        fw_title: 'app',
        fw_version: '1.1',
      });
    },
    E2E,
  );
});

describe('ThingsBoard gateway: fw_state as devices send it, and isolation between devices', () => {
  async function rawDevice(service: Service, identity: GatewayDevice): Promise<MqttConnection> {
    const connection = await connectMqtt(`mqtt://127.0.0.1:${service.mqttPort}`, {
      username: identity.accessToken,
      reconnect: { initialMs: 20, maxMs: 100 },
    });
    cleanups.push(() => connection.close());
    return connection;
  }

  it(
    'duplicate and out-of-order fw_state: a duplicate, then an anomaly, nothing lost',
    async () => {
      const one = device(1);
      const service = await startService({ devices: [one], stores: newStores() });
      const results: string[] = [];
      service.publisher.on('status', ({ result }) => results.push(result.outcome));
      const connection = await rawDevice(service, one);
      for (const state of ['DOWNLOADING', 'DOWNLOADING', 'DOWNLOADED', 'DOWNLOADING']) {
        await connection.publish('v1/devices/me/telemetry', JSON.stringify({ fw_state: state }));
      }
      await until(
        () => results.length === 4,
        () => `four statuses (have ${results.join(',')})`,
      );
      expect(results).toEqual(['applied', 'duplicate', 'applied', 'refused']);
      expect((await service.fleet.device(one.deviceId))?.state).toBe('downloaded');
      const [anomaly] = await service.fleet.anomalies({ deviceId: one.deviceId });
      expect(anomaly).toMatchObject({
        kind: 'out_of_order',
        from: 'downloaded',
        to: 'downloading',
        protocol: 'thingsBoard',
      });
    },
    E2E,
  );

  it(
    'each device gets only its own attributes and answers; unknown tokens and foreign topics are refused',
    async () => {
      const [one, two] = [device(1), device(2)];
      const service = await startService({ devices: [one, two], stores: newStores() });
      const next = service.gateway.addPackage(pkg('1.1', 1000));
      const a = await rawDevice(service, one);
      const b = await rawDevice(service, two);
      const seenByA: string[] = [];
      const seenByB: string[] = [];
      for (const [connection, seen] of [
        [a, seenByA],
        [b, seenByB],
      ] as const) {
        await connection.subscribe('v1/devices/me/attributes', ({ payload }) =>
          seen.push(Buffer.from(payload).toString()),
        );
        await connection.subscribe('v1/devices/me/attributes/response/+', ({ topic }) => seen.push(topic));
      }
      await service.publisher.publish(one.deviceId, next.manifest);
      await a.publish(
        'v1/devices/me/attributes/request/7',
        JSON.stringify({ sharedKeys: 'fw_title,fw_version' }),
      );
      await until(
        () => seenByA.length === 2,
        () => 'the push and the answer',
      );
      expect(JSON.parse(seenByA[0]!)).toMatchObject({
        fw_title: 'app',
        fw_version: '1.1',
        fw_checksum_algorithm: 'SHA256',
      });
      expect(seenByA[1]).toBe('v1/devices/me/attributes/response/7');
      // B asks too: its answer has no package, and it never saw A's push or A's answer.
      const answer = new Promise<string>(
        (resolve) =>
          void b.subscribe('v1/devices/me/attributes/response/9', ({ payload }) =>
            resolve(Buffer.from(payload).toString()),
          ),
      );
      await b.publish('v1/devices/me/attributes/request/9', JSON.stringify({ sharedKeys: 'fw_title' }));
      expect(JSON.parse(await answer)).toEqual({ shared: {} });
      expect(seenByB).toEqual(['v1/devices/me/attributes/response/9']);
      // Wildcards beyond the device API are not granted.
      await expect(b.subscribe('#', () => {})).rejects.toThrow();
      // An unknown token is refused, without the token in the error.
      const wrong = 'NOT_A_DEVICE_TOKEN_77';
      const refused = await connectMqtt(`mqtt://127.0.0.1:${service.mqttPort}`, {
        username: wrong,
        reconnect: { initialMs: 20, maxMs: 100 },
      }).catch((error: unknown) => error);
      expect(isOtaError(refused, 'TRANSPORT')).toBe(true);
      expect(inspect(refused)).not.toContain(wrong);
    },
    E2E,
  );

  it(
    'chunks as ThingsBoard serves them: sizes, the previous size, past the end, PAYLOAD_TOO_LARGE, no package',
    async () => {
      const one = device(1);
      const service = await startService({ devices: [one], stores: newStores() });
      const connection = await rawDevice(service, one);
      const answers: { topic: string; bytes: Buffer }[] = [];
      await connection.subscribe('v2/fw/response/+/chunk/+', ({ topic, payload }) =>
        answers.push({ topic, bytes: Buffer.from(payload) }),
      );
      await connection.subscribe('v2/fw/error', ({ topic, payload }) =>
        answers.push({ topic, bytes: Buffer.from(payload) }),
      );
      const ask = async (topic: string, payload: string) => {
        const before = answers.length;
        await connection.publish(topic, payload);
        await until(
          () => answers.length > before,
          () => `the answer to ${topic}`,
        );
        return answers[before]!;
      };
      expect((await ask('v2/fw/request/1/chunk/0', '100')).bytes.toString()).toBe('No fw package assigned');
      const stored = service.gateway.addPackage(pkg('1.1', 1000));
      await service.publisher.publish(one.deviceId, stored.manifest);
      const data = Buffer.from(stored.data);
      expect(await ask('v2/fw/request/2/chunk/1', '300')).toEqual({
        topic: 'v2/fw/response/2/chunk/1',
        bytes: data.subarray(300, 600),
      });
      // An empty payload reuses the request id's size; the last chunk is short, the next one empty.
      expect((await ask('v2/fw/request/2/chunk/3', '')).bytes).toEqual(data.subarray(900, 1000));
      expect((await ask('v2/fw/request/2/chunk/4', '')).bytes).toHaveLength(0);
      expect((await ask('v2/fw/request/3/chunk/0', '')).bytes).toEqual(data);
      expect(await ask('v2/fw/request/4/chunk/0', '70000')).toMatchObject({ topic: 'v2/fw/error' });
      expect(answers.at(-1)!.bytes.toString()).toBe('PAYLOAD_TOO_LARGE');
    },
    E2E,
  );

  it(
    'the HTTP device API: firmware of the device only, 401 for an unknown token, telemetry ingested',
    async () => {
      const one = device(1);
      const service = await startService({ devices: [one], stores: newStores() });
      const next = service.gateway.addPackage(pkg('1.1', 10_000));
      await service.publisher.publish(one.deviceId, next.manifest);
      const base = `http://127.0.0.1:${service.httpPort}/api/v1`;
      const whole = await fetch(`${base}/${one.accessToken}/firmware?title=app&version=1.1`);
      expect(whole.status).toBe(200);
      expect(new Uint8Array(await whole.arrayBuffer())).toEqual(next.data);
      const chunk = await fetch(
        `${base}/${one.accessToken}/firmware?title=app&version=1.1&size=4096&chunk=2`,
      );
      expect(new Uint8Array(await chunk.arrayBuffer())).toEqual(next.data.subarray(8192, 10_000));
      expect((await fetch(`${base}/${one.accessToken}/firmware?title=app&version=9.9`)).status).toBe(404);
      expect((await fetch(`${base}/UNKNOWN_TOKEN/firmware?title=app&version=1.1`)).status).toBe(401);
      const posted = await fetch(`${base}/${one.accessToken}/telemetry`, {
        method: 'POST',
        body: JSON.stringify({ fw_state: 'DOWNLOADING' }),
      });
      expect(posted.status).toBe(200);
      await settled(service.fleet, one.deviceId, 'downloading');
    },
    E2E,
  );
});

// ---------------------------------------------------------------------------------------------
// The REST client against a loopback server that checks each request as ThingsBoard would
// ---------------------------------------------------------------------------------------------

interface SeenRequest {
  method: string;
  url: string;
  authorization: string | undefined;
  body: string;
}

async function restServer(
  answer: (request: SeenRequest) => { status: number; body?: unknown },
): Promise<{ baseUrl: string; seen: SeenRequest[] }> {
  const seen: SeenRequest[] = [];
  const server = createHttpServer(async (request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const record: SeenRequest = {
      method: request.method ?? '',
      url: request.url ?? '',
      authorization: request.headers['x-authorization'] as string | undefined,
      body: Buffer.concat(chunks).toString(),
    };
    seen.push(record);
    const { status, body } = answer(record);
    response
      .writeHead(status, { 'content-type': 'application/json' })
      .end(body === undefined ? '' : JSON.stringify(body));
  });
  const port = await listen(server, 0);
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { baseUrl: `http://127.0.0.1:${port}`, seen };
}

const TB_DEVICE = '784f3940-2f04-11ec-8f3c-9d4f1f8bd1a5';
const JWT = 'eyJhbGciOiJIUzUxMiJ9.test-jwt-payload.signature';

describe('ThingsBoardRestClient', () => {
  it('publish and withdraw: the exact REST calls, with the JWT in X-Authorization', async () => {
    const rest = await restServer(() => ({ status: 200 }));
    const client = createThingsBoardRestClient({ baseUrl: rest.baseUrl, auth: { token: JWT } });
    const publisher = createThingsBoardPublisher({ backend: client });
    const manifest = {
      id: 'fw:app@1.1',
      version: '1.1',
      artifacts: [
        {
          url: 'firmware?title=app&version=1.1',
          target: 'firmware' as const,
          name: 'app',
          size: 3,
          sha256: 'cd'.repeat(32),
        },
      ],
    };
    await publisher.publish(TB_DEVICE, manifest);
    await publisher.withdraw(TB_DEVICE);
    expect(rest.seen).toHaveLength(2);
    expect(rest.seen[0]).toMatchObject({
      method: 'POST',
      url: `/api/plugins/telemetry/DEVICE/${TB_DEVICE}/SHARED_SCOPE`,
      authorization: `Bearer ${JWT}`,
    });
    expect(JSON.parse(rest.seen[0]!.body)).toEqual({
      fw_title: 'app',
      fw_version: '1.1',
      fw_size: 3,
      fw_checksum_algorithm: 'SHA256',
      fw_checksum: 'cd'.repeat(32),
    });
    const withdrawal = new URL(rest.seen[1]!.url, 'http://x');
    expect(rest.seen[1]).toMatchObject({ method: 'DELETE', authorization: `Bearer ${JWT}` });
    expect(withdrawal.pathname).toBe(`/api/plugins/telemetry/DEVICE/${TB_DEVICE}/SHARED_SCOPE`);
    expect(withdrawal.searchParams.get('keys')).toBe(
      'fw_title,fw_version,fw_size,fw_checksum,fw_checksum_algorithm,fw_url,fw_tag',
    );
  });

  it('logs in with a user, and again when the JWT expires (401); a wrong password is a typed error without secrets', async () => {
    let issued = 0;
    const rest = await restServer((request) => {
      if (request.url === '/api/auth/login') {
        const { password } = JSON.parse(request.body) as { password: string };
        if (password !== 'right-password')
          return { status: 401, body: { message: 'Invalid username or password' } };
        issued += 1;
        return { status: 200, body: { token: `jwt-${issued}`, refreshToken: 'r' } };
      }
      // The first JWT has expired by the second call.
      const fresh =
        request.authorization === `Bearer jwt-${issued}` && !(issued === 1 && request.method === 'DELETE');
      return fresh ? { status: 200 } : { status: 401 };
    });
    const client = createThingsBoardRestClient({
      baseUrl: rest.baseUrl,
      auth: { username: 'tenant@example.com', password: 'right-password' },
    });
    await client.saveSharedAttributes(TB_DEVICE, { fw_title: 'app' });
    await client.deleteSharedAttributes(TB_DEVICE, ['fw_title']);
    expect(
      rest.seen.map(
        (request) => `${request.method} ${request.url.split('?')[0]} ${request.authorization ?? '-'}`,
      ),
    ).toEqual([
      'POST /api/auth/login -',
      `POST /api/plugins/telemetry/DEVICE/${TB_DEVICE}/SHARED_SCOPE Bearer jwt-1`,
      `DELETE /api/plugins/telemetry/DEVICE/${TB_DEVICE}/SHARED_SCOPE Bearer jwt-1`,
      'POST /api/auth/login -',
      `DELETE /api/plugins/telemetry/DEVICE/${TB_DEVICE}/SHARED_SCOPE Bearer jwt-2`,
    ]);
    expect(JSON.parse(rest.seen[0]!.body)).toEqual({
      username: 'tenant@example.com',
      password: 'right-password',
    });

    const wrong = createThingsBoardRestClient({
      baseUrl: rest.baseUrl,
      auth: { username: 'tenant@example.com', password: 'wrong-password-42' },
    });
    const error = await wrong
      .saveSharedAttributes(TB_DEVICE, { fw_title: 'app' })
      .catch((thrown: unknown) => thrown);
    expect(isOtaError(error, 'TRANSPORT')).toBe(true);
    expect(error).toMatchObject({ status: 401, retryable: false });
    expect(inspect(error)).not.toContain('wrong-password-42');
  });

  it('errors: 5xx retryable, 4xx not, no JWT in messages; a device id that is not a UUID is refused before any request', async () => {
    const rest = await restServer((request) => ({ status: request.method === 'POST' ? 503 : 400 }));
    const client = createThingsBoardRestClient({ baseUrl: rest.baseUrl, auth: { token: JWT } });
    const unavailable = await client.saveSharedAttributes(TB_DEVICE, {}).catch((thrown: unknown) => thrown);
    expect(unavailable).toMatchObject({ code: 'TRANSPORT', status: 503, retryable: true });
    const bad = await client
      .deleteSharedAttributes(TB_DEVICE, ['fw_title'])
      .catch((thrown: unknown) => thrown);
    expect(bad).toMatchObject({ code: 'TRANSPORT', status: 400, retryable: false });
    for (const error of [unavailable, bad]) expect(inspect(error)).not.toContain(JWT);
    const before = rest.seen.length;
    await expect(client.saveSharedAttributes('../../admin', {})).rejects.toMatchObject({ code: 'CONFIG' });
    expect(rest.seen).toHaveLength(before);
    const refused = await createThingsBoardRestClient({ baseUrl: 'http://127.0.0.1:9', auth: { token: JWT } })
      .saveSharedAttributes(TB_DEVICE, {})
      .catch((thrown: unknown) => thrown);
    expect(refused).toMatchObject({ code: 'TRANSPORT', retryable: true });
    expect(inspect(refused)).not.toContain(JWT);
  });

  it('poll: the latest fw_state telemetry into the fleet (a repeated poll is a duplicate; stale fw_error left out)', async () => {
    let latest: Record<string, { ts: number; value: string }[]> = {
      fw_state: [{ ts: 1_700_000_000_000, value: 'DOWNLOADING' }],
      fw_error: [{ ts: 1_600_000_000_000, value: 'an older failure' }],
    };
    const rest = await restServer(() => ({ status: 200, body: latest }));
    const client = createThingsBoardRestClient({ baseUrl: rest.baseUrl, auth: { token: JWT } });
    const publisher = createThingsBoardPublisher({ backend: client });
    expect(await publisher.poll(TB_DEVICE)).toMatchObject({ outcome: 'applied', state: 'downloading' });
    expect(await publisher.poll(TB_DEVICE)).toMatchObject({ outcome: 'duplicate', state: 'downloading' });
    latest = {
      fw_state: [{ ts: 1_700_000_005_000, value: 'UPDATED' }],
      current_fw_title: [{ ts: 1_700_000_005_000, value: 'app' }],
      current_fw_version: [{ ts: 1_700_000_005_000, value: '1.1' }],
    };
    expect(await publisher.poll(TB_DEVICE)).toMatchObject({ outcome: 'applied', state: 'committed' });
    expect(await publisher.fleet.device(TB_DEVICE)).toMatchObject({
      state: 'committed',
      current: { version: '1.1' },
    });
    const query = new URL(rest.seen[0]!.url, 'http://x');
    expect(query.pathname).toBe(`/api/plugins/telemetry/DEVICE/${TB_DEVICE}/values/timeseries`);
    expect(query.searchParams.get('keys')).toBe('fw_state,fw_error,current_fw_title,current_fw_version');
    expect(() => publisher.watch()).toThrow(/poll/);
  });
});
