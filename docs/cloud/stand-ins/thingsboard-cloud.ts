/**
 * The stand-in device for the quick start of docs/cloud/thingsboard.md: otakit's ThingsBoard
 * agent, running firmware `app` 1.0 from a file in a fresh directory, connected to the broker
 * with its access token as user name (as a device connects to ThingsBoard). In production this
 * is your device, connected to ThingsBoard or to your local gateway.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectMqtt } from 'otakit/mqtt';
import { createThingsBoardAgent } from 'otakit/node';

export interface StandInDevice {
  /** Resolves with the agent's first outcome (`committed` once the package is installed). */
  outcome: Promise<unknown>;
  close(): Promise<void>;
}

export async function startThingsBoardDevice(options: {
  mqttUrl: string;
  accessToken: string;
  /** The HTTP device API, for `transfer: 'http'`. */
  httpUrl?: string;
  transfer?: 'mqtt' | 'http';
}): Promise<StandInDevice> {
  const directory = await mkdtemp(join(tmpdir(), 'thingsboard-device-'));
  await writeFile(join(directory, 'app.bin'), 'firmware 1.0\n');
  const connection = await connectMqtt(options.mqttUrl, { username: options.accessToken });
  const agent = createThingsBoardAgent({
    target: { accessToken: options.accessToken, ...(options.httpUrl ? { baseUrl: options.httpUrl } : {}) },
    connection,
    current: { title: 'app', version: '1.0' },
    transfer: options.transfer ?? 'mqtt',
    installTarget: join(directory, 'app.bin'),
    stateDirectory: join(directory, 'otakit'),
  });
  const outcome = new Promise((resolve) => agent.once('outcome', resolve));
  await agent.start();
  return {
    outcome,
    async close() {
      await agent.stop();
      await connection.close();
    },
  };
}
