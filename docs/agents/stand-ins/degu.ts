/**
 * The stand-in for AWS IoT Core, for the quick start of docs/agents/degu.md: an in-process MQTT
 * broker (aedes) on loopback with otakit's self-hosted Device Shadow service on it, and a loopback
 * web server holding the new `main.py` (`print('B')`). It also writes the device's current
 * `main.py` (`print('A')`) into a fresh directory. In production the device connects to
 * `mqtts://<prefix>-ats.iot.<region>.amazonaws.com:8883` with the thing's certificate, AWS runs the
 * shadow, and the order is written to the shadow's `desired` state by your operator or back end.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { degu } from 'otakit';
import { connectMqtt } from 'otakit/mqtt';
import { createFaultServer, createShadowService } from 'otakit/testing';

export interface DeguCloud {
  /** `mqtt://127.0.0.1:<port>`: the broker, standing in for the AWS IoT endpoint. */
  url: string;
  /** The thing's name (Degu uses the device's serial). */
  thingName: string;
  /** A fresh directory holding the device's current `main.py`. */
  deviceDirectory: string;
  /** Writes the operator's order into the shadow's `desired` state: the new `main.py` and its MD5. */
  sendOrder(): Promise<void>;
  close(): Promise<void>;
}

export async function startDeguCloud(): Promise<DeguCloud> {
  const thingName = 'A1B2C3D4E5F60718';
  const deviceDirectory = await mkdtemp(join(tmpdir(), 'degu-'));
  await writeFile(join(deviceDirectory, 'main.py'), "print('A')\n"); // what the device runs now

  const web = await createFaultServer(); // where the new main.py is downloaded from
  web.route('/main_B.py', { body: Buffer.from("print('B')\n") });

  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;
  const cloud = await connectMqtt(url);
  const shadows = createShadowService({ connection: cloud }); // the Device Shadow service
  await shadows.start();

  return {
    url,
    thingName,
    deviceDirectory,
    async sendOrder() {
      const order = degu.protocol.cloud.encodeOrder(
        {
          id: 'b',
          version: '1',
          artifacts: [
            { url: `${web.url}/main_B.py`, md5: '3e6dab258380f0da4fad31f97ebc2f29', target: 'script' },
          ],
        },
        { thingName },
      );
      await shadows.update({ thingName }, order.value[0]!.payload);
    },
    async close() {
      await shadows.stop();
      await cloud.close();
      await web.close();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
