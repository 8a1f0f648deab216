/**
 * Network faults on the ThingsBoard HTTP package download (issue 15): the real agent
 * (`createThingsBoardAgent`, `transfer: 'http'`) on a real MQTT session to the in-process
 * ThingsBoard (test/device/thingsboard-support.ts: aedes answering attribute requests, recording
 * telemetry), and the device API's firmware URL (`<baseUrl>/api/v1/<token>/firmware?title&version`)
 * answered by otakit's fault server. What ThingsBoard records is asserted as received: the
 * `fw_state` telemetry (`UPDATED`, or `FAILED` with `fw_error`).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceAgent } from '../../src/device/agent.js';
import type { UpdateOutcome } from '../../src/machine/record.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { createThingsBoardAgent } from '../../src/node/agents/thingsboard.js';
import { createFaultServer, type FaultServer } from '../../src/testing/fault-server.js';
import { startThingsBoard, type TbEmulator, type TbPackage } from '../device/thingsboard-support.js';
import { until } from '../support/system-services.js';
import {
  corrupt,
  type FaultRoute,
  installCounter,
  NETWORK_DOWNLOAD,
  NETWORK_MACHINE,
  nth,
  onlyPartialOf,
  PERMANENT,
  SWAPPED,
  sha256,
  stagedFiles,
  stagingOf,
  swapWhileStalled,
  TRANSIENT,
} from './network-support.js';

const TOKEN = 'TB_NETWORK_FAULT_TOKEN_41d7';
const FIRMWARE = `/api/v1/${TOKEN}/firmware`;
const OLD = new TextEncoder().encode('firmware 1.0\n');
// INITIATED: the order was taken (the machine's `available`), as ThingsBoard itself records it.
const HAPPY = ['INITIATED', 'DOWNLOADING', 'DOWNLOADED', 'VERIFIED', 'UPDATING', 'UPDATED'];
const FAILED_DOWNLOAD = ['INITIATED', 'DOWNLOADING', 'FAILED'];

const pkg = (version: string): TbPackage => ({
  title: 'app',
  version,
  bytes: new Uint8Array(randomBytes(40_000)),
});

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

interface Device {
  tb: TbEmulator;
  server: FaultServer;
  root: string;
  file: string;
  state: string;
  agent: DeviceAgent<unknown>;
  counter: ReturnType<typeof installCounter>;
  /** ThingsBoard assigns `next`; the fault server serves `served` (default its bytes) with `fault`. */
  assign(next: TbPackage, fault?: ReturnType<FaultRoute>, served?: Uint8Array): Promise<void>;
  outcome(count: number): Promise<UpdateOutcome>;
  /** Waits for `count` fw_state values (the last telemetry can trail the outcome). */
  states(count: number): Promise<string[]>;
}

async function device(): Promise<Device> {
  const tb = await startThingsBoard(TOKEN);
  cleanups.push(() => tb.close());
  const server = await createFaultServer();
  cleanups.push(() => server.close());
  const root = await mkdtemp(join(tmpdir(), 'otakit-net-tb-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const file = join(root, 'app.bin');
  await writeFile(file, OLD);
  const state = join(root, 'agent');
  const connection = await connectMqtt(tb.url, { username: TOKEN, reconnect: { initialMs: 20, maxMs: 100 } });
  cleanups.push(() => connection.close());
  const counter = installCounter();
  const agent = createThingsBoardAgent({
    target: { accessToken: TOKEN, baseUrl: server.url },
    connection,
    transfer: 'http',
    current: { title: 'app', version: '1.0' },
    installTarget: file,
    stateDirectory: state,
    fsync: false,
    download: NETWORK_DOWNLOAD,
    machine: NETWORK_MACHINE,
    installer: { onStep: counter.onStep },
  }) as DeviceAgent<unknown>;
  cleanups.push(() => agent.stop({ cancel: true }));
  const outcomes: UpdateOutcome[] = [];
  agent.on('outcome', (outcome) => outcomes.push(outcome));
  await agent.start();
  return {
    tb,
    server,
    root,
    file,
    state,
    agent,
    counter,
    async assign(next, fault = {}, served = next.bytes) {
      server.route(FIRMWARE, { ...fault, body: served });
      await tb.assign(next);
    },
    outcome: (count) =>
      nth(outcomes, count, () => `outcome ${count} (fw_state so far ${tb.fwStates().join(' ')})`),
    async states(count) {
      await until(
        () => tb.fwStates().length >= count,
        () => `${count} fw_state values, got ${tb.fwStates().join(' ')}`,
      );
      return tb.fwStates();
    },
  };
}

/** The `fw_error` of each FAILED telemetry, in order. */
const fwErrors = (tb: TbEmulator) =>
  tb.telemetry.filter((entry) => entry.fw_state === 'FAILED').map((entry) => String(entry.fw_error));

describe('ThingsBoard agent: transient faults on the firmware download end UPDATED, installed once', () => {
  it.each(TRANSIENT)('$name', async ({ route }) => {
    const d = await device();
    const next = pkg('1.1');
    await d.assign(next, route(next.bytes.length));
    expect(await d.outcome(1)).toMatchObject({ state: 'committed', update: { id: 'fw:app@1.1' } });
    expect(await d.states(HAPPY.length)).toEqual(HAPPY);
    expect(d.tb.telemetry.at(-1)).toMatchObject({ current_fw_title: 'app', current_fw_version: '1.1' });
    expect(sha256(await readFile(d.file))).toBe(sha256(next.bytes));
    expect(d.counter.installs).toBe(1);
    expect(d.server.stats(FIRMWARE).requests).toBe(2); // the fault, then the retry that completed
    expect(await stagedFiles(stagingOf(d.state))).toEqual([]);
    expect(await readdir(d.root)).toEqual(['agent', 'app.bin']);
  });
});

describe('ThingsBoard agent: permanent faults are FAILED with fw_error, nothing installed, and the agent takes the next package', () => {
  const cases = [
    ...[...PERMANENT, SWAPPED].map((fault) => ({ ...fault, serve: (bytes: Uint8Array) => bytes })),
    {
      name: 'a body that never matches fw_checksum (SHA256)',
      route: () => ({}),
      code: 'INTEGRITY',
      says: /sha256 mismatch, expected [0-9a-f]{64}, got [0-9a-f]{64}$/,
      retried: false,
      serve: corrupt,
    },
  ];
  it.each(cases)('$name', async ({ name, route, code, says, serve }) => {
    const d = await device();
    const bad = pkg('1.1');
    await d.assign(bad, route(bad.bytes.length), serve(bad.bytes));
    if (name === SWAPPED.name) await swapWhileStalled(d.server, FIRMWARE, corrupt(bad.bytes));
    const outcome = await d.outcome(1);
    expect(outcome).toMatchObject({
      state: 'download_failed',
      update: { id: 'fw:app@1.1' },
      error: { code },
    });
    expect(await d.states(FAILED_DOWNLOAD.length)).toEqual(FAILED_DOWNLOAD);
    // fw_error: the canonical state, the error's code, its message (the token masked in the URL).
    const [fwError] = fwErrors(d.tb);
    expect(fwError).toBe(`download_failed: ${code}: ${outcome.error?.message}`);
    expect(fwError).toMatch(says);
    expect(fwError).toContain(`${d.server.url}/api/v1/***/firmware?title=app&version=1.1`);
    expect(sha256(await readFile(d.file))).toBe(sha256(OLD));
    expect(await readdir(d.root)).toEqual(['agent', 'app.bin']);
    expect(d.counter.installs).toBe(0);
    expect(await onlyPartialOf(stagingOf(d.state), 'fw:app@1.1')).toBe(true);
    expect(d.agent.current).toEqual({ id: 'fw:app@1.0', version: '1.0' });

    // Not wedged: the next package assigned to the same running agent is installed and UPDATED.
    const good = pkg('1.2');
    await d.assign(good);
    expect(await d.outcome(2)).toMatchObject({ state: 'committed', update: { id: 'fw:app@1.2' } });
    expect(await d.states(FAILED_DOWNLOAD.length + HAPPY.length)).toEqual([...FAILED_DOWNLOAD, ...HAPPY]);
    expect(sha256(await readFile(d.file))).toBe(sha256(good.bytes));
    expect(d.counter.installs).toBe(1);
    expect(d.agent.current).toEqual({ id: 'fw:app@1.2', version: '1.2' });
    expect(await stagedFiles(stagingOf(d.state))).toEqual([]);
  });
});
