/**
 * Network faults on the insigh.io package download (issue 15): the real agent
 * (`createInsighioAgent`) on a real MQTT session to aedes in process, the console's retained order
 * published by a second client, and the package service's URL (`<baseUrl>/packages/download?fuid…`)
 * answered by otakit's fault server. What the broker saw the device publish is asserted as sent:
 * `e`=1 for an applied package, `e`=2 with `can not download` for a failed download.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceAgent } from '../../src/device/agent.js';
import type { UpdateOutcome } from '../../src/machine/record.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import {
  createInsighioAgent,
  type InsighioTarget,
  insighioMqttOptions,
} from '../../src/node/agents/insighio.js';
import { orderPublication } from '../../src/protocols/insighio/publish.js';
import { otaTopic } from '../../src/protocols/insighio/topics.js';
import { createFaultServer, type FaultServer } from '../../src/testing/fault-server.js';
import type { MqttConnection } from '../../src/transport/mqtt-connection.js';
import { startAedes, type TestBroker } from '../device/insighio-support.js';
import { file, tar } from '../support/archives.js';
import { until } from '../support/system-services.js';
import {
  type FaultRoute,
  installCounter,
  NETWORK_DOWNLOAD,
  NETWORK_MACHINE,
  nth,
  onlyPartialOf,
  PERMANENT,
  payload,
  snapshot,
  stagedFiles,
  stagingOf,
  TRANSIENT,
} from './network-support.js';

const KEY = 'dk-network-fault-5e1f';
const CC = 'ctrl-network-faults';
/** The package service's path: every file id is served here (the fault server routes by path). */
const PACKAGES = '/mf-rproxy/packages/download';

const applied = (fileId: string) => `[{"n":"e","v":1},{"n":"i","vs":"${fileId}"}]`;
const failed = (fileId: string, message: string) =>
  `[{"n":"e","v":2},{"n":"i","vs":"${fileId}"},{"n":"m","vs":"${message}"}]`;

/** A package (plain tar) whose files name their version, with enough data to cut in the middle. */
const packageOf = (version: number) =>
  tar([
    file('boot.py', `print("v${version}")\n`),
    file(`data/blob-${version}.bin`, payload(48 * 1024, version)),
  ]);

let broker: TestBroker;
let console_: MqttConnection;
let server: FaultServer;
const cleanups: (() => Promise<unknown>)[] = [];
let devices = 0;

beforeAll(async () => {
  broker = await startAedes();
  console_ = await connectMqtt(broker.url, { clientId: `console-${process.pid}`, reconnectPeriod: 50 });
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});
afterAll(async () => {
  await console_.close();
  await broker.stop();
});

interface Device {
  deviceId: string;
  clientId: string;
  root: string;
  topic: string;
  app: string;
  state: string;
  agent: DeviceAgent<InsighioTarget>;
  outcomes: UpdateOutcome[];
  counter: ReturnType<typeof installCounter>;
  /** What the device published on its OTA topic, as `[payload, retain]`. */
  wire(): (readonly [string, boolean])[];
  /** The console orders package `fileId` (retained), served by the fault server with `fault`. */
  order(fileId: string, body: Uint8Array, fault?: ReturnType<FaultRoute>, size?: number): Promise<void>;
  outcome(count: number): Promise<UpdateOutcome>;
}

async function device(): Promise<Device> {
  server = await createFaultServer();
  cleanups.push(() => server.close());
  const deviceId = `net-${process.pid}-${++devices}`;
  const clientId = `${deviceId}-agent`;
  const root = await mkdtemp(join(tmpdir(), 'otakit-net-insighio-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const app = join(root, 'app');
  const state = join(root, 'agent');
  await writeTree(app);
  const connection = await connectMqtt(broker.url, {
    ...insighioMqttOptions({ deviceId, deviceKey: KEY, clientId }),
    reconnectPeriod: 50,
  });
  cleanups.push(() => connection.close());
  const counter = installCounter();
  const agent = createInsighioAgent({
    target: { controlChannelId: CC, deviceId, baseUrl: `${server.url}/mf-rproxy`, allowInsecureHttp: true },
    deviceKey: KEY,
    connection,
    installDirectory: app,
    stateDirectory: state,
    fsync: false,
    download: NETWORK_DOWNLOAD,
    machine: NETWORK_MACHINE,
    installer: { onStep: counter.onStep },
  });
  cleanups.push(() => agent.stop({ cancel: true }));
  const outcomes: UpdateOutcome[] = [];
  agent.on('outcome', (outcome) => outcomes.push(outcome));
  await agent.start();
  const topic = otaTopic({ controlChannelId: CC, deviceId });
  return {
    deviceId,
    clientId,
    root,
    topic,
    app,
    state,
    agent,
    outcomes,
    counter,
    wire: () =>
      broker.publishes
        .filter((publish) => publish.clientId === clientId && publish.topic === topic)
        .map((publish) => [publish.payload, publish.retain] as const),
    async order(fileId, body, fault = {}, size = body.length) {
      server.route(PACKAGES, { ...fault, body });
      const publication = orderPublication(
        { controlChannelId: CC, deviceId },
        { fileId, fileType: '.tar', size },
      );
      await console_.publish(publication.topic, publication.payload, publication.options);
    },
    outcome: (count) =>
      nth(
        outcomes,
        count,
        () => `outcome ${count}, got ${JSON.stringify(outcomes.map((outcome) => outcome.state))}`,
      ),
  };
}

async function writeTree(app: string): Promise<void> {
  await mkdir(join(app, 'keep'), { recursive: true });
  await writeFile(join(app, 'boot.py'), 'print("v1")\n');
  await writeFile(join(app, 'keep', 'settings.json'), '{"a":1}\n');
}

/** Waits until the device's OTA topic carries `count` messages (the report can trail the outcome). */
const heard = (d: Device, count: number) =>
  until(
    () => d.wire().length >= count,
    () => `${count} message(s) on ${d.topic}, got ${JSON.stringify(d.wire())}`,
  );

describe('insigh.io agent: transient faults on the package download end committed, e=1, installed once', () => {
  it.each(TRANSIENT)('$name', async ({ route }) => {
    const d = await device();
    const body = packageOf(2);
    await d.order('f0000002', body, route(body.length));
    expect(await d.outcome(1)).toMatchObject({ state: 'committed', update: { id: 'f0000002' } });
    await heard(d, 2);
    // The status, then the empty retained payload that clears the order.
    expect(d.wire()).toEqual([
      [applied('f0000002'), false],
      ['', true],
    ]);
    expect(await broker.retained(d.topic)).toBeNull();
    expect(d.counter.installs).toBe(1);
    expect(await readFile(join(d.app, 'boot.py'), 'utf8')).toBe('print("v2")\n');
    expect(Object.keys(await snapshot(d.app)).sort()).toEqual([
      'boot.py',
      'data/blob-2.bin',
      'keep/settings.json',
    ]);
    expect(server.stats(PACKAGES).requests).toBe(2); // the fault, then the retry that completed
    expect(await stagedFiles(stagingOf(d.state))).toEqual([]);
    expect(await readdir(d.root)).toEqual(['agent', 'app']);
  });
});

describe('insigh.io agent: permanent faults are e=2 "can not download" on the wire, nothing installed, and the agent takes the next order', () => {
  const cases = [
    ...PERMANENT.map((fault) => ({ ...fault, size: (body: Uint8Array) => body.length })),
    {
      // insigh.io orders carry no digest: the size `s` is what the bytes are held to.
      name: "a body that never matches the order's size s",
      route: () => ({}),
      code: 'INTEGRITY',
      says: /size mismatch, expected \d+, got \d+$/,
      retried: false,
      size: (body: Uint8Array) => body.length - 512,
    },
  ];
  it.each(cases)('$name', async ({ route, code, says, size }) => {
    const d = await device();
    const before = await snapshot(d.app);
    const bad = packageOf(2);
    await d.order('f0000002', bad, route(bad.length), size(bad));
    const outcome = await d.outcome(1);
    expect(outcome).toMatchObject({ state: 'download_failed', update: { id: 'f0000002' }, error: { code } });
    expect(outcome.error?.message).toMatch(says);
    await heard(d, 1);
    expect(d.wire()).toEqual([[failed('f0000002', 'can not download'), false]]);
    expect(await snapshot(d.app)).toEqual(before);
    expect(await readdir(d.root)).toEqual(['agent', 'app']); // no backup, no temporary tree beside it
    expect(await onlyPartialOf(stagingOf(d.state), 'f0000002')).toBe(true);
    expect(d.counter.installs).toBe(0);
    expect(d.agent.current).toBeNull();
    // The failed order stays retained (the firmware retries it at its next connection).
    expect(await broker.retained(d.topic)).not.toBeNull();

    // Not wedged: the console's next order, to the same running agent, is installed and committed.
    const good = packageOf(3);
    await d.order('f0000003', good);
    expect(await d.outcome(2)).toMatchObject({ state: 'committed', update: { id: 'f0000003' } });
    await heard(d, 3);
    expect(d.wire()).toEqual([
      [failed('f0000002', 'can not download'), false],
      [applied('f0000003'), false],
      ['', true],
    ]);
    expect(d.counter.installs).toBe(1);
    expect(d.agent.current).toEqual({ id: 'f0000003', version: 'f0000003' });
    expect(Object.keys(await snapshot(d.app)).sort()).toEqual([
      'boot.py',
      'data/blob-3.bin',
      'keep/settings.json',
    ]);
    expect(await stagedFiles(stagingOf(d.state))).toEqual([]);
  });
});
