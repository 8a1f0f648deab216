/**
 * Network faults on the Connhex release download (issue 15): the real agent (`createConnhexAgent`)
 * reporting on Debian's nats-server, the release endpoint answering its `HEAD` with the release
 * headers and its `GET` with a redirect to otakit's fault server (test/device/connhex-support.ts).
 * What a service on the bus hears on `heartbeat.ota.service` is asserted as published: `updated`,
 * or `download_failed` with the error in `error`. Without nats-server the file skips locally and
 * fails in CI.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { UpdateOutcome } from '../../src/index.js';
import { connectNats, natsChannel } from '../../src/nats/index.js';
import { type ConnhexAgent, createConnhexAgent } from '../../src/node/index.js';
import { ReleaseServer, releaseZip, StatusWatcher, sha256 } from '../device/connhex-support.js';
import { NATS_MISSING, NATS_SERVER, NatsServer } from '../nats/nats-server.js';
import { IN_CI, until } from '../support/system-services.js';
import {
  corrupt,
  type FaultRoute,
  installCounter,
  NETWORK_DOWNLOAD,
  NETWORK_MACHINE,
  nth,
  PERMANENT,
  payload,
  SWAPPED,
  snapshot,
  stagedFiles,
  swapWhileStalled,
  TRANSIENT,
} from './network-support.js';

const INIT_ID = 'edge-net-7';
const KEY = 'thing-network-fault-2b8d04';
const RELEASE = '/release.zip';

if (!NATS_SERVER) {
  if (IN_CI) {
    describe('Connhex network faults', () => {
      it('has nats-server to run (CI must run the NATS tests)', () => {
        throw new Error(`${NATS_MISSING}. .ci/run apt-installs nats-server when CI is set.`);
      });
    });
  } else {
    console.warn(`test/fault/network-connhex.test.ts skipped: ${NATS_MISSING}`);
  }
}

/** The statuses of an update, as the bus hears them (repeats in a row collapsed). */
const taken = ['checking', 'update_available', 'downloading'];
const HAPPY = [...taken, 'update_ready', 'updating', 'updated'];
const FAILED = [...taken, 'download_failed'];

describe.skipIf(!NATS_SERVER)('Connhex agent: network faults on the release download', () => {
  let root: string;
  let nats: NatsServer;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'otakit-net-connhex-'));
    nats = await NatsServer.start({ directory: root });
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
  });
  afterAll(async () => {
    await nats?.stop();
    await rm(root, { recursive: true, force: true });
  });

  interface Device {
    server: ReleaseServer;
    watcher: StatusWatcher;
    agent: ConnhexAgent;
    /** The install directory; the release runs from `.store/ota/current`, downloads land in `.store/ota`. */
    edge: string;
    store: string;
    counter: ReturnType<typeof installCounter>;
    outcomes: UpdateOutcome[];
    /** Publishes release `version` (the fault server serves `served`, default its zip, with `fault`). */
    publish(version: string, fault?: FaultRoute, served?: (zip: Uint8Array) => Uint8Array): Uint8Array;
    outcome(count: number): Promise<UpdateOutcome>;
    /** The status words once the last is `last` and there are at least `count` changes. */
    changes(count: number): Promise<string[]>;
  }

  /** A device running release 0.0.2 (extracted in `.store/ota/current`), agent started. */
  async function device(fault: FaultRoute, served?: (zip: Uint8Array) => Uint8Array): Promise<Device> {
    const dir = await mkdtemp(join(root, 'case-'));
    const edge = join(dir, 'edge');
    const store = join(edge, '.store', 'ota');
    await mkdir(join(store, 'current'), { recursive: true });
    await writeFile(join(store, 'current', 'new_service.py'), 'print("service 0.0.2")\n');
    const server = await ReleaseServer.start(INIT_ID, KEY);
    cleanups.push(() => server.close());
    const watcher = await StatusWatcher.start(nats.url);
    cleanups.push(() => watcher.close());
    const connection = await connectNats(nats.url, { reconnectTimeWait: 50 });
    cleanups.push(() => connection.close());
    const counter = installCounter();
    const publish: Device['publish'] = (version, misbehave = () => ({}), serve = (zip) => zip) => {
      const body = releaseZip(version, join(dir, 'update-sh-ran'), [
        { name: 'payload.bin', data: payload(40_000, Number(version.split('.').at(-1))), method: 0 },
      ]);
      // The HEAD states the zip's size and digest; the fault server serves `serve(zip)`.
      server.publish({ version, body, sha256: sha256(body) });
      server.fault.route(RELEASE, { ...misbehave(body.length), body: serve(body) });
      return body;
    };
    publish('0.0.3', fault, served);
    const agent = createConnhexAgent({
      target: { baseUrl: server.url, allowHttp: true, initId: INIT_ID, key: KEY },
      nats: natsChannel(connection),
      installDirectory: edge,
      stateDirectory: join(dir, 'state'),
      currentVersion: '0.0.2',
      config: { autoInstall: true },
      heartbeatIntervalMs: 60_000,
      fsync: false,
      // One check at start; the next only when the test asks (checkNow), so each order is one.
      poll: { intervalMs: 3_600_000, backoff: { baseDelayMs: 3_600_000, maxDelayMs: 3_600_000 } },
      download: NETWORK_DOWNLOAD,
      machine: NETWORK_MACHINE,
      installer: { onStep: counter.onStep },
    });
    cleanups.push(() => agent.stop({ cancel: true }));
    const outcomes: UpdateOutcome[] = [];
    agent.on('outcome', (outcome) => outcomes.push(outcome));
    const d: Device = {
      server,
      watcher,
      agent,
      edge,
      store,
      counter,
      outcomes,
      publish,
      outcome: (count) =>
        nth(outcomes, count, () => `outcome ${count}, heard ${JSON.stringify(watcher.changes())}`),
      async changes(count) {
        await until(
          () => watcher.changes().length >= count,
          () => `${count} status changes, heard ${JSON.stringify(watcher.changes())}`,
        );
        return watcher.changes();
      },
    };
    return d;
  }

  /** The store folder without the running release: where downloads are staged. */
  const staged = async (d: Device) =>
    (await stagedFiles(d.store)).filter((path) => !path.startsWith('current/'));

  it.each(TRANSIENT)('transient: $name → updated, installed once', async ({ route }) => {
    const d = await device(route);
    await d.agent.start();
    expect(await d.outcome(1)).toMatchObject({ state: 'committed', update: { version: '0.0.3' } });
    // `updated` at boot (0.0.2), then the update's statuses.
    expect(await d.changes(1 + HAPPY.length)).toEqual(['updated', ...HAPPY]);
    expect(d.watcher.payloads.at(-1)).toMatchObject({
      status: 'updated',
      current_version: '0.0.3',
      error: '',
    });
    expect(d.counter.installs).toBe(1);
    expect(d.server.fault.stats(RELEASE).requests).toBe(2); // the fault, then the retry that completed
    expect((await readdir(join(d.store, 'current'))).sort()).toEqual([
      'new_service.py',
      'payload.bin',
      'update.sh',
    ]);
    expect(await staged(d)).toEqual([]);
  });

  const cases = [
    ...[...PERMANENT, SWAPPED].map((fault) => ({ ...fault, served: (zip: Uint8Array) => zip })),
    {
      name: 'a body that never matches the release digest (x-checksum-sha256)',
      route: () => ({}),
      code: 'INTEGRITY' as const,
      says: /sha256 mismatch, expected [0-9a-f]{64}, got [0-9a-f]{64}$/,
      retried: false,
      served: corrupt,
    },
  ];
  it.each(cases)(
    'permanent: $name → download_failed with the error, nothing installed, the next release taken',
    async ({ name, route, code, says, served }) => {
      const d = await device(route, served);
      const before = await snapshot(join(d.store, 'current'));
      await d.agent.start();
      if (name === SWAPPED.name)
        await swapWhileStalled(d.server.fault, RELEASE, corrupt(d.server.release!.body));
      const outcome = await d.outcome(1);
      expect(outcome).toMatchObject({
        state: 'download_failed',
        update: { version: '0.0.3' },
        error: { code },
      });
      expect(outcome.error?.message).toMatch(says);
      expect(await d.changes(1 + FAILED.length)).toEqual(['updated', ...FAILED]);
      // download_failed carries the error (the key is a header: the URL holds none).
      expect(d.watcher.payloads.at(-1)).toMatchObject({
        status: 'download_failed',
        current_version: '0.0.2',
        latest_version: '0.0.3',
        error: outcome.error?.message,
      });
      expect(await snapshot(join(d.store, 'current'))).toEqual(before);
      expect(d.counter.installs).toBe(0);
      // At most the partial of this release, kept for a retry of it (removed when another starts).
      for (const path of await staged(d)) expect(path).toMatch(/^0\.0\.3\/\d+\.part$/);
      expect(d.agent.current).toEqual({ id: '0.0.2', version: '0.0.2' });

      // Not wedged: the next release, checked by the same running agent, is installed.
      d.publish('0.0.4');
      expect(await d.agent.checkNow()).toMatchObject({ state: 'committed', update: { version: '0.0.4' } });
      expect(await d.changes(1 + FAILED.length + HAPPY.length)).toEqual(['updated', ...FAILED, ...HAPPY]);
      expect(d.watcher.payloads.at(-1)).toMatchObject({
        status: 'updated',
        current_version: '0.0.4',
        error: '',
      });
      expect(d.counter.installs).toBe(1);
      expect(d.agent.current).toEqual({ id: '0.0.4', version: '0.0.4' });
      expect(await staged(d)).toEqual([]);
    },
  );
});
