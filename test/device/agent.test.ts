/**
 * The generic device agent (`createDeviceAgent`) against real components: orders pushed over a
 * real MQTT broker (aedes, in process) in insigh.io's format, pulled from a loopback HTTP server
 * in micropython_ota's format, and long-polled in Exosite's. The update steps are the simulated
 * device's (the platform presets, tested in their own files, plug in the real installers): this
 * file is about what the agent does with orders — decode, dedupe, queue, approve, poll, report.
 */
import { once } from 'node:events';
import {
  createServer as createHttpServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type Channel,
  createDeviceAgent,
  type DeviceAgent,
  exosite,
  httpChannel,
  type IgnoredEvent,
  insighIo,
  isOtaError,
  type ManifestInput,
  MemoryStore,
  micropythonOta,
  mqttChannel,
  type OtaError,
  type UpdateOutcome,
  type WireMessage,
} from '../../src/index.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { SimulatedDevice } from '../../src/testing/simulated-device.js';
import type { MqttConnection } from '../../src/transport/mqtt-connection.js';
import { until } from '../support/system-services.js';

const agents: DeviceAgent<unknown>[] = [];
const connections: MqttConnection[] = [];
afterEach(async () => {
  await Promise.allSettled(agents.splice(0).map((agent) => agent.stop({ cancel: true })));
  await Promise.allSettled(connections.splice(0).map((connection) => connection.close()));
});

/** Records what an agent says, for assertions. */
function watch(agent: DeviceAgent<unknown>) {
  const seen = {
    outcomes: [] as UpdateOutcome[],
    ignored: [] as IgnoredEvent[],
    errors: [] as OtaError[],
    orders: [] as string[],
  };
  agent.on('outcome', (outcome) => seen.outcomes.push(outcome));
  agent.on('ignored', (event) => seen.ignored.push(event));
  agent.on('error', (error) => seen.errors.push(error));
  agent.on('order', (event) => seen.orders.push(event.manifest.id));
  return seen;
}

describe('pushed orders over MQTT (insigh.io on aedes)', () => {
  let broker: Aedes;
  let server: Server;
  let url: string;
  let clients = 0;
  const target = { controlChannelId: 'ctrl-0001', deviceId: 'dev-0001', deviceKey: 'key-0001-secret' };
  const base = 'https://console.insigh.io/mf-rproxy/packages/download';

  beforeAll(async () => {
    broker = await Aedes.createBroker();
    server = createServer(broker.handle).listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function connect(): Promise<MqttConnection> {
    const connection = await connectMqtt(url, { clientId: `agent-test-${++clients}` });
    connections.push(connection);
    return connection;
  }

  const fileUrl = (id: string) => `${base}?fuid=${id}&did=${target.deviceId}&cid=${target.controlChannelId}`;
  const manifest = (id: string, size = 64): ManifestInput => ({
    id,
    version: `v-${id}`,
    artifacts: [{ url: fileUrl(id), size, target: 'package', name: `${id}.tar.gz` }],
  });

  /** Publishes the cloud side's order for `id`, as the console does (retained). */
  async function order(publisher: MqttConnection, id: string, size = 64): Promise<void> {
    const { value } = insighIo.protocol.cloud.encodeOrder(manifest(id, size), target);
    for (const message of value) {
      await publisher.publish(message.address, message.payload, { retain: message.retain ?? false, qos: 1 });
    }
  }

  function device(ids: string[], options: { chunkDelayMs?: number } = {}) {
    const content = new Map(ids.map((id) => [fileUrl(id), new Uint8Array(64).fill(id.length)]));
    return new SimulatedDevice({ id: target.deviceId, content, chunkSize: 8, ...options });
  }

  async function startAgent(simulated: SimulatedDevice, store = new MemoryStore(), extra: object = {}) {
    const agent = createDeviceAgent({
      id: target.deviceId,
      protocol: insighIo.protocol,
      target,
      channels: { mqtt: mqttChannel(await connect()) },
      store,
      hooks: simulated.hooks,
      machine: { allowUnverified: true },
      ...extra,
    });
    agents.push(agent as DeviceAgent<unknown>);
    const seen = watch(agent as DeviceAgent<unknown>);
    await agent.start();
    return { agent, seen };
  }

  it('runs a retained order end to end, reports it in the platform format, then ignores the replay', async () => {
    const publisher = await connect();
    const statuses: string[] = [];
    await publisher.subscribe(
      `channels/${target.controlChannelId}/messages/${target.deviceId}/ota`,
      (message) => {
        statuses.push(new TextDecoder().decode(message.payload));
      },
    );
    await order(publisher, 'aaaa0001');
    const simulated = device(['aaaa0001']);
    const store = new MemoryStore();
    const { agent, seen } = await startAgent(simulated, store);
    await until(
      () => seen.outcomes.length === 1,
      () => `an outcome, got ${JSON.stringify(seen)}`,
    );
    expect(seen.outcomes[0]).toMatchObject({ state: 'committed', update: { id: 'aaaa0001' } });
    expect(seen.orders).toEqual(['aaaa0001']);
    // The device cleared the retained order (an empty retained publish) and said e=1.
    // Wait for both (the order itself, e=0, is on this topic too, so match e=1 exactly).
    const succeeded = (text: string) => /\{"n":"e","v":1\}/.test(text) && text.includes('aaaa0001');
    await until(
      () => statuses.some(succeeded) && statuses.includes(''),
      () => statuses.join('\n'),
    );
    await agent.stop();

    // The same order again (a console that re-sends it): the same store knows it is installed.
    await order(publisher, 'aaaa0001');
    const again = await startAgent(simulated, store);
    await until(
      () => again.seen.ignored.length > 0,
      () => JSON.stringify(again.seen),
    );
    expect(again.seen.ignored[0]).toMatchObject({ reason: 'already_installed', update: { id: 'aaaa0001' } });
    expect(again.seen.outcomes).toEqual([]);
    expect(simulated.log.filter((entry) => entry.startsWith('install'))).toHaveLength(1);
    await publisher.publish(`channels/${target.controlChannelId}/messages/${target.deviceId}/ota`, '', {
      retain: true,
    });
  });

  it('ignores a duplicate of the running update, and runs only the newest of the orders that waited', async () => {
    const publisher = await connect();
    const simulated = device(['bbbb0001', 'bbbb0002', 'bbbb0003'], { chunkDelayMs: 5 });
    const { agent, seen } = await startAgent(simulated);
    let downloading = false;
    agent.on('transition', ({ to }) => {
      if (to === 'downloading') downloading = true;
    });
    await order(publisher, 'bbbb0001');
    await until(
      () => downloading,
      () => 'the first update downloading',
    );
    await order(publisher, 'bbbb0001'); // the same update, re-delivered
    await order(publisher, 'bbbb0002'); // waits…
    await order(publisher, 'bbbb0003'); // …and is superseded by this one
    await until(
      () => seen.outcomes.length === 2,
      () => JSON.stringify(seen),
    );
    expect(seen.outcomes.map((outcome) => [outcome.state, outcome.update?.id])).toEqual([
      ['committed', 'bbbb0001'],
      ['committed', 'bbbb0003'],
    ]);
    // (`no_order`: the device hears its own statuses on the shared OTA topic.)
    const ignored = seen.ignored.filter((event) => event.reason !== 'no_order');
    expect(ignored.map((event) => [event.reason, event.update?.id])).toEqual([
      ['duplicate', 'bbbb0001'],
      ['superseded', 'bbbb0002'],
    ]);
    await publisher.publish(`channels/${target.controlChannelId}/messages/${target.deviceId}/ota`, '', {
      retain: true,
    });
  });

  it('leaves an order that is not approved, and runs it on apply()', async () => {
    const publisher = await connect();
    const simulated = device(['cccc0001']);
    const approved: string[] = [];
    const { agent, seen } = await startAgent(simulated, new MemoryStore(), {
      approve: (candidate: { id: string }) => {
        approved.push(candidate.id);
        return false;
      },
    });
    await order(publisher, 'cccc0001');
    await until(
      () => seen.ignored.length === 1,
      () => JSON.stringify(seen),
    );
    expect(seen.ignored[0]).toMatchObject({ reason: 'not_approved', update: { id: 'cccc0001' } });
    expect(agent.machine.state).toBe('idle');
    const outcome = await agent.apply(
      insighIo.protocol.device.decodeOrder(
        {
          address: `channels/${target.controlChannelId}/messages/${target.deviceId}/ota`,
          payload: insighIo.protocol.cloud.encodeOrder(manifest('cccc0001'), target).value[0]!.payload,
        },
        { target },
      ).value!,
    );
    expect(outcome).toMatchObject({ state: 'committed', update: { id: 'cccc0001' } });
    expect(approved).toEqual(['cccc0001']);
    await publisher.publish(`channels/${target.controlChannelId}/messages/${target.deviceId}/ota`, '', {
      retain: true,
    });
  });

  it('turns a malformed order into a typed error event and keeps listening', async () => {
    const publisher = await connect();
    const simulated = device(['dddd0001']);
    const { seen } = await startAgent(simulated);
    const topic = `channels/${target.controlChannelId}/messages/${target.deviceId}/ota`;
    await publisher.publish(topic, '[{"n":"f","vs":42}]', { qos: 1 });
    await until(
      () => seen.errors.length === 1,
      () => JSON.stringify(seen),
    );
    expect(isOtaError(seen.errors[0], 'MANIFEST_INVALID')).toBe(true);
    expect(seen.errors[0]!.message).not.toContain(target.deviceKey);
    await order(publisher, 'dddd0001');
    await until(
      () => seen.outcomes.length === 1,
      () => JSON.stringify(seen),
    );
    expect(seen.outcomes[0]).toMatchObject({ state: 'committed' });
    await publisher.publish(topic, '', { retain: true });
  });
});

/** A loopback HTTP server with a handler per test. */
async function httpServer(handler: (request: IncomingMessage, response: ServerResponse) => void) {
  const server: HttpServer = createHttpServer(handler).listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A `file` channel that keeps what it was given (the preset's real one writes files). */
function recordingFileChannel(): Channel & { written: WireMessage[] } {
  const written: WireMessage[] = [];
  return {
    kind: 'file',
    written,
    async send(message) {
      written.push(message);
      return undefined;
    },
  };
}

describe('pulled orders over HTTP (micropython_ota)', () => {
  const auth = { user: 'ota', password: 'pw-very-secret' };

  async function releaseServer() {
    const state = { version: '1.0.0', requests: 0 };
    const server = await httpServer((request, response) => {
      state.requests++;
      if (request.headers.authorization !== `Basic ${btoa(`${auth.user}:${auth.password}`)}`) {
        response.writeHead(401).end();
        return;
      }
      if (request.url === '/app/version') response.end(`${state.version}\n`);
      else response.writeHead(404).end();
    });
    return { ...server, state };
  }

  function simulatedFor(host: string, versions: string[]) {
    const content = new Map(
      versions.map((version) => [
        `${host}/app/${version}_main.py`,
        new TextEncoder().encode(`print("${version}")`),
      ]),
    );
    return new SimulatedDevice({ id: 'mp-1', content, initialVersion: '1.0.0' });
  }

  it('polls every interval, installs a new version, writes the version file last, and checkNow() answers', async () => {
    const server = await releaseServer();
    const target = { host: server.url, project: 'app', filenames: ['main.py'], auth };
    const simulated = simulatedFor(server.url, ['1.0.1', '1.0.2']);
    const file = recordingFileChannel();
    const agent = createDeviceAgent({
      id: 'mp-1',
      protocol: micropythonOta.protocol,
      target,
      channels: { http: httpChannel(), file },
      store: new MemoryStore(),
      hooks: { ...simulated.hooks, recover: async () => ({ id: '1.0.0', version: '1.0.0' }) },
      machine: { allowUnverified: true },
      poll: { intervalMs: 20, jitter: 0.5 },
    });
    agents.push(agent as DeviceAgent<unknown>);
    const seen = watch(agent as DeviceAgent<unknown>);
    await agent.start();
    // The boot report: the local version file, as the device runs 1.0.0.
    expect(file.written.map((message) => [message.address, message.payload])).toEqual([['version', '1.0.0']]);
    await until(
      () => server.state.requests >= 3,
      () => `3 polls, got ${server.state.requests}`,
    );
    expect(seen.outcomes).toEqual([]);
    server.state.version = '1.0.1';
    await until(
      () => seen.outcomes.length === 1,
      () => JSON.stringify(seen),
    );
    expect(seen.outcomes[0]).toMatchObject({ state: 'committed', update: { version: '1.0.1' } });
    expect(file.written.at(-1)).toMatchObject({ address: 'version', payload: '1.0.1' });
    await agent.stop();

    // checkNow(): the outcome of the update it found, or null when there was none.
    const manual = createDeviceAgent({
      id: 'mp-1',
      protocol: micropythonOta.protocol,
      target,
      channels: { http: httpChannel(), file },
      store: new MemoryStore(),
      hooks: { ...simulated.hooks, recover: async () => ({ id: '1.0.1', version: '1.0.1' }) },
      machine: { allowUnverified: true },
      poll: { intervalMs: 3_600_000 },
    });
    agents.push(manual as DeviceAgent<unknown>);
    await manual.start();
    expect(await manual.checkNow()).toBeNull();
    server.state.version = '1.0.2';
    expect(await manual.checkNow()).toMatchObject({ state: 'committed', update: { version: '1.0.2' } });
    await server.close();
  });

  it('makes refused credentials a typed error that names no password, and installs nothing', async () => {
    const server = await releaseServer();
    const target = {
      host: server.url,
      project: 'app',
      filenames: ['main.py'],
      auth: { user: 'ota', password: 'wrong-secret-pw' },
    };
    const simulated = simulatedFor(server.url, ['1.0.1']);
    server.state.version = '1.0.1';
    const agent = createDeviceAgent({
      id: 'mp-2',
      protocol: micropythonOta.protocol,
      target,
      channels: { http: httpChannel(), file: recordingFileChannel() },
      store: new MemoryStore(),
      hooks: simulated.hooks,
      poll: { intervalMs: 3_600_000 },
    });
    agents.push(agent as DeviceAgent<unknown>);
    const seen = watch(agent as DeviceAgent<unknown>);
    await agent.start();
    const error = await agent.checkNow().then(
      () => undefined,
      (rejected: unknown) => rejected,
    );
    expect(isOtaError(error, 'TRANSPORT')).toBe(true);
    expect(String((error as Error).message)).not.toContain('wrong-secret-pw');
    for (const event of seen.errors) expect(event.message).not.toContain('wrong-secret-pw');
    expect(simulated.log).toEqual([]);
    expect(agent.machine.state).toBe('idle');
    await server.close();
  });

  it('backs off after failed polls instead of hammering a server that is down', async () => {
    const server = await releaseServer();
    const target = { host: server.url, project: 'app', filenames: ['main.py'], auth };
    await server.close(); // down
    const simulated = simulatedFor(target.host, ['1.0.1']);
    const agent = createDeviceAgent({
      id: 'mp-3',
      protocol: micropythonOta.protocol,
      target,
      channels: { http: httpChannel({ timeoutMs: 2_000 }), file: recordingFileChannel() },
      store: new MemoryStore(),
      hooks: simulated.hooks,
      poll: { intervalMs: 10, backoff: { baseDelayMs: 10, maxDelayMs: 40 } },
    });
    agents.push(agent as DeviceAgent<unknown>);
    const seen = watch(agent as DeviceAgent<unknown>);
    await agent.start();
    await until(
      () => seen.errors.length >= 3,
      () => `3 failed polls, got ${seen.errors.length}`,
    );
    for (const error of seen.errors) {
      expect(isOtaError(error, 'TRANSPORT')).toBe(true);
      expect(error.retryable).toBe(true);
    }
  });
});

describe('long polls (Exosite over HTTP)', () => {
  it('holds the request, re-polls at once after a 304 with If-Modified-Since, and takes a change', async () => {
    const sinceSeen: (string | undefined)[] = [];
    const state = { value: '', modified: 'Tue, 01 Dec 2026 10:00:00 GMT', held: [] as ServerResponse[] };
    const handle = (request: IncomingMessage, response: ServerResponse) => {
      if (request.headers['x-exosite-cik'] !== target.token) return void response.writeHead(401).end();
      if (request.method === 'POST') {
        response.writeHead(204).end();
        return;
      }
      sinceSeen.push(request.headers['if-modified-since'] as string | undefined);
      // Hold it until something changes or the requested timeout, as Murano does.
      const timeout = Number(request.headers['request-timeout']);
      const timer = setTimeout(
        () => response.writeHead(304, { 'last-modified': state.modified }).end(),
        timeout,
      );
      response.on('close', () => clearTimeout(timer));
      state.held.push(response);
    };
    const answer = (response: ServerResponse, value: string) => {
      response.writeHead(200, {
        'content-type': 'application/x-www-form-urlencoded',
        'last-modified': state.modified,
      });
      response.end(`config_otau=${encodeURIComponent(value)}`);
    };
    const server = await httpServer((request, response) => handle(request, response));
    const productId = 'abc123';
    const target = {
      productId,
      identity: 'sensor-1',
      transport: 'http' as const,
      token: 'cik-secret-token-1',
      longPollTimeoutMs: 1_200,
    };
    const host = new URL(server.url).host;
    const agent = createDeviceAgent({
      id: 'sensor-1',
      protocol: exosite.protocol,
      target,
      // The device API host is <productId>.<domain>: route it to the loopback server.
      channels: {
        http: httpChannel({
          fetch: (input, init) =>
            globalThis.fetch(String(input).replace(/^https:\/\/[^/]+/, `http://${host}`), init),
        }),
      },
      store: new MemoryStore(),
      hooks: new SimulatedDevice({ id: 'sensor-1', content: new Map() }).hooks,
    });
    agents.push(agent as DeviceAgent<unknown>);
    const seen = watch(agent as DeviceAgent<unknown>);
    await agent.start();
    // The first poll times out (304); the next leaves at once, with If-Modified-Since.
    await until(
      () => sinceSeen.length >= 2,
      () => `2 polls, got ${sinceSeen.length}`,
    );
    expect(sinceSeen[0]).toBeUndefined();
    expect(sinceSeen[1]).toBe(state.modified);
    state.modified = 'Tue, 01 Dec 2026 10:05:00 GMT';
    const manifest = JSON.stringify({
      type: 'URL_LIST',
      name: 'fw',
      version: '2.0.0',
      payload: ['https://files.example.com/a.bin'],
    });
    answer(state.held.at(-1)!, manifest);
    await until(
      () => seen.orders.length === 1,
      () => JSON.stringify(seen),
    );
    await until(
      () => sinceSeen.at(-1) === state.modified,
      () => `a poll with the new Last-Modified, got ${sinceSeen.join(', ')}`,
    );
    for (const error of seen.errors) expect(error.message).not.toContain('cik-secret-token-1');
    await agent.stop({ cancel: true });
    await server.close();
  });
});
