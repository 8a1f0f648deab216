/**
 * The fleet simulator on ThingsBoard, end to end against the real cloud side: the local device
 * gateway (ThingsBoard's device MQTT API on aedes in process, its HTTP firmware endpoint on
 * loopback) and the ThingsBoard publisher (shared `fw_*` attributes out, `fw_state` telemetry into
 * its `Fleet`). ThingsBoard knows a device by the MQTT session its access token opened, so every
 * simulated device gets a connection of its own (`devices[].channels`). Nothing is timed: waits
 * poll for a condition, their limits only catch a hang.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';
import { afterEach, describe, expect, it } from 'vitest';
import { Fleet } from '../../src/cloud/fleet/fleet.js';
import { createThingsBoardPublisher } from '../../src/cloud/thingsboard/publisher.js';
import { thingsBoard } from '../../src/index.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import {
  createThingsBoardDeviceGateway,
  type GatewayDevice,
} from '../../src/node/cloud/thingsboard-device-gateway.js';
import { thingsBoardGatewayHttpHandler } from '../../src/node/cloud/thingsboard-gateway-http.js';
import { createFleetSimulator } from '../../src/testing/index.js';
import { mqttChannel } from '../../src/transport/mqtt-channel.js';
import { until } from '../support/system-services.js';

type Target = thingsBoard.Target;

const WAIT = 45_000;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

async function listen(server: Server | ReturnType<typeof createHttpServer>): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** Broker + gateway + publisher + fleet, as test/cloud/thingsboard-cloud.test.ts starts them. */
async function startService(devices: GatewayDevice[]) {
  const broker = await Aedes.createBroker();
  const gateway = createThingsBoardDeviceGateway({ broker, devices });
  const fleet = new Fleet();
  const publisher = createThingsBoardPublisher({ backend: gateway, fleet });
  publisher.watch();
  const sockets = new Set<Socket>();
  const mqtt = createServer((socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  const http = createHttpServer(thingsBoardGatewayHttpHandler(gateway));
  const mqttPort = await listen(mqtt);
  const httpPort = await listen(http);
  cleanups.push(async () => {
    await publisher.close();
    await gateway.close();
    const closing = new Promise<void>((resolve) => mqtt.close(() => resolve()));
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closing;
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  });
  return { gateway, publisher, fleet, mqttPort, httpPort };
}

describe('fleet simulator on ThingsBoard: the real device gateway and publisher', () => {
  it('6 devices, one MQTT session each: 4 fetch the package over HTTP, verify its SHA-256 and report UPDATED; one reports FAILED; one never answers', async () => {
    const identities: GatewayDevice[] = Array.from({ length: 6 }, (_, index) => ({
      deviceId: `tb-sim-${index + 1}`,
      accessToken: `TB_SIM_${index + 1}_${randomBytes(6).toString('hex')}`,
    }));
    const service = await startService(identities);
    const next = service.gateway.addPackage({
      title: 'app',
      version: '1.1',
      data: new Uint8Array(randomBytes(20_000)),
    });
    const [failing, silent] = [identities[1]!.deviceId, identities[4]!.deviceId];
    const tokenOf = new Map(identities.map((each) => [each.deviceId, each.accessToken]));
    const devices = [];
    for (const each of identities) {
      const connection = await connectMqtt(`mqtt://127.0.0.1:${service.mqttPort}`, {
        username: each.accessToken,
        reconnect: { initialMs: 20, maxMs: 100 },
      });
      cleanups.push(() => connection.close());
      devices.push({
        id: each.deviceId,
        target: { accessToken: each.accessToken } satisfies Target,
        channels: { mqtt: mqttChannel(connection) },
      });
    }
    const sim = createFleetSimulator<Target>({
      protocol: thingsBoard.protocol,
      devices,
      // What the devices ran before: ThingsBoard's package id of title "app", version 1.0.
      installed: { id: 'fw:app@1.0', version: '1.0' },
      download: {
        mode: 'fetch',
        // A package stored in ThingsBoard: the device API's firmware endpoint, the token in the path.
        request: (artifact, device) => ({
          url: `http://127.0.0.1:${service.httpPort}/api/v1/${tokenOf.get(device.id)}/${artifact.url}`,
        }),
      },
      failures: [
        { kind: 'install_failed', devices: [failing] },
        { kind: 'silent', devices: [silent] },
      ],
    });
    cleanups.push(() => sim.stop());
    await sim.start();
    for (const each of identities) await service.publisher.publish(each.deviceId, next.manifest);

    const healthy = identities.map((each) => each.deviceId).filter((id) => id !== failing && id !== silent);
    const stateOf = async (id: string) => (await service.fleet.device(id))?.state;
    await until(
      () => sim.stats().installs === healthy.length && sim.stats().running === 0,
      () => `the healthy devices installed: ${JSON.stringify(sim.stats())}`,
      WAIT,
    );
    const settled = async () => {
      for (const id of healthy) if ((await stateOf(id)) !== 'committed') return false;
      return (await stateOf(failing)) === 'install_failed';
    };
    const deadline = Date.now() + WAIT;
    while (!(await settled())) {
      if (Date.now() > deadline)
        throw new Error(
          `fleet not settled: ${JSON.stringify((await service.fleet.snapshot()).devices.map((d) => [d.deviceId, d.state]))}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    for (const id of healthy) {
      const snapshot = await service.fleet.device(id);
      expect(snapshot).toMatchObject({
        state: 'committed',
        protocol: 'thingsBoard',
        current: { id: 'fw:app@1.1', version: '1.1' },
      });
      const states = (await service.fleet.history(id)).map((entry) => entry.to);
      expect(states).toEqual(
        expect.arrayContaining(['available', 'downloading', 'downloaded', 'installing', 'committed']),
      );
    }
    // ThingsBoard's words on the wire: FAILED with fw_error, read by the fleet as the failed phase.
    expect(await service.fleet.device(failing)).toMatchObject({ state: 'install_failed', current: null });
    expect(sim.device(failing)).toMatchObject({ installed: { id: 'fw:app@1.0' }, installs: {} });
    // The silent device heard the attributes and said nothing, not even at boot: the fleet has
    // never heard of it (ThingsBoard's publisher records a device from its telemetry only).
    expect(sim.device(silent)).toMatchObject({ ordersReceived: 1, messagesSent: 0 });
    expect(await service.fleet.device(silent)).toBeUndefined();
    expect([...sim.installCounts('fw:app@1.1')]).toEqual(
      identities.map((each) => [each.deviceId, healthy.includes(each.deviceId) ? 1 : 0]),
    );
    expect(sim.stats().errors).toBe(0);
    expect(await service.fleet.anomalies()).toEqual([]);
    // Tokens are secrets: none reached the fleet.
    const said = JSON.stringify(await service.fleet.snapshot());
    for (const each of identities) expect(said).not.toContain(each.accessToken);
  });
});
