/**
 * The fleet simulator on Connhex Edge, end to end against the real cloud side: Debian's
 * nats-server laid out as a Connhex back end (each edge an account of its own, its
 * `heartbeat.ota.service` imported by the cloud as `edges.<initId>.heartbeat.ota.service`), the
 * release endpoint of otakit/node on loopback, and `createUpdatePublisher` on `connhex.protocol`
 * watching every edge with one subscription into a `Fleet`. The OTA addon's heartbeat names no
 * device (each edge publishes on its own bus), so every simulated device has a NATS connection of
 * its own, logged in as its edge; the release checks (`HEAD`) and downloads share one HTTP
 * channel. Without nats-server the file skips locally and fails in CI.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { watchConnhexFleet } from '../../src/cloud/connhex-fleet-watch.js';
import { createUpdatePublisher } from '../../src/cloud/publisher.js';
import { connhex, type DeviceSnapshot, Fleet } from '../../src/index.js';
import { connectNats, natsChannel } from '../../src/nats/index.js';
import {
  type ConnhexReleaseServer,
  startConnhexReleaseServer,
} from '../../src/node/cloud/connhex-release-server.js';
import { createFleetSimulator } from '../../src/testing/index.js';
import { httpChannel } from '../../src/transport/http-channel.js';
import { EDGE_SUBJECTS, EdgeAccountsNats } from '../cloud/connhex-cloud-support.js';
import { NATS_MISSING, NATS_SERVER } from '../nats/nats-server.js';
import { IN_CI, until } from '../support/system-services.js';

type Target = connhex.Target;

const EDGES = ['sim-edge-1', 'sim-edge-2', 'sim-edge-3', 'sim-edge-4', 'sim-edge-5', 'sim-edge-6'];
const KEYS = Object.fromEntries(EDGES.map((edge) => [edge, `thing-${randomBytes(12).toString('hex')}`]));
const WAIT = 45_000;

if (!NATS_SERVER) {
  if (IN_CI) {
    describe('fleet simulator on Connhex', () => {
      it('has nats-server to run (CI must run the NATS tests)', () => {
        throw new Error(`${NATS_MISSING}. .ci/run apt-installs nats-server when CI is set.`);
      });
    });
  } else {
    console.warn(`test/testing/fleet-simulator-connhex.test.ts skipped: ${NATS_MISSING}`);
  }
}

describe.skipIf(!NATS_SERVER)(
  'fleet simulator on Connhex: nats-server, the release endpoint and the publisher',
  () => {
    let root: string;
    let nats: EdgeAccountsNats;
    let endpoint: ConnhexReleaseServer;
    const cleanups: (() => Promise<unknown>)[] = [];

    beforeAll(async () => {
      root = await mkdtemp(join(tmpdir(), 'otakit-fleet-sim-connhex-'));
      nats = await EdgeAccountsNats.start(root, EDGES);
      endpoint = await startConnhexReleaseServer({ keys: KEYS });
    });
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
    });
    afterAll(async () => {
      await endpoint?.close();
      await nats?.stop();
      await rm(root, { recursive: true, force: true });
    });

    it('6 edges check, download (SHA-256 checked), install and report updated: committed in the fleet; one reports download_failed; one stays silent', async () => {
      const connection = await connectNats(nats.url, { ...nats.cloud, reconnectTimeWait: 50 });
      cleanups.push(() => connection.close());
      const cloud = natsChannel(connection);
      const fleet = new Fleet();
      const reached = new Map<string, string[]>();
      const latest = new Map<string, DeviceSnapshot>();
      fleet.on('device', (snapshot) => latest.set(snapshot.deviceId, snapshot));
      fleet.on('transition', ({ deviceId, to }) =>
        reached.set(deviceId, [...(reached.get(deviceId) ?? []), to]),
      );
      const publisher = createUpdatePublisher({
        protocol: connhex.protocol,
        channels: { nats: cloud },
        fleet,
      });
      cleanups.push(() => publisher.close());
      const stopWatching = await watchConnhexFleet(publisher, {
        nats: cloud,
        subject: EDGE_SUBJECTS,
        target: { baseUrl: endpoint.url, allowHttp: true },
      });
      cleanups.push(stopWatching);

      // The release, for every edge: the endpoint answers each device's HEAD with its headers.
      for (const initId of EDGES) {
        endpoint.releases.publish({
          initId,
          version: '1.1.0',
          files: { 'service.py': 'print("1.1.0")\n' },
          updateScript: '#!/bin/sh\nexit 0\n',
        });
      }
      const [failing, silent] = [EDGES[1]!, EDGES[3]!];
      const devices = [];
      for (const initId of EDGES) {
        // Each edge on its own bus: its login maps its heartbeat to edges.<initId>.heartbeat.ota.service.
        const edge = await connectNats(nats.url, { ...nats.edge(initId), reconnectTimeWait: 50 });
        cleanups.push(() => edge.close());
        devices.push({
          id: initId,
          target: { baseUrl: endpoint.url, allowHttp: true, initId, key: KEYS[initId]! } satisfies Target,
          channels: { nats: natsChannel(edge) },
        });
      }
      const sim = createFleetSimulator<Target>({
        protocol: connhex.protocol,
        devices,
        channels: { http: httpChannel({ timeoutMs: 10_000 }) },
        installed: { id: '1.0.0', version: '1.0.0' },
        poll: { intervalMs: 60 * 60_000 },
        download: {
          mode: 'fetch',
          // The addon downloads the release with its thing key, as it checks it.
          request: (artifact, device) => ({
            url: artifact.url,
            headers: { authorization: `Thing ${device.target.key}` },
          }),
        },
        failures: [
          { kind: 'download_failed', devices: [failing] },
          { kind: 'silent', devices: [silent] },
        ],
      });
      cleanups.push(() => sim.stop());
      await sim.start();

      const healthy = EDGES.filter((id) => id !== failing && id !== silent);
      await until(
        () =>
          healthy.every((id) => latest.get(id)?.state === 'committed') &&
          latest.get(failing)?.state === 'download_failed',
        () => `the fleet settled: ${JSON.stringify([...latest.values()].map((d) => [d.deviceId, d.state]))}`,
        WAIT,
      );
      for (const id of healthy) {
        expect(latest.get(id)).toMatchObject({
          protocol: 'connhex',
          state: 'committed',
          update: { version: '1.1.0' },
          current: { version: '1.1.0' },
        });
        expect(reached.get(id)).toEqual([
          'available',
          'downloading',
          'downloaded',
          'installing',
          'committed',
        ]);
        expect(sim.device(id).installs).toEqual({ '1.1.0': 1 });
      }
      // The addon's word on the wire: download_failed, with the error text.
      expect(latest.get(failing)).toMatchObject({
        state: 'download_failed',
        lastError: { code: 'DOWNLOAD' },
      });
      expect(sim.device(failing)).toMatchObject({ installed: { version: '1.0.0' }, installs: {} });
      // The silent edge checked (it polls) but never published a heartbeat: the fleet never heard of it.
      expect(sim.device(silent)).toMatchObject({ ordersReceived: 1, messagesSent: 0 });
      expect(latest.has(silent)).toBe(false);
      expect([...sim.installCounts('1.1.0').values()]).toEqual(
        EDGES.map((id) => (healthy.includes(id) ? 1 : 0)),
      );
      expect(sim.stats().errors).toBe(0);
      expect(await fleet.anomalies()).toEqual([]);
    });
  },
);
