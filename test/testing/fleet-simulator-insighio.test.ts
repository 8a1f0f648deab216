/**
 * The fleet simulator on insigh.io, end to end against the real cloud side: aedes in process, the
 * insigh.io publisher (package written, stored, retained SenML order sent, `e` reports followed
 * into a `Fleet`) and the package server on loopback, which the simulated devices download from
 * with their device key. All simulated devices share one MQTT connection, each subscribed to its
 * own control topic as the firmware is. Nothing is timed: waits poll for a condition, and their
 * generous limits only catch a hang.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Fleet } from '../../src/cloud/fleet/fleet.js';
import type { DeviceSnapshot } from '../../src/cloud/fleet/types.js';
import { MemoryPackageStore } from '../../src/cloud/insighio/package-store.js';
import type { PackageFile } from '../../src/cloud/insighio/package-writer.js';
import { createInsighIoPublisher, type InsighIoPublisher } from '../../src/cloud/insighio/publisher.js';
import type { Logger } from '../../src/core/logger.js';
import { MemoryStore } from '../../src/core/store.js';
import { insighIo } from '../../src/index.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import {
  type InsighIoPackageServer,
  startInsighIoPackageServer,
} from '../../src/node/cloud/insighio-package-server.js';
import { otaTopic } from '../../src/protocols/insighio/topics.js';
import {
  createFleetSimulator,
  type FleetSimulator,
  type FleetSimulatorOptions,
  ManualClock,
  seededRandom,
} from '../../src/testing/index.js';
import { mqttChannel } from '../../src/transport/mqtt-channel.js';
import type { MqttConnection } from '../../src/transport/mqtt-connection.js';
import { startAedes, type TestBroker } from '../device/insighio-support.js';
import { until } from '../support/system-services.js';

type Target = insighIo.Target;

const CC = 'ctrl-fleet-sim';
const WAIT = 45_000;
const FILES: PackageFile[] = [{ path: 'boot.py', data: 'print("v2")\n' }];
const RELEASE = { id: 'demo-app', version: '2.0.0', files: FILES };
const keyOf = (deviceId: string) => `dk-${deviceId}-S3cret`;

let broker: TestBroker;
const cleanups: (() => Promise<unknown>)[] = [];
let count = 0;

beforeAll(async () => {
  broker = await startAedes();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});
afterAll(async () => {
  await broker.stop();
});

async function connect(name: string): Promise<MqttConnection> {
  const connection = await connectMqtt(broker.url, {
    clientId: `${name}-${process.pid}-${++count}`,
    reconnectPeriod: 50,
  });
  cleanups.push(() => connection.close());
  return connection;
}

/** The insigh.io service: publisher and fleet on one connection, the package server. */
async function startService() {
  const packages = new MemoryPackageStore();
  const fleet = new Fleet();
  const devices = new Map<string, DeviceSnapshot>();
  fleet.on('device', (snapshot) => devices.set(snapshot.deviceId, snapshot));
  const publisher: InsighIoPublisher = createInsighIoPublisher({
    mqtt: mqttChannel(await connect('service')),
    store: new MemoryStore(),
    packages,
    fleet,
  });
  cleanups.push(() => publisher.close());
  const downloads: string[] = [];
  const server: InsighIoPackageServer = await startInsighIoPackageServer({
    packages,
    deviceKey: ({ deviceId, controlChannelId }) => (controlChannelId === CC ? keyOf(deviceId) : undefined),
    logger: recording(downloads),
  });
  cleanups.push(() => server.close());
  return { publisher, fleet, devices, server, downloads };
}

function targets(n: number, baseUrl: string, prefix = `sim${++count}`): Target[] {
  return Array.from({ length: n }, (_, index) => ({
    controlChannelId: CC,
    deviceId: `${prefix}-${index + 1}`,
    baseUrl,
    allowInsecureHttp: true,
  }));
}

/** A simulator whose devices share one MQTT connection and download with their key in `dk`. */
async function simulate(
  devices: Target[],
  options: Partial<FleetSimulatorOptions<Target>> = {},
): Promise<{ sim: FleetSimulator<Target>; clientId: string }> {
  const connection = await connect('fleet');
  const sim = createFleetSimulator<Target>({
    protocol: insighIo.protocol,
    devices: devices.map((target) => ({ id: target.deviceId, target })),
    channels: { mqtt: mqttChannel(connection) },
    download: {
      mode: 'fetch',
      // The device key joins the URL on the wire only, as the agent's downloadAuth does.
      request: (artifact, device) => {
        const url = new URL(artifact.url);
        url.searchParams.set('dk', keyOf(device.id));
        return { url: url.href };
      },
    },
    random: seededRandom(11),
    ...options,
  });
  cleanups.push(() => sim.stop());
  return { sim, clientId: `fleet-${process.pid}-${count}` };
}

/** Keeps `deviceId:status` of each request the package server answered. */
function recording(lines: string[]): Logger {
  const keep = (_message: string, context?: Record<string, unknown>) =>
    void lines.push(`${context?.deviceId}:${context?.status}`);
  return { debug: keep, info: keep, warn: keep, error: keep };
}

const stateIn = (devices: Map<string, DeviceSnapshot>, id: string) => devices.get(id)?.state;

describe('fleet simulator on insigh.io: the real publisher, package server and aedes', () => {
  it('12 devices: 10 download, install once and report e=1 (committed in the fleet), one reports e=2, one stays silent', async () => {
    const service = await startService();
    const fleetTargets = targets(12, service.server.baseUrl);
    const failing = fleetTargets[2]!.deviceId;
    const silent = fleetTargets[6]!.deviceId;
    const { sim } = await simulate(fleetTargets, {
      failures: [
        { kind: 'download_failed', devices: [failing] },
        { kind: 'silent', devices: [silent] },
      ],
    });
    await sim.start();
    let fileId = '';
    for (const target of fleetTargets) {
      await service.publisher.watch(target);
      fileId = (await service.publisher.publish(target, RELEASE)).entry.fileId;
    }
    const healthy = fleetTargets.map((t) => t.deviceId).filter((id) => id !== failing && id !== silent);
    await until(
      () => healthy.every((id) => stateIn(service.devices, id) === 'committed'),
      () =>
        `every healthy device committed in the fleet: ${JSON.stringify([...service.devices.values()].map((d) => [d.deviceId, d.state]))}`,
      WAIT,
    );
    await until(
      () => stateIn(service.devices, failing) === 'download_failed',
      () => `the failing device in the fleet as download_failed (it is ${stateIn(service.devices, failing)})`,
      WAIT,
    );
    for (const id of healthy) {
      expect(await service.fleet.device(id)).toMatchObject({
        state: 'committed',
        update: { id: 'demo-app', version: '2.0.0' },
        current: { id: 'demo-app', version: '2.0.0' },
        protocol: 'insighIo',
      });
      expect(sim.device(id)).toMatchObject({ installed: { id: fileId }, installs: { [fileId]: 1 } });
    }
    // insigh.io's word for it on the wire: e=2 with the firmware's message.
    expect(await service.fleet.device(failing)).toMatchObject({
      state: 'download_failed',
      lastError: { code: 'DOWNLOAD', message: 'can not download' },
    });
    const failingTopic = otaTopic({ controlChannelId: CC, deviceId: failing });
    expect(broker.publishes.filter((p) => p.topic === failingTopic).map((p) => p.payload)).toContainEqual(
      `[{"n":"e","v":2},{"n":"i","vs":"${fileId}"},{"n":"m","vs":"can not download"}]`,
    );
    // The silent device heard the order and said nothing: the fleet still shows it available.
    const silentTopic = otaTopic({ controlChannelId: CC, deviceId: silent });
    expect(sim.device(silent)).toMatchObject({ ordersReceived: 1, messagesSent: 0, installed: null });
    expect(broker.publishes.filter((p) => p.topic === silentTopic).map((p) => p.clientId)).toEqual([
      expect.stringMatching(/^service-/),
    ]);
    expect(stateIn(service.devices, silent)).toBe('available');
    // Exactly once each, and the bytes came from the package server, one 200 per healthy device.
    expect([...service.downloads].sort()).toEqual(healthy.map((id) => `${id}:200`).sort());
    const counts = sim.installCounts(fileId);
    expect(
      [...counts.entries()]
        .filter(([, n]) => n !== 1)
        .map(([id]) => id)
        .sort(),
    ).toEqual([failing, silent].sort());
    expect(counts.get(failing)).toBe(0);
    // The fleet may hear a report before the device has finished sending (the clear follows e=1).
    await sim.waitFor((simulator) => simulator.stats().running === 0);
    expect(sim.stats()).toMatchObject({ devices: 12, installs: 10, running: 0, errors: 0 });
    expect(await service.fleet.anomalies()).toEqual([]);
  });

  it('a replayed order of the installed update is not installed twice; with replays: confirm it is reported again and cleared', async () => {
    const service = await startService();
    const [target] = targets(1, service.server.baseUrl);
    const { sim } = await simulate([target!], { replays: 'confirm' });
    const ignored: string[] = [];
    sim.on('ignored', (event) => ignored.push(event.reason));
    await sim.start();
    await service.publisher.watch(target!);
    const { entry } = await service.publisher.publish(target!, RELEASE);
    await until(
      () => stateIn(service.devices, target!.deviceId) === 'committed',
      () => 'committed',
      WAIT,
    );
    const topic = otaTopic(target!);
    await until(
      () => broker.publishes.some((p) => p.topic === topic && p.payload === '' && p.retain),
      () => 'the order cleared',
      WAIT,
    );
    // The console publishes the same package again: the device hears it and does not reinstall.
    await service.publisher.publish(target!, RELEASE);
    await until(
      () => ignored.includes('already_installed'),
      () => 'the replay ignored',
      WAIT,
    );
    await until(
      () => stateIn(service.devices, target!.deviceId) === 'committed',
      () => `committed again (it is ${stateIn(service.devices, target!.deviceId)})`,
      WAIT,
    );
    expect(sim.device(target!.deviceId)).toMatchObject({
      ordersReceived: 2,
      installs: { [entry.fileId]: 1 },
    });
    await until(
      () => broker.publishes.filter((p) => p.topic === topic && p.payload === '' && p.retain).length === 2,
      () => 'the replayed order cleared too',
      WAIT,
    );
    expect(await broker.retained(topic)).toBeNull();
    expect(service.downloads).toEqual([`${target!.deviceId}:200`]); // downloaded once, for the first order
  });

  it('on a ManualClock the latencies are the clock’s: nothing moves past downloading until time is advanced', async () => {
    const service = await startService();
    const fleetTargets = targets(5, service.server.baseUrl);
    const clock = new ManualClock();
    const { sim } = await simulate(fleetTargets, {
      clock,
      latency: { download: 60_000, install: [1_000, 5_000], healthCheck: 30_000 },
    });
    const reached = new Map<string, string[]>();
    sim.on('status', ({ deviceId, status }) =>
      reached.set(deviceId, [...(reached.get(deviceId) ?? []), status.state]),
    );
    await sim.start();
    for (const target of fleetTargets) {
      await service.publisher.watch(target);
      await service.publisher.publish(target, RELEASE);
    }
    await until(
      () => fleetTargets.every((t) => reached.get(t.deviceId)?.at(-1) === 'downloading'),
      () => `every device downloading: ${JSON.stringify([...reached])}`,
      WAIT,
    );
    // A minute of download on the clock: no real minute passes, and nothing moves on by itself.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(fleetTargets.map((t) => reached.get(t.deviceId)?.at(-1))).toEqual(
      fleetTargets.map(() => 'downloading'),
    );
    expect(sim.stats().byState.downloading).toBe(5);
    await clock.advance(59_999);
    expect(sim.stats().byState.downloading).toBe(5);
    // The real fetch happens once the simulated minute is over; then install and health check.
    await clock.advance(1);
    await until(
      () => sim.stats().byState.installing === 5,
      () => `every device installing: ${JSON.stringify(sim.stats().byState)}`,
      WAIT,
    );
    await clock.advance(5_000);
    await until(
      () => sim.stats().byState.installed === 5,
      () => `every device installed: ${JSON.stringify(sim.stats().byState)}`,
      WAIT,
    );
    expect(fleetTargets.every((t) => stateIn(service.devices, t.deviceId) !== 'committed')).toBe(true);
    await clock.advance(30_000);
    await until(
      () => fleetTargets.every((t) => stateIn(service.devices, t.deviceId) === 'committed'),
      () => 'every device committed in the fleet',
      WAIT,
    );
    expect(reached.get(fleetTargets[0]!.deviceId)).toEqual([
      'available',
      'downloading',
      'downloaded',
      'verifying',
      'installing',
      'installed',
      'committed',
      'idle',
    ]);
  });

  it('a reboot during the install: quiet, then the device comes back, reports installed again and commits; an offline device catches up from the retained order', async () => {
    const service = await startService();
    const fleetTargets = targets(3, service.server.baseUrl);
    const [rebooting, away, plain] = fleetTargets.map((t) => t.deviceId) as [string, string, string];
    const clock = new ManualClock();
    const { sim } = await simulate(fleetTargets, {
      clock,
      reboots: { devices: [rebooting] },
      latency: { reboot: 20_000 },
    });
    const events: string[] = [];
    sim.on('offline', (event) => events.push(`${event.deviceId} ${event.reason}`));
    sim.on('online', (event) => events.push(`${event.deviceId} online`));
    const states = new Map<string, string[]>();
    sim.on('status', ({ deviceId, status }) =>
      states.set(deviceId, [...(states.get(deviceId) ?? []), status.state]),
    );
    await sim.start();
    sim.setOffline(away, 60_000);
    expect(sim.device(away).offline).toBe(true);
    for (const target of fleetTargets) {
      await service.publisher.watch(target);
      await service.publisher.publish(target, RELEASE);
    }
    await until(
      () => stateIn(service.devices, plain) === 'committed' && states.get(rebooting)?.at(-1) === 'installed',
      () => `the plain device committed and the rebooting one installed: ${JSON.stringify([...states])}`,
      WAIT,
    );
    expect(sim.device(rebooting).offline).toBe(true);
    expect(sim.device(away)).toMatchObject({ offline: true, ordersReceived: 0, state: 'idle' });
    await clock.advance(20_000); // the reboot ends
    await until(
      () => stateIn(service.devices, rebooting) === 'committed' && states.get(rebooting)?.at(-1) === 'idle',
      () => `the rebooted device committed (${JSON.stringify(states.get(rebooting))})`,
      WAIT,
    );
    expect(states.get(rebooting)).toEqual([
      'available',
      'downloading',
      'downloaded',
      'verifying',
      'installing',
      'installed',
      'installed',
      'committed',
      'idle',
    ]);
    await clock.advance(40_000); // the offline device comes back and receives the retained order
    await until(
      () => stateIn(service.devices, away) === 'committed',
      () => `the device back online committed (it is ${stateIn(service.devices, away)})`,
      WAIT,
    );
    expect(events).toEqual([
      `${away} offline`,
      `${rebooting} reboot`,
      `${rebooting} online`,
      `${away} online`,
    ]);
    expect([...sim.installCounts().values()]).toEqual([1, 1, 1]);
  });
});

describe('fleet simulator on insigh.io: 1 000 devices on one connection', () => {
  it('every device installs once and the fleet shows all 1 000 committed', async () => {
    const service = await startService();
    const fleetTargets = targets(1_000, service.server.baseUrl);
    const { sim } = await simulate(fleetTargets, {
      download: { mode: 'simulate' },
      latency: { download: [0, 20] },
    });
    await sim.start();
    const committed = new Set<string>();
    service.fleet.on('device', (snapshot) => {
      if (snapshot.state === 'committed') committed.add(snapshot.deviceId);
    });
    for (const target of fleetTargets) await service.publisher.watch(target);
    const { entry } = await service.publisher.publish(fleetTargets[0]!, RELEASE);
    await Promise.all(fleetTargets.slice(1).map((target) => service.publisher.publish(target, RELEASE)));
    await until(
      () => committed.size === 1_000,
      () =>
        `1 000 devices committed in the fleet, ${committed.size} so far (${JSON.stringify(sim.stats().byState)})`,
      120_000,
    );
    expect([...sim.installCounts(entry.fileId).values()].every((n) => n === 1)).toBe(true);
    expect(sim.stats()).toMatchObject({ devices: 1_000, installs: 1_000, errors: 0, ordersReceived: 1_000 });
    expect((await service.fleet.snapshot({ limit: 1 })).counts.committed).toBe(1_000);
  }, 180_000);
});
