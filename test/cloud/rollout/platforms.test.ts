/**
 * Staged rollouts over each platform's real cloud side: the rollout orchestrator sends its orders
 * through the platform's own publisher (or release server) behind a `RolloutDispatcher`, and
 * learns every outcome from the `Fleet` that publisher feeds from the wire, while simulated
 * devices (`createFleetSimulator`) answer on aedes, nats-server and loopback HTTP servers as the
 * simulator's own tests wire them (test/testing/fleet-simulator-*.test.ts).
 *
 * Each rollout has a canary wave before the rest and must end `completed`, every healthy device
 * `succeeded` in the rollout, `committed` in the fleet and installed exactly once. Failures are
 * each platform's truth: a device that reports a failure (insigh.io, ThingsBoard, Connhex,
 * Exosite) fails with that kind; on Degu and micropython_ota, whose wire has no word for a
 * failure, a failing device says nothing and ends `timed_out`.
 *
 * Time: rollouts that need a device timeout run the orchestrator on a `ManualClock` (ClockDriver):
 * timers due now fire, but time moves only when the test advances it, after every other device
 * has settled, so a healthy device on a slow machine can never time out. The devices, brokers and
 * servers run on real time. Nothing is timed; waits poll for a condition and their limits only
 * catch a hang.
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { afterEach, describe, expect, it } from 'vitest';
import { watchConnhexFleet } from '../../../src/cloud/connhex-fleet-watch.js';
import { connhexPublisherChannel } from '../../../src/cloud/connhex-publisher-channel.js';
import { createDeguPublisher, mqttShadows } from '../../../src/cloud/degu/index.js';
import { createExositePublisher } from '../../../src/cloud/exosite/publisher.js';
import { Fleet } from '../../../src/cloud/fleet/fleet.js';
import { MemoryPackageStore } from '../../../src/cloud/insighio/package-store.js';
import { createInsighIoPublisher } from '../../../src/cloud/insighio/publisher.js';
import { createUpdatePublisher } from '../../../src/cloud/publisher.js';
import { publisherDispatcher, type RolloutDispatcher } from '../../../src/cloud/rollout/dispatcher.js';
import { createThingsBoardPublisher } from '../../../src/cloud/thingsboard/publisher.js';
import { MemoryStore } from '../../../src/core/store.js';
import { connhex, degu, exosite, insighIo, micropythonOta, thingsBoard } from '../../../src/index.js';
import { type Manifest, ManifestSchema } from '../../../src/manifest/schema.js';
import { connectMqtt } from '../../../src/mqtt/index.js';
import { connectNats, natsChannel } from '../../../src/nats/index.js';
import { rerouted } from '../../../src/node/agents/exosite-channel.js';
import { startConnhexReleaseServer } from '../../../src/node/cloud/connhex-release-server.js';
import { createExositeDeviceApi } from '../../../src/node/cloud/exosite-device-api.js';
import { startInsighIoPackageServer } from '../../../src/node/cloud/insighio-package-server.js';
import { publishRelease } from '../../../src/node/cloud/micropython-ota-publish.js';
import {
  type FetchEvent,
  startMicropythonOtaServer,
} from '../../../src/node/cloud/micropython-ota-server.js';
import {
  createThingsBoardDeviceGateway,
  type GatewayDevice,
} from '../../../src/node/cloud/thingsboard-device-gateway.js';
import { thingsBoardGatewayHttpHandler } from '../../../src/node/cloud/thingsboard-gateway-http.js';
import { fileChannel } from '../../../src/node/file-channel.js';
import type { Protocol, WireSource } from '../../../src/protocols/contract.js';
import { otaTopic } from '../../../src/protocols/insighio/topics.js';
import { createFaultServer, createFleetSimulator, ManualClock } from '../../../src/testing/index.js';
import { createShadowService } from '../../../src/testing/shadow-service.js';
import { httpChannel } from '../../../src/transport/http-channel.js';
import { mqttChannel } from '../../../src/transport/mqtt-channel.js';
import { startAedes } from '../../device/insighio-support.js';
import { NATS_MISSING, NATS_SERVER } from '../../nats/nats-server.js';
import { startLoopbackAedes } from '../../support/aedes.js';
import { IN_CI } from '../../support/system-services.js';
import { EDGE_SUBJECTS, EdgeAccountsNats } from '../connhex-cloud-support.js';
import {
  advanceUntil,
  Cleanups,
  ClockDriver,
  dataOf,
  dataUrl,
  eventually,
  expectRolledOut,
  expectStaged,
  summary as line,
  orchestratorOf,
  rolloutIn,
  sequenceOf,
  underWay,
} from './platform-support.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, index) => `${prefix}-${index + 1}`);
const manifestOf = (input: unknown): Manifest => ManifestSchema.parse(input);

describe('rollout on insigh.io: the real publisher and package server on aedes', () => {
  it('canary, then 100 %: 9 devices download with their key, install once and report e=1; one reports e=2 "can not verify" and fails as verify_failed', async () => {
    const broker = await startAedes();
    cleanups.add(() => broker.stop());
    const CC = 'ctrl-rollout';
    const keyOf = (deviceId: string) => `dk-${deviceId}-S3cret`;
    const connect = async (name: string) => {
      const connection = await connectMqtt(broker.url, { clientId: `${name}-${process.pid}` });
      cleanups.add(() => connection.close());
      return connection;
    };

    // The service: publisher and fleet on one connection, the package server on loopback.
    const packages = new MemoryPackageStore();
    const fleet = new Fleet();
    const publisher = createInsighIoPublisher({
      mqtt: mqttChannel(await connect('service')),
      store: new MemoryStore(),
      packages,
      fleet,
    });
    cleanups.add(() => publisher.close());
    const server = await startInsighIoPackageServer({
      packages,
      deviceKey: ({ deviceId, controlChannelId }) => (controlChannelId === CC ? keyOf(deviceId) : undefined),
    });
    cleanups.add(() => server.close());
    const targetOf = (deviceId: string): insighIo.Target => ({
      controlChannelId: CC,
      deviceId,
      baseUrl: server.baseUrl,
      allowInsecureHttp: true,
    });

    const devices = ids('ins', 10);
    const failing = devices[4]!;
    const sim = createFleetSimulator<insighIo.Target>({
      protocol: insighIo.protocol,
      devices: devices.map((id) => ({ id, target: targetOf(id) })),
      channels: { mqtt: mqttChannel(await connect('fleet')) },
      download: {
        mode: 'fetch',
        // The device key joins the URL on the wire only, as the agent's downloadAuth does.
        request: (artifact, device) => {
          const url = new URL(artifact.url);
          url.searchParams.set('dk', keyOf(device.id));
          return { url: url.href };
        },
      },
      failures: { kind: 'verify_failed', devices: [failing] },
    });
    cleanups.add(() => sim.stop());
    await sim.start();
    for (const id of devices) await publisher.watch(targetOf(id));

    // The build rolled out: its files travel in the manifest; the insigh.io publisher packs them
    // into the package it stores and orders by file id. Its publish() takes a release (files or
    // a package), not a canonical manifest, so it needs this dispatcher: publisherDispatcher()
    // over it type-checks but every order would fail ("either files or a package").
    const manifest = manifestOf({
      id: 'demo-app',
      version: '2.0.0',
      artifacts: [{ url: dataUrl('print("v2")\n'), target: 'file', name: 'boot.py' }],
    });
    const fileIds = new Set<string>();
    const dispatcher: RolloutDispatcher = {
      async dispatch(deviceId, order, { signal }) {
        const { entry } = await publisher.publish(
          targetOf(deviceId),
          {
            id: order.id,
            version: order.version,
            files: order.artifacts.map((artifact) => ({ path: artifact.name!, data: dataOf(artifact.url) })),
          },
          signal === undefined ? {} : { signal },
        );
        fileIds.add(entry.fileId);
      },
      withdraw: async (deviceId) => void (await publisher.withdraw(targetOf(deviceId))),
    };
    const orchestrator = orchestratorOf(cleanups, { fleet, dispatcher });
    const log = sequenceOf(orchestrator, sim);

    await orchestrator.start({
      id: 'insighio-2.0.0',
      manifest,
      devices,
      waves: [{ name: 'canary', count: 1 }, { percent: 100 }],
    });
    const done = await rolloutIn(orchestrator, 'insighio-2.0.0', 'completed');
    expect(
      done.waves.map((wave) => [wave.name, wave.size]),
      line(done),
    ).toEqual([
      ['canary', 1],
      ['wave 2', 9],
    ]);
    expect(fileIds.size).toBe(1);
    const [fileId] = [...fileIds];
    await expectRolledOut(orchestrator, 'insighio-2.0.0', fleet, sim, manifest, {
      healthy: devices.filter((id) => id !== failing),
      failing: { [failing]: 'verify_failed' },
      installedAs: fileId!,
    });
    expectStaged(log, [devices.slice(0, 1), devices.slice(1)]);
    // insigh.io's word for it on the wire: e=2 with the firmware's message, kept as the row's error.
    expect(broker.publishes.map((p) => `${p.topic} ${p.payload}`)).toContain(
      `${otaTopic(targetOf(failing))} [{"n":"e","v":2},{"n":"i","vs":"${fileId}"},{"n":"m","vs":"can not verify"}]`,
    );
    const [row] = await orchestrator.devices('insighio-2.0.0', { state: ['failed'] });
    expect(row).toMatchObject({ deviceId: failing, error: { message: 'can not verify' } });
    expect(await fleet.anomalies()).toEqual([]);
  });
});

describe('rollout on Degu: the real publisher and shadow service on aedes', () => {
  it('canary, then 100 %: 9 things install the MD5-checked files once and report them (committed); one fails its health check, says nothing, as a Degu does, and times out', async () => {
    const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');
    const SCRIPT = Buffer.from("print('R')\n");
    const CONFIG = Buffer.from('interval=30\n');
    const broker = await startLoopbackAedes();
    cleanups.add(() => broker.close());
    const connect = async (name: string) => {
      const connection = await connectMqtt(broker.url, {
        clientId: `${name}-${process.pid}`,
        reconnect: { initialMs: 20, maxMs: 100 },
      });
      cleanups.add(() => connection.close());
      return connection;
    };
    // AWS IoT Core's shadow service, answering on the broker.
    const shadows = createShadowService({ connection: await connect('shadow-service') });
    await shadows.start();
    cleanups.add(() => shadows.stop());
    const files = await createFaultServer();
    cleanups.add(() => files.close());
    files.route('/main_R.py', { body: SCRIPT });
    files.route('/CONFIG_R', { body: CONFIG });

    const things = ids(`RODEGU${process.pid}N`, 10).map((id) => id.replace('-', ''));
    const unhealthy = things[3]!;
    const sim = createFleetSimulator<degu.Target>({
      protocol: degu.protocol,
      devices: things.map((thingName) => ({ id: thingName, target: { thingName } })),
      channels: { mqtt: mqttChannel(await connect('fleet')) },
      download: { mode: 'fetch' },
      failures: { kind: 'rolled_back', devices: [unhealthy] },
    });
    cleanups.add(() => sim.stop());
    await sim.start();

    const publisher = createDeguPublisher({
      shadow: mqttShadows(await connect('publisher')),
      clearDesiredOnSuccess: true,
    });
    cleanups.add(() => publisher.close());
    const manifest = manifestOf({
      id: 'release-r',
      version: '3.0.0',
      artifacts: [
        { url: `${files.url}/main_R.py`, md5: md5(SCRIPT), target: 'script' },
        { url: `${files.url}/CONFIG_R`, md5: md5(CONFIG), target: 'config' },
      ],
    });
    // Degu renames the update: its fleet knows it by the items and MD5s of the order.
    const reportedAs = `degu:script_user=${md5(SCRIPT)},config_user=${md5(CONFIG)}`;
    // The Degu publisher never throws for one thing (each write has a result): a refused write
    // must reach the rollout as a dispatch failure, not pass for an order sent.
    const dispatcher: RolloutDispatcher = {
      async dispatch(thingName, order, { signal }) {
        const [result] = await publisher.publish(thingName, order, signal === undefined ? {} : { signal });
        if (!result!.ok) throw result!.error;
        expect(result!.updateId).toBe(reportedAs);
      },
    };
    const clock = new ManualClock();
    const driver = new ClockDriver(clock);
    cleanups.add(() => driver.stop());
    const orchestrator = orchestratorOf(cleanups, { fleet: publisher.fleet, dispatcher, clock });
    const log = sequenceOf(orchestrator, sim);

    await orchestrator.start({
      id: 'degu-r',
      manifest,
      devices: things,
      waves: [{ name: 'canary', count: 1 }, { percent: 100 }],
      reportedAs: { updateId: reportedAs },
      deviceTimeoutMs: 60_000,
    });
    // Every other thing settles on real time while the clock stands still: the unhealthy one,
    // whose rollback Degu cannot report, is still awaited.
    const awaiting = await eventually(
      () => orchestrator.snapshot('degu-r'),
      (snapshot) => snapshot.totals.succeeded === 9 && snapshot.totals.in_progress === 1,
      (snapshot) => `9 things succeeded, one awaited: ${line(snapshot)}`,
    );
    expect(awaiting).toMatchObject({ state: 'running', totals: { in_progress: 1, timed_out: 0 } });
    await sim.waitFor((simulator) => simulator.device(unhealthy).running === null);
    expect(sim.device(unhealthy)).toMatchObject({ state: 'idle', installs: {} });
    expect(await publisher.fleet.device(unhealthy)).toMatchObject({ state: 'available' });
    // Its timeout runs out on the clock: timed out, the one truth a Degu rollout can know.
    await advanceUntil(
      driver,
      orchestrator,
      'degu-r',
      (snapshot) => snapshot.state === 'completed' && underWay(snapshot) === 0,
      120_000,
    );
    await expectRolledOut(orchestrator, 'degu-r', publisher.fleet, sim, manifest, {
      healthy: things.filter((thing) => thing !== unhealthy),
      failing: { [unhealthy]: 'timed_out' },
      installedAs: reportedAs,
      reportedAs: { updateId: reportedAs },
    });
    expectStaged(log, [things.slice(0, 1), things.slice(1)]);
    for (const thing of things.filter((each) => each !== unhealthy)) {
      expect(shadows.shadow({ thingName: thing })?.state.reported, thing).toMatchObject({
        script_user_ver: md5(SCRIPT),
        config_user_ver: md5(CONFIG),
      });
    }
    expect(shadows.shadow({ thingName: unhealthy })?.state.reported).toBeUndefined();
    expect(await publisher.fleet.anomalies()).toEqual([]);
  });
});

describe('rollout on ThingsBoard: the real device gateway and publisher', () => {
  async function listen(server: Server | ReturnType<typeof createHttpServer>): Promise<number> {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return (server.address() as AddressInfo).port;
  }

  it('canary of 2, then 100 %: 8 devices fetch the package over HTTP, check its SHA-256 and report UPDATED; one never answers and times out; one reports FAILED, settled install_failed though the telemetry names no update', async () => {
    const identities: GatewayDevice[] = ids('tb-roll', 10).map((deviceId) => ({
      deviceId,
      accessToken: `TB_${deviceId}_${randomBytes(6).toString('hex')}`,
    }));
    // ThingsBoard's device MQTT API on aedes and its HTTP firmware endpoint, as the simulator's
    // ThingsBoard test starts them; the publisher assigns packages through the same gateway.
    const broker = await Aedes.createBroker();
    const gateway = createThingsBoardDeviceGateway({ broker, devices: identities });
    const fleet = new Fleet();
    const publisher = createThingsBoardPublisher({ backend: gateway, fleet });
    publisher.watch();
    const sockets = new Set<Socket>();
    const mqtt = createServer((socket) => {
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      broker.handle(socket);
    });
    const http = createHttpServer(thingsBoardGatewayHttpHandler(gateway));
    const mqttPort = await listen(mqtt);
    const httpPort = await listen(http);
    cleanups.add(async () => {
      await publisher.close();
      await gateway.close();
      const closing = new Promise<void>((resolve) => mqtt.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closing;
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    });
    const next = gateway.addPackage({
      title: 'app',
      version: '1.1',
      data: new Uint8Array(randomBytes(20_000)),
    });

    const devices = identities.map((each) => each.deviceId);
    const [failing, silent] = [devices[2]!, devices[7]!];
    const tokenOf = new Map(identities.map((each) => [each.deviceId, each.accessToken]));
    const simDevices = [];
    for (const each of identities) {
      // ThingsBoard knows a device by the MQTT session its access token opened: one each.
      const connection = await connectMqtt(`mqtt://127.0.0.1:${mqttPort}`, {
        username: each.accessToken,
        reconnect: { initialMs: 20, maxMs: 100 },
      });
      cleanups.add(() => connection.close());
      simDevices.push({
        id: each.deviceId,
        target: { accessToken: each.accessToken } satisfies thingsBoard.Target,
        channels: { mqtt: mqttChannel(connection) },
      });
    }
    const sim = createFleetSimulator<thingsBoard.Target>({
      protocol: thingsBoard.protocol,
      devices: simDevices,
      installed: { id: 'fw:app@1.0', version: '1.0' },
      download: {
        mode: 'fetch',
        request: (artifact, device) => ({
          url: `http://127.0.0.1:${httpPort}/api/v1/${tokenOf.get(device.id)}/${artifact.url}`,
        }),
      },
      failures: [
        { kind: 'install_failed', devices: [failing] },
        { kind: 'silent', devices: [silent] },
      ],
    });
    cleanups.add(() => sim.stop());
    await sim.start();

    const clock = new ManualClock();
    const driver = new ClockDriver(clock);
    cleanups.add(() => driver.stop());
    // The ThingsBoard publisher names a device by its id: the rollout's ids are its targets.
    const orchestrator = orchestratorOf(cleanups, {
      fleet,
      dispatcher: publisherDispatcher(publisher, (deviceId) => deviceId),
      clock,
    });
    const log = sequenceOf(orchestrator, sim);
    const manifest = manifestOf(next.manifest);
    const failures: Array<{ deviceId: string; to: string; update: unknown }> = [];
    fleet.on('transition', ({ deviceId, to, update }) => {
      if (to === 'install_failed') failures.push({ deviceId, to, update });
    });
    await orchestrator.start({
      id: 'tb-app-1.1',
      manifest,
      devices,
      waves: [{ name: 'canary', count: 2 }, { percent: 100 }],
      deviceTimeoutMs: 120_000,
    });
    const healthy = devices.filter((id) => id !== failing && id !== silent);
    const awaiting = await eventually(
      async () => ({
        rollout: await orchestrator.snapshot('tb-app-1.1'),
        failed: await fleet.device(failing),
      }),
      ({ rollout, failed }) =>
        rollout.totals.succeeded === healthy.length &&
        rollout.totals.in_progress === 1 &&
        rollout.totals.failed === 1 &&
        failed?.state === 'install_failed',
      ({ rollout, failed }) =>
        `8 succeeded, ${failing} install_failed in the fleet and the rollout: ${line(rollout)}, ${failed?.state}`,
    );
    // The silent device heard its attributes and said nothing: still awaited, the clock unmoved.
    expect(sim.device(silent)).toMatchObject({ ordersReceived: 1, messagesSent: 0 });
    expect(await fleet.device(silent)).toBeUndefined();
    // ThingsBoard's word on the wire, FAILED with fw_error, reached the fleet as install_failed…
    expect(sim.device(failing)).toMatchObject({ installed: { id: 'fw:app@1.0' }, installs: {} });
    expect(awaiting.failed).toMatchObject({ state: 'install_failed', lastError: { code: 'INSTALL' } });
    // …about no update: ThingsBoard's telemetry names the package only in UPDATED. The
    // orchestrator takes a failure that names no update as the failure of the order under way,
    // so the row settles install_failed at once, without waiting for its timeout.
    expect(awaiting.failed?.update).toBeNull();
    expect(failures).toEqual([{ deviceId: failing, to: 'install_failed', update: null }]);
    expect(awaiting.rollout).toMatchObject({
      state: 'running',
      totals: { in_progress: 1, failed: 1, timed_out: 0 },
      failures: { install_failed: 1 },
    });
    await advanceUntil(
      driver,
      orchestrator,
      'tb-app-1.1',
      (snapshot) => snapshot.state === 'completed' && underWay(snapshot) === 0,
      240_000,
    );
    await expectRolledOut(orchestrator, 'tb-app-1.1', fleet, sim, manifest, {
      healthy,
      failing: { [failing]: 'install_failed', [silent]: 'timed_out' },
      installedAs: manifest.id,
    });
    expectStaged(log, [devices.slice(0, 2), devices.slice(2)]);
    const rows = new Map((await orchestrator.devices('tb-app-1.1')).map((row) => [row.deviceId, row]));
    expect(rows.get(silent)).toMatchObject({ error: { code: 'TIMEOUT' } });
    expect(await fleet.anomalies()).toEqual([]);
  });
});

if (!NATS_SERVER) {
  if (IN_CI) {
    describe('rollout on Connhex', () => {
      it('has nats-server to run (CI must run the NATS tests)', () => {
        throw new Error(`${NATS_MISSING}. .ci/run apt-installs nats-server when CI is set.`);
      });
    });
  } else {
    console.warn(`test/cloud/rollout/platforms.test.ts: the Connhex rollout skipped: ${NATS_MISSING}`);
  }
}

describe.skipIf(!NATS_SERVER)(
  'rollout on Connhex: nats-server, the release endpoint and the publisher',
  () => {
    it('canary, 50 %, 100 %: two edges of the second wave report download_failed, a failure-rate threshold pauses the rollout before the third wave; resumed, it completes', async () => {
      const edges = ids('roll-edge', 10);
      const keys = Object.fromEntries(
        edges.map((edge) => [edge, `thing-${randomBytes(12).toString('hex')}`]),
      );
      const TOKEN = `publisher-${randomBytes(12).toString('hex')}`;
      const root = await mkdtemp(join(tmpdir(), 'otakit-rollout-connhex-'));
      cleanups.add(() => rm(root, { recursive: true, force: true }));
      // Each edge an account of its own, its heartbeat imported by the cloud account per initId.
      const nats = await EdgeAccountsNats.start(root, edges);
      cleanups.add(() => nats.stop());
      const endpoint = await startConnhexReleaseServer({ keys, publisherToken: TOKEN });
      cleanups.add(() => endpoint.close());

      const connection = await connectNats(nats.url, { ...nats.cloud, reconnectTimeWait: 50 });
      cleanups.add(() => connection.close());
      const cloud = natsChannel(connection);
      const fleet = new Fleet();
      // Orders are PUTs of the release JSON to each edge's release endpoint, with the publisher token.
      const publisher = createUpdatePublisher({
        protocol: connhex.protocol,
        channels: { http: connhexPublisherChannel(httpChannel({ timeoutMs: 10_000 }), TOKEN), nats: cloud },
        fleet,
      });
      cleanups.add(() => publisher.close());
      cleanups.add(
        await watchConnhexFleet(publisher, {
          nats: cloud,
          subject: EDGE_SUBJECTS,
          target: { baseUrl: endpoint.url, allowHttp: true },
        }),
      );

      const [failingA, failingB] = [edges[2]!, edges[3]!];
      const simDevices = [];
      for (const initId of edges) {
        // The addon's heartbeat names no device: each edge publishes on its own bus.
        const edge = await connectNats(nats.url, { ...nats.edge(initId), reconnectTimeWait: 50 });
        cleanups.add(() => edge.close());
        simDevices.push({
          id: initId,
          target: {
            baseUrl: endpoint.url,
            allowHttp: true,
            initId,
            key: keys[initId]!,
          } satisfies connhex.Target,
          channels: { nats: natsChannel(edge) },
        });
      }
      const sim = createFleetSimulator<connhex.Target>({
        protocol: connhex.protocol,
        devices: simDevices,
        channels: { http: httpChannel({ timeoutMs: 10_000 }) },
        installed: { id: '1.0.0', version: '1.0.0' },
        // The addon's check_interval: every edge HEADs its endpoint, which answers 404 until ordered.
        poll: { intervalMs: 150 },
        download: {
          mode: 'fetch',
          request: (artifact, device) => ({
            url: artifact.url,
            headers: { authorization: `Thing ${device.target.key}` },
          }),
        },
        failures: { kind: 'download_failed', devices: [failingA, failingB] },
      });
      cleanups.add(() => sim.stop());
      await sim.start();

      const { sha256, size } = endpoint.releases.addPackage({
        files: { 'service.py': 'print("1.1.0")\n' },
        updateScript: '#!/bin/sh\nexit 0\n',
      });
      const releaseUrl = (initId: string) => `${endpoint.url}/iot/ota/${initId}`;
      const manifest = manifestOf({
        id: '1.1.0',
        version: '1.1.0',
        artifacts: [{ url: releaseUrl(edges[0]!), sha256, size, target: 'package' }],
      });
      // A Connhex edge downloads from its own release endpoint only: each order names that edge's
      // endpoint, which serves the package the endpoint holds by its SHA-256.
      const dispatcher: RolloutDispatcher = {
        async dispatch(initId, order, { signal }) {
          const own = { ...order, artifacts: [{ ...order.artifacts[0]!, url: releaseUrl(initId) }] };
          const { lost } = await publisher.publish(
            { baseUrl: endpoint.url, allowHttp: true, initId },
            own,
            signal === undefined ? {} : { signal },
          );
          expect(lost).toEqual([]);
        },
        withdraw: async (initId) =>
          void (await publisher.withdraw({ baseUrl: endpoint.url, allowHttp: true, initId })),
      };
      const orchestrator = orchestratorOf(cleanups, { fleet, dispatcher });
      const log = sequenceOf(orchestrator, sim);
      const thresholds: Array<{ rate: number; sample: number; action: string }> = [];
      orchestrator.on('threshold', ({ rate, sample, action }) => thresholds.push({ rate, sample, action }));

      await orchestrator.start({
        id: 'connhex-1.1.0',
        manifest,
        devices: edges,
        waves: [{ name: 'canary', count: 1 }, { percent: 50 }, { percent: 100 }],
        thresholds: [{ failureRate: 0.3, minSample: 4, action: 'pause' }],
      });
      // Paused by the threshold once enough of the second wave settled; the devices it had ordered
      // still settle, the third wave is never ordered.
      const paused = await eventually(
        () => orchestrator.snapshot('connhex-1.1.0'),
        (snapshot) => snapshot.state === 'paused' && snapshot.totals.succeeded + snapshot.totals.failed === 5,
        (snapshot) => `paused with the first two waves settled: ${line(snapshot)}`,
      );
      expect(paused).toMatchObject({
        wave: { index: 1 },
        reason: { kind: 'threshold', threshold: 0 },
        totals: { succeeded: 3, failed: 2, pending: 5, in_progress: 0 },
        failures: { download_failed: 2 },
      });
      expect(thresholds).toHaveLength(1);
      expect(thresholds[0]!.action).toBe('pause');
      expect(thresholds[0]!.rate).toBeGreaterThanOrEqual(0.3);
      expect(thresholds[0]!.sample).toBeGreaterThanOrEqual(4);
      const third = edges.slice(5);
      for (const edge of third) {
        // Checking all along, and finding nothing: no release was published at its endpoint.
        expect(sim.device(edge), edge).toMatchObject({ ordersReceived: 0, installs: {} });
        expect(endpoint.releases.forDevice(edge), edge).toBeUndefined();
      }
      for (const edge of [failingA, failingB]) {
        expect(await fleet.device(edge), edge).toMatchObject({
          state: 'download_failed',
          lastError: { code: 'DOWNLOAD' },
        });
      }

      await orchestrator.resume('connhex-1.1.0');
      const done = await rolloutIn(orchestrator, 'connhex-1.1.0', 'completed');
      // Resumed, the threshold counts only what settled after: the third wave, all healthy.
      expect(done.reason).toBeNull();
      expect(thresholds).toHaveLength(1);
      await expectRolledOut(orchestrator, 'connhex-1.1.0', fleet, sim, manifest, {
        healthy: edges.filter((edge) => edge !== failingA && edge !== failingB),
        failing: { [failingA]: 'download_failed', [failingB]: 'download_failed' },
        installedAs: '1.1.0',
      });
      expectStaged(log, [edges.slice(0, 1), edges.slice(1, 5), third]);
      expect(await fleet.anomalies()).toEqual([]);
    });
  },
);

describe('rollout on Exosite: the local Murano device API and the publisher', () => {
  it('canary, then 100 % at most 3 in flight: 9 devices long-poll, acknowledge, download with their token and report INSTALLED_VERSION; one reports INSTALL_ERROR and fails as install_failed', async () => {
    const PRODUCT = 'rollout1';
    const ORIGIN = `https://${PRODUCT}.m2.exosite.io`;
    const MANAGEMENT = `mgmt-${randomBytes(12).toString('hex')}`;
    const identities = ids('sensor', 10);
    const tokens = Object.fromEntries(
      identities.map((identity) => [identity, `cik-${identity}-${randomBytes(10).toString('hex')}`]),
    );
    const service = await createExositeDeviceApi({
      productId: PRODUCT,
      devices: identities.map((identity) => ({ identity, token: tokens[identity]! })),
      content: { 'app-2.0.0.bin': 'application 2.0.0\n', 'notes.txt': 'release notes\n' },
      managementToken: MANAGEMENT,
    });
    cleanups.add(() => service.close());
    const publisher = createExositePublisher({
      http: httpChannel({ baseUrl: service.origin, headers: { authorization: `Bearer ${MANAGEMENT}` } }),
      pollWaitMs: 1_000,
      backoff: { baseDelayMs: 20, maxDelayMs: 200 },
    });
    cleanups.add(() => publisher.close());
    const targetOf = (identity: string): exosite.Target => ({
      productId: PRODUCT,
      identity,
      transport: 'http',
      token: tokens[identity]!,
      longPollTimeoutMs: 1_000,
    });
    for (const identity of identities) await publisher.watch(targetOf(identity));

    // The first long poll asks If-Modified-Since the epoch, as createExositeAgent does.
    const EPOCH = new Date(0).toUTCString();
    const protocol: Protocol<string, string | number, exosite.Target> = {
      ...exosite.protocol,
      device: {
        ...exosite.protocol.device,
        orderSources: (target) =>
          exosite.protocol.device.orderSources(target).map(
            (source): WireSource =>
              source.channel === 'http'
                ? {
                    ...source,
                    request: {
                      ...source.request,
                      headers: { ...source.request.headers, 'if-modified-since': EPOCH },
                    },
                  }
                : source,
          ),
      },
    };
    const failing = identities[6]!;
    const sim = createFleetSimulator<exosite.Target>({
      protocol,
      devices: identities.map((identity) => ({ id: identity, target: targetOf(identity) })),
      // The device API where it really is: the loopback service instead of <productId>.m2.exosite.io.
      channels: { http: rerouted(httpChannel({ timeoutMs: 10_000 }), ORIGIN, service.origin) },
      installed: { id: '1.0.0', version: '1.0.0' },
      acknowledge: exosite.acknowledgeOrder,
      poll: { backoff: { baseDelayMs: 20, maxDelayMs: 200 } },
      download: {
        mode: 'fetch',
        request: (artifact, device) => ({
          url: artifact.url.replace(ORIGIN, service.origin),
          headers: { 'x-exosite-cik': tokens[device.id]! },
        }),
      },
      failures: { kind: 'install_failed', devices: [failing] },
    });
    cleanups.add(() => sim.stop());
    await sim.start();

    const manifest = manifestOf({
      id: '2.0.0',
      version: '2.0.0',
      artifacts: ['app-2.0.0.bin', 'notes.txt'].map((url) => ({ url, target: 'file' })),
      extensions: { exosite: { name: 'Application', type: 'URL_LIST' } },
    });
    const orchestrator = orchestratorOf(cleanups, {
      fleet: publisher.fleet,
      dispatcher: publisherDispatcher(publisher, targetOf),
    });
    const log = sequenceOf(orchestrator, sim);
    const inFlight = new Set<string>();
    let mostInFlight = 0;
    orchestrator.on('device', ({ deviceId, to }) => {
      if (to === 'dispatching' || to === 'in_progress') inFlight.add(deviceId);
      else inFlight.delete(deviceId);
      mostInFlight = Math.max(mostInFlight, inFlight.size);
    });

    await orchestrator.start({
      id: 'exosite-2.0.0',
      manifest,
      devices: identities,
      waves: [{ name: 'canary', count: 1 }, { percent: 100 }],
      maxInFlight: 3,
    });
    await rolloutIn(orchestrator, 'exosite-2.0.0', 'completed');
    await expectRolledOut(orchestrator, 'exosite-2.0.0', publisher.fleet, sim, manifest, {
      healthy: identities.filter((identity) => identity !== failing),
      failing: { [failing]: 'install_failed' },
      installedAs: '2.0.0',
    });
    expectStaged(log, [identities.slice(0, 1), identities.slice(1)]);
    expect(mostInFlight).toBe(3);
    // Exosite's word on the wire: INSTALL_ERROR in otau_in, the rollout's install_failed.
    const otauWords = (identity: string) =>
      service
        .writesAfter(0)
        .filter((write) => write.identity === identity && write.alias === 'otau_in')
        .map((write) => (JSON.parse(write.value) as { status: string }).status);
    expect(otauWords(failing).at(-1)).toBe('INSTALL_ERROR');
    expect(otauWords(identities[0]!)).toEqual([
      'INSTALLED_VERSION',
      'INIT',
      'DOWNLOAD',
      'DOWNLOAD_SUCCESS',
      'INSTALL',
      'INSTALL_SUCCESS',
      'INSTALLED_VERSION',
    ]);
    expect(await publisher.fleet.anomalies()).toEqual([]);
  });
});

describe("rollout on micropython_ota: the real server, a project per board, the boards' version files", () => {
  it('canary, then 100 %: 9 boards poll, fetch both files once and write the new tag (committed in the fleet); one fails its download, keeps its tag, says nothing, and times out', async () => {
    const root = await mkdtemp(join(tmpdir(), 'otakit-rollout-mpy-'));
    cleanups.add(() => rm(root, { recursive: true, force: true }));
    const serverRoot = join(root, 'server');
    const boards = ids('board', 10);
    const filenames = ['boot.py', 'main.py'];
    // micropython_ota's order is a project's `version` file, and every board of a project polls
    // the same one: a rollout that orders boards one wave at a time needs a project per board.
    // Each board's project offers v1.0.0, which it runs, until the rollout publishes v2.0.0 there.
    for (const board of boards) {
      await publishRelease({
        root: serverRoot,
        project: board,
        version: 'v1.0.0',
        files: { 'boot.py': Buffer.from('print("boot 1")\n'), 'main.py': Buffer.from('print("main 1")\n') },
        fsync: false,
      });
    }
    const server = await startMicropythonOtaServer({ root: serverRoot });
    cleanups.add(() => server.close());
    const targetOf = (board: string): micropythonOta.Target => ({
      host: server.url,
      project: board,
      filenames,
    });

    // The fleet tool. micropython_ota has no status channel: what the server sees is all the
    // cloud hears. Each version poll says a board is alive; the tool then reads that board's own
    // `version` file and ingests it, which the protocol's cloud side decodes as `committed` with
    // the tag it names. (A real fleet tool reads it over whatever reaches the board: a REPL,
    // mpremote, a sidecar; here it is the board's directory.)
    const fleet = new Fleet();
    const versionFileOf = (board: string) => join(root, 'boards', board, 'version');
    const fetches: FetchEvent[] = [];
    const lanes = new Map<string, Promise<void>>();
    const read = new Map<string, string>();
    server.handler.on('fetch', (event) => {
      fetches.push(event);
      const board = event.path.split('/')[1]!;
      if (event.kind !== 'version' || !boards.includes(board)) return;
      const lane = (lanes.get(board) ?? Promise.resolve()).then(async () => {
        const payload = await readFile(versionFileOf(board), 'utf8').catch(() => null);
        if (payload === null || read.get(board) === payload) return;
        read.set(board, payload);
        await fleet.ingestMessage(
          micropythonOta.protocol,
          targetOf(board),
          { address: 'version', payload },
          { deviceId: board },
        );
      });
      lanes.set(
        board,
        lane.catch(() => {}),
      );
    });

    const failing = boards[5]!;
    const sim = createFleetSimulator<micropythonOta.Target>({
      protocol: micropythonOta.protocol,
      devices: boards.map((board) => ({
        id: board,
        target: targetOf(board),
        channels: { file: fileChannel({ directory: join(root, 'boards', board), fsync: false }) },
      })),
      channels: { http: httpChannel({ timeoutMs: 10_000 }) },
      installed: ({ id }) => ({ id: `${id}@v1.0.0`, version: 'v1.0.0' }),
      poll: { intervalMs: 100 },
      download: { mode: 'fetch' },
      failures: { kind: 'download_failed', devices: [failing] },
    });
    cleanups.add(() => sim.stop());
    await sim.start();
    // Every board polled once and was read: committed to v1.0.0, what it ran before the rollout.
    await eventually(
      () => Promise.all(boards.map((board) => fleet.device(board))),
      (seen) => seen.every((device) => device?.state === 'committed' && device.update?.version === 'v1.0.0'),
      (seen) => `every board read at v1.0.0: ${JSON.stringify(seen.map((device) => device?.update))}`,
    );

    const manifest = manifestOf({
      id: 'app@v2.0.0',
      version: 'v2.0.0',
      artifacts: [
        { url: dataUrl('print("boot 2")\n'), target: 'file', name: 'boot.py' },
        { url: dataUrl('print("main 2")\n'), target: 'file', name: 'main.py' },
      ],
    });
    // The publisher of micropython_ota is publishRelease: files first, the `version` file last.
    const dispatcher: RolloutDispatcher = {
      async dispatch(board, order) {
        await publishRelease({
          root: serverRoot,
          project: board,
          version: order.version,
          files: Object.fromEntries(
            order.artifacts.map((artifact) => [artifact.name!, dataOf(artifact.url)]),
          ),
          fsync: false,
        });
      },
    };
    const clock = new ManualClock();
    const driver = new ClockDriver(clock);
    cleanups.add(() => driver.stop());
    const orchestrator = orchestratorOf(cleanups, { fleet, dispatcher, clock });
    const log = sequenceOf(orchestrator, sim);
    await orchestrator.start({
      id: 'mpy-v2.0.0',
      manifest,
      devices: boards,
      waves: [{ name: 'canary', count: 1 }, { percent: 100 }],
      deviceTimeoutMs: 300_000,
    });
    const awaiting = await eventually(
      () => orchestrator.snapshot('mpy-v2.0.0'),
      (snapshot) => snapshot.totals.succeeded === 9 && snapshot.totals.in_progress === 1,
      (snapshot) => `9 boards succeeded, one awaited: ${line(snapshot)}`,
    );
    expect(awaiting).toMatchObject({ state: 'running', totals: { timed_out: 0 } });
    // The failing board tried (it fetched the version file, then failed its download) and said
    // nothing: its own version file still names v1.0.0, all the fleet can know.
    await sim.waitFor(
      (simulator) =>
        simulator.device(failing).ordersReceived > 0 && simulator.device(failing).running === null,
    );
    expect(await readFile(versionFileOf(failing), 'utf8')).toBe('v1.0.0');
    expect(await fleet.device(failing)).toMatchObject({ state: 'committed', update: { version: 'v1.0.0' } });
    await advanceUntil(
      driver,
      orchestrator,
      'mpy-v2.0.0',
      (snapshot) => snapshot.state === 'completed' && underWay(snapshot) === 0,
      600_000,
      5_000,
    );
    const healthy = boards.filter((board) => board !== failing);
    await expectRolledOut(orchestrator, 'mpy-v2.0.0', fleet, sim, manifest, {
      healthy,
      failing: { [failing]: 'timed_out' },
      // The protocol names a board's update after its project: <board>@v2.0.0.
      installedAs: (board) => `${board}@v2.0.0`,
    });
    expectStaged(log, [boards.slice(0, 1), boards.slice(1)]);
    for (const board of healthy) {
      expect(await readFile(versionFileOf(board), 'utf8')).toBe('v2.0.0');
      // Each file of the new tag fetched once, by its own board.
      expect(
        fetches
          .filter((event) => event.kind === 'file' && event.path.startsWith(`/${board}/v2.0.0_`))
          .map((event) => `${event.path} ${event.status}`)
          .sort(),
      ).toEqual([`/${board}/v2.0.0_boot.py 200`, `/${board}/v2.0.0_main.py 200`]);
    }
    expect(await fleet.anomalies()).toEqual([]);
  });
});
