/**
 * The fleet simulator on micropython_ota, end to end against the real cloud side: the
 * micropython_ota server of otakit/node over a release root laid out by `publishRelease`.
 * Simulated devices poll `<host>/<project>/version` on one shared HTTP channel (the agent's own
 * poll loop), fetch every file of the release, and write their local `version` file (the
 * protocol's only status) through a real file channel each. micropython_ota has no status channel:
 * a fleet tool reads each device's `version` file into a `Fleet`, as the protocol's cloud side
 * expects. Nothing is timed: waits poll for a condition, their limits only catch a hang.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Fleet } from '../../src/cloud/fleet/fleet.js';
import { micropythonOta } from '../../src/index.js';
import { publishRelease } from '../../src/node/cloud/micropython-ota-publish.js';
import { type FetchEvent, startMicropythonOtaServer } from '../../src/node/cloud/micropython-ota-server.js';
import { fileChannel } from '../../src/node/file-channel.js';
import { createFleetSimulator, ManualClock } from '../../src/testing/index.js';
import { httpChannel } from '../../src/transport/http-channel.js';
import { until } from '../support/system-services.js';

type Target = micropythonOta.Target;

const WAIT = 45_000;
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

describe('fleet simulator on micropython_ota: the real server and release root', () => {
  it('6 boards poll the version file, fetch both files, write the new tag (committed in the fleet); one fails verification and keeps its tag; one stays silent', async () => {
    const root = await mkdtemp(join(tmpdir(), 'otakit-fleet-sim-mpy-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const serverRoot = join(root, 'server');
    await publishRelease({
      root: serverRoot,
      project: 'sample',
      version: 'v2.0.0',
      // Bytes, not paths (a string names a file to copy).
      files: { 'boot.py': Buffer.from('print("boot 2")\n'), 'main.py': Buffer.from('print("main 2")\n') },
      fsync: false,
    });
    const server = await startMicropythonOtaServer({ root: serverRoot });
    cleanups.push(() => server.close());
    const fetches: FetchEvent[] = [];
    server.handler.on('fetch', (event) => fetches.push(event));

    const ids = Array.from({ length: 6 }, (_, index) => `board-${index + 1}`);
    const [failing, silent] = [ids[2]!, ids[5]!];
    const target: Target = { host: server.url, project: 'sample', filenames: ['boot.py', 'main.py'] };
    const sim = createFleetSimulator<Target>({
      protocol: micropythonOta.protocol,
      // One release URL for the whole project; each board writes its own version file.
      devices: ids.map((id) => ({
        id,
        target,
        channels: { file: fileChannel({ directory: join(root, 'boards', id), fsync: false }) },
      })),
      channels: { http: httpChannel({ timeoutMs: 10_000 }) },
      installed: { id: 'sample@v1.0.0', version: 'v1.0.0' },
      poll: { intervalMs: 60 * 60_000 },
      download: { mode: 'fetch' },
      failures: [
        { kind: 'verify_failed', devices: [failing] },
        { kind: 'silent', devices: [silent] },
      ],
    });
    cleanups.push(() => sim.stop());
    const outcomes = new Map<string, string>();
    sim.on('outcome', ({ deviceId, state }) => outcomes.set(deviceId, state));
    await sim.start();
    await until(
      () => outcomes.size === ids.length - 1,
      () => `every board but the silent one done: ${JSON.stringify([...outcomes])}`,
      WAIT,
    );

    // The fleet tool: each board's version file, read as the protocol's cloud side decodes it.
    const fleet = new Fleet();
    const versionOf = (id: string) => readFile(join(root, 'boards', id, 'version'), 'utf8').catch(() => null);
    for (const id of ids) {
      const payload = await versionOf(id);
      if (payload !== null) {
        await fleet.ingestMessage(
          micropythonOta.protocol,
          target,
          { address: 'version', payload },
          { deviceId: id },
        );
      }
    }
    const healthy = ids.filter((id) => id !== failing && id !== silent);
    for (const id of healthy) {
      expect(await versionOf(id)).toBe('v2.0.0');
      expect(await fleet.device(id)).toMatchObject({
        state: 'committed',
        update: { id: 'sample@v2.0.0', version: 'v2.0.0' },
        protocol: 'micropythonOta',
      });
      expect(sim.device(id).installs).toEqual({ 'sample@v2.0.0': 1 });
    }
    // micropython_ota has no word for a failure: the board keeps the tag it wrote at boot.
    expect(outcomes.get(failing)).toBe('verify_failed');
    expect(await versionOf(failing)).toBe('v1.0.0');
    expect(await fleet.device(failing)).toMatchObject({ update: { id: 'sample@v1.0.0', version: 'v1.0.0' } });
    // The silent board polled (it heard the order) and wrote nothing, not even its boot tag.
    expect(await versionOf(silent)).toBeNull();
    expect(sim.device(silent)).toMatchObject({ ordersReceived: 1, messagesSent: 0 });
    expect(await fleet.device(silent)).toBeUndefined();
    // What the server saw: one version poll per board, then both files from each board that
    // got past the download (the failing one fetched them too: it failed at verification).
    expect(fetches.filter((event) => event.kind === 'version').map((event) => event.status)).toEqual(
      ids.map(() => 200),
    );
    const files = fetches.filter((event) => event.kind === 'file');
    expect(files.map((event) => `${event.path} ${event.status}`).sort()).toEqual(
      [...healthy, failing]
        .flatMap(() => ['/sample/v2.0.0_boot.py 200', '/sample/v2.0.0_main.py 200'])
        .sort(),
    );
    expect(sim.stats().errors).toBe(0);
    expect([...sim.installCounts('sample@v2.0.0').values()]).toEqual(
      ids.map((id) => (healthy.includes(id) ? 1 : 0)),
    );
  });

  it('polls on the simulator’s clock: a board that failed retries at its next poll, an interval later, and installs once', async () => {
    const root = await mkdtemp(join(tmpdir(), 'otakit-fleet-sim-mpy-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const serverRoot = join(root, 'server');
    await publishRelease({
      root: serverRoot,
      project: 'sample',
      version: 'v3.0.0',
      files: { 'main.py': Buffer.from('print("main 3")\n') },
      fsync: false,
    });
    const server = await startMicropythonOtaServer({ root: serverRoot });
    cleanups.push(() => server.close());
    const clock = new ManualClock();
    const polls: number[] = [];
    server.handler.on('fetch', (event) => {
      if (event.kind === 'version') polls.push(clock.now());
    });
    const target: Target = { host: server.url, project: 'sample', filenames: ['main.py'] };
    const sim = createFleetSimulator<Target>({
      protocol: micropythonOta.protocol,
      devices: [{ id: 'board-retry', target }],
      channels: {
        http: httpChannel({ timeoutMs: 10_000 }),
        file: fileChannel({ directory: join(root, 'board'), fsync: false }),
      },
      clock,
      poll: { intervalMs: 60_000, jitter: 0 },
      download: { mode: 'fetch' },
      failures: { kind: 'download_failed', devices: ['board-retry'], attempts: 1 },
    });
    cleanups.push(() => sim.stop());
    const outcomes: string[] = [];
    sim.on('outcome', (event) => outcomes.push(event.state));
    await sim.start();
    await until(
      () => outcomes.length === 1,
      () => 'the first attempt',
      WAIT,
    );
    expect(outcomes).toEqual(['download_failed']);
    await clock.advance(59_999);
    expect(polls).toHaveLength(1);
    await clock.advance(1);
    await until(
      () => outcomes.length === 2,
      () => `the retry at the next poll (${polls.length} polls)`,
      WAIT,
    );
    expect(outcomes).toEqual(['download_failed', 'committed']);
    expect(polls).toEqual([polls[0], polls[0]! + 60_000]);
    expect(await readFile(join(root, 'board', 'version'), 'utf8')).toBe('v3.0.0');
    expect(sim.device('board-retry').installs).toEqual({ 'sample@v3.0.0': 1 });
  });
});
