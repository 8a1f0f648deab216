/**
 * An insigh.io update service end to end, on loopback: `npx tsx examples/cloud/insighio-service.ts`.
 *
 * - An aedes broker stands in for the Mainflux broker the devices use.
 * - The service: the package server (device-key check, Range) and the publisher, whose file
 *   catalog lives in a `FileStore` (a restart keeps it) and whose fleet prints every transition.
 * - Two devices run otakit's insigh.io agent: `dev-ok` installs the release; `dev-full` has no room
 *   for it (its agent keeps a reserve larger than any disk) and reports `e` = 2 "not enough space".
 * - A third device is offline: its order is withdrawn before it ever connects.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { MemoryPackageStore } from '../../src/cloud/insighio/package-store.js';
import { createInsighIoPublisher } from '../../src/cloud/insighio/publisher.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { startInsighIoPackageServer } from '../../src/node/cloud/insighio-package-server.js';
import { createInsighioAgent, FileStore, insighioMqttOptions } from '../../src/node/index.js';
import { mqttChannel } from '../../src/transport/mqtt-channel.js';

const CONTROL_CHANNEL = 'ctrl-demo';
const KEYS = new Map([
  ['dev-ok', 'key-ok-1'],
  ['dev-full', 'key-full-2'],
  ['dev-away', 'key-away-3'],
]);

const work = await mkdtemp(join(tmpdir(), 'otakit-insighio-service-'));
const broker = await Aedes.createBroker();
const brokerServer = createServer(broker.handle);
await new Promise<void>((resolve) => brokerServer.listen(0, '127.0.0.1', resolve));
const brokerUrl = `mqtt://127.0.0.1:${(brokerServer.address() as { port: number }).port}`;

// --- The service -------------------------------------------------------------------------------
const packages = new MemoryPackageStore();
const downloads = await startInsighIoPackageServer({
  packages,
  deviceKey: ({ deviceId, controlChannelId }) =>
    controlChannelId === CONTROL_CHANNEL ? KEYS.get(deviceId) : undefined,
  logger: { ...console, debug: () => {} },
});
const serviceConnection = await connectMqtt(brokerUrl, { clientId: 'update-service' });
const publisher = createInsighIoPublisher({
  mqtt: mqttChannel(serviceConnection),
  store: new FileStore(join(work, 'catalog'), { fsync: false }),
  packages,
});
publisher.fleet.on('transition', ({ deviceId, from, to, update }) =>
  console.log(`fleet: ${deviceId} ${from} -> ${to} (${update?.id ?? '-'} ${update?.version ?? ''})`),
);

// --- The devices -------------------------------------------------------------------------------
const stops: (() => Promise<unknown>)[] = [];
async function startDevice(deviceId: string, reserveBytes?: number) {
  const deviceKey = KEYS.get(deviceId)!;
  const connection = await connectMqtt(brokerUrl, insighioMqttOptions({ deviceId, deviceKey }));
  const agent = createInsighioAgent({
    target: {
      controlChannelId: CONTROL_CHANNEL,
      deviceId,
      baseUrl: downloads.baseUrl,
      allowInsecureHttp: true,
    },
    deviceKey,
    connection,
    installDirectory: join(work, deviceId, 'app'),
    stateDirectory: join(work, deviceId, 'agent'),
    fsync: false,
    ...(reserveBytes === undefined ? {} : { download: { reserveBytes } }),
  });
  stops.push(
    () => agent.stop(),
    () => connection.close(),
  );
  const outcome = new Promise<string>((resolve) => agent.once('outcome', (o) => resolve(o.state)));
  await agent.start();
  return outcome;
}

const release = {
  id: 'demo-app',
  version: '2.0.0',
  format: 'insighio-zlib' as const, // what the reference firmware reads as .tar.gz
  files: [
    { path: 'boot.py', data: 'print("demo-app 2.0.0")\n' },
    { path: 'apps/demo_console/scenario.py', data: 'SCENARIO = 2\n' },
  ],
};

const outcomes: Promise<string>[] = [];
for (const deviceId of ['dev-ok', 'dev-full']) {
  const target = { controlChannelId: CONTROL_CHANNEL, deviceId };
  await publisher.watch(target);
  outcomes.push(startDevice(deviceId, deviceId === 'dev-full' ? 2 ** 50 : undefined));
  const { entry } = await publisher.publish(target, release);
  console.log(
    `published ${entry.releaseId} ${entry.version} to ${deviceId} as file ${entry.fileId}${entry.fileType}`,
  );
}
console.log('device outcomes:', await Promise.all(outcomes));

const away = { controlChannelId: CONTROL_CHANNEL, deviceId: 'dev-away' };
await publisher.publish(away, release);
await publisher.withdraw(away); // the retained order is gone before the device ever connects

// The devices' reports reach the fleet just after their outcomes: wait until neither waits any more.
while ((await publisher.fleet.devicesIn('available')).some((device) => device.deviceId !== 'dev-away')) {
  await new Promise((resolve) => setTimeout(resolve, 20));
}
const snapshot = await publisher.fleet.snapshot();
for (const device of snapshot.devices) {
  console.log(
    `${device.deviceId}: ${device.state} ${device.update?.id} ${device.update?.version} ${device.lastError?.message ?? ''}`,
  );
}
console.log('dev-ok boot.py:', await readFile(join(work, 'dev-ok', 'app', 'boot.py'), 'utf8'));

await publisher.close();
for (const stop of stops) await stop();
await serviceConnection.close();
await downloads.close();
await new Promise<void>((resolve) => broker.close(() => resolve()));
await new Promise<void>((resolve) => brokerServer.close(() => resolve()));
await rm(work, { recursive: true, force: true });
