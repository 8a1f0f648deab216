/**
 * A signed ThingsBoard package end to end, assigned while the device was away: the publisher
 * writes the `fw_*` attributes and the signed statement (`otakit_fw_manifest`) through the local
 * device gateway (aedes in process); the real agent, with a trust root, boots later and learns the
 * package from its boot attribute request. The gateway answers only the keys a request names, as
 * ThingsBoard does, so the agent must ask for the statement too: then the package runs as the
 * signed manifest (real Ed25519) and commits. An agent told not to ask gets the package unsigned
 * and its trust gate refuses it (`unsigned`) before a chunk is requested.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createThingsBoardPublisher,
  type ThingsBoardPublisher,
} from '../../src/cloud/thingsboard/publisher.js';
import { isTrustError } from '../../src/core/errors.js';
import type { UpdateOutcome } from '../../src/machine/record.js';
import { createTrustGate } from '../../src/machine/trust-gate.js';
import type { Manifest } from '../../src/manifest/schema.js';
import { signManifest } from '../../src/manifest/trust.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { createThingsBoardAgent } from '../../src/node/agents/thingsboard.js';
import {
  createThingsBoardDeviceGateway,
  type GatewayDevice,
  type ThingsBoardDeviceGateway,
} from '../../src/node/cloud/thingsboard-device-gateway.js';
import { rootOf, type TestKey, testKeys } from '../security/keys.js';
import { until } from '../support/system-services.js';

const OLD = new TextEncoder().encode('firmware 1.0\n');
const cleanups: Array<() => Promise<unknown>> = [];
let gateway: ThingsBoardDeviceGateway;
let publisher: ThingsBoardPublisher;
let brokerUrl: string;
let key: TestKey;
const devices: GatewayDevice[] = ['signed-1', 'signed-2'].map((deviceId) => ({
  deviceId,
  accessToken: `TB_${deviceId}_${randomBytes(6).toString('hex')}`,
}));
/** The attribute requests the devices sent, as received. */
const requests: string[] = [];
/** The devices that requested firmware chunks. */
const chunks: string[] = [];

beforeAll(async () => {
  [key] = (await testKeys(11)) as [TestKey];
  const broker = await Aedes.createBroker();
  gateway = createThingsBoardDeviceGateway({ broker, devices });
  broker.on('publish', (packet, client) => {
    if (client && packet.topic.startsWith('v1/devices/me/attributes/request/')) {
      requests.push(Buffer.from(packet.payload).toString());
    }
  });
  gateway.onChunk(({ deviceId }) => chunks.push(deviceId));
  publisher = createThingsBoardPublisher({ backend: gateway });
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  brokerUrl = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cleanups.push(async () => {
    await publisher.close();
    await gateway.close();
    const closing = new Promise<void>((resolve) => server.close(() => resolve()));
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closing;
  });
});
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

/** A device that was away: its package is assigned, signed, before its agent starts. */
async function bootWithSignedPackage(device: GatewayDevice, version: string, signedStatements?: boolean) {
  const stored = gateway.addPackage({ title: 'app', version, data: new Uint8Array(randomBytes(20_000)) });
  const signed = await signManifest(stored.manifest, [key.seed]);
  await publisher.publish(device.deviceId, signed);

  const root = await mkdtemp(join(tmpdir(), 'otakit-signed-tb-'));
  const file = join(root, 'firmware.bin');
  await writeFile(file, OLD);
  const connection = await connectMqtt(brokerUrl, {
    clientId: `${device.deviceId}-${process.pid}`,
    username: device.accessToken,
    reconnectPeriod: 50,
  });
  const agent = createThingsBoardAgent({
    target: { accessToken: device.accessToken },
    connection,
    current: { title: 'app', version: '1.0' },
    chunkSize: 4096,
    installTarget: file,
    stateDirectory: join(root, 'agent'),
    fsync: false,
    machine: { trust: createTrustGate({ root: rootOf([key], 1) }) },
    ...(signedStatements === undefined ? {} : { signedStatements }),
  });
  const orders: Manifest[] = [];
  const outcomes: UpdateOutcome[] = [];
  const errors: unknown[] = [];
  agent.on('order', ({ manifest }) => orders.push(manifest));
  agent.on('outcome', (outcome) => outcomes.push(outcome));
  agent.on('error', (error) => errors.push(error));
  cleanups.push(async () => {
    await agent.stop({ cancel: true });
    await connection.close();
    await rm(root, { recursive: true, force: true });
  });
  await agent.start();
  await until(
    () => outcomes.length > 0,
    () => `${device.deviceId}: an outcome`,
    30_000,
  );
  return { stored, signed, file, orders, outcomes, errors };
}

describe('a signed ThingsBoard package assigned while the device was away', () => {
  it('the boot attribute request asks for the statement: the signed manifest runs and commits', async () => {
    const { stored, signed, file, orders, outcomes } = await bootWithSignedPackage(devices[0]!, '1.1');
    expect(
      requests.some((request) => JSON.parse(request).sharedKeys.split(',').includes('otakit_fw_manifest')),
    ).toBe(true);
    expect(orders[0]).toMatchObject({ id: signed.id, signature: signed.signature });
    expect(outcomes[0]).toMatchObject({ state: 'committed', update: { id: signed.id } });
    expect(new Uint8Array(await readFile(file))).toEqual(stored.data);
    expect(chunks).toContain(devices[0]!.deviceId);
  });

  it('without asking for it (signedStatements: false) the package arrives unsigned and the trust gate refuses it', async () => {
    const before = requests.length;
    const { file, orders, outcomes, errors } = await bootWithSignedPackage(devices[1]!, '1.2', false);
    // The request is the client SDKs', byte for byte.
    expect(requests.slice(before).map((request) => JSON.parse(request).sharedKeys)).toContain(
      'fw_title,fw_version,fw_size,fw_checksum,fw_checksum_algorithm,fw_url,fw_tag',
    );
    expect(orders[0]?.signature).toBeUndefined();
    expect(outcomes[0]).toMatchObject({
      state: 'verify_failed',
      error: { code: 'TRUST', reason: 'unsigned' },
    });
    expect(errors.some((error) => isTrustError(error, 'unsigned'))).toBe(true);
    expect(new Uint8Array(await readFile(file))).toEqual(OLD);
    expect(chunks).not.toContain(devices[1]!.deviceId);
  });
});
