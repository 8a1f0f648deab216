/**
 * The generic cloud-side publisher (`createUpdatePublisher`) against real components: insigh.io
 * orders over a real MQTT broker (aedes, in process) to real device agents, their statuses back
 * into a fleet. The platform publishers (tested in their own files) build on this one.
 */
import { once } from 'node:events';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createUpdatePublisher, type PublisherStatusEvent } from '../../src/cloud/index.js';
import {
  type Channel,
  createDeviceAgent,
  type DeviceAgent,
  Fleet,
  insighIo,
  isOtaError,
  type ManifestInput,
  MemoryFleetStore,
  MemoryStore,
  mqttChannel,
} from '../../src/index.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { SimulatedDevice, type SimulatedFaults } from '../../src/testing/simulated-device.js';
import type { MqttConnection, MqttMessage } from '../../src/transport/mqtt-connection.js';
import { eventually } from '../support/async.js';

type InsighioTarget = { controlChannelId: string; deviceId: string; deviceKey: string };

const agents: DeviceAgent<unknown>[] = [];
const connections: MqttConnection[] = [];
afterEach(async () => {
  await Promise.allSettled(agents.splice(0).map((agent) => agent.stop({ cancel: true })));
  await Promise.allSettled(connections.splice(0).map((connection) => connection.close()));
});

let broker: Aedes;
let server: Server;
let url: string;
let clients = 0;
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
  const connection = await connectMqtt(url, { clientId: `publisher-test-${++clients}` });
  connections.push(connection);
  return connection;
}

const target = (n: number): InsighioTarget => ({
  controlChannelId: 'ctrl-pub',
  deviceId: `dev-pub-${n}`,
  deviceKey: `key-${n}-secret`,
});
const fileUrl = (t: InsighioTarget, id: string) =>
  `https://console.insigh.io/mf-rproxy/packages/download?fuid=${id}&did=${t.deviceId}&cid=${t.controlChannelId}`;
const release = (t: InsighioTarget, id: string): ManifestInput => ({
  id,
  version: `v-${id}`,
  artifacts: [{ url: fileUrl(t, id), size: 64, target: 'package', name: `${id}.tar.gz` }],
});

async function startDevice(t: InsighioTarget, ids: string[], faults: SimulatedFaults = {}) {
  const content = new Map(ids.map((id) => [fileUrl(t, id), new Uint8Array(64).fill(7)]));
  const simulated = new SimulatedDevice({ id: t.deviceId, content, chunkSize: 8, faults });
  const agent = createDeviceAgent({
    id: t.deviceId,
    protocol: insighIo.protocol,
    target: t,
    channels: { mqtt: mqttChannel(await connect()) },
    store: new MemoryStore(),
    hooks: simulated.hooks,
    machine: { allowUnverified: true, retry: { install: { attempts: 1 } } },
  });
  agents.push(agent as DeviceAgent<unknown>);
  await agent.start();
  return { agent, simulated };
}

describe('createUpdatePublisher (insigh.io on aedes)', () => {
  it('publishes to two devices, follows their statuses to committed and failed in the fleet', async () => {
    const fleet = new Fleet();
    const publisher = createUpdatePublisher({
      protocol: insighIo.protocol,
      channels: { mqtt: mqttChannel(await connect()) },
      fleet,
    });
    const events: PublisherStatusEvent<unknown>[] = [];
    publisher.on('status', (event) => events.push(event));
    const [good, bad] = [target(1), target(2)];
    await publisher.watch(good);
    await publisher.watch(bad);
    await startDevice(good, ['aaaa1001']);
    await startDevice(bad, ['aaaa1002'], { failInstall: true });

    const sent = await publisher.publish(good, release(good, 'aaaa1001'));
    expect(sent.messages).toHaveLength(1);
    expect(sent.messages[0]).toMatchObject({ retain: true });
    expect(sent.lost.map((loss) => loss.field)).toContain('version'); // insigh.io orders carry a file id only
    await publisher.publish(bad, release(bad, 'aaaa1002'));

    await eventually(
      async () => (await fleet.device(good.deviceId))?.lastOutcome?.state === 'committed',
      'the good device committed',
      { timeoutMs: 60_000 },
    );
    await eventually(
      async () => (await fleet.device(bad.deviceId))?.lastOutcome !== undefined,
      'an outcome of the failing device',
      { timeoutMs: 60_000 },
    );
    expect((await fleet.device(bad.deviceId))?.lastOutcome?.state).toMatch(/_failed$|^rolled_back$/);
    expect(
      events.some((event) => event.result.deviceId === good.deviceId && event.result.outcome === 'applied'),
    ).toBe(true);
    // The device key travels only in the download URL, never in what the publisher emits.
    expect(JSON.stringify(events.map((event) => event.result))).not.toContain('secret');
    await publisher.close();
  });

  it('withdraws by clearing the retained order: a device that connects later gets nothing', async () => {
    const publisher = createUpdatePublisher({
      protocol: insighIo.protocol,
      channels: { mqtt: mqttChannel(await connect()) },
    });
    const t = target(3);
    const sent = await publisher.publish(t, release(t, 'aaaa1003'));
    const withdrawn = await publisher.withdraw(t);
    expect(withdrawn).toEqual([
      expect.objectContaining({ address: sent.messages[0]!.address, payload: '', retain: true }),
    ]);
    const late = await connect();
    const retained: MqttMessage[] = [];
    await late.subscribe(sent.messages[0]!.address, (message) => retained.push(message));
    // A retained message is delivered right after SUBACK; give the broker a round trip to show one.
    await late.publish('publisher-test/ping', 'x', { qos: 1 });
    expect(retained.filter((message) => message.payload.length > 0)).toEqual([]);
  });

  it('keeps following an update across a publisher restart on the same fleet store', async () => {
    const store = new MemoryFleetStore();
    const t = target(4);
    const first = createUpdatePublisher({
      protocol: insighIo.protocol,
      channels: { mqtt: mqttChannel(await connect()) },
      fleet: new Fleet({ store }),
    });
    await first.watch(t);
    await first.publish(t, release(t, 'aaaa1004'));
    await first.close(); // the service goes down before the device reports

    const second = createUpdatePublisher({
      protocol: insighIo.protocol,
      channels: { mqtt: mqttChannel(await connect()) },
      fleet: new Fleet({ store }),
    });
    await second.watch(t);
    await startDevice(t, ['aaaa1004']);
    await eventually(
      async () => (await second.fleet.device(t.deviceId))?.lastOutcome?.state === 'committed',
      'the device committed after the restart',
      { timeoutMs: 60_000 },
    );
    await second.close();
  });

  it('refuses a bad target with a typed error naming the field, and sends nothing', async () => {
    const sends: unknown[] = [];
    const channel: Channel = {
      kind: 'mqtt',
      send: async (message) => {
        sends.push(message);
        return undefined;
      },
    };
    const publisher = createUpdatePublisher({ protocol: insighIo.protocol, channels: { mqtt: channel } });
    const bad = { controlChannelId: '', deviceId: 'dev-x', deviceKey: 'k' };
    const error = await publisher
      .publish(bad, release(target(5), 'aaaa1005'))
      .catch((caught: unknown) => caught);
    expect(isOtaError(error, 'MANIFEST_INVALID')).toBe(true);
    expect(String((error as Error).message)).toContain('controlChannelId');
    expect(sends).toEqual([]);
  });

  it('needs the channel the protocol speaks on, and turns an HTTP refusal into a TransportError', async () => {
    const none = createUpdatePublisher({ protocol: insighIo.protocol, channels: {} });
    await expect(none.publish(target(6), release(target(6), 'aaaa1006'))).rejects.toMatchObject({
      code: 'CONFIG',
    });

    const refusing: Channel = {
      kind: 'mqtt',
      send: async () => ({ address: 'x', payload: '', status: 503 }),
    };
    const publisher = createUpdatePublisher({ protocol: insighIo.protocol, channels: { mqtt: refusing } });
    await expect(publisher.publish(target(6), release(target(6), 'aaaa1006'))).rejects.toMatchObject({
      code: 'TRANSPORT',
      retryable: true,
    });
  });
});
