/**
 * Issue 15, Exosite over MQTT: the real device agent (`createExositeAgent`, transport `mqtt`)
 * reaches the Murano emulator (otakit/testing, attached to an aedes broker) through the MQTT chaos
 * proxy (test/support/mqtt-chaos-proxy.ts). The proxy duplicates the `config_otau` order,
 * re-delivers it after a reconnect, cuts the connection right after a progress status, instead
 * of the final `INSTALLED_VERSION` and takes the broker away mid-install. Whatever it does, the
 * package is installed exactly once (the installer's `installed` steps), the update ends
 * committed, Murano's last `otau_in` status is `INSTALLED_VERSION` of the new version, and a
 * stale `config_otau` delivered after that starts nothing again.
 *
 * Nothing is timed: waits are on conditions; their limits only catch a hang.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { IgnoredEvent } from '../../src/device/events.js';
import type { UpdateOutcome } from '../../src/machine/record.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { createExositeAgent } from '../../src/node/index.js';
import { createExositeEmulator, type ExositeEmulator } from '../../src/testing/exosite-murano.js';
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

const TOKEN = 'cik-chaos-4e1d2c3b5a69';
const FAST_RECONNECT = { reconnectPeriod: 20, reconnect: { initialMs: 20, maxMs: 100 } };
const FAST = { baseDelayMs: 5, maxDelayMs: 20 };
const FILE = 'firmware_updatev102.txt';

interface Device {
  murano: ExositeEmulator;
  proxy: ChaosProxy;
  app: string;
  outcomes: UpdateOutcome[];
  ignored: IgnoredEvent[];
  steps: string[];
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

describe('Exosite agent over MQTT through the MQTT chaos proxy (Murano emulator on aedes)', () => {
  let broker: LoopbackAedes;
  let root: string;
  let count = 0;

  beforeAll(async () => {
    broker = await startLoopbackAedes();
    root = await mkdtemp(join(tmpdir(), 'otakit-mqtt-chaos-exosite-'));
  });
  afterAll(async () => {
    await broker.close();
    await rm(root, { recursive: true, force: true });
  });

  async function device(
    arm: (proxy: ChaosProxy) => void = () => {},
    hold: Promise<void> = Promise.resolve(),
  ): Promise<Device> {
    const identity = `chaos-${++count}`;
    const murano = await createExositeEmulator({
      productId: 'chaos1',
      identity,
      token: TOKEN,
      content: { [FILE]: 'firmware 1.0.2\n' },
    });
    cleanups.push(() => murano.close());
    const platform = await connectMqtt(broker.url, { clientId: `murano-${identity}`, ...FAST_RECONNECT });
    cleanups.push(() => platform.close());
    await murano.attachMqtt(platform);
    const proxy = await startMqttChaosProxy(Number(new URL(broker.url).port));
    cleanups.push(() => proxy.close());
    arm(proxy);
    const connection = await connectMqtt(proxy.url, {
      clientId: `device-${identity}`,
      username: identity,
      password: TOKEN,
      ...FAST_RECONNECT,
    });
    cleanups.push(() => connection.close());
    const app = join(root, identity, 'app');
    const state: Device = { murano, proxy, app, outcomes: [], ignored: [], steps: [] };
    const agent = createExositeAgent({
      target: { productId: murano.productId, identity, transport: 'mqtt', token: TOKEN },
      connection,
      apiOrigin: murano.origin,
      installDirectory: app,
      stateDirectory: join(root, identity, 'agent'),
      currentVersion: '1.0.0',
      fsync: false,
      download: { retry: { attempts: 5, ...FAST } },
      machine: { retry: { download: FAST, report: FAST } },
      installer: {
        onStep: async (step) => {
          state.steps.push(step);
          if (step === 'staged') await hold;
        },
      },
    });
    agent.on('outcome', (outcome) => state.outcomes.push(outcome));
    agent.on('ignored', (event) => state.ignored.push(event));
    agent.on('error', () => {}); // failures while cut are retried; the asserts judge the end
    cleanups.push(() => agent.stop({ cancel: true }));
    await agent.start();
    return state;
  }

  const order = (target: Device) =>
    target.murano.setConfig({ version: '1.0.2', name: 'Firmware update', type: 'URL_LIST', payload: [FILE] });

  const isOrder = (passing: Passing) =>
    isPublish(passing) && passing.packet.topic.startsWith('$resource/config_otau');
  /** The device's `otau_in` status `word` (of `version`, when given) on its way to Murano. */
  const isStatus = (word: string, version?: string) => (passing: Passing) =>
    isPublish(passing, 'toBroker') &&
    passing.packet.topic === '$resource/otau_in' &&
    payloadOf(passing.packet).includes(`"${word}"`) &&
    (version === undefined || payloadOf(passing.packet).includes(`"${version}"`));
  const words = (target: Device) => target.murano.statuses().map((status) => status.status);
  const topicOf = (passing: Passing) => (passing.packet.cmd === 'publish' ? passing.packet.topic : '');
  const context = (target: Device) => () =>
    `outcomes ${JSON.stringify(target.outcomes.map((o) => o.state))}, statuses ${words(target).join(' ')}, steps ${target.steps.join(',')}\n${target.proxy.trace.slice(-30).join('\n')}`;

  /**
   * Committed once, installed once, the file in place, and Murano's last status
   * `INSTALLED_VERSION` 1.0.2. Then `config_otau` comes again on a new connection: ignored.
   */
  async function expectInstalledOnce(target: Device, config: Passing): Promise<void> {
    const last = () => target.murano.statuses().at(-1);
    await until(() => target.outcomes.length >= 1, context(target));
    await until(() => last()?.status === 'INSTALLED_VERSION' && last()?.version === '1.0.2', context(target));
    expect(target.outcomes.map((outcome) => outcome.state)).toEqual(['committed']);
    expect(await readFile(join(target.app, FILE), 'utf8')).toBe('firmware 1.0.2\n');

    const ignoredBefore = target.ignored.length;
    const statusesBefore = target.murano.statuses().length;
    const replayed = replayStale(target.proxy, config);
    await until(
      () =>
        replayed() && target.ignored.slice(ignoredBefore).some((event) => event.address === topicOf(config)),
      () => `the stale config_otau ignored; ${context(target)()}`,
    );
    expect(words(target).slice(statusesBefore)).not.toContain('INIT');
    expect(target.outcomes).toHaveLength(1);
    expect(target.steps.filter((step) => step === 'installed')).toHaveLength(1);
  }

  it('config_otau delivered three times, cut, re-delivered after the reconnect: installed once', async () => {
    let first: Promise<Passing> | undefined;
    let redelivered: Promise<Passing> | undefined;
    const target = await device((proxy) => {
      first = proxy.duplicate(isOrder, { copies: 2 });
      redelivered = proxy.redeliverAfterReconnect(isOrder);
      proxy.cutWhen(isOrder);
    });
    await order(target);
    await fired(redelivered!, context(target));
    await expectInstalledOnce(target, await fired(first!, context(target)));
    expect(target.proxy.counts.duplicated).toBe(2);
  });

  it('cut right after a progress status (DOWNLOAD) and twice instead of INSTALLED_VERSION: reported, installed once', async () => {
    let first: Promise<Passing> | undefined;
    const target = await device((proxy) => {
      first = proxy.observe(isOrder);
      proxy.cutWhen(isStatus('DOWNLOAD'));
      proxy.cutWhen(isStatus('INSTALLED_VERSION', '1.0.2'), { when: 'before', times: 2 });
    });
    await order(target);
    await expectInstalledOnce(target, await fired(first!, context(target)));
    expect(target.proxy.counts.cuts).toBeGreaterThanOrEqual(4);
  });

  it('the broker away mid-install: the update finishes and INSTALLED_VERSION arrives once it is back', async () => {
    let first: Promise<Passing> | undefined;
    let release!: () => void;
    const hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    const target = await device((proxy) => {
      first = proxy.observe(isOrder);
    }, hold);
    await order(target);
    await until(() => target.steps.includes('staged'), context(target));
    target.proxy.upstreamDown();
    await until(() => target.proxy.counts.refused >= 3, context(target));
    release();
    // Installed while the broker is away; its statuses (and so the commit) wait for it.
    await until(() => target.steps.includes('installed'), context(target));
    target.proxy.upstreamUp();
    await expectInstalledOnce(target, await fired(first!, context(target)));
  });
});
