/**
 * Issue 15, ThingsBoard: the real device agent (`createThingsBoardAgent`) downloads its package in
 * MQTT chunks from the ThingsBoard emulator (test/device/thingsboard-support.ts: an aedes broker
 * answering the device API) through the MQTT chaos proxy (test/support/mqtt-chaos-proxy.ts). The
 * proxy duplicates the `fw_*` attribute push, re-delivers it after reconnects, cuts the
 * connection right after the push, mid-download, right after a progress `fw_state`, right before
 * `UPDATED`, and takes the broker away mid-download. Whatever it does, the package is installed
 * exactly once (the installer's `installed` steps), the file holds the new package, the update
 * ends committed, the last `fw_state` the emulator received is `UPDATED` with the new version,
 * and the push re-delivered after `UPDATED` runs nothing again.
 *
 * Nothing is timed: waits are on conditions; their limits only catch a hang.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { IgnoredEvent } from '../../src/device/events.js';
import type { UpdateOutcome } from '../../src/machine/record.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { createThingsBoardAgent, type ThingsBoardAgentOptions } from '../../src/node/agents/thingsboard.js';
import { startThingsBoard, type TbEmulator, type TbPackage } from '../device/thingsboard-support.js';
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

const TOKEN = 'TB_CHAOS_TOKEN_5d0e';
const CHUNK = 4096;
const FAST = { baseDelayMs: 5, maxDelayMs: 20 };
const digest = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

interface Device {
  tb: TbEmulator;
  proxy: ChaosProxy;
  file: string;
  outcomes: UpdateOutcome[];
  ignored: IgnoredEvent[];
  steps: string[];
  /** Codes of the agent's `error` events. */
  errors: string[];
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

/** A ThingsBoard emulator, the proxy in front of it, and a started agent connected through the proxy. */
async function device(
  arm: (proxy: ChaosProxy) => void = () => {},
  machine: ThingsBoardAgentOptions['machine'] = {},
): Promise<Device> {
  const tb = await startThingsBoard(TOKEN);
  cleanups.push(() => tb.close());
  const root = await mkdtemp(join(tmpdir(), 'otakit-mqtt-chaos-tb-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const file = join(root, 'app.bin');
  await writeFile(file, 'firmware 1.0\n');
  const proxy = await startMqttChaosProxy(() => Number(new URL(tb.url).port));
  cleanups.push(() => proxy.close());
  arm(proxy);
  const connection = await connectMqtt(proxy.url, {
    username: TOKEN,
    reconnectPeriod: 20,
    reconnect: { initialMs: 20, maxMs: 100 },
  });
  cleanups.push(() => connection.close());
  const state: Device = { tb, proxy, file, outcomes: [], ignored: [], steps: [], errors: [] };
  const agent = createThingsBoardAgent({
    target: { accessToken: TOKEN, baseUrl: tb.http.baseUrl },
    connection,
    current: { title: 'app', version: '1.0' },
    chunkSize: CHUNK,
    // A chunk answer lost with a cut connection is asked for again after this.
    chunkTimeoutMs: 300,
    chunkRetry: { attempts: 20, ...FAST },
    attributeTimeoutMs: 2_000,
    installTarget: file,
    stateDirectory: join(root, 'agent'),
    fsync: false,
    machine: { retry: { report: FAST }, ...machine },
    installer: { onStep: (step) => void state.steps.push(step) },
  });
  agent.on('outcome', (outcome) => state.outcomes.push(outcome));
  agent.on('ignored', (event) => state.ignored.push(event));
  // Failures while cut are retried; the asserts judge the end.
  agent.on('error', (error) => state.errors.push(error.code));
  cleanups.push(() => agent.stop({ cancel: true }));
  await agent.start();
  return state;
}

const pkg = (version: string): TbPackage => ({
  title: 'app',
  version,
  bytes: new Uint8Array(randomBytes(5 * CHUNK - 500)),
});

/** The `fw_*` attribute push (the order) on its way to the device. */
const isPush = (passing: Passing) =>
  isPublish(passing) &&
  passing.packet.topic === 'v1/devices/me/attributes' &&
  payloadOf(passing.packet).includes('fw_version');
const isChunkAnswer = (chunk: number) => (passing: Passing) =>
  isPublish(passing) &&
  /^v2\/fw\/response\/\d+\/chunk\/(\d+)$/.exec(passing.packet.topic)?.[1] === String(chunk);
const isFwState = (state: string) => (passing: Passing) =>
  isPublish(passing, 'toBroker') &&
  passing.packet.topic === 'v1/devices/me/telemetry' &&
  (JSON.parse(payloadOf(passing.packet)) as { fw_state?: string }).fw_state === state;

const context = (target: Device) => () =>
  `outcomes ${JSON.stringify(target.outcomes.map((o) => o.state))}, errors ${target.errors.join(',')}, fw_state ${target.tb.fwStates().join(' ')}, steps ${target.steps.join(',')}\n${target.proxy.trace.slice(-40).join('\n')}`;

/**
 * The end every scenario must reach: committed once, installed once, the file is the package,
 * `UPDATED` with the new version is the last telemetry ThingsBoard got. Then the push is
 * delivered again on a new connection: ignored, nothing installed or reported as a new run.
 */
async function expectInstalledOnce(target: Device, next: TbPackage, push: Passing): Promise<void> {
  const { tb } = target;
  await until(() => target.outcomes.length >= 1, context(target));
  await until(() => tb.fwStates().at(-1) === 'UPDATED', context(target));
  expect(target.outcomes.map((outcome) => outcome.state)).toEqual(['committed']);
  expect(digest(await readFile(target.file))).toBe(digest(next.bytes));
  expect(tb.telemetry.at(-1)).toEqual({
    current_fw_title: 'app',
    current_fw_version: next.version,
    fw_state: 'UPDATED',
  });

  const ignoredBefore = target.ignored.length;
  const statesBefore = tb.fwStates().length;
  const replayed = replayStale(target.proxy, push);
  // The protocol decodes a push of the package the device runs as "no order".
  await until(
    () =>
      replayed() &&
      target.ignored
        .slice(ignoredBefore)
        .some((event) => event.reason === 'no_order' && event.address === 'v1/devices/me/attributes'),
    () => `the stale push ignored; ${context(target)()}`,
  );
  expect(tb.fwStates().slice(statesBefore)).toEqual([]);
  expect(target.outcomes).toHaveLength(1);
  expect(target.steps.filter((step) => step === 'installed')).toHaveLength(1);
}

describe('ThingsBoard agent through the MQTT chaos proxy (emulated device API on aedes, MQTT chunks)', () => {
  it('the push delivered three times, cut, re-delivered after the reconnect: installed once', async () => {
    let first: Promise<Passing> | undefined;
    let redelivered: Promise<Passing> | undefined;
    const target = await device((proxy) => {
      first = proxy.duplicate(isPush, { copies: 2 });
      redelivered = proxy.redeliverAfterReconnect(isPush);
      proxy.cutWhen(isPush);
    });
    const next = pkg('1.1');
    await target.tb.assign(next);
    await fired(redelivered!, context(target));
    await expectInstalledOnce(target, next, await fired(first!, context(target)));
    expect(target.proxy.counts.duplicated).toBe(2);
    expect(target.proxy.counts.redelivered).toBe(2);
    expect(target.ignored.some((event) => event.reason === 'duplicate')).toBe(true);
  });

  it('the push lost with the connection (cut instead of delivering it): asked for again after the reconnect', async () => {
    let lost: Promise<Passing> | undefined;
    const target = await device((proxy) => {
      lost = proxy.cutWhen(isPush, { when: 'before' });
    });
    const next = pkg('1.1');
    await target.tb.assign(next);
    const push = await fired(lost!, context(target));
    // ThingsBoard does not keep a push for an absent device: only an attribute request finds it.
    await expectInstalledOnce(target, next, push);
    expect(target.tb.attributeRequests.length).toBeGreaterThanOrEqual(3); // boot, fetchOrder, reconnect
  });

  it('cut mid-download, once right after a chunk arrives and once instead of one: the download goes on', async () => {
    let first: Promise<Passing> | undefined;
    const target = await device((proxy) => {
      first = proxy.observe(isPush);
      proxy.cutWhen(isChunkAnswer(1));
      proxy.cutWhen(isChunkAnswer(3), { when: 'before' });
    });
    const next = pkg('1.1');
    await target.tb.assign(next);
    await expectInstalledOnce(target, next, await fired(first!, context(target)));
    expect(target.proxy.counts.cuts).toBeGreaterThanOrEqual(3);
  });

  it('cut right after a progress fw_state (DOWNLOADING, then VERIFIED) reached ThingsBoard: installed once', async () => {
    let first: Promise<Passing> | undefined;
    const target = await device((proxy) => {
      first = proxy.observe(isPush);
      proxy.cutWhen(isFwState('DOWNLOADING'));
      proxy.cutWhen(isFwState('VERIFIED'));
    });
    const next = pkg('1.1');
    await target.tb.assign(next);
    await expectInstalledOnce(target, next, await fired(first!, context(target)));
    expect(target.proxy.counts.cuts).toBeGreaterThanOrEqual(3);
  });

  it('cut right before UPDATED, twice (the final status lost with the connection): sent again, it arrives', async () => {
    let first: Promise<Passing> | undefined;
    let lost: Promise<Passing> | undefined;
    const target = await device((proxy) => {
      first = proxy.observe(isPush);
      lost = proxy.cutWhen(isFwState('UPDATED'), { when: 'before', times: 2 });
    });
    const next = pkg('1.1');
    await target.tb.assign(next);
    await fired(lost!, context(target));
    await expectInstalledOnce(target, next, await fired(first!, context(target)));
    expect(target.proxy.counts.cuts).toBeGreaterThanOrEqual(3);
  });

  it('the broker away mid-download (a chunk answer held): the download and the statuses resume', async () => {
    let first: Promise<Passing> | undefined;
    const target = await device((proxy) => {
      first = proxy.observe(isPush);
    });
    target.tb.hold(2);
    const next = pkg('1.1');
    await target.tb.assign(next);
    await until(() => target.tb.chunkRequests.some((request) => request.chunk === 2), context(target));
    target.proxy.upstreamDown();
    await until(() => target.proxy.counts.refused >= 3, context(target));
    target.tb.release();
    target.proxy.upstreamUp();
    await expectInstalledOnce(target, next, await fired(first!, context(target)));
  });

  it('the broker away longer than the report budget, right before UPDATED: UPDATED arrives once it is back', async () => {
    let first: Promise<Passing> | undefined;
    let away: Promise<unknown> | undefined;
    const target = await device(
      (proxy) => {
        first = proxy.observe(isPush);
        away = proxy.cutWhen(isFwState('UPDATED'), { when: 'before' }).then(() => proxy.upstreamDown());
      },
      { timeouts: { report: 100 }, retry: { report: { attempts: 2, ...FAST } } },
    );
    const next = pkg('1.1');
    await target.tb.assign(next);
    await fired(away as Promise<Passing>, context(target));
    await until(() => target.outcomes.length >= 1 && target.errors.includes('TIMEOUT'), context(target));
    expect(target.tb.fwStates()).not.toContain('UPDATED');
    target.proxy.upstreamUp();
    await expectInstalledOnce(target, next, await fired(first!, context(target)));
  });
});
