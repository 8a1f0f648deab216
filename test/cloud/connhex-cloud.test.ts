/**
 * The Connhex cloud side end to end, against real components: Debian's nats-server (each edge an
 * account of its own, its `heartbeat.ota.service` imported by the cloud as
 * `edges.<initId>.heartbeat.ota.service`), otakit's release endpoint on loopback HTTP, and the
 * real Connhex device agent (in process, and in a child process that is killed). The service is
 * `createUpdatePublisher` with `connhex.protocol` over `otakit/nats`, watching every edge with one
 * subscription (`watchConnhexFleet`), its statuses in a `Fleet`. Without nats-server the file
 * skips locally and fails in CI.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { watchConnhexFleet } from '../../src/cloud/connhex-fleet-watch.js';
import { MemoryFleetStore } from '../../src/cloud/fleet/memory-store.js';
import { createUpdatePublisher, type PublisherStatusEvent } from '../../src/cloud/publisher.js';
import { connhex, type DeviceSnapshot, Fleet, type FleetStore, type OtaError } from '../../src/index.js';
import { connectNats, natsChannel } from '../../src/nats/index.js';
import {
  type ConnhexReleaseServer,
  startConnhexReleaseServer,
} from '../../src/node/cloud/connhex-release-server.js';
import { type ConnhexAgent, type ConnhexAgentOptions, createConnhexAgent } from '../../src/node/index.js';
import { NATS_MISSING, NATS_SERVER } from '../nats/nats-server.js';
import { bundled } from '../support/bundle.js';
import { IN_CI, until } from '../support/system-services.js';
import { EDGE_SUBJECTS, EdgeAccountsNats } from './connhex-cloud-support.js';

const EDGES = ['edge-1', 'edge-2', 'edge-3', 'edge-4', 'edge-5', 'edge-6', 'edge-7', 'edge-8'];
const KEYS = Object.fromEntries(EDGES.map((edge) => [edge, `thing-${randomBytes(12).toString('hex')}`]));
const CHILD = join(import.meta.dirname, 'connhex-cloud-agent-child.ts');
/** The child bundled once: it starts as plain node, not through tsx. */
let childBundle: string;
beforeAll(async () => {
  childBundle = await bundled(CHILD);
});
const E2E_TIMEOUT = 60_000;

if (!NATS_SERVER) {
  if (IN_CI) {
    describe('Connhex cloud side', () => {
      it('has nats-server to run (CI must run the NATS tests)', () => {
        throw new Error(`${NATS_MISSING}. .ci/run apt-installs nats-server when CI is set.`);
      });
    });
  } else {
    console.warn(`test/cloud/connhex-cloud.test.ts skipped: ${NATS_MISSING}`);
  }
}

/** The back end: a publisher on connhex.protocol over NATS, every edge watched with one subscription. */
interface Service {
  fleet: Fleet;
  results: PublisherStatusEvent<connhex.Target>[];
  /** Each device's latest snapshot, as the fleet's `device` events told. */
  latest: Map<string, DeviceSnapshot>;
  /** Every state each device reached, in order, as the fleet's `transition` events told. */
  reached: Map<string, string[]>;
  close(): Promise<void>;
}

describe.skipIf(!NATS_SERVER)('Connhex cloud side over real NATS, HTTP and device agents', () => {
  let root: string;
  let nats: EdgeAccountsNats;
  let endpoint: ConnhexReleaseServer;
  const cleanups: (() => Promise<unknown>)[] = [];
  /** What the fleet watches could not ingest: a device without a target, a store failure. None expected. */
  const watchErrors: OtaError[] = [];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'otakit-connhex-cloud-'));
    nats = await EdgeAccountsNats.start(root, EDGES);
    endpoint = await startConnhexReleaseServer({ keys: KEYS });
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
    expect(watchErrors.splice(0)).toEqual([]);
  });
  afterAll(async () => {
    await endpoint?.close();
    await nats?.stop();
    await rm(root, { recursive: true, force: true });
  });

  async function startService(store: FleetStore = new MemoryFleetStore()): Promise<Service> {
    const connection = await connectNats(nats.url, {
      ...nats.cloud,
      reconnectTimeWait: 50,
      name: 'connhex-cloud',
    });
    const channel = natsChannel(connection);
    const fleet = new Fleet({ store });
    const publisher = createUpdatePublisher({
      protocol: connhex.protocol,
      channels: { nats: channel },
      fleet,
    });
    const results: PublisherStatusEvent<connhex.Target>[] = [];
    const latest = new Map<string, DeviceSnapshot>();
    publisher.on('status', (event) => results.push(event));
    const reached = new Map<string, string[]>();
    fleet.on('device', (snapshot) => latest.set(snapshot.deviceId, snapshot));
    fleet.on('transition', ({ deviceId, to }) =>
      reached.set(deviceId, [...(reached.get(deviceId) ?? []), to]),
    );
    const stop = await watchConnhexFleet(publisher, {
      nats: channel,
      subject: EDGE_SUBJECTS,
      target: { baseUrl: endpoint.url, allowHttp: true },
      onError: (error) => watchErrors.push(error),
    });
    let closed = false;
    const service: Service = {
      fleet,
      results,
      latest,
      reached,
      async close() {
        if (closed) return;
        closed = true;
        await stop();
        await publisher.close();
        await connection.close();
      },
    };
    cleanups.push(() => service.close());
    return service;
  }

  async function startAgent(
    initId: string,
    options: Partial<ConnhexAgentOptions> = {},
  ): Promise<ConnhexAgent> {
    const dir = await mkdtemp(join(root, `${initId}-`));
    const connection = await connectNats(nats.url, { ...nats.edge(initId), reconnectTimeWait: 50 });
    cleanups.push(() => connection.close());
    const agent = createConnhexAgent({
      target: { baseUrl: endpoint.url, allowHttp: true, initId, key: KEYS[initId]! },
      nats: natsChannel(connection),
      installDirectory: join(dir, 'edge'),
      stateDirectory: join(dir, 'state'),
      currentVersion: '1.0.0',
      heartbeatIntervalMs: 60_000,
      fsync: false,
      config: { autoInstall: true },
      poll: { intervalMs: 60_000, backoff: { baseDelayMs: 20, maxDelayMs: 100 } },
      ...options,
    });
    agent.on('error', () => {});
    cleanups.push(() => agent.stop({ cancel: true }));
    await agent.start();
    return agent;
  }

  const stateOf = (service: Service, deviceId: string) => service.latest.get(deviceId)?.state;
  /** Waits until the fleet saw `deviceId` reach `state` (it may have moved on since: `updated` repeated at rest is idle). */
  const waitState = (service: Service, deviceId: string, state: string) =>
    until(
      () => service.reached.get(deviceId)?.includes(state) ?? false,
      () => `${deviceId} ${state} in the fleet, it is ${stateOf(service, deviceId)}`,
      E2E_TIMEOUT - 10_000,
    );
  const toStates = async (fleet: Fleet, deviceId: string) =>
    (await fleet.history(deviceId)).map((entry) => entry.to);

  it(
    'publish → two devices check (HEAD with their keys), download, install, and the fleet follows both from one subscription to committed',
    async () => {
      const service = await startService();
      const markers: Record<string, string> = {};
      for (const initId of ['edge-1', 'edge-2']) {
        markers[initId] = join(root, `${initId}-update-sh-ran`);
        endpoint.releases.publish({
          initId,
          version: '1.1.0',
          files: { 'service.py': 'print("1.1.0")\n' },
          updateScript: `#!/bin/sh\necho "$PWD" > '${markers[initId]}'\n`,
        });
      }
      const [first] = await Promise.all([
        startAgent('edge-1', { runUpdateScript: true }),
        startAgent('edge-2', { runUpdateScript: true }),
      ]);
      await waitState(service, 'edge-1', 'committed');
      await waitState(service, 'edge-2', 'committed');
      for (const initId of ['edge-1', 'edge-2']) {
        const device = await service.fleet.device(initId);
        expect(device).toMatchObject({
          protocol: 'connhex',
          state: 'committed',
          update: { version: '1.1.0' },
        });
        expect(device?.current?.version).toBe('1.1.0');
        const states = await toStates(service.fleet, initId);
        expect(states).toEqual(
          expect.arrayContaining([
            'checking',
            'available',
            'downloading',
            'downloaded',
            'installing',
            'committed',
          ]),
        );
        expect(states.indexOf('downloading')).toBeLessThan(states.indexOf('committed'));
        expect(await service.fleet.anomalies({ deviceId: initId })).toEqual([]);
        expect(await readFile(markers[initId]!, 'utf8')).toMatch(/\.store\/ota\/current\n$/);
      }
      // Every status came through the one subscription, each on its edge's subject.
      expect(new Set(service.results.map((result) => result.message.address))).toEqual(
        new Set(['edges.edge-1.heartbeat.ota.service', 'edges.edge-2.heartbeat.ota.service']),
      );
      expect(service.results.every((result) => result.target.statusSubject === result.message.address)).toBe(
        true,
      );
      expect((await service.fleet.counts()).committed).toBe(2);

      // Withdrawn: the next check finds nothing (404 is "no update", not a failed check), the device rests.
      endpoint.releases.withdraw({ initId: 'edge-1' });
      const heard = service.results.length;
      await expect(first.checkNow()).resolves.toBeNull();
      await waitState(service, 'edge-1', 'idle');
      const words = service.results.slice(heard).map((result) => result.result.state);
      expect(words).not.toContain('check_failed');
      expect((await service.fleet.device('edge-1'))?.current?.version).toBe('1.1.0');
    },
    E2E_TIMEOUT,
  );

  it(
    'a release for a firmware group: a device whose target names firmwareId polls the artifact endpoint and installs it',
    async () => {
      const service = await startService();
      endpoint.releases.publish({
        firmwareId: 'gateway-v2',
        version: '2.0.0',
        files: { 'service.py': 'print("2.0.0")\n' },
        updateScript: '#!/bin/sh\n',
      });
      await startAgent('edge-8', {
        target: {
          baseUrl: endpoint.url,
          allowHttp: true,
          initId: 'edge-8',
          firmwareId: 'gateway-v2',
          key: KEYS['edge-8']!,
        },
      });
      await waitState(service, 'edge-8', 'committed');
      expect((await service.fleet.device('edge-8'))?.current?.version).toBe('2.0.0');
      // The device endpoint of edge-8 has no release: only the group's artifact endpoint served it.
      expect(endpoint.releases.forDevice('edge-8')).toBeUndefined();
    },
    E2E_TIMEOUT,
  );

  it(
    'failing updates show in the fleet: a download whose digest does not match (download_failed), an update.sh that fails (install_failed)',
    async () => {
      const service = await startService();
      // edge-3: the HEAD announces a digest the file it gets does not have (a corrupted mirror).
      const stored = endpoint.releases.publish({
        firmwareId: 'mirror',
        version: '1.2.0',
        files: { 'service.py': 'print("1.2.0")\n' },
        updateScript: '#!/bin/sh\n',
      });
      endpoint.releases.publishRedirect(
        { initId: 'edge-3' },
        { ...stored.metadata, sha256: 'e'.repeat(64) },
        `${endpoint.url}/iot/firmwares/mirror/artifact`,
      );
      // edge-4: update.sh exits 3.
      endpoint.releases.publish({
        initId: 'edge-4',
        version: '1.2.0',
        files: { 'service.py': '' },
        updateScript: '#!/bin/sh\necho broken >&2\nexit 3\n',
      });
      await Promise.all([startAgent('edge-3'), startAgent('edge-4', { runUpdateScript: true })]);
      await waitState(service, 'edge-3', 'download_failed');
      await waitState(service, 'edge-4', 'install_failed');
      const digest = await service.fleet.device('edge-3');
      expect(digest?.lastError).toMatchObject({ code: 'DOWNLOAD' });
      expect(digest?.current?.version ?? '1.0.0').toBe('1.0.0');
      const script = await service.fleet.device('edge-4');
      expect(script?.lastError).toMatchObject({ code: 'INSTALL', retryable: false });
      expect(script?.lastError?.message).toMatch(/exited with (code|status) 3/);
      expect((await service.fleet.counts()).committed).toBe(0);
    },
    E2E_TIMEOUT,
  );

  it(
    'a device that goes offline mid-install (its process killed) comes back, rolls back the half install, installs again: the fleet ends committed',
    async () => {
      const service = await startService();
      const dir = await mkdtemp(join(root, 'edge-5-child-'));
      const marker = join(dir, 'update-sh-ran');
      endpoint.releases.publish({
        initId: 'edge-5',
        version: '1.3.0',
        files: { 'service.py': 'print("1.3.0")\n' },
        updateScript: `#!/bin/sh\necho ran >> '${marker}'\n`,
      });
      const child = (env: Record<string, string>, onLine: (line: string, kill: () => void) => void) => {
        const process_: ChildProcess = spawn(
          process.execPath,
          [childBundle, dir, endpoint.url, nats.url, 'edge-5', KEYS['edge-5']!],
          {
            stdio: ['ignore', 'pipe', 'inherit'],
            env: {
              ...process.env,
              ...env,
              NATS_USER: nats.edge('edge-5').user,
              NATS_PASS: nats.edge('edge-5').pass,
            },
          },
        );
        cleanups.push(async () => {
          if (process_.exitCode === null && process_.signalCode === null) process_.kill('SIGKILL');
        });
        const lines: string[] = [];
        let buffer = '';
        process_.stdout!.on('data', (chunk: Buffer) => {
          buffer += chunk.toString();
          const parts = buffer.split('\n');
          buffer = parts.pop()!;
          for (const line of parts) {
            lines.push(line);
            onLine(line, () => process_.kill('SIGKILL'));
          }
        });
        return new Promise<{ code: number | null; lines: string[] }>((resolve) =>
          process_.on('exit', (code) => resolve({ code, lines })),
        );
      };

      const first = await child({ KILL_AT_STEP: 'renamed' }, (line, kill) => {
        if (line === 'step renamed') kill();
      });
      expect(first.code).toBeNull();
      // Offline: the fleet last heard it installing, and keeps that.
      await waitState(service, 'edge-5', 'installing');
      expect(existsSync(marker)).toBe(false);

      const second = await child({}, () => {});
      expect(second.code).toBe(0);
      expect(second.lines).toContain('outcome rolled_back');
      await waitState(service, 'edge-5', 'committed');
      const states = await toStates(service.fleet, 'edge-5');
      expect(states).toContain('install_failed'); // the interrupted install, rolled back
      expect(states.at(-1)).toBe('committed');
      expect((await service.fleet.device('edge-5'))?.current?.version).toBe('1.3.0');
      expect(await readFile(marker, 'utf8')).toBe('ran\n');
    },
    E2E_TIMEOUT,
  );

  it(
    'a service restart mid-update (a new publisher and fleet on the same store) loses nothing, even what the device said while the service was down',
    async () => {
      const store = new MemoryFleetStore();
      const before = await startService(store);
      endpoint.releases.publish({
        initId: 'edge-6',
        version: '1.4.0',
        files: { 'service.py': 'print("1.4.0")\n' },
        updateScript: '#!/bin/sh\n',
      });
      // Downloaded and held at update_ready (auto_install off), repeating it every 300 ms.
      const agent = await startAgent('edge-6', {
        config: { autoDownload: true, autoInstall: false },
        heartbeatIntervalMs: 300,
      });
      await waitState(before, 'edge-6', 'downloaded');
      // update_ready goes out just before the agent starts holding the release.
      await until(
        () => agent.awaitingInstall !== null,
        () => 'the release held at update_ready',
      );
      await before.close();

      // The service is down: the device installs and says so to nobody.
      const outcome = await agent.install();
      expect(outcome?.state).toBe('committed');

      const after = await startService(store);
      // The heartbeat repeats `updated`; the new fleet reads it against the stored record.
      await waitState(after, 'edge-6', 'committed');
      const history = await after.fleet.history('edge-6');
      const states = history.map((entry) => entry.to);
      expect(states).toEqual(expect.arrayContaining(['available', 'downloading', 'downloaded', 'committed']));
      expect(states.indexOf('downloaded')).toBeLessThan(states.indexOf('committed'));
      // What was not heard is filled in, not invented as an anomaly.
      expect(history.find((entry) => entry.to === 'committed')?.skipped).toEqual(
        expect.arrayContaining(['installing']),
      );
      expect(await after.fleet.anomalies({ deviceId: 'edge-6' })).toEqual([]);
      expect((await after.fleet.device('edge-6'))?.current?.version).toBe('1.4.0');
    },
    E2E_TIMEOUT,
  );

  it(
    'duplicate, out-of-order and malformed heartbeats are duplicates and anomalies, never a crash',
    async () => {
      const service = await startService();
      const connection = await connectNats(nats.url, { ...nats.edge('edge-7'), reconnectTimeWait: 50 });
      cleanups.push(() => connection.close());
      const wire = (status: connhex.OtaStatus, error = '') =>
        connhex.encodeStatusMessage({
          current_version: status === 'updated' ? '2.0.0' : '1.0.0',
          latest_version: '2.0.0',
          status,
          error,
        });
      const sequence = [
        wire('updated'), // boot at rest: idle, which a new device already is
        wire('checking'),
        wire('update_available'),
        wire('downloading'),
        wire('downloading'), // duplicate (a heartbeat)
        wire('update_ready'),
        wire('downloading'), // late: out of order
        '{"status": "no such word"', // malformed
        wire('updating'),
        wire('updated'),
        wire('updated'), // the heartbeat repeating it: the device is at rest again (idle)
        wire('updated'), // and again: a duplicate
      ];
      // One message at a time, each flushed: NATS keeps a publisher's order, the test keeps it readable.
      for (const payload of sequence) {
        connection.publish(connhex.OTA_STATUS_SUBJECT, payload);
        await connection.flush();
      }
      await until(
        () =>
          service.results.filter((result) => result.result.deviceId === 'edge-7').length === sequence.length,
        () => `${sequence.length} results, got ${service.results.length}`,
        E2E_TIMEOUT - 10_000,
      );
      const outcomes = service.results.map((result) => result.result.outcome);
      expect(outcomes).toEqual([
        'duplicate',
        'applied',
        'applied',
        'applied',
        'duplicate',
        'applied',
        'refused',
        'refused',
        'applied',
        'applied',
        'applied',
        'duplicate',
      ]);
      const kinds = (await service.fleet.anomalies({ deviceId: 'edge-7' })).map((anomaly) => anomaly.kind);
      expect(kinds.sort()).toEqual(['invalid_status', 'out_of_order']);
      const states = await toStates(service.fleet, 'edge-7');
      expect(states).toEqual([
        'checking',
        'available',
        'downloading',
        'downloaded',
        'installing',
        'committed',
        'idle',
      ]);
      expect((await service.fleet.device('edge-7'))?.current?.version).toBe('2.0.0');
    },
    E2E_TIMEOUT,
  );
});
