/**
 * ThingsBoard: the local device gateway on an in-process aedes broker (ThingsBoard's device MQTT
 * API: access-token logins, shared attributes, firmware in MQTT chunks) and its HTTP firmware
 * endpoint; the ThingsBoard publisher assigns the package (`fw_*` shared attributes) and follows
 * `fw_state` telemetry into the fleet. Each device runs `createThingsBoardAgent` on its own MQTT
 * session; odd devices fetch the package in MQTT chunks, even ones over HTTP.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { publisherDispatcher } from '../../../src/cloud/rollout/dispatcher.js';
import { createThingsBoardPublisher } from '../../../src/cloud/thingsboard/publisher.js';
import { Fleet } from '../../../src/index.js';
import { connectMqtt } from '../../../src/mqtt/index.js';
import { createThingsBoardAgent } from '../../../src/node/agents/thingsboard.js';
import { createThingsBoardDeviceGateway } from '../../../src/node/cloud/thingsboard-device-gateway.js';
import { thingsBoardGatewayHttpHandler } from '../../../src/node/cloud/thingsboard-gateway-http.js';
import {
  artifactBytes,
  Closers,
  failureOptions,
  type PlatformContext,
  type PlatformRun,
  watchAgent,
} from '../common.js';

export async function startThingsBoard(context: PlatformContext): Promise<PlatformRun> {
  const closers = new Closers();
  const identities = context.devices.map((deviceId) => ({
    deviceId,
    accessToken: `TB_${randomBytes(10).toString('hex')}`,
  }));
  const broker = await Aedes.createBroker();
  const gateway = createThingsBoardDeviceGateway({ broker, devices: identities });
  const fleet = new Fleet();
  const publisher = createThingsBoardPublisher({ backend: gateway, fleet });
  publisher.watch();
  const sockets = new Set<Socket>();
  const mqttServer = createServer((socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    broker.handle(socket);
  }).listen(0, '127.0.0.1');
  const httpServer = createHttpServer(thingsBoardGatewayHttpHandler(gateway)).listen(0, '127.0.0.1');
  await Promise.all([once(mqttServer, 'listening'), once(httpServer, 'listening')]);
  const mqttUrl = `mqtt://127.0.0.1:${(mqttServer.address() as AddressInfo).port}`;
  const httpUrl = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  closers.add(async () => {
    await publisher.close();
    await gateway.close();
    const closing = new Promise<void>((resolve) => mqttServer.close(() => resolve()));
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closing;
    httpServer.closeAllConnections();
    await new Promise<void>((resolve) => httpServer.close(() => resolve()));
  });

  for (const [index, { deviceId, accessToken }] of identities.entries()) {
    const dir = join(context.root, deviceId);
    const installTarget = join(context.root, `${deviceId}.bin`);
    await writeFile(installTarget, 'firmware 1.0\n');
    const connection = await connectMqtt(mqttUrl, {
      username: accessToken,
      reconnect: { initialMs: 20, maxMs: 200 },
    });
    const failing = context.failing.has(deviceId);
    const agent = createThingsBoardAgent({
      target: { accessToken, baseUrl: httpUrl },
      connection,
      current: { title: 'app', version: '1.0' },
      // The corrupting download path is an HTTP one: a failing device fetches over HTTP.
      transfer: failing || index % 2 === 1 ? 'http' : 'mqtt',
      installTarget,
      stateDirectory: join(dir, 'agent'),
      fsync: false,
      ...failureOptions(failing),
    });
    watchAgent(context.watcher, deviceId, agent);
    closers.add(() => connection.close());
    closers.add(() => agent.stop({ cancel: true }));
    await agent.start();
  }

  const { manifest } = gateway.addPackage({
    title: 'app',
    version: '1.1',
    data: new Uint8Array(artifactBytes('app 1.1', 768 * 1024)),
  });
  return {
    fleet,
    // The ThingsBoard publisher names a device by its id: the rollout's ids are its targets.
    dispatcher: publisherDispatcher(publisher, (deviceId) => deviceId),
    manifest,
    wiring: `aedes ${mqttUrl} + device gateway + HTTP ${httpUrl}; fw_* attributes, fw_state telemetry`,
    close: () => closers.run(),
  };
}
