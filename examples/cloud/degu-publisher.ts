/**
 * `npx tsx examples/cloud/degu-publisher.ts`: a back end pushes an update to three Degu devices
 * through their Device Shadows and watches it land, against loopback stand-ins it starts itself.
 * Nothing to configure.
 *
 * - An in-process MQTT broker (aedes) with otakit's self-hosted shadow service stands in for AWS
 *   IoT Core; a loopback HTTP server serves the files; three devices run the Degu agent
 *   (`createDeguAgent`) on a `main.py` each in a temp directory.
 * - The publisher (`createDeguPublisher` over `mqttShadows`) writes one order to all three, with a
 *   result per thing; two devices install it and the fleet shows them `committed`, their orders
 *   cleared from `desired`. The third downloads from a mirror serving other bytes: it refuses them,
 *   reports nothing new, and the wait ends `pending`, naming the MD5 that still differs.
 * - The publisher stops; the mirror is fixed and the third device checks again while no publisher
 *   listens. A new publisher on the same fleet store reads the shadow and sees the success.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { createDeguPublisher, mqttShadows } from '../../src/cloud/degu/index.js';
import { Fleet, MemoryFleetStore } from '../../src/index.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { createDeguAgent, type DeguAgent } from '../../src/node/index.js';
import { createFaultServer, createShadowService } from '../../src/testing/index.js';

const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');
const mainB = Buffer.from("print('B')\n");

// ---- The cloud: broker, shadow service, file server -----------------------------------------

const broker = await Aedes.createBroker();
const mqttServer = createServer(broker.handle);
await new Promise<void>((resolve) => mqttServer.listen(0, '127.0.0.1', resolve));
const url = `mqtt://127.0.0.1:${(mqttServer.address() as AddressInfo).port}`;
const cloud = await connectMqtt(url, { clientId: 'shadow-service' });
const shadows = createShadowService({ connection: cloud });
await shadows.start();
const web = await createFaultServer();
web.route('/main_B.py', { body: mainB });
web.route('/mirror/main_B.py', { body: Buffer.from("print('tampered')\n") }); // other bytes

// ---- Three devices, each running the Degu agent ------------------------------------------------

const root = await mkdtemp(join(tmpdir(), 'otakit-degu-publisher-example-'));
const thingNames = ['A1B2C3D4E5F60701', 'A1B2C3D4E5F60702', 'A1B2C3D4E5F60703'];
const devices: Array<{ agent: DeguAgent; close(): Promise<void> }> = [];
for (const thingName of thingNames) {
  const script = join(root, `${thingName}-main.py`);
  await writeFile(script, "print('A')\n");
  const connection = await connectMqtt(url, { clientId: thingName });
  const agent = createDeguAgent({
    thingName,
    connection,
    files: { script },
    stateDirectory: join(root, `${thingName}-agent`),
  });
  agent.on('outcome', ({ state, error }) =>
    console.log(`device ${thingName}: ${state}${error ? ` (${error.code})` : ''}`),
  );
  await agent.start();
  devices.push({ agent, close: () => agent.stop().then(() => connection.close()) });
}

// ---- The back end ----------------------------------------------------------------------------

const store = new MemoryFleetStore(); // otakit/pg's PostgresFleetStore in production
const connection = await connectMqtt(url, { clientId: 'publisher' });
let publisher = createDeguPublisher({
  shadow: mqttShadows(connection),
  fleet: new Fleet({ store }),
  clearDesiredOnSuccess: true,
});
publisher.on('success', ({ deviceId, version }) =>
  console.log(`publisher: ${deviceId} succeeded (v${version})`),
);
publisher.on('cleared', ({ deviceId, items }) => console.log(`publisher: ${deviceId} cleared ${items}`));

const release = (where: string) => ({
  id: 'main-b',
  version: '1',
  artifacts: [{ url: `${web.url}${where}`, md5: md5(mainB), target: 'script' as const }],
});
const written = [
  ...(await publisher.publish(thingNames.slice(0, 2), release('/main_B.py'))),
  ...(await publisher.publish(thingNames[2]!, release('/mirror/main_B.py'))),
];
for (const { deviceId, ok, version, updateId } of written) {
  console.log(`publisher: order for ${deviceId} written: ${ok} (shadow v${version}, ${updateId})`);
}
// Degu devices report success only: a deadline is what tells a failed device from a slow one.
const results = [
  ...(await publisher.waitForSuccess(thingNames.slice(0, 2), { timeoutMs: 60_000 })),
  ...(await publisher.waitForSuccess(thingNames[2]!, { timeoutMs: 3000 })),
];
for (const { deviceId, outcome, state, items } of results) {
  const differing = items.filter((item) => !item.match).map((item) => `${item.item} is ${item.reported}`);
  console.log(`wait: ${deviceId} ${outcome} (fleet: ${state})${differing.length ? `; ${differing}` : ''}`);
}
const counts = Object.entries(await publisher.fleet.counts()).filter(([, count]) => count > 0);
console.log('fleet counts:', Object.fromEntries(counts));

// ---- The publisher stops; the mirror is fixed and the device checks again meanwhile ------------

await publisher.close();
web.route('/mirror/main_B.py', { body: mainB });
await devices[2]!.agent.checkNow();

publisher = createDeguPublisher({
  shadow: mqttShadows(connection),
  fleet: new Fleet({ store }),
  clearDesiredOnSuccess: true,
});
const [late] = await publisher.waitForSuccess(thingNames[2]!, {
  timeoutMs: 10_000,
  updateId: written[2]!.updateId!,
});
console.log(`after the restart: ${late!.deviceId} ${late!.outcome}`);
console.log(
  'history:',
  (await publisher.fleet.history(thingNames[2]!)).map((entry) => entry.to).join(' -> '),
);
console.log(
  'desired left:',
  JSON.stringify(thingNames.map((thingName) => shadows.shadow({ thingName })?.state.desired ?? null)),
);

await publisher.close();
await connection.close();
for (const device of devices) await device.close();
await shadows.stop();
await cloud.close();
await web.close();
await new Promise<void>((resolve) => broker.close(() => resolve()));
await new Promise<void>((resolve) => mqttServer.close(() => resolve()));
await rm(root, { recursive: true, force: true });
