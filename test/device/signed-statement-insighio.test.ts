/**
 * A signed insigh.io order end to end: the real publisher (signing each order through `sign`),
 * the package server, an aedes broker and the real device agent. The order carries the signed
 * statement as one more SenML record; the agent's machine runs the signed manifest (signature,
 * the package's SHA-256, the release version). The statement of another order in an order (mix
 * and match) is refused, typed, and the package is never requested.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryPackageStore } from '../../src/cloud/insighio/package-store.js';
import { createInsighIoPublisher } from '../../src/cloud/insighio/publisher.js';
import { isOtaError } from '../../src/core/errors.js';
import { MemoryStore } from '../../src/core/store.js';
import type { UpdateOutcome } from '../../src/machine/record.js';
import type { Manifest } from '../../src/manifest/schema.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { createInsighioAgent, insighioMqttOptions } from '../../src/node/agents/insighio.js';
import { startInsighIoPackageServer } from '../../src/node/cloud/insighio-package-server.js';
import { otaTopic } from '../../src/protocols/insighio/topics.js';
import { mqttChannel } from '../../src/transport/mqtt-channel.js';
import { until } from '../support/system-services.js';
import { startAedes, type TestBroker } from './insighio-support.js';

const KEY = 'dk-Signed-S3cret-77aa';
const CC = 'ctrl-signed';
const SIGNATURE = {
  canonicalization: 'otakit-json-v1' as const,
  signatures: [{ keyId: 'release-key-1', algorithm: 'ed25519' as const, value: `${'C'.repeat(85)}Q==` }],
};
const sign = (manifest: Manifest): Manifest => ({ ...manifest, minVersion: '1.0.0', signature: SIGNATURE });

const cleanups: Array<() => Promise<unknown>> = [];
let broker: TestBroker;
beforeAll(async () => {
  broker = await startAedes();
});
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  await broker.stop();
});

describe('a signed insigh.io order: publisher → aedes → agent', () => {
  it('runs the signed manifest; an order with the statement of another order is refused, nothing downloaded', async () => {
    const packages = new MemoryPackageStore();
    const deviceId = `dev-signed-${process.pid}`;
    const server = await startInsighIoPackageServer({
      packages,
      deviceKey: ({ deviceId: asked, controlChannelId }) =>
        controlChannelId === CC && asked === deviceId ? KEY : undefined,
    });
    cleanups.push(() => server.close());
    const seen: string[] = [];
    server.server.on('request', (request) => seen.push(request.url ?? ''));

    const service = await connectMqtt(broker.url, { clientId: `signed-service-${process.pid}` });
    cleanups.push(() => service.close());
    const publisher = createInsighIoPublisher({
      mqtt: mqttChannel(service),
      store: new MemoryStore(),
      packages,
      sign,
    });
    cleanups.push(() => publisher.close());

    const root = await mkdtemp(join(tmpdir(), 'otakit-signed-insighio-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const connection = await connectMqtt(broker.url, {
      ...insighioMqttOptions({ deviceId, deviceKey: KEY, clientId: `${deviceId}-c` }),
      reconnectPeriod: 50,
    });
    cleanups.push(() => connection.close());
    const target = { controlChannelId: CC, deviceId, baseUrl: server.baseUrl, allowInsecureHttp: true };
    const agent = createInsighioAgent({
      target,
      deviceKey: KEY,
      connection,
      installDirectory: join(root, 'app'),
      stateDirectory: join(root, 'agent'),
      fsync: false,
    });
    cleanups.push(() => agent.stop({ cancel: true }));
    const orders: Manifest[] = [];
    const outcomes: UpdateOutcome[] = [];
    const errors: unknown[] = [];
    agent.on('order', ({ manifest }) => orders.push(manifest));
    agent.on('outcome', (outcome) => outcomes.push(outcome));
    agent.on('error', (error) => errors.push(error));
    await agent.start();

    // 1. A signed order: the machine gets the signed manifest, with the package's SHA-256.
    const a = await publisher.publish(target, {
      id: 'demo-app',
      version: '2.0.0',
      files: [{ path: 'boot.py', data: 'print("a")\n' }],
    });
    expect(a.messages[0]!.payload).toContain('"n":"otakit_manifest"');
    await until(
      () => outcomes.length === 1,
      () => 'the signed order to finish',
      30_000,
    );
    expect(outcomes[0]).toMatchObject({
      state: 'committed',
      update: { id: a.entry.fileId, version: '2.0.0' },
    });
    expect(orders[0]).toMatchObject({
      id: a.entry.fileId,
      version: '2.0.0',
      minVersion: '1.0.0',
      signature: SIGNATURE,
      artifacts: [{ sha256: a.entry.sha256, size: a.entry.size }],
    });
    expect(orders[0]!.artifacts[0]!.url).not.toContain(KEY);

    // 2. Release B for another device, so nothing installs it; then B's order with A's statement.
    const b = await publisher.publish(
      { ...target, deviceId: 'someone-else' },
      { id: 'demo-app', version: '3.0.0', files: [{ path: 'boot.py', data: 'print("b")\n' }] },
    );
    const recordsB = JSON.parse(b.messages[0]!.payload) as Array<{ n: string }>;
    const recordsA = JSON.parse(a.messages[0]!.payload) as Array<{ n: string }>;
    const mixed = [
      ...recordsB.filter((record) => record.n !== 'otakit_manifest'),
      recordsA.find((record) => record.n === 'otakit_manifest'),
    ];
    const before = seen.length;
    await service.publish(otaTopic(target), JSON.stringify(mixed), { qos: 1, retain: true });
    await until(
      () => errors.some((error) => isOtaError(error, 'MANIFEST_INVALID')),
      () => 'the mixed order to be refused',
      30_000,
    );
    const refused = errors.find((error) => isOtaError(error, 'MANIFEST_INVALID')) as unknown as {
      issues: Array<{ path: string }>;
    };
    expect(refused.issues.map((issue) => issue.path)).toEqual(
      expect.arrayContaining(['otakit_manifest.id', 'otakit_manifest.artifacts[0].url']),
    );
    expect(seen.slice(before).filter((url) => url.includes(b.entry.fileId))).toEqual([]);
    expect(outcomes).toHaveLength(1);
  }, 120_000);
});
