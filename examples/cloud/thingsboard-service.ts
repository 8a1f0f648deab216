/**
 * A ThingsBoard update service for a development fleet, end to end on one machine:
 * `npx tsx examples/cloud/thingsboard-service.ts`.
 *
 * - An in-process aedes broker carries ThingsBoard's device MQTT API; the local device gateway
 *   sets its hooks: devices log in with their access tokens, the gateway keeps their shared
 *   attributes, answers attribute requests, serves packages in MQTT chunks and over HTTP
 *   (`GET /api/v1/<token>/firmware?title=&version=`), and hands their telemetry over.
 * - The ThingsBoard publisher assigns package `app` 1.1 to three devices (the shared `fw_*`
 *   attributes) and follows their `fw_state` telemetry in a fleet.
 * - Three otakit ThingsBoard agents play the devices: two fetch the package in MQTT chunks, one
 *   over HTTP. The service prints each transition and the fleet's counts at the end.
 *
 * Against a real ThingsBoard server, replace the gateway with
 * `createThingsBoardRestClient({ baseUrl, auth })` and `watch()` with `poll(deviceId)`.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { createThingsBoardPublisher } from '../../src/cloud/thingsboard/index.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { createThingsBoardAgent } from '../../src/node/agents/thingsboard.js';
import { createThingsBoardDeviceGateway } from '../../src/node/cloud/thingsboard-device-gateway.js';
import { thingsBoardGatewayHttpHandler } from '../../src/node/cloud/thingsboard-gateway-http.js';

// Each device's fleet id and its access token (a secret: never printed, never an id).
const devices = [1, 2, 3].map((n) => ({
  deviceId: `sensor-${n}`,
  accessToken: randomBytes(12).toString('hex'),
}));

// The service: broker, gateway, HTTP device API, publisher.
const broker = await Aedes.createBroker();
const gateway = createThingsBoardDeviceGateway({ broker, devices });
const mqttServer = createServer(broker.handle).listen(0, '127.0.0.1');
const httpServer = createHttpServer(thingsBoardGatewayHttpHandler(gateway)).listen(0, '127.0.0.1');
await Promise.all([once(mqttServer, 'listening'), once(httpServer, 'listening')]);
const mqttUrl = `mqtt://127.0.0.1:${(mqttServer.address() as AddressInfo).port}`;
const httpUrl = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
const publisher = createThingsBoardPublisher({ backend: gateway });
publisher.fleet.on('transition', ({ deviceId, from, to }) => console.log(`${deviceId}: ${from} → ${to}`));
publisher.watch();

// The devices: otakit's ThingsBoard agent, each with its own MQTT session.
const root = await mkdtemp(join(tmpdir(), 'thingsboard-service-'));
const agents = await Promise.all(
  devices.map(async ({ deviceId, accessToken }, index) => {
    await writeFile(join(root, `${deviceId}.bin`), 'firmware 1.0\n');
    const connection = await connectMqtt(mqttUrl, { username: accessToken });
    const agent = createThingsBoardAgent({
      target: { accessToken, baseUrl: httpUrl },
      connection,
      current: { title: 'app', version: '1.0' },
      transfer: index === 2 ? 'http' : 'mqtt',
      installTarget: join(root, `${deviceId}.bin`),
      stateDirectory: join(root, `${deviceId}-state`),
    });
    const outcome = new Promise((resolve) => agent.once('outcome', resolve));
    await agent.start();
    return { agent, connection, outcome };
  }),
);

// Upload the package and assign it to every device.
const { manifest } = gateway.addPackage({ title: 'app', version: '1.1', data: randomBytes(100_000) });
for (const { deviceId } of devices) await publisher.publish(deviceId, manifest);
await Promise.all(agents.map(({ outcome }) => outcome));
// The last fw_state may still be on its way: wait until the fleet has every device committed.
while ((await publisher.fleet.counts()).committed < devices.length)
  await new Promise((r) => setTimeout(r, 20));
console.log('fleet:', (await publisher.fleet.snapshot()).counts);

for (const { agent, connection } of agents) {
  await agent.stop();
  await connection.close();
}
await publisher.close();
await gateway.close();
await new Promise<void>((resolve) => broker.close(() => resolve()));
mqttServer.close();
httpServer.close();
await rm(root, { recursive: true, force: true });
