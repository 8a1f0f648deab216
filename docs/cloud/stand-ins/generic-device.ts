/**
 * The stand-in for docs/cloud/README.md's quick start: an in-process MQTT broker (aedes) on
 * loopback, and one insigh.io device on it, run by otakit's generic device agent with a simulated
 * device's steps (it "downloads" from memory, so no package server is needed). In production the
 * broker is the platform's (`mqtt://console.insigh.io:1884` for insigh.io) and the devices are real.
 */
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
import { createDeviceAgent, insighIo, type ManifestInput, MemoryStore, mqttChannel } from 'otakit';
import { connectMqtt } from 'otakit/mqtt';
import { SimulatedDevice } from 'otakit/testing';

export interface DeviceStandIn {
  /** `mqtt://127.0.0.1:<port>`: the platform's broker. */
  url: string;
  /** The device's insigh.io target (no key: the simulated device downloads from memory). */
  target: { controlChannelId: string; deviceId: string };
  /** A release the device can install: package `fa8884d2`. */
  release: ManifestInput;
  close(): Promise<void>;
}

export async function startDevice(): Promise<DeviceStandIn> {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;

  const target = { controlChannelId: 'ctrl-1', deviceId: 'dev-1' };
  const artifact = `https://console.insigh.io/mf-rproxy/packages/download?fuid=fa8884d2&did=dev-1&cid=ctrl-1`;
  const bytes = new Uint8Array(4096).fill(42);
  const device = new SimulatedDevice({ id: target.deviceId, content: new Map([[artifact, bytes]]) });
  const connection = await connectMqtt(url, { clientId: 'dev-1' });
  const agent = createDeviceAgent({
    id: target.deviceId,
    protocol: insighIo.protocol,
    target,
    channels: { mqtt: mqttChannel(connection) },
    store: new MemoryStore(),
    hooks: device.hooks,
    machine: { allowUnverified: true }, // insigh.io orders carry a size, no digest
  });
  await agent.start();

  return {
    url,
    target,
    release: {
      id: 'fa8884d2',
      version: '2.0.0',
      artifacts: [{ url: artifact, size: bytes.length, target: 'package', name: 'fa8884d2.tar.gz' }],
    },
    async close() {
      await agent.stop();
      await connection.close();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
