/**
 * The stand-in for the insigh.io quick start of docs/cloud/insighio.md: an in-process MQTT broker
 * (aedes) on loopback in place of your Mainflux broker, and one device running otakit's insigh.io
 * agent (`createInsighioAgent`) that downloads from the package server the quick start starts. In
 * production the broker is the one your devices already use, and the devices are in the field.
 */
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { connectMqtt } from 'otakit/mqtt';
import { createInsighioAgent, insighioMqttOptions } from 'otakit/node';

export interface InsighioBench {
  /** `mqtt://127.0.0.1:<port>`: the broker the service and the device share. */
  brokerUrl: string;
  /** The device as the service addresses it: its control channel and device id. */
  target: { controlChannelId: string; deviceId: string };
  /** The device key the package server checks (in production: your device registry). */
  deviceKey: string;
  /** Starts the device, downloading packages from `baseUrl` (the package server's). */
  startDevice(baseUrl: string): Promise<void>;
  close(): Promise<void>;
}

export async function startInsighioBench(): Promise<InsighioBench> {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const brokerUrl = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;
  const target = { controlChannelId: 'ctrl-1', deviceId: 'dev-1' };
  const deviceKey = 'key-1';
  const closers: (() => Promise<unknown>)[] = [];
  return {
    brokerUrl,
    target,
    deviceKey,
    async startDevice(baseUrl) {
      const connection = await connectMqtt(brokerUrl, insighioMqttOptions({ ...target, deviceKey }));
      const directory = await mkdtemp(join(tmpdir(), 'insighio-device-'));
      const agent = createInsighioAgent({
        target: { ...target, baseUrl, allowInsecureHttp: true }, // loopback http for the bench
        deviceKey,
        connection,
        installDirectory: join(directory, 'app'),
        stateDirectory: join(directory, 'agent'),
      });
      closers.push(
        () => agent.stop(),
        () => connection.close(),
      );
      await agent.start();
    },
    async close() {
      for (const close of closers) await close();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
