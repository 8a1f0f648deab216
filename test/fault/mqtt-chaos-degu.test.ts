/**
 * Issue 15, Degu over the shadow: the real device agent (`createDeguAgent`) reaches an aedes
 * broker, where the self-hosted shadow service answers as AWS IoT Core, through the MQTT chaos
 * proxy (test/support/mqtt-chaos-proxy.ts). The proxy duplicates the shadow's `/update/delta`
 * order, re-delivers it after reconnects, cuts the connection right after the delta, right after
 * the device's `reported` update and instead of it, and takes the broker away mid-update.
 * Whatever it does, the firmware is downloaded and installed exactly once (requests counted on
 * the file server), the update ends committed, the shadow's `reported` holds the new MD5, and a
 * stale delta delivered after that runs nothing again.
 *
 * Nothing is timed: waits are on conditions; their limits only catch a hang.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IgnoredEvent } from '../../src/device/events.js';
import type { UpdateOutcome } from '../../src/machine/record.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { createDeguAgent } from '../../src/node/agents/degu.js';
import { protocol as degu } from '../../src/protocols/degu/protocol.js';
import { createFaultServer, type FaultServer } from '../../src/testing/fault-server.js';
import { createShadowService, type ShadowService } from '../../src/testing/shadow-service.js';
import type { MqttConnection } from '../../src/transport/mqtt-connection.js';
import { type LoopbackAedes, startLoopbackAedes } from '../support/aedes.js';
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

const md5 = (bytes: Uint8Array | string) => createHash('md5').update(bytes).digest('hex');
const FAST_RECONNECT = { reconnectPeriod: 20, reconnect: { initialMs: 20, maxMs: 100 } };
const OLD = Buffer.from('firmware A\n');

interface Device {
  thingName: string;
  proxy: ChaosProxy;
  firmwarePath: string;
  /** The file server path of this device's firmware. */
  route: string;
  bytes: Uint8Array;
  outcomes: UpdateOutcome[];
  ignored: IgnoredEvent[];
  /** The installer's steps: one `installed` per install (held at `staged` while `hold` is pending). */
  steps: string[];
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

describe('Degu agent through the MQTT chaos proxy (shadow service on aedes, loopback file server)', () => {
  let broker: LoopbackAedes;
  let files: FaultServer;
  let operator: MqttConnection;
  let service: ShadowService;
  let root: string;
  let count = 0;

  beforeAll(async () => {
    broker = await startLoopbackAedes();
    files = await createFaultServer();
    operator = await connectMqtt(broker.url, {
      clientId: `degu-chaos-service-${process.pid}`,
      ...FAST_RECONNECT,
    });
    service = createShadowService({ connection: operator });
    await service.start();
    root = await mkdtemp(join(tmpdir(), 'otakit-mqtt-chaos-degu-'));
  });
  afterAll(async () => {
    await service.stop();
    await operator.close();
    await broker.close();
    await files.close();
    await rm(root, { recursive: true, force: true });
  });

  /** A thing with firmware A on disk, its agent started through a new proxy; `B` is served for it. */
  async function device(
    arm: (proxy: ChaosProxy, thingName: string) => void = () => {},
    hold: Promise<void> = Promise.resolve(),
  ): Promise<Device> {
    const thingName = `DEGUCHAOS${process.pid}X${++count}`;
    const directory = join(root, thingName);
    await mkdir(directory, { recursive: true });
    const firmwarePath = join(directory, 'degu.bin');
    await writeFile(firmwarePath, OLD);
    const route = `/${thingName}/degu_B.bin`;
    const bytes = new Uint8Array(randomBytes(40_000));
    files.route(route, { body: bytes });
    const proxy = await startMqttChaosProxy(Number(new URL(broker.url).port));
    cleanups.push(() => proxy.close());
    arm(proxy, thingName);
    const connection = await connectMqtt(proxy.url, { clientId: `chaos-${thingName}`, ...FAST_RECONNECT });
    cleanups.push(() => connection.close());
    const state: Device = {
      thingName,
      proxy,
      firmwarePath,
      route,
      bytes,
      outcomes: [],
      ignored: [],
      steps: [],
    };
    const agent = createDeguAgent({
      thingName,
      connection,
      files: {
        firmware: firmwarePath,
        script: join(directory, 'main.py'),
        config: join(directory, 'CONFIG'),
      },
      stateDirectory: join(directory, 'state'),
      fsync: false,
      download: { retry: { attempts: 5, baseDelayMs: 10, maxDelayMs: 50 } },
      onInstallStep: async (_item, step) => {
        state.steps.push(step);
        if (step === 'staged') await hold;
      },
      machine: { retry: { report: { baseDelayMs: 10, maxDelayMs: 50 } } },
    });
    agent.on('outcome', (outcome) => state.outcomes.push(outcome));
    agent.on('ignored', (event) => state.ignored.push(event));
    agent.on('error', () => {}); // failures while cut are retried; the asserts judge the end
    cleanups.push(() => agent.stop({ cancel: true }));
    await agent.start();
    return state;
  }

  /** The operator's order: firmware B, written into the shadow's `desired`. */
  async function order(target: Device): Promise<void> {
    const { value } = degu.cloud.encodeOrder(
      {
        id: 'order',
        version: '1',
        artifacts: [{ url: `${files.url}${target.route}`, md5: md5(target.bytes), target: 'firmware' }],
      },
      { thingName: target.thingName },
    );
    const result = await service.update({ thingName: target.thingName }, value[0]!.payload);
    if (!result.ok) throw new Error(result.error.message);
  }

  const isDelta = (thingName: string) => (passing: Passing) =>
    isPublish(passing) && passing.packet.topic === `$aws/things/${thingName}/shadow/update/delta`;
  /** The device's `reported` update with a firmware MD5 other than A's: its final status. */
  const isFinalReport = (thingName: string) => (passing: Passing) =>
    isPublish(passing, 'toBroker') &&
    passing.packet.topic === `$aws/things/${thingName}/shadow/update` &&
    payloadOf(passing.packet).includes('firmware_system_ver') &&
    !payloadOf(passing.packet).includes(md5(OLD));

  const topicOf = (passing: Passing) => (passing.packet.cmd === 'publish' ? passing.packet.topic : '');
  const reported = (target: Device) => service.shadow({ thingName: target.thingName })?.state.reported ?? {};
  const context = (target: Device) => () =>
    `outcomes ${JSON.stringify(target.outcomes.map((o) => o.state))}, steps ${target.steps.join(',')}, reported ${JSON.stringify(reported(target))}, downloads ${files.stats(target.route).requests}\n${target.proxy.trace.slice(-30).join('\n')}`;

  /**
   * Committed once, downloaded once, the file is B, the shadow reports B's MD5. Then the delta
   * comes again on a new connection: ignored, not downloaded nor installed again.
   */
  async function expectInstalledOnce(target: Device, delta: Passing): Promise<void> {
    await until(() => target.outcomes.length >= 1, context(target));
    await until(() => reported(target).firmware_system_ver === md5(target.bytes), context(target));
    expect(target.outcomes.map((outcome) => outcome.state)).toEqual(['committed']);
    expect(md5(await readFile(target.firmwarePath))).toBe(md5(target.bytes));

    const ignoredBefore = target.ignored.length;
    const replayed = replayStale(target.proxy, delta);
    await until(
      () =>
        replayed() && target.ignored.slice(ignoredBefore).some((event) => event.address === topicOf(delta)),
      () => `the stale delta ignored; ${context(target)()}`,
    );
    expect(target.outcomes).toHaveLength(1);
    expect(files.stats(target.route).requests).toBe(1);
    expect(target.steps.filter((step) => step === 'installed')).toHaveLength(1);
    expect(reported(target).firmware_system_ver).toBe(md5(target.bytes));
  }

  it('the delta delivered three times, cut, re-delivered after the reconnect: downloaded and installed once', async () => {
    let first: Promise<Passing> | undefined;
    let redelivered: Promise<Passing> | undefined;
    const target = await device((proxy, thingName) => {
      first = proxy.duplicate(isDelta(thingName), { copies: 2 });
      redelivered = proxy.redeliverAfterReconnect(isDelta(thingName));
      proxy.cutWhen(isDelta(thingName));
    });
    await order(target);
    await fired(redelivered!, context(target));
    await expectInstalledOnce(target, await fired(first!, context(target)));
    expect(target.proxy.counts.duplicated).toBe(2);
    expect(target.proxy.counts.redelivered).toBe(2);
  });

  it('cut instead of the final report, then right after it reached the shadow: reported, installed once', async () => {
    let first: Promise<Passing> | undefined;
    const target = await device((proxy, thingName) => {
      first = proxy.observe(isDelta(thingName));
      proxy.cutWhen(isFinalReport(thingName), { when: 'before' });
      proxy.cutWhen(isFinalReport(thingName), { when: 'after' });
    });
    await order(target);
    await expectInstalledOnce(target, await fired(first!, context(target)));
    expect(target.proxy.counts.cuts).toBeGreaterThanOrEqual(3);
  });

  it('the broker away mid-update (install held): the update finishes and its report arrives once it is back', async () => {
    let first: Promise<Passing> | undefined;
    let release!: () => void;
    const hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    const target = await device((proxy, thingName) => {
      first = proxy.observe(isDelta(thingName));
    }, hold);
    await order(target);
    await until(() => target.steps.includes('staged'), context(target));
    target.proxy.upstreamDown();
    await until(() => target.proxy.counts.refused >= 3, context(target));
    release();
    // Installed and committed on disk while the broker is away; the report waits for it.
    await until(() => target.steps.includes('committed'), context(target));
    expect(reported(target).firmware_system_ver).not.toBe(md5(target.bytes));
    target.proxy.upstreamUp();
    await expectInstalledOnce(target, await fired(first!, context(target)));
  });
});
