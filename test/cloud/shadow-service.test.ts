/**
 * The self-hosted AWS IoT Device Shadow service (src/cloud/shadow-service) against real brokers:
 * aedes in process, and mosquitto spoken to in MQTT 5 and in MQTT 3.1.1 (skipped locally when
 * mosquitto is not installed, required in CI). Every answer is read off the broker by a plain MQTT
 * client, as a device would see it: classic and named shadows, get/update/delete with their
 * accepted/rejected/delta/documents, the clientToken echo and its 64-byte bound, 409s, versions
 * after a delete, size bounds, and a restart on the same file store. The official AWS IoT Device
 * SDK v2 (IotShadowClient over aws-crt) talks to the service on mosquitto. Queueing (per-thing
 * order, concurrency across things, the 429 bound, store failures) is proven on an in-memory
 * connection with a store the test holds back.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mqtt as awsMqtt, io, iotshadow } from 'aws-iot-device-sdk-v2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryShadowStore } from '../../src/cloud/shadow-service/memory-store.js';
import {
  createShadowService,
  type ShadowRequestRecord,
  type ShadowService,
  type ShadowServiceOptions,
} from '../../src/cloud/shadow-service/service.js';
import { stateShadowStore } from '../../src/cloud/shadow-service/state-store.js';
import type { ShadowStore } from '../../src/cloud/shadow-service/store.js';
import type { OtaError } from '../../src/core/errors.js';
import { MemoryStore } from '../../src/core/store.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { createFileShadowStore } from '../../src/node/cloud/file-shadow-store.js';
import { type ShadowAddress, shadowTopicPrefix } from '../../src/protocols/degu/topics.js';
import { type MqttConnection, type MqttMessage, topicMatches } from '../../src/transport/mqtt-connection.js';
import { skipOrFailInCi, until } from '../support/system-services.js';
import { startAedes, startMosquitto, type TestBroker } from './shadow-brokers.js';

const decoder = new TextDecoder();
let thingCounter = 0;
/** A thing of its own per test: shadows and topics never leak between tests. */
const newThing = () => `svc-${process.pid}-${++thingCounter}`;

interface Answer {
  kind: string;
  body: Record<string, unknown>;
}

/** A plain MQTT client on one shadow's topics: publishes requests, collects every answer. */
async function shadowPeer(connection: MqttConnection, address: ShadowAddress) {
  const prefix = shadowTopicPrefix(address);
  const answers: Answer[] = [];
  await connection.subscribe(`${prefix}/+/+`, (message: MqttMessage) => {
    answers.push({
      kind: message.topic.slice(prefix.length + 1),
      body: JSON.parse(decoder.decode(message.payload)) as Record<string, unknown>,
    });
  });
  return {
    answers,
    send: (operation: 'get' | 'update' | 'delete', payload: unknown = {}) =>
      connection.publish(
        `${prefix}/${operation}`,
        typeof payload === 'string' ? payload : JSON.stringify(payload),
      ),
    /** The answer of `kind` echoing `clientToken`, once it arrived. */
    async answer(kind: string, clientToken: string): Promise<Record<string, unknown>> {
      const find = () =>
        answers.find((answer) => answer.kind === kind && answer.body.clientToken === clientToken);
      await until(
        () => find() !== undefined,
        () => `${kind} for ${clientToken}; got ${JSON.stringify(answers)}`,
      );
      return find()!.body;
    },
    kinds: () => answers.map((answer) => answer.kind),
  };
}

/** One broker, the service on its own connection, and peers on theirs. */
function environment(start: () => Promise<TestBroker | undefined>, protocolVersion: 4 | 5, missing: string) {
  let broker: TestBroker | undefined;
  let service: ShadowService;
  const records: ShadowRequestRecord[] = [];
  const connections: MqttConnection[] = [];
  let count = 0;
  const connection = async () => {
    const opened = await connectMqtt(broker!.url, {
      clientId: `svc-test-${process.pid}-${protocolVersion}-${++count}`,
      protocolVersion,
    });
    connections.push(opened);
    return opened;
  };
  beforeAll(async () => {
    broker = await start();
    if (broker === undefined) return;
    service = createShadowService({
      connection: await connection(),
      onRequest: (record) => records.push(record),
    });
    await service.start();
  });
  afterAll(async () => {
    await service?.stop();
    await Promise.allSettled(connections.splice(0).map((opened) => opened.close()));
    await broker?.close();
  });
  return {
    need(context: { skip: (note?: string) => void }) {
      if (broker === undefined) skipOrFailInCi(context, missing);
      return {
        broker: broker!,
        service,
        records,
        connection,
        peer: async (address: ShadowAddress) => shadowPeer(await connection(), address),
      };
    },
  };
}

function brokerSuite(
  name: string,
  start: () => Promise<TestBroker | undefined>,
  protocolVersion: 4 | 5,
  missing: string,
) {
  describe(name, { timeout: 60_000 }, () => {
    const env = environment(start, protocolVersion, missing);

    it('classic shadow: get 404, update → accepted, delta, documents in that order; get with the delta', async (context) => {
      const { peer } = env.need(context);
      const thingName = newThing();
      const device = await peer({ thingName });
      await device.send('get', { clientToken: 'get-1' });
      expect(await device.answer('get/rejected', 'get-1')).toMatchObject({
        code: 404,
        message: `No shadow exists with name: '${thingName}'`,
      });

      await device.send('update', {
        state: { desired: { a: 1, b: 2 }, reported: { a: 1 } },
        clientToken: 'up-1',
      });
      const accepted = await device.answer('update/accepted', 'up-1');
      expect(accepted).toMatchObject({ version: 1, state: { desired: { a: 1, b: 2 }, reported: { a: 1 } } });
      const documents = await device.answer('update/documents', 'up-1');
      expect(documents).toMatchObject({ current: { version: 1, state: { desired: { a: 1, b: 2 } } } });
      expect(documents.previous).toBeUndefined();
      expect(await device.answer('update/delta', 'up-1')).toMatchObject({ version: 1, state: { b: 2 } });
      expect(device.kinds().slice(1)).toEqual(['update/accepted', 'update/delta', 'update/documents']);

      await device.send('update', { state: { reported: { b: 2 } }, clientToken: 'up-2' });
      const second = await device.answer('update/documents', 'up-2');
      expect(second).toMatchObject({ previous: { version: 1 }, current: { version: 2 } });
      // desired = reported now: no delta for version 2.
      expect(device.answers.filter((answer) => answer.kind === 'update/delta')).toHaveLength(1);

      await device.send('get', { clientToken: 'get-2' });
      expect(await device.answer('get/accepted', 'get-2')).toMatchObject({
        version: 2,
        state: { desired: { a: 1, b: 2 }, reported: { a: 1, b: 2 } },
      });
      await device.send('update', { state: { desired: { c: 3 } }, clientToken: 'up-3' });
      await device.answer('update/accepted', 'up-3');
      await device.send('get', '');
      await until(
        () => device.answers.some((answer) => answer.kind === 'get/accepted' && answer.body.version === 3),
        () => 'the get of an empty payload',
      );
      const got = device.answers.find(
        (answer) => answer.kind === 'get/accepted' && answer.body.version === 3,
      )!;
      expect(got.body.state).toMatchObject({ delta: { c: 3 } });
      expect(got.body.clientToken).toBeUndefined();
    });

    it('named shadows are apart from the classic one and from each other', async (context) => {
      const { peer } = env.need(context);
      const thingName = newThing();
      const ota = await peer({ thingName, shadowName: 'ota' });
      const config = await peer({ thingName, shadowName: 'config' });
      const classic = await peer({ thingName });
      await ota.send('update', { state: { desired: { fw: '2.0.0' } }, clientToken: 'ota-1' });
      expect(await ota.answer('update/delta', 'ota-1')).toMatchObject({ state: { fw: '2.0.0' }, version: 1 });
      await config.send('update', { state: { reported: { mode: 'eco' } }, clientToken: 'cfg-1' });
      expect(await config.answer('update/accepted', 'cfg-1')).toMatchObject({ version: 1 });
      await classic.send('get', { clientToken: 'classic-get' });
      expect(await classic.answer('get/rejected', 'classic-get')).toMatchObject({ code: 404 });
      await ota.send('get', { clientToken: 'ota-get' });
      expect(await ota.answer('get/accepted', 'ota-get')).toMatchObject({
        state: { desired: { fw: '2.0.0' }, delta: { fw: '2.0.0' } },
      });
      await ota.send('delete', { clientToken: 'ota-del' });
      expect(await ota.answer('delete/accepted', 'ota-del')).toMatchObject({ version: 1 });
      await config.send('get', { clientToken: 'cfg-get' });
      expect(await config.answer('get/accepted', 'cfg-get')).toMatchObject({
        state: { reported: { mode: 'eco' } },
      });
      await ota.send('get', { clientToken: 'ota-get-2' });
      expect(await ota.answer('get/rejected', 'ota-get-2')).toMatchObject({
        code: 404,
        message: `No shadow exists with name: '${thingName}~ota'`,
      });
      // No answer leaked onto another shadow's topics.
      expect(classic.kinds()).toEqual(['get/rejected']);
      expect(config.kinds()).not.toContain('update/delta');
    });

    it('clientToken: echoed up to 64 bytes, a 400 "Invalid clientToken" beyond, on every operation', async (context) => {
      const { peer } = env.need(context);
      const device = await peer({ thingName: newThing() });
      const longest = 'é'.repeat(32); // 64 UTF-8 bytes
      await device.send('update', { state: { reported: { on: true } }, clientToken: longest });
      expect(await device.answer('update/accepted', longest)).toMatchObject({ version: 1 });
      const tooLong = 'x'.repeat(65);
      for (const operation of ['update', 'get', 'delete'] as const) {
        await device.send(operation, { state: { reported: { on: false } }, clientToken: tooLong });
        await until(
          () => device.answers.some((answer) => answer.kind === `${operation}/rejected`),
          () => `${operation}/rejected; got ${JSON.stringify(device.kinds())}`,
        );
        const rejected = device.answers.find((answer) => answer.kind === `${operation}/rejected`)!.body;
        expect(rejected).toMatchObject({ code: 400, message: 'Invalid clientToken' });
        expect(rejected.clientToken).toBeUndefined();
      }
      // Nothing of it was applied: the shadow is still version 1.
      await device.send('get', { clientToken: 'after' });
      expect(await device.answer('get/accepted', 'after')).toMatchObject({
        version: 1,
        state: { reported: { on: true } },
      });
    });

    it('409 on a stale version; versions continue after a delete; a second delete is a 404', async (context) => {
      const { peer } = env.need(context);
      const device = await peer({ thingName: newThing() });
      for (let n = 1; n <= 3; n++) {
        await device.send('update', { state: { reported: { n } }, clientToken: `u${n}` });
        await device.answer('update/accepted', `u${n}`);
      }
      await device.send('update', { state: { reported: { n: 9 } }, version: 2, clientToken: 'stale' });
      expect(await device.answer('update/rejected', 'stale')).toMatchObject({
        code: 409,
        message: 'Version conflict',
      });
      await device.send('update', { state: { reported: { n: 4 } }, version: 3, clientToken: 'fresh' });
      expect(await device.answer('update/accepted', 'fresh')).toMatchObject({ version: 4 });

      await device.send('delete', { clientToken: 'del-1' });
      expect(await device.answer('delete/accepted', 'del-1')).toMatchObject({ version: 4 });
      await device.send('delete', { clientToken: 'del-2' });
      expect(await device.answer('delete/rejected', 'del-2')).toMatchObject({ code: 404 });
      await device.send('update', { state: { reported: { n: 1 } }, version: 1, clientToken: 'old-lock' });
      expect(await device.answer('update/rejected', 'old-lock')).toMatchObject({ code: 409 });
      await device.send('update', { state: { reported: { n: 1 } }, clientToken: 'again' });
      expect(await device.answer('update/accepted', 'again')).toMatchObject({ version: 5 });
    });

    it('bad documents get AWS error documents with the token; in-process calls see the same shadow', async (context) => {
      const { peer, service, records } = env.need(context);
      const thingName = newThing();
      const device = await peer({ thingName });
      await device.send('update', '{"state":');
      await until(
        () => device.kinds().includes('update/rejected'),
        () => 'the rejection of broken JSON',
      );
      expect(device.answers[0]!.body).toMatchObject({ code: 400, message: 'Invalid JSON' });
      await device.send('update', { clientToken: 'no-state' });
      expect(await device.answer('update/rejected', 'no-state')).toMatchObject({
        code: 400,
        message: 'Missing required node: state',
      });
      await device.send('update', { state: { reported: { big: 'x'.repeat(9000) } }, clientToken: 'big' });
      expect(await device.answer('update/rejected', 'big')).toMatchObject({ code: 413 });

      const before = records.length;
      const result = await service.update({ thingName }, { state: { desired: { fw: '3' } } });
      expect(result.ok && result.shadow.version).toBe(1);
      // Published for every subscriber; the answer itself was returned, not published.
      await until(
        () => device.kinds().includes('update/documents'),
        () => 'the documents of an in-process update',
      );
      expect(device.kinds()).not.toContain('update/accepted');
      const got = await service.get({ thingName });
      expect(got.ok && got.accepted.state).toEqual({ desired: { fw: '3' }, delta: { fw: '3' } });
      expect(records.slice(before)).toEqual([
        { address: { thingName }, operation: 'update', origin: 'call' },
        { address: { thingName }, operation: 'get', origin: 'call' },
      ]);
      const deleted = await service.delete({ thingName });
      expect(deleted.ok && deleted.accepted.version).toBe(1);
    });
  });
}

brokerSuite('shadow service on aedes (MQTT 3.1.1)', startAedes, 4, 'aedes');
brokerSuite(
  'shadow service on mosquitto (MQTT 5)',
  () => startMosquitto(),
  5,
  'mosquitto (apt install mosquitto)',
);
brokerSuite(
  'shadow service on mosquitto (MQTT 3.1.1)',
  startMosquitto,
  4,
  'mosquitto (apt install mosquitto)',
);

describe('restart on the same file store, on mosquitto', { timeout: 60_000 }, () => {
  let broker: TestBroker | undefined;
  let directory: string;
  const connections: MqttConnection[] = [];
  beforeAll(async () => {
    broker = await startMosquitto();
    directory = await mkdtemp(join(tmpdir(), 'otakit-shadow-store-'));
  });
  afterAll(async () => {
    await Promise.allSettled(connections.map((connection) => connection.close()));
    await broker?.close();
    await rm(directory, { recursive: true, force: true });
  });
  const connect = async (clientId: string) => {
    const connection = await connectMqtt(broker!.url, { clientId, protocolVersion: 5 });
    connections.push(connection);
    return connection;
  };

  it('loses no shadow, no version and no deleted-version memory', async (context) => {
    if (broker === undefined) skipOrFailInCi(context, 'mosquitto (apt install mosquitto)');
    const thingName = newThing();
    const Thing = thingName.toUpperCase(); // another thing: names are case-sensitive
    const device = await shadowPeer(await connect(`restart-device-${process.pid}`), { thingName });
    const named = await shadowPeer(await connect(`restart-named-${process.pid}`), {
      thingName,
      shadowName: 'ota',
    });
    const other = await shadowPeer(await connect(`restart-other-${process.pid}`), { thingName: Thing });

    const firstConnection = await connect(`restart-service-1-${process.pid}`);
    const first = createShadowService({
      connection: firstConnection,
      store: createFileShadowStore(directory, { fsync: false }),
    });
    await first.start();
    await device.send('update', { state: { desired: { fw: '2' }, reported: { fw: '1' } }, clientToken: 'a' });
    await device.answer('update/accepted', 'a');
    await device.send('update', { state: { reported: { up: 1 } }, clientToken: 'b' });
    await device.answer('update/accepted', 'b');
    await other.send('update', { state: { reported: { who: 'upper' } }, clientToken: 'c' });
    await other.answer('update/accepted', 'c');
    for (const token of ['n1', 'n2', 'n3']) {
      await named.send('update', { state: { reported: { token } }, clientToken: token });
      await named.answer('update/accepted', token);
    }
    await named.send('delete', { clientToken: 'n-del' });
    await named.answer('delete/accepted', 'n-del');
    await first.stop();
    await firstConnection.close();

    const second = createShadowService({
      connection: await connect(`restart-service-2-${process.pid}`),
      store: createFileShadowStore(directory, { fsync: false }),
    });
    await second.start();
    try {
      await device.send('get', { clientToken: 'after' });
      expect(await device.answer('get/accepted', 'after')).toMatchObject({
        version: 2,
        state: { desired: { fw: '2' }, reported: { fw: '1', up: 1 }, delta: { fw: '2' } },
      });
      await other.send('get', { clientToken: 'other-after' });
      expect(await other.answer('get/accepted', 'other-after')).toMatchObject({
        version: 1,
        state: { reported: { who: 'upper' } },
      });
      await named.send('update', { state: { reported: { back: true } }, clientToken: 'n4' });
      expect(await named.answer('update/accepted', 'n4')).toMatchObject({ version: 4 });
      await device.send('update', { state: { reported: { fw: '2' } }, version: 2, clientToken: 'd' });
      expect(await device.answer('update/accepted', 'd')).toMatchObject({ version: 3 });
    } finally {
      await second.stop();
    }
  });
});

describe('the AWS IoT Device SDK v2 (IotShadowClient) against the service on mosquitto', {
  timeout: 60_000,
}, () => {
  const env = environment(() => startMosquitto(), 5, 'mosquitto (apt install mosquitto)');

  async function awsConnection(url: string, clientId: string): Promise<awsMqtt.MqttClientConnection> {
    const { hostname, port } = new URL(url);
    const client = new awsMqtt.MqttClient(new io.ClientBootstrap());
    const connection = client.new_connection({
      client_id: clientId,
      host_name: hostname,
      port: Number(port),
      clean_session: true,
      keep_alive: 30,
      socket_options: new io.SocketOptions(),
    });
    await connection.connect();
    return connection;
  }

  it('gets, updates, deletes and receives deltas and documents as from AWS IoT Core', async (context) => {
    const { broker, service } = env.need(context);
    const thingName = newThing();
    const crt = await awsConnection(broker.url, `svc-aws-sdk-${process.pid}`);
    try {
      const sdk = new iotshadow.IotShadowClient(crt);
      const QOS = awsMqtt.QoS.AtLeastOnce;
      const answers: Array<[string, unknown]> = [];
      const record = (kind: string) => (error: unknown, response: unknown) =>
        answers.push([kind, error ?? response]);
      const address = { thingName, shadowName: 'ota' };
      await sdk.subscribeToGetNamedShadowAccepted(address, QOS, record('get/accepted'));
      await sdk.subscribeToGetNamedShadowRejected(address, QOS, record('get/rejected'));
      await sdk.subscribeToUpdateNamedShadowAccepted(address, QOS, record('update/accepted'));
      await sdk.subscribeToUpdateNamedShadowRejected(address, QOS, record('update/rejected'));
      await sdk.subscribeToNamedShadowDeltaUpdatedEvents(address, QOS, record('delta'));
      await sdk.subscribeToNamedShadowUpdatedEvents(address, QOS, record('documents'));
      await sdk.subscribeToDeleteNamedShadowAccepted(address, QOS, record('delete/accepted'));
      const find = async (kind: string, token?: string) => {
        const match = () =>
          answers.find(
            ([seen, body]) =>
              seen === kind &&
              (token === undefined || (body as { clientToken?: string }).clientToken === token),
          );
        await until(
          () => match() !== undefined,
          () => `${kind}; got ${JSON.stringify(answers)}`,
        );
        return match()![1] as Record<string, unknown>;
      };

      await sdk.publishGetNamedShadow({ ...address, clientToken: 'sdk-get-1' }, QOS);
      expect(await find('get/rejected', 'sdk-get-1')).toMatchObject({ code: 404 });

      await sdk.publishUpdateNamedShadow(
        { ...address, state: { reported: { fw: '1.0.0' } }, clientToken: 'sdk-up-1' },
        QOS,
      );
      expect(await find('update/accepted', 'sdk-up-1')).toMatchObject({
        version: 1,
        state: { reported: { fw: '1.0.0' } },
      });
      // The operator's order, in-process: the SDK device gets the delta and the documents.
      await service.update(address, { state: { desired: { fw: '2.0.0' } } });
      const delta = (await find('delta')) as unknown as iotshadow.model.ShadowDeltaUpdatedEvent;
      expect(delta).toMatchObject({ version: 2, state: { fw: '2.0.0' } });
      await until(
        () => answers.filter(([kind]) => kind === 'documents').length === 2,
        () => `two documents; got ${JSON.stringify(answers)}`,
      );
      const documents = answers.filter(
        ([kind]) => kind === 'documents',
      )[1]![1] as iotshadow.model.ShadowUpdatedEvent;
      expect(documents.previous).toMatchObject({ version: 1, state: { reported: { fw: '1.0.0' } } });
      expect(documents.current).toMatchObject({ version: 2, state: { desired: { fw: '2.0.0' } } });

      await sdk.publishUpdateNamedShadow(
        { ...address, state: { reported: { fw: '2.0.0' } }, version: 1, clientToken: 'sdk-409' },
        QOS,
      );
      expect(await find('update/rejected', 'sdk-409')).toMatchObject({
        code: 409,
        message: 'Version conflict',
      });
      await sdk.publishGetNamedShadow({ ...address, clientToken: 'sdk-get-2' }, QOS);
      expect(await find('get/accepted', 'sdk-get-2')).toMatchObject({
        version: 2,
        state: { desired: { fw: '2.0.0' }, reported: { fw: '1.0.0' }, delta: { fw: '2.0.0' } },
      });
      await sdk.publishDeleteNamedShadow({ ...address, clientToken: 'sdk-del' }, QOS);
      expect(await find('delete/accepted', 'sdk-del')).toMatchObject({ version: 2 });
    } finally {
      await crt.disconnect();
    }
  });
});

/** An MQTT connection in memory: what is published is delivered to matching subscriptions. */
function memoryConnection() {
  const subscriptions = new Set<{ filter: string; handler: (message: MqttMessage) => void }>();
  const published: Array<{ topic: string; body: Record<string, unknown> }> = [];
  const connection: MqttConnection = {
    async publish(topic, payload) {
      const bytes = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
      published.push({ topic, body: JSON.parse(decoder.decode(bytes)) as Record<string, unknown> });
      for (const entry of subscriptions) {
        if (topicMatches(entry.filter, topic)) entry.handler({ topic, payload: bytes, retain: false });
      }
    },
    async subscribe(filter, handler) {
      const entry = { filter, handler };
      subscriptions.add(entry);
      return async () => {
        subscriptions.delete(entry);
      };
    },
    async close() {},
  };
  /** A request as a device sends it (delivered to the service only, not recorded). */
  const request = (address: ShadowAddress, operation: string, body: unknown, retain = false) => {
    const topic = `${shadowTopicPrefix(address)}/${operation}`;
    const payload = new TextEncoder().encode(JSON.stringify(body));
    for (const entry of subscriptions)
      if (topicMatches(entry.filter, topic)) entry.handler({ topic, payload, retain });
  };
  return { connection, published, request };
}

/** A memory store whose writes wait until the test lets them through. */
function heldStore() {
  const inner = new MemoryShadowStore();
  const held: Array<{ thing: string; release: () => void }> = [];
  let failNext = false;
  const hold = async (thing: string) => {
    await new Promise<void>((release) => held.push({ thing, release }));
    if (failNext) {
      failNext = false;
      throw new Error('disk full');
    }
  };
  const store: ShadowStore = {
    get: (address) => inner.get(address),
    async put(address, shadow) {
      await hold(address.thingName);
      await inner.put(address, shadow);
    },
    async delete(address, version) {
      await hold(address.thingName);
      await inner.delete(address, version);
    },
  };
  return {
    store,
    held,
    failNextWrite: () => {
      failNext = true;
    },
    release(thing: string) {
      const index = held.findIndex((entry) => entry.thing === thing);
      held.splice(index, 1)[0]!.release();
    },
  };
}

describe('queueing, bounds and store failures (in-memory connection)', () => {
  async function setup(options: Partial<ShadowServiceOptions> = {}) {
    const mqtt = memoryConnection();
    const store = heldStore();
    const errors: OtaError[] = [];
    const service = createShadowService({
      connection: mqtt.connection,
      store: store.store,
      onError: (error) => errors.push(error),
      ...options,
    });
    await service.start();
    const answers = (kind: string) =>
      mqtt.published.filter((message) => message.topic.endsWith(`/${kind}`)).map((message) => message.body);
    return { ...mqtt, ...store, service, errors, answers };
  }

  it('one thing in arrival order, other things meanwhile', async () => {
    const { request, held, release, answers, service } = await setup();
    const slow = { thingName: 'slow' };
    const fast = { thingName: 'fast' };
    request(slow, 'update', { state: { reported: { n: 1 } }, clientToken: 's1' });
    request(slow, 'update', { state: { reported: { n: 2 } }, clientToken: 's2' });
    request(fast, 'update', { state: { reported: { n: 1 } }, clientToken: 'f1' });
    await until(
      () => held.length === 2,
      () => 'the first write of each thing',
    );
    // The second update of "slow" waits behind its first; "fast" is not held up by "slow".
    expect(held.map((entry) => entry.thing)).toEqual(['slow', 'fast']);
    release('fast');
    await until(
      () => answers('update/accepted').length === 1,
      () => 'the answer of fast',
    );
    expect(answers('update/accepted')[0]).toMatchObject({ clientToken: 'f1' });
    release('slow');
    await until(
      () => held.length === 1,
      () => 'the second write of slow',
    );
    release('slow');
    await service.stop();
    expect(answers('update/accepted').map((body) => [body.clientToken, body.version])).toEqual([
      ['f1', 1],
      ['s1', 1],
      ['s2', 2],
    ]);
  });

  it('beyond queuedPerThing a request is a 429 with its token; retained requests are ignored', async () => {
    const { request, held, release, answers, service } = await setup({ limits: { queuedPerThing: 2 } });
    const thing = { thingName: 'busy' };
    request(thing, 'update', { state: { reported: { n: 0 } }, clientToken: 'retained' }, true);
    for (let n = 1; n <= 3; n++)
      request(thing, 'update', { state: { reported: { n } }, clientToken: `t${n}` });
    request(thing, 'get', { clientToken: 'g' });
    expect(answers('update/rejected')).toEqual([
      expect.objectContaining({ code: 429, message: 'Too Many Requests', clientToken: 't3' }),
    ]);
    expect(answers('get/rejected')).toEqual([expect.objectContaining({ code: 429, clientToken: 'g' })]);
    await until(
      () => held.length === 1,
      () => 'the first write',
    );
    release('busy');
    await until(
      () => held.length === 1,
      () => 'the second write',
    );
    release('busy');
    await service.stop();
    expect(answers('update/accepted').map((body) => body.clientToken)).toEqual(['t1', 't2']);
  });

  it('a store that fails answers 500 with the token, reports the error, and keeps serving', async () => {
    const { request, held, release, answers, errors, failNextWrite, service } = await setup();
    const thing = { thingName: 'disk' };
    failNextWrite();
    request(thing, 'update', { state: { reported: { n: 1 } }, clientToken: 'lost' });
    await until(
      () => held.length === 1,
      () => 'the write',
    );
    release('disk');
    await until(
      () => answers('update/rejected').length === 1,
      () => 'the 500',
    );
    expect(answers('update/rejected')[0]).toMatchObject({
      code: 500,
      message: 'Internal service failure',
      clientToken: 'lost',
    });
    expect(errors.map((error) => error.message)).toEqual(['disk full']);
    request(thing, 'update', { state: { reported: { n: 2 } }, clientToken: 'kept' });
    await until(
      () => held.length === 1,
      () => 'the next write',
    );
    release('disk');
    await service.stop();
    expect(answers('update/accepted')).toEqual([
      expect.objectContaining({ clientToken: 'kept', version: 1 }),
    ]);
  });

  it('payloadBytes and stateBytes are configurable', async () => {
    const { request, answers, service } = await setup({ limits: { payloadBytes: 200, stateBytes: 50 } });
    const thing = { thingName: 'tiny' };
    request(thing, 'update', { state: { reported: { text: 'y'.repeat(60) } }, clientToken: 'state' });
    request(thing, 'update', { state: { reported: { text: 'y'.repeat(300) } }, clientToken: 'payload' });
    request(thing, 'get', { clientToken: 'z'.repeat(40), pad: 'p'.repeat(300) });
    await service.stop();
    expect(answers('update/rejected')).toEqual([
      expect.objectContaining({ code: 413, clientToken: 'state' }),
      // Refused before it is parsed: no token can be echoed.
      expect.not.objectContaining({ clientToken: expect.anything() }),
    ]);
    expect(answers('update/rejected')[1]).toMatchObject({ code: 413 });
    expect(answers('get/rejected')).toEqual([expect.objectContaining({ code: 413 })]);
  });
});

describe('the mosquitto ACLs of docs/cloud/shadow-service.md', { timeout: 60_000 }, () => {
  let broker: TestBroker | undefined;
  let directory: string;
  const connections: MqttConnection[] = [];
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'otakit-shadow-acl-'));
    const acl = join(directory, 'acl');
    // As the page gives them (a test that reads the page would tie it to its layout).
    await writeFile(
      acl,
      [
        'user shadow-service',
        'topic read $aws/things/+/shadow/+',
        'topic read $aws/things/+/shadow/name/+/+',
        'topic write $aws/things/+/shadow/#',
        '',
        'pattern write $aws/things/%u/shadow/+',
        'pattern write $aws/things/%u/shadow/name/+/+',
        'pattern read $aws/things/%u/shadow/#',
        '',
      ].join('\n'),
    );
    // mosquitto reads the ACL file after dropping root for its own user.
    await chmod(directory, 0o755);
    await chmod(acl, 0o644);
    broker = await startMosquitto([`acl_file ${acl}`]);
  });
  afterAll(async () => {
    await Promise.allSettled(connections.map((connection) => connection.close()));
    await broker?.close();
    await rm(directory, { recursive: true, force: true });
  });
  const connect = async (username: string) => {
    const connection = await connectMqtt(broker!.url, {
      clientId: `${username}-${connections.length}`,
      username,
      protocolVersion: 5,
    });
    connections.push(connection);
    return connection;
  };

  it('serve a device its own shadows and keep it off the answers and the other things', async (context) => {
    if (broker === undefined) skipOrFailInCi(context, 'mosquitto (apt install mosquitto)');
    const service = createShadowService({ connection: await connect('shadow-service') });
    await service.start();
    try {
      const mallory = await shadowPeer(await connect(`mallory${process.pid}`), {
        thingName: `mallory${process.pid}`,
      });
      const victimName = `victim${process.pid}`;
      const victim = await shadowPeer(await connect(victimName), { thingName: victimName });
      const victimNamed = await shadowPeer(await connect(victimName), {
        thingName: victimName,
        shadowName: 'ota',
      });
      const malloryConnection = connections.at(-3)!;

      // A device's own classic and named shadows work.
      await mallory.send('update', { state: { reported: { fw: '1' } }, clientToken: 'own' });
      expect(await mallory.answer('update/accepted', 'own')).toMatchObject({ version: 1 });
      await victimNamed.send('update', { state: { reported: { fw: '1' } }, clientToken: 'named' });
      expect(await victimNamed.answer('update/accepted', 'named')).toMatchObject({ version: 1 });

      // Another thing's request, a forged delta, a forged answer on its own topics: refused (MQTT 5
      // tells the publisher "Not authorized"; MQTT 3.1.1 would drop them silently).
      const forged = [
        [`$aws/things/${victimName}/shadow/update`, { state: { desired: { fw: 'evil' } } }],
        [
          `$aws/things/${victimName}/shadow/update/delta`,
          { state: { fw: 'evil' }, version: 99, timestamp: 1 },
        ],
        [`$aws/things/mallory${process.pid}/shadow/update/accepted`, { clientToken: 'forged', version: 99 }],
      ] as const;
      for (const [topic, body] of forged) {
        await expect(malloryConnection.publish(topic, JSON.stringify(body))).rejects.toThrow(
          /Not authorized/,
        );
      }
      // The victim's next own request is answered after them: had they passed, they came first.
      await victim.send('get', { clientToken: 'sentinel' });
      expect(await victim.answer('get/rejected', 'sentinel')).toMatchObject({ code: 404 });
      expect(victim.kinds()).toEqual(['get/rejected']);
      await mallory.send('get', { clientToken: 'mallory-sentinel' });
      await mallory.answer('get/accepted', 'mallory-sentinel');
      expect(mallory.answers.some((answer) => answer.body.clientToken === 'forged')).toBe(false);
    } finally {
      await service.stop();
    }
  });
});

describe('stateShadowStore over a StateStore', () => {
  it('keeps documents and deleted versions; a damaged record is a StoreError naming the shadow, answered 500', async () => {
    const backing = new MemoryStore();
    const store = stateShadowStore(backing);
    const mqtt = memoryConnection();
    const errors: OtaError[] = [];
    const service = createShadowService({
      connection: mqtt.connection,
      store,
      onError: (error) => errors.push(error),
    });
    const address = { thingName: 'gw-7', shadowName: 'ota' };
    const result = await service.update(address, { state: { reported: { fw: '1' } } });
    expect(result.ok).toBe(true);
    expect(await backing.get('shadow/gw-7~ota')).toMatchObject({
      thingName: 'gw-7',
      shadowName: 'ota',
      shadow: { version: 1 },
    });
    await service.delete(address);
    expect(await store.get(address)).toEqual({ deletedVersion: 1 });

    await backing.put('shadow/gw-7', { thingName: 'gw-7', shadow: { version: 'two' } });
    const damaged = await service.get({ thingName: 'gw-7' });
    expect(damaged).toMatchObject({ ok: false, error: { code: 500, message: 'Internal service failure' } });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'STORE' });
    expect(errors[0]!.message).toContain('the classic shadow of "gw-7"');
  });
});
