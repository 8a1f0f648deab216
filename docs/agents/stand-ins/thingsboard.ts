/**
 * The stand-in for a ThingsBoard server, for the quick start of docs/agents/thingsboard.md: an
 * in-process MQTT broker (aedes) on loopback in place of ThingsBoard's MQTT transport, and a
 * connection that plays ThingsBoard's side. Firmware package `app` 1.1 is assigned to the device:
 * the stand-in answers the device's shared-attribute request with the package's `fw_*` attributes
 * and its firmware chunk requests (`v2/fw/request/+/chunk/+`) with the package's bytes, and it
 * keeps what the device sends as telemetry. In production the device connects to your
 * ThingsBoard (`mqtts://<host>:8883`, its access token as the user name), where you upload the
 * package and assign it to the device or its profile.
 */
import { createHash } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { connectMqtt } from 'otakit/mqtt';

export interface ThingsBoardServer {
  /** `mqtt://127.0.0.1:<port>`: the broker, standing in for ThingsBoard's MQTT transport. */
  url: string;
  /** The device's access token (its MQTT user name). */
  accessToken: string;
  /** A fresh directory for the device's firmware file and the agent's state. */
  deviceDirectory: string;
  /** What ThingsBoard received on `v1/devices/me/telemetry`, in order. */
  telemetry: string[];
  close(): Promise<void>;
}

export async function startThingsBoard(): Promise<ThingsBoardServer> {
  const firmware = Buffer.from('firmware 1.1\n'.repeat(3000)); // the package assigned to the device
  const shared = {
    fw_title: 'app',
    fw_version: '1.1',
    fw_size: firmware.length,
    fw_checksum_algorithm: 'SHA256',
    fw_checksum: createHash('sha256').update(firmware).digest('hex'),
  };

  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;

  // ThingsBoard's side: the assigned package's attributes, its chunks, and the device's telemetry.
  const tb = await connectMqtt(url);
  await tb.subscribe(
    'v1/devices/me/attributes/request/+',
    ({ topic }) => void tb.publish(topic.replace('request', 'response'), JSON.stringify({ shared })),
  );
  await tb.subscribe('v2/fw/request/+/chunk/+', ({ topic, payload }) => {
    const [n, size] = [Number(topic.split('/')[5]), Number(Buffer.from(payload))];
    void tb.publish(topic.replace('request', 'response'), firmware.subarray(n * size, (n + 1) * size));
  });
  const telemetry: string[] = [];
  await tb.subscribe('v1/devices/me/telemetry', ({ payload }) => {
    telemetry.push(Buffer.from(payload).toString());
  });

  return {
    url,
    accessToken: 'DEVICE_ACCESS_TOKEN',
    deviceDirectory: await mkdtemp(join(tmpdir(), 'thingsboard-')),
    telemetry,
    async close() {
      await tb.close();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
