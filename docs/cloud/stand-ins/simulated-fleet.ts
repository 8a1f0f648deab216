/**
 * The stand-in for docs/cloud/rollouts.md's quick start: an in-process MQTT broker (aedes) on
 * loopback and a fleet of simulated insigh.io devices on it (otakit/testing's fleet simulator:
 * each device subscribes to its own OTA topic and answers orders with the platform's SenML
 * reports), some of which (right after the first two) fail their install. In production the broker is the platform's and the
 * devices are real.
 */
import { createServer } from 'node:net';
import { Aedes } from 'aedes';
import { insighIo, type ManifestInput, mqttChannel } from 'otakit';
import { connectMqtt } from 'otakit/mqtt';
import { createFleetSimulator, seededRandom } from 'otakit/testing';

export interface SimulatedFleetStandIn {
  /** `mqtt://127.0.0.1:<port>`: the platform's broker. */
  url: string;
  /** The control channel every device's OTA topic is under. */
  controlChannelId: string;
  /** The device ids, in rollout order. */
  devices: string[];
  /** A release the devices install (package `fa8884d2`). */
  release: ManifestInput;
  close(): Promise<void>;
}

export async function startSimulatedFleet(options: {
  count: number;
  failing: number;
}): Promise<SimulatedFleetStandIn> {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;
  const controlChannelId = 'ctrl-1';
  const devices = Array.from(
    { length: options.count },
    (_, index) => `dev-${String(index + 1).padStart(3, '0')}`,
  );
  const connection = await connectMqtt(url, { clientId: 'simulated-fleet' });
  const simulator = createFleetSimulator({
    protocol: insighIo.protocol,
    devices: devices.map((deviceId) => ({ id: deviceId, target: { controlChannelId, deviceId } })),
    channels: { mqtt: mqttChannel(connection) },
    // The `failing` devices after the first two (the canaries) fail their install.
    failures: { kind: 'install_failed', devices: devices.slice(2, 2 + options.failing) },
    latency: { download: [20, 80], install: [10, 40] },
    random: seededRandom(1),
  });
  await simulator.start();
  return {
    url,
    controlChannelId,
    devices,
    release: {
      id: 'fa8884d2',
      version: '2.0.0',
      artifacts: [
        {
          url: 'https://console.insigh.io/mf-rproxy/packages/download?fuid=fa8884d2',
          target: 'package',
          size: 4096,
          name: 'fa8884d2.tar.gz', // insigh.io tells the package type by its extension
        },
      ],
    },
    async close() {
      await simulator.stop();
      await connection.close();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
