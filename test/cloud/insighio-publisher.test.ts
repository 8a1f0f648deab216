/**
 * The insigh.io publisher on a recording MQTT channel: what it sends, what it stores (package,
 * catalog entry), what the fleet shows (the release, not the file id), and what it refuses
 * before sending anything. The end-to-end runs with the device agent are in insighio-cloud.test.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Fleet } from '../../src/cloud/fleet/fleet.js';
import { MemoryFleetStore } from '../../src/cloud/fleet/memory-store.js';
import { CATALOG_PREFIX } from '../../src/cloud/insighio/catalog.js';
import { MemoryPackageStore } from '../../src/cloud/insighio/package-store.js';
import { writeTar } from '../../src/cloud/insighio/package-writer.js';
import { createInsighIoPublisher } from '../../src/cloud/insighio/publisher.js';
import { isOtaError, TransportError } from '../../src/core/errors.js';
import { MemoryStore, type StateStore } from '../../src/core/store.js';
import { FileStore } from '../../src/node/file-store.js';
import type { InboundMessage, WireMessage, WireSource } from '../../src/protocols/contract.js';
import { readPackage } from '../../src/protocols/insighio/package.js';
import { otaTopic } from '../../src/protocols/insighio/topics.js';
import type { Channel } from '../../src/transport/channel.js';

const TARGET = { controlChannelId: 'cc', deviceId: 'dev-1' };
const TOPIC = otaTopic(TARGET);
const FILES = [{ path: 'boot.py', data: 'print("v2")\n' }];

/** An MQTT channel that records what is sent and lets the test deliver messages to listeners. */
function recordingChannel(options: { failSends?: boolean } = {}) {
  const sent: WireMessage[] = [];
  const listeners: ((message: InboundMessage) => void)[] = [];
  const channel: Channel = {
    kind: 'mqtt',
    async send(message) {
      if (options.failSends) throw new TransportError('broker unreachable');
      sent.push(message);
      return undefined;
    },
    async listen(_source: WireSource, onMessage) {
      listeners.push(onMessage);
      return async () => {
        listeners.splice(listeners.indexOf(onMessage), 1);
      };
    },
  };
  const deliver = (payload: string) => {
    for (const listener of listeners) listener({ address: TOPIC, payload });
  };
  return { channel, sent, deliver };
}

function service(store: StateStore = new MemoryStore(), fleetStore = new MemoryFleetStore()) {
  const wire = recordingChannel();
  const fleet = new Fleet({ store: fleetStore });
  const packages = new MemoryPackageStore();
  const publisher = createInsighIoPublisher({ mqtt: wire.channel, store, packages, fleet });
  const results: string[] = [];
  publisher.on('status', ({ result }) => results.push(`${result.outcome}:${result.state}`));
  return { ...wire, fleet, packages, publisher, results, store, fleetStore };
}

const applied = (fileId: string) => `[{"n":"e","v":1},{"n":"i","vs":"${fileId}"}]`;
const waitFor = async (predicate: () => boolean) => {
  for (let i = 0; i < 2000 && !predicate(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  expect(predicate()).toBe(true);
};

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

describe('InsighIoPublisher', () => {
  it('publishes: the package stored, the catalog entry persisted, the device available, the retained order sent', async () => {
    const s = service();
    const result = await s.publisher.publish(TARGET, { id: 'app', version: '1.2.0', files: FILES });
    const { fileId, size } = result.entry;
    expect(fileId).toMatch(/^[0-9a-f]{16}$/);
    expect(result.entry).toMatchObject({ fileType: '.tar', releaseId: 'app', version: '1.2.0' });
    expect(result.entry.sha256).toMatch(/^[0-9a-f]{64}$/);
    const stored = await s.packages.get(fileId);
    expect(stored?.length).toBe(size);
    expect((await readPackage(stored!)).map((entry) => entry.path)).toEqual(['boot.py']);
    expect(await s.store.get(`${CATALOG_PREFIX}${fileId}`)).toMatchObject({
      releaseId: 'app',
      version: '1.2.0',
    });
    expect(s.sent).toEqual([
      {
        channel: 'mqtt',
        address: TOPIC,
        payload: `[{"n":"e","v":0},{"n":"i","vs":"${fileId}"},{"n":"t","vs":".tar"},{"n":"s","v":${size}}]`,
        qos: 1,
        retain: true,
      },
    ]);
    expect(await s.fleet.device('dev-1')).toMatchObject({
      state: 'available',
      update: { id: 'app', version: '1.2.0' },
    });
  });

  it('the same release published again has the same file id, and is no second update', async () => {
    const s = service();
    const first = await s.publisher.publish(TARGET, { id: 'app', version: '1', files: FILES });
    const second = await s.publisher.publish(TARGET, { id: 'app', version: '1', files: FILES });
    expect(second.entry.fileId).toBe(first.entry.fileId);
    expect((await s.fleet.history('dev-1')).map((entry) => entry.to)).toEqual(['available']);
  });

  it("statuses show the release: e=1 of the file id → committed with the release's id and version", async () => {
    const s = service();
    await s.publisher.watch(TARGET);
    const { entry } = await s.publisher.publish(TARGET, { id: 'app', version: '1.2.0', files: FILES });
    s.deliver(applied(entry.fileId));
    await waitFor(() => s.results.length === 1);
    expect(s.results).toEqual(['applied:committed']);
    expect(await s.fleet.device('dev-1')).toMatchObject({
      state: 'committed',
      current: { id: 'app', version: '1.2.0' },
    });
  });

  it('a file the catalog does not know (published from the console) is shown by its file id', async () => {
    const s = service();
    await s.publisher.watch(TARGET);
    s.deliver(applied('fa8884d2'));
    await waitFor(() => s.results.length === 1);
    expect((await s.fleet.device('dev-1'))?.update?.id).toBe('fa8884d2');
  });

  it('a new order replacing one still waiting: the waiting one is canceled, the new one available, then committed', async () => {
    const s = service();
    await s.publisher.watch(TARGET);
    await s.publisher.publish(TARGET, { id: 'app', version: '1', files: FILES });
    const { entry } = await s.publisher.publish(TARGET, {
      id: 'app-2',
      version: '2',
      files: [{ path: 'boot.py', data: 'v2' }],
    });
    s.deliver(applied(entry.fileId));
    await waitFor(() => s.results.length === 1);
    const history = await s.fleet.history('dev-1');
    expect(history.map((item) => [item.to, item.updateId])).toEqual([
      ['available', 'app'],
      ['canceled', 'app'],
      ['available', 'app-2'],
      ['committed', 'app-2'],
    ]);
    expect(await s.fleet.anomalies()).toEqual([]);
  });

  it('the catalog in a FileStore survives a restart: a new publisher maps the file id it never saw', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'otakit-insighio-catalog-'));
    dirs.push(dir);
    const fleetStore = new MemoryFleetStore();
    const before = service(new FileStore(dir, { fsync: false }), fleetStore);
    const { entry } = await before.publisher.publish(TARGET, { id: 'app', version: '3.0.0', files: FILES });
    await before.publisher.close();

    const after = service(new FileStore(dir, { fsync: false }), fleetStore);
    await after.publisher.watch(TARGET);
    after.deliver(applied(entry.fileId));
    await waitFor(() => after.results.length === 1);
    expect(await after.fleet.device('dev-1')).toMatchObject({
      state: 'committed',
      current: { id: 'app', version: '3.0.0' },
    });
  });

  it('statuses keep their order while the catalog is read (e=1 then its repeat: applied, then duplicate)', async () => {
    const slow = new MemoryStore();
    const get = slow.get.bind(slow);
    slow.get = async (key) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return get(key);
    };
    const s = service(slow);
    await s.publisher.watch(TARGET);
    const { entry } = await s.publisher.publish(TARGET, { id: 'app', version: '1', files: FILES });
    s.deliver('[{"n":"e","v":2},{"n":"i","vs":"ffff0001"},{"n":"m","vs":"can not apply"}]');
    s.deliver(applied(entry.fileId));
    s.deliver(applied(entry.fileId));
    await waitFor(() => s.results.length === 3);
    // The first names another update while `app` waits: refused; then the commit, then its repeat.
    expect(s.results).toEqual(['refused:available', 'applied:committed', 'duplicate:committed']);
  });

  it('withdraw: the empty retained payload, and the waiting device canceled', async () => {
    const s = service();
    await s.publisher.publish(TARGET, { id: 'app', version: '1', files: FILES });
    const messages = await s.publisher.withdraw(TARGET);
    expect(messages).toEqual([{ channel: 'mqtt', address: TOPIC, payload: '', qos: 1, retain: true }]);
    expect(s.sent.at(-1)).toEqual(messages[0]);
    expect((await s.fleet.device('dev-1'))?.state).toBe('canceled');
  });

  it('an order that cannot be sent: TransportError, and the fleet shows the order canceled', async () => {
    const wire = recordingChannel({ failSends: true });
    const fleet = new Fleet();
    const publisher = createInsighIoPublisher({ mqtt: wire.channel, store: new MemoryStore(), fleet });
    await expect(publisher.publish(TARGET, { id: 'app', version: '1', files: FILES })).rejects.toThrow(
      TransportError,
    );
    expect((await fleet.device('dev-1'))?.state).toBe('canceled');
  });

  it('accepts a package already built (a tar is published as .tar) and refuses one no device can read', async () => {
    const s = service();
    const { entry } = await s.publisher.publish(TARGET, {
      id: 'app',
      version: '1',
      package: writeTar(FILES),
    });
    expect(entry.fileType).toBe('.tar');
    const refused = await s.publisher
      .publish(TARGET, { id: 'bad', version: '1', package: new TextEncoder().encode('<html>') })
      .catch((error: unknown) => error);
    expect(isOtaError(refused, 'MANIFEST_INVALID')).toBe(true);
    expect((refused as Error).message).toContain('package');
    expect(s.sent).toHaveLength(1);
  });

  it.each([
    ['no release at all', null, '(root)'],
    ['no id', { version: '1', files: FILES }, 'id'],
    ['no version', { id: 'a', files: FILES }, 'version'],
    ['neither files nor a package', { id: 'a', version: '1' }, 'files'],
    ['both files and a package', { id: 'a', version: '1', files: FILES, package: writeTar(FILES) }, 'files'],
    ['an unsafe file path', { id: 'a', version: '1', files: [{ path: '../x', data: 'x' }] }, 'files[0].path'],
    ['a file id with a slash', { id: 'a', version: '1', files: FILES, fileId: 'a/b' }, 'fileId'],
  ])('refuses %s, naming the field, and sends nothing', async (_, release, field) => {
    const s = service();
    const refused = await s.publisher.publish(TARGET, release as never).catch((error: unknown) => error);
    expect(isOtaError(refused, 'MANIFEST_INVALID')).toBe(true);
    expect((refused as Error).message).toContain(field);
    expect(s.sent).toEqual([]);
    expect(await s.fleet.device('dev-1')).toBeUndefined();
  });

  it('refuses a file id already standing for another release', async () => {
    const s = service();
    await s.publisher.publish(TARGET, { id: 'a', version: '1', files: FILES, fileId: 'f1' });
    const refused = await s.publisher
      .publish(TARGET, { id: 'b', version: '2', files: FILES, fileId: 'f1' })
      .catch((error: unknown) => error);
    expect(isOtaError(refused, 'MANIFEST_INVALID')).toBe(true);
    expect((refused as Error).message).toContain('fileId');
    expect(s.sent).toHaveLength(1);
  });
});
