/**
 * Network faults on an Exosite OTAU download (issue 15): the real agent (`createExositeAgent`)
 * long-polling Murano's device API as emulated in process (`createExositeEmulator` of
 * otakit/testing: `config_otau` set by the platform, the device's `otau_in` writes recorded), and
 * a `FILE` manifest whose payload URL is answered by otakit's fault server. What Murano receives
 * in `otau_in` is asserted as written: `INSTALL_SUCCESS` then `INSTALLED_VERSION`, or
 * `DOWNLOAD_ERROR` with the error's message.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceAgent } from '../../src/device/agent.js';
import type { UpdateOutcome } from '../../src/machine/record.js';
import { createExositeAgent, type ExositeTarget } from '../../src/node/index.js';
import type { OtauManifestInput } from '../../src/protocols/exosite/schemas.js';
import { createExositeEmulator, type ExositeEmulator } from '../../src/testing/exosite-murano.js';
import { createFaultServer, type FaultServer } from '../../src/testing/fault-server.js';
import { until } from '../support/system-services.js';
import {
  type FaultRoute,
  installCounter,
  LYING_LENGTH,
  MACHINE_DOWNLOAD_ATTEMPTS,
  NETWORK_DOWNLOAD,
  NETWORK_MACHINE,
  nth,
  onlyPartialOf,
  PERMANENT,
  payload,
  sha256,
  snapshot,
  stagedFiles,
  stagingOf,
  TRANSIENT,
} from './network-support.js';

const TOKEN = 'cik-network-fault-0c3b9e';
const FILE = '/cdn/app.bin';

/** The statuses of an update: Murano's words for taking, downloading and installing a FILE OTAU. */
const taken = ['INIT', 'TEST', 'TEST_SUCCESS', 'DOWNLOAD', 'DOWNLOAD_STEP'];
const HAPPY = [...taken, 'DOWNLOAD_SUCCESS', 'INSTALL', 'INSTALL_SUCCESS', 'INSTALLED_VERSION'];
/** A failed download: one more `DOWNLOAD_STEP` for each run of the download phase the machine retried. */
const failed = (retried: boolean) => [
  ...taken,
  ...Array(retried ? MACHINE_DOWNLOAD_ATTEMPTS - 1 : 0).fill('DOWNLOAD_STEP'),
  'DOWNLOAD_ERROR',
];

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

interface Device {
  murano: ExositeEmulator;
  server: FaultServer;
  root: string;
  app: string;
  state: string;
  agent: DeviceAgent<ExositeTarget>;
  counter: ReturnType<typeof installCounter>;
  /** Murano sets `config_otau` to a FILE OTAU of `version`; the fault server serves `body` with `fault`. */
  order(version: string, body: Uint8Array, fault?: ReturnType<FaultRoute>): Promise<void>;
  outcome(count: number): Promise<UpdateOutcome>;
  /** The `otau_in` words, once there are `count` (the last write can trail the outcome). */
  words(count: number): Promise<string[]>;
}

async function device(): Promise<Device> {
  const murano = await createExositeEmulator({ productId: 'netfault', identity: 'sensor-9', token: TOKEN });
  cleanups.push(() => murano.close());
  const server = await createFaultServer();
  cleanups.push(() => server.close());
  const root = await mkdtemp(join(tmpdir(), 'otakit-net-exosite-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const app = join(root, 'app');
  const state = join(root, 'agent');
  await mkdir(app);
  await writeFile(join(app, 'app.bin'), 'firmware 1.0.0\n');
  const counter = installCounter();
  const agent = createExositeAgent({
    target: {
      productId: murano.productId,
      identity: murano.identity,
      transport: 'http',
      token: TOKEN,
      longPollTimeoutMs: 1_000,
    },
    apiOrigin: murano.origin,
    installDirectory: app,
    stateDirectory: state,
    currentVersion: '1.0.0',
    fsync: false,
    download: NETWORK_DOWNLOAD,
    machine: NETWORK_MACHINE,
    poll: { backoff: { baseDelayMs: 20, maxDelayMs: 100 } },
    installer: { onStep: counter.onStep },
  });
  cleanups.push(() => agent.stop({ cancel: true }));
  const outcomes: UpdateOutcome[] = [];
  agent.on('outcome', (outcome) => outcomes.push(outcome));
  await agent.start();
  const words = () => murano.statuses().map((status) => status.status);
  return {
    murano,
    server,
    root,
    app,
    state,
    agent,
    counter,
    async order(version, body, fault = {}) {
      server.route(FILE, { ...fault, body });
      const manifest = { version, name: 'app', type: 'FILE', payload: `${server.url}${FILE}` };
      await murano.setConfig(manifest as OtauManifestInput);
    },
    outcome: (count) => nth(outcomes, count, () => `outcome ${count} (otau_in so far ${words().join(' ')})`),
    async words(count) {
      await until(
        () => words().length >= count,
        () => `${count} otau_in statuses, got ${words().join(' ')}`,
      );
      return words();
    },
  };
}

describe('Exosite agent: transient faults on the OTAU download end INSTALL_SUCCESS, installed once', () => {
  it.each(TRANSIENT)('$name', async ({ route }) => {
    const d = await device();
    const body = payload(40_000, 2);
    await d.order('1.0.1', body, route(body.length));
    expect(await d.outcome(1)).toMatchObject({ state: 'committed', update: { version: '1.0.1' } });
    // INSTALLED_VERSION 1.0.0 at boot, then the update's statuses, all of version 1.0.1.
    expect(await d.words(1 + HAPPY.length)).toEqual(['INSTALLED_VERSION', ...HAPPY]);
    expect(d.murano.statuses().at(-1)).toEqual({
      version: '1.0.1',
      status: 'INSTALLED_VERSION',
      message: '',
    });
    expect(sha256(await readFile(join(d.app, 'app.bin')))).toBe(sha256(body));
    expect(d.counter.installs).toBe(1);
    expect(d.server.stats(FILE).requests).toBe(2); // the fault, then the retry that completed
    expect(await stagedFiles(stagingOf(d.state))).toEqual([]);
    expect(await readdir(d.root)).toEqual(['agent', 'app']);
  });

  it(`${LYING_LENGTH.name}: no size in the manifest, so the resume's 416 proves the bytes whole`, async () => {
    // Exosite manifests state no size: the body ends short of its header, the resume is answered
    // 416 with `Content-Range: bytes */<n>`, n the bytes held, and they are the right ones.
    const d = await device();
    const body = payload(40_000, 2);
    await d.order('1.0.1', body, LYING_LENGTH.route(body.length));
    expect(await d.outcome(1)).toMatchObject({ state: 'committed', update: { version: '1.0.1' } });
    expect(await d.words(1 + HAPPY.length)).toEqual(['INSTALLED_VERSION', ...HAPPY]);
    // The bytes that arrived before the connection closed are kept (the nodeFetch fix): one
    // resume, answered 416, and no second run of the download phase.
    expect(d.server.stats(FILE).ranges).toEqual([null, `bytes=${body.length}-`]);
    expect(sha256(await readFile(join(d.app, 'app.bin')))).toBe(sha256(body));
    expect(d.counter.installs).toBe(1);
    expect(await stagedFiles(stagingOf(d.state))).toEqual([]);
  });
});

describe('Exosite agent: permanent faults are DOWNLOAD_ERROR with the reason, nothing installed, and the agent takes the next OTAU', () => {
  it.each(PERMANENT.filter((fault) => fault !== LYING_LENGTH))(
    '$name',
    async ({ route, code, says, retried }) => {
      const d = await device();
      const before = await snapshot(d.app);
      const body = payload(40_000, 2);
      await d.order('1.0.1', body, route(body.length));
      const outcome = await d.outcome(1);
      expect(outcome).toMatchObject({
        state: 'download_failed',
        update: { version: '1.0.1' },
        error: { code },
      });
      const FAILED = failed(retried);
      expect(await d.words(1 + FAILED.length)).toEqual(['INSTALLED_VERSION', ...FAILED]);
      // DOWNLOAD_ERROR carries the error's message (the URL is a third party's: no token in it).
      const error = d.murano.statuses().at(-1)!;
      expect(error).toEqual({ version: '1.0.1', status: 'DOWNLOAD_ERROR', message: outcome.error?.message });
      expect(error.message).toMatch(says);
      expect(await snapshot(d.app)).toEqual(before);
      expect(await readdir(d.root)).toEqual(['agent', 'app']);
      expect(d.counter.installs).toBe(0);
      expect(await onlyPartialOf(stagingOf(d.state), outcome.update!.id)).toBe(true);
      expect(d.agent.current).toMatchObject({ version: '1.0.0' });

      // Not wedged: the next OTAU Murano sets, to the same running agent, is installed.
      const good = payload(40_000, 3);
      await d.order('1.0.2', good);
      expect(await d.outcome(2)).toMatchObject({ state: 'committed', update: { version: '1.0.2' } });
      expect(await d.words(1 + FAILED.length + HAPPY.length)).toEqual([
        'INSTALLED_VERSION',
        ...FAILED,
        ...HAPPY,
      ]);
      expect(d.murano.statuses().at(-1)).toEqual({
        version: '1.0.2',
        status: 'INSTALLED_VERSION',
        message: '',
      });
      expect(sha256(await readFile(join(d.app, 'app.bin')))).toBe(sha256(good));
      expect(d.counter.installs).toBe(1);
      expect(await stagedFiles(stagingOf(d.state))).toEqual([]);
    },
  );
});
