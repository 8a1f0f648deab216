/**
 * The stand-in for AWS IoT Core and two Degu devices, for the quick start of docs/cloud/degu.md:
 * an in-process MQTT broker (aedes) on loopback with otakit's self-hosted Device Shadow service on
 * it, a loopback web server holding the new `main.py` (`print('B')`), and two devices running the
 * Degu agent (`createDeguAgent`) on `main.py` files in temp directories. In production the
 * publisher connects to `mqtts://<prefix>-ats.iot.<region>.amazonaws.com:8883` with its own
 * certificate, AWS runs the shadows, and the devices are Degu sensors behind their gateways.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { connectMqtt } from 'otakit/mqtt';
import { createDeguAgent } from 'otakit/node';
import { createFaultServer, createShadowService } from 'otakit/testing';

export interface DeguDevices {
  /** `mqtt://127.0.0.1:<port>`: the broker, standing in for the AWS IoT endpoint. */
  url: string;
  /** The things of the two devices (Degu names them after the sensor's MAC). */
  thingNames: string[];
  /** The new `main.py`: where the devices download it, and its MD5. */
  script: { url: string; md5: string; target: 'script' };
  close(): Promise<void>;
}

export async function startDeguDevices(): Promise<DeguDevices> {
  const web = await createFaultServer(); // where the new main.py is downloaded from
  web.route('/main_B.py', { body: Buffer.from("print('B')\n") });

  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;
  const cloud = await connectMqtt(url);
  const shadows = createShadowService({ connection: cloud }); // the Device Shadow service
  await shadows.start();

  const thingNames = ['A1B2C3D4E5F60718', 'A1B2C3D4E5F60719'];
  const devices = await Promise.all(
    thingNames.map(async (thingName) => {
      const directory = await mkdtemp(join(tmpdir(), 'degu-'));
      await writeFile(join(directory, 'main.py'), "print('A')\n"); // what the device runs now
      const connection = await connectMqtt(url, { clientId: thingName });
      const agent = createDeguAgent({
        thingName,
        connection,
        files: { script: join(directory, 'main.py') },
        stateDirectory: join(directory, 'agent'),
      });
      await agent.start(); // reports script_user_ver, the MD5 of its main.py
      return { agent, connection };
    }),
  );

  return {
    url,
    thingNames,
    script: { url: `${web.url}/main_B.py`, md5: '3e6dab258380f0da4fad31f97ebc2f29', target: 'script' },
    async close() {
      for (const { agent, connection } of devices) {
        await agent.stop();
        await connection.close();
      }
      await shadows.stop();
      await cloud.close();
      await web.close();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
