/**
 * Issue 15, insigh.io: the real device agent (`createInsighioAgent`) talks to a real aedes broker
 * through the MQTT chaos proxy (test/support/mqtt-chaos-proxy.ts), which duplicates the retained
 * SenML order, re-delivers it after reconnects, cuts the connection at chosen packets and takes
 * the broker away for a while. Whatever it does, the package is installed exactly once (the
 * directory installer's `installed` steps and the package service's downloads are counted), the
 * update ends committed, the broker receives the success status (`e` = 1) and the order is
 * cleared from it, and a stale order delivered after the final status is not run again.
 *
 * Nothing is timed: waits are on conditions; their limits only catch a hang.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceAgent } from '../../src/device/agent.js';
import type { IgnoredEvent } from '../../src/device/events.js';
import type { UpdateOutcome } from '../../src/machine/record.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import {
  createInsighioAgent,
  type InsighioAgentOptions,
  type InsighioTarget,
  insighioMqttOptions,
} from '../../src/node/agents/insighio.js';
import { orderPublication } from '../../src/protocols/insighio/publish.js';
import { otaTopic } from '../../src/protocols/insighio/topics.js';
import {
  type PackageServer,
  startAedes,
  startPackageServer,
  type TestBroker,
} from '../device/insighio-support.js';
import { gzip, makeTar } from '../protocols/insighio/fixtures.js';
import {
  type ChaosProxy,
  fired,
  isPublish,
  type Passing,
  payloadOf,
  replayStale,
  startMqttChaosProxy,
} from '../support/mqtt-chaos-proxy.js';
import { until } from '../support/system-services.js';

const KEY = 'dk-chaos-1f2e3d4c';
const CC = 'ctrl-chaos';
const FAST_RETRY = { baseDelayMs: 10, maxDelayMs: 50 };
/** Reconnects within tens of milliseconds: the test waits for several. */
const FAST_RECONNECT = { reconnectPeriod: 20, reconnect: { initialMs: 20, maxMs: 100 } };

const applied = (fileId: string) => `[{"n":"e","v":1},{"n":"i","vs":"${fileId}"}]`;

interface Device {
  deviceId: string;
  clientId: string;
  topic: string;
  proxy: ChaosProxy;
  agent: DeviceAgent<InsighioTarget>;
  outcomes: UpdateOutcome[];
  ignored: IgnoredEvent[];
  /** Install steps of the directory installer: one `installed` per install. */
  steps: string[];
  /** Reconnects the client saw (`online` after the first). */
  onlines: number;
  /** Codes of the agent's `error` events. */
  errors: string[];
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

let count = 0;

describe('insigh.io agent through the MQTT chaos proxy (aedes, loopback package service)', () => {
  let broker: TestBroker;
  let packages: PackageServer;
  let console_: Awaited<ReturnType<typeof connectMqtt>>;
  let root: string;

  beforeAll(async () => {
    broker = await startAedes();
    packages = await startPackageServer({ deviceKey: KEY, controlChannelId: CC });
    // The console publishes straight to the broker: only the device's link is chaotic.
    console_ = await connectMqtt(broker.url, { clientId: 'chaos-console', ...FAST_RECONNECT });
    root = await mkdtemp(join(tmpdir(), 'otakit-mqtt-chaos-insighio-'));
  });
  afterAll(async () => {
    await console_.close();
    await packages.close();
    await broker.stop();
    await rm(root, { recursive: true, force: true });
  });

  async function device(
    arm: (proxy: ChaosProxy, topic: string) => void = () => {},
    machine: InsighioAgentOptions['machine'] = {},
  ): Promise<Device> {
    const deviceId = `chaos-${process.pid}-${++count}`;
    const clientId = `${deviceId}-c`;
    const topic = otaTopic({ controlChannelId: CC, deviceId });
    const proxy = await startMqttChaosProxy(broker.port);
    cleanups.push(() => proxy.close());
    arm(proxy, topic);
    const connection = await connectMqtt(proxy.url, {
      ...insighioMqttOptions({ deviceId, deviceKey: KEY, clientId }),
      ...FAST_RECONNECT,
    });
    cleanups.push(() => connection.close());
    const state: Device = {
      deviceId,
      clientId,
      topic,
      proxy,
      agent: undefined as unknown as DeviceAgent<InsighioTarget>,
      outcomes: [],
      ignored: [],
      steps: [],
      onlines: 0,
      errors: [],
    };
    connection.onStateChange?.((change) => {
      if (change.state === 'online') state.onlines += 1;
    });
    const agent = createInsighioAgent({
      target: { controlChannelId: CC, deviceId, baseUrl: packages.baseUrl, allowInsecureHttp: true },
      deviceKey: KEY,
      connection,
      installDirectory: join(root, deviceId, 'app'),
      stateDirectory: join(root, deviceId, 'agent'),
      fsync: false,
      download: { retry: FAST_RETRY },
      machine: { retry: { download: FAST_RETRY, report: FAST_RETRY }, ...machine },
      installer: { onStep: (step) => void state.steps.push(step) },
    });
    state.agent = agent;
    agent.on('outcome', (outcome) => state.outcomes.push(outcome));
    agent.on('ignored', (event) => state.ignored.push(event));
    // Reports that failed while cut are retried; the asserts judge the end.
    agent.on('error', (error) => state.errors.push(error.code));
    cleanups.push(() => agent.stop({ cancel: true }));
    await agent.start();
    return state;
  }

  /** The order to this device, as the broker delivers it to the client (not the status echoes). */
  const isOrderTo = (topic: string) => (passing: Passing) =>
    isPublish(passing) && passing.packet.topic === topic && payloadOf(passing.packet).includes('"n":"t"');
  /** The device's final status `e` = 1 on its way to the broker. */
  const isSuccessFrom = (topic: string) => (passing: Passing) =>
    isPublish(passing, 'toBroker') &&
    passing.packet.topic === topic &&
    payloadOf(passing.packet).includes('"v":1');

  let fileCount = 0;
  /** Publishes a new order (retained, QoS 1) for a new package; `prepare` runs before. */
  async function order(target: Device, prepare: (fileId: string) => void = () => {}): Promise<string> {
    const fileId = `c${String(++fileCount).padStart(7, '0')}`;
    const body = await gzip(makeTar([{ name: 'boot.py', data: `print("${fileId}")\n` }]));
    packages.put(fileId, body);
    prepare(fileId);
    const publication = orderPublication(
      { controlChannelId: CC, deviceId: target.deviceId },
      { fileId, fileType: '.tar.gz', size: body.length },
    );
    await console_.publish(publication.topic, publication.payload, publication.options);
    return fileId;
  }

  const context = (target: Device) => () =>
    `outcomes ${JSON.stringify(target.outcomes.map((o) => o.state))}, errors ${target.errors.join(',')}, steps ${target.steps.join(',')}\n${target.proxy.trace.slice(-40).join('\n')}`;

  /** What the broker received from this device on its OTA topic, payloads in order. */
  const wire = (target: Device) =>
    broker.publishes
      .filter((publish) => publish.clientId === target.clientId && publish.topic === target.topic)
      .map((publish) => publish.payload);

  /**
   * The end every scenario must reach: committed once, one install, one download, `e` = 1 on the
   * broker and the retained order gone. Then a stale copy of the order arrives on a new
   * connection: it is confirmed again (`e` = 1 and the clear), never installed again.
   */
  async function expectInstalledOnce(target: Device, fileId: string, firstOrder: Passing): Promise<void> {
    await until(() => target.outcomes.length >= 1, context(target));
    await until(
      () => wire(target).includes(applied(fileId)) && wire(target).at(-1) === '',
      () => `e=1 then the clear on the broker; saw ${JSON.stringify(wire(target))}; ${context(target)()}`,
    );
    expect(target.outcomes.map((outcome) => outcome.state)).toEqual(['committed']);
    expect(target.agent.current).toEqual({ id: fileId, version: fileId });
    expect(await broker.retained(target.topic)).toBeNull();

    // A stale order after the final status: delivered again on the next connection.
    const confirmations = wire(target).filter((payload) => payload === applied(fileId)).length;
    const ignoredBefore = target.ignored.length;
    const replayed = replayStale(target.proxy, firstOrder);
    await until(
      () =>
        replayed() &&
        target.ignored
          .slice(ignoredBefore)
          .some((event) => event.reason === 'already_installed' && event.address === target.topic),
      () => `the stale order seen as already installed; ${context(target)()}`,
    );
    await until(
      () =>
        wire(target).filter((payload) => payload === applied(fileId)).length > confirmations &&
        wire(target).at(-1) === '',
      () => `the stale order confirmed and cleared; saw ${JSON.stringify(wire(target))}`,
    );
    expect(target.outcomes).toHaveLength(1);
    expect(target.steps.filter((step) => step === 'installed')).toHaveLength(1);
    const downloads = packages.requests.filter(
      (request) => request.deviceId === target.deviceId && request.status >= 200 && request.status < 300,
    );
    expect(downloads.map((request) => request.fileId)).toEqual([fileId]);
    expect(await broker.retained(target.topic)).toBeNull();
  }

  it('the order delivered three times, then cut, then re-delivered after the reconnect: installed once', async () => {
    let first: Promise<Passing> | undefined;
    let redelivered: Promise<Passing> | undefined;
    const target = await device((proxy, topic) => {
      first = proxy.duplicate(isOrderTo(topic), { copies: 2 });
      redelivered = proxy.redeliverAfterReconnect(isOrderTo(topic));
      // After the order and its two copies reached the client: their PUBACKs are lost.
      proxy.cutWhen(isOrderTo(topic));
    });
    const fileId = await order(target);
    await fired(redelivered!, context(target));
    await expectInstalledOnce(target, fileId, await fired(first!, context(target)));
    expect(target.proxy.counts.duplicated).toBe(2);
    expect(target.proxy.counts.redelivered).toBe(2); // the kept order, and the stale one at the end
    expect(target.ignored.some((event) => event.reason === 'duplicate')).toBe(true);
  });

  it('cut right after the order arrives, before its PUBACK: the broker re-sends it, installed once', async () => {
    let first: Promise<Passing> | undefined;
    const target = await device((proxy, topic) => {
      first = proxy.cutWhen(isOrderTo(topic));
    });
    const fileId = await order(target);
    await expectInstalledOnce(target, fileId, await fired(first!, context(target)));
    // The order came again on the new connection (retained, on the renewed subscription).
    expect(target.proxy.counts.connections).toBeGreaterThanOrEqual(3);
    expect(target.onlines).toBeGreaterThanOrEqual(2);
  });

  it('cut right after e=1 reached the broker, before the clear: confirmed again, cleared, installed once', async () => {
    let first: Promise<Passing> | undefined;
    let cutAtStatus: Promise<Passing> | undefined;
    const target = await device((proxy, topic) => {
      first = proxy.observe(isOrderTo(topic));
      cutAtStatus = proxy.cutWhen(isSuccessFrom(topic));
    });
    const fileId = await order(target);
    await fired(cutAtStatus!, context(target));
    await expectInstalledOnce(target, fileId, await fired(first!, context(target)));
    expect(target.proxy.counts.cuts).toBeGreaterThanOrEqual(2);
  });

  it('cut right before the final status, twice (e=1 lost with the connection): sent again, it arrives', async () => {
    let first: Promise<Passing> | undefined;
    let lost: Promise<Passing> | undefined;
    const target = await device((proxy, topic) => {
      first = proxy.observe(isOrderTo(topic));
      lost = proxy.cutWhen(isSuccessFrom(topic), { when: 'before', times: 2 });
    });
    const fileId = await order(target);
    await fired(lost!, context(target));
    await expectInstalledOnce(target, fileId, await fired(first!, context(target)));
    expect(target.proxy.counts.cuts).toBeGreaterThanOrEqual(3);
  });

  it('the broker away mid-update (download held): the final status waits for it, then arrives', async () => {
    let first: Promise<Passing> | undefined;
    const target = await device((proxy, topic) => {
      first = proxy.observe(isOrderTo(topic));
    });
    const fileId = await order(target, (id) => packages.stall(id, 10));
    await until(
      () => packages.requests.some((request) => request.fileId === fileId),
      () => `the download of ${fileId}`,
    );
    target.proxy.upstreamDown();
    await until(() => target.proxy.counts.refused >= 3, context(target));
    packages.release();
    // The update finishes while the broker is away; its status can only go once it is back.
    await until(() => target.steps.includes('committed'), context(target));
    expect(wire(target)).not.toContain(applied(fileId));
    target.proxy.upstreamUp();
    await expectInstalledOnce(target, fileId, await fired(first!, context(target)));
  });

  it('the broker away longer than the report budget, right before e=1: the status goes once it is back', async () => {
    let first: Promise<Passing> | undefined;
    let away: Promise<unknown> | undefined;
    const target = await device(
      (proxy, topic) => {
        first = proxy.observe(isOrderTo(topic));
        // The broker leaves as the success status leaves the device.
        away = proxy.cutWhen(isSuccessFrom(topic), { when: 'before' }).then(() => proxy.upstreamDown());
      },
      { timeouts: { report: 100 }, retry: { report: { attempts: 2, ...FAST_RETRY } } },
    );
    const fileId = await order(target);
    await fired(away as Promise<Passing>, context(target));
    // The final report ran out of time (TIMEOUT): the update still ends committed…
    await until(() => target.outcomes.length >= 1 && target.errors.includes('TIMEOUT'), context(target));
    expect(wire(target)).not.toContain(applied(fileId));
    // …and the status, still queued on the connection, reaches the broker once it is back.
    target.proxy.upstreamUp();
    await expectInstalledOnce(target, fileId, await fired(first!, context(target)));
  });
});
