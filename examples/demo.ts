/**
 * `npm run demo`: a small fleet updated end to end on embedded defaults, nothing to configure.
 *
 * - an HTTP server on loopback publishes a manifest and a 4 MiB artifact;
 * - four devices, each with its own directory and a persistent FileStore, run the update machine:
 *   pi-01 updates cleanly; pi-02 loses power right after it persisted `downloading` and resumes on
 *   "reboot"; pi-03 fails its health check and rolls back; pi-04 is served a tampered artifact and
 *   refuses it at verify;
 * - the fleet back end follows every device with a tracker fed by the devices' reports.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createUpdateMachine,
  type Manifest,
  type TrackerUpdateMachine,
  type UpdateOutcome,
} from '../src/index.js';
import { FileStore } from '../src/node/index.js';
import { createCrashingStore } from '../src/testing/index.js';
import { fileDeviceHooks, provision, readVersion } from './support/file-device.js';

const ARTIFACT = new Uint8Array(4 * 1024 * 1024).map((_, index) => (index * 7919) % 251);
const TAMPERED = ARTIFACT.slice();
TAMPERED[1234] = TAMPERED[1234]! ^ 0x01;
const digest = (algorithm: string, bytes: Uint8Array) => createHash(algorithm).update(bytes).digest('hex');

function manifestAt(base: string, artifactPath: string): Manifest {
  return {
    id: 'release-2.0.0',
    version: '2.0.0',
    artifacts: [
      {
        url: `${base}${artifactPath}`,
        size: ARTIFACT.length,
        md5: digest('md5', ARTIFACT),
        sha256: digest('sha256', ARTIFACT),
        target: 'firmware',
        name: 'app.bin',
      },
    ],
  };
}

const server = createServer((request, response) => {
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const routes: Record<string, () => void> = {
    '/manifest.json': () => response.end(JSON.stringify(manifestAt(base, '/artifacts/app-2.0.0.bin'))),
    '/tampered/manifest.json': () =>
      response.end(JSON.stringify(manifestAt(base, '/tampered/app-2.0.0.bin'))),
    '/artifacts/app-2.0.0.bin': () => response.end(ARTIFACT),
    '/tampered/app-2.0.0.bin': () => response.end(TAMPERED),
  };
  const route = routes[request.url ?? ''];
  if (route) return route();
  response.statusCode = 404;
  response.end();
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const workspace = await mkdtemp(join(tmpdir(), 'otakit-demo-'));

const COLORS: Record<string, string> = { 'pi-01': '36', 'pi-02': '35', 'pi-03': '33', 'pi-04': '34' };
const say = (device: string, text: string) =>
  console.log(`\x1b[${COLORS[device] ?? '0'}m[${device}]\x1b[0m ${text}`);

// The fleet back end: one tracker per device, fed by what the devices report.
const trackers = new Map<string, TrackerUpdateMachine>();
function trackerFor(device: string): TrackerUpdateMachine {
  let tracker = trackers.get(device);
  if (tracker === undefined) {
    tracker = createUpdateMachine({ id: device, role: 'tracker' });
    tracker.on('error', (error) => say(device, `cloud refused a report: ${error.message}`));
    trackers.set(device, tracker);
  }
  return tracker;
}

function deviceMachine(
  device: string,
  options: { unhealthy?: boolean; manifestPath?: string; crashAfterWrites?: number },
) {
  const root = join(workspace, device);
  const durable = new FileStore(join(root, 'state'));
  const store = options.crashAfterWrites ? createCrashingStore(durable, options.crashAfterWrites) : durable;
  const machine = createUpdateMachine({
    id: device,
    store,
    hooks: fileDeviceHooks({
      root,
      manifestUrl: `${base}${options.manifestPath ?? '/manifest.json'}`,
      unhealthy: options.unhealthy ?? false,
      report: async (status) => {
        const result = await trackerFor(device).ingest(status);
        if (!result.accepted) throw result.error;
      },
    }),
  });
  machine.on('transition', ({ from, to, resumed, error }) =>
    say(
      device,
      `${resumed ? `resumed in ${to}` : `${from} -> ${to}`}${error ? `  (${error.code}: ${error.message})` : ''}`,
    ),
  );
  machine.on('progress', ({ bytes, total, bytesPerSecond }) => {
    if (bytes === total)
      say(device, `downloaded ${bytes} bytes at ${(bytesPerSecond / 1e6).toFixed(1)} MB/s`);
  });
  return { machine, store };
}

async function update(
  device: string,
  options: Parameters<typeof deviceMachine>[1] = {},
): Promise<UpdateOutcome> {
  const { machine } = deviceMachine(device, options);
  await machine.resume(); // what every agent does at start-up
  return machine.runOnce();
}

async function crashThenResume(device: string): Promise<UpdateOutcome> {
  // Writes: checking, available, downloading. The power goes right after the third.
  const { machine, store } = deviceMachine(device, { crashAfterWrites: 3 });
  void machine.runOnce();
  while (!(store as ReturnType<typeof createCrashingStore>).crashed)
    await new Promise((r) => setTimeout(r, 1));
  say(device, '*** power cut right after persisting "downloading" ***');
  machine.removeAllListeners();
  say(device, '*** reboot: a new process, a new machine over the same state directory ***');
  const { machine: rebooted } = deviceMachine(device, {});
  return rebooted.resume();
}

try {
  // The fleet runs 1.0.0 today.
  for (const device of ['pi-01', 'pi-02', 'pi-03', 'pi-04']) {
    await provision(join(workspace, device), '1.0.0', new TextEncoder().encode('app 1.0.0'));
  }
  const outcomes = await Promise.all([
    update('pi-01'),
    crashThenResume('pi-02'),
    update('pi-03', { unhealthy: true }),
    update('pi-04', { manifestPath: '/tampered/manifest.json' }),
  ]);

  console.log('\nFleet, as the back end sees it:');
  const expected = ['committed', 'committed', 'rolled_back', 'verify_failed'];
  const expectedVersions = ['2.0.0', '2.0.0', '1.0.0', '1.0.0'];
  const rows = await Promise.all(
    ['pi-01', 'pi-02', 'pi-03', 'pi-04'].map(async (device, index) => {
      const snapshot = trackerFor(device).snapshot();
      const version = await readVersion(join(workspace, device));
      return {
        device,
        outcome: snapshot.lastOutcome?.state ?? '(none)',
        error: snapshot.lastOutcome?.error?.code ?? '',
        'version on disk': version,
        transitions: snapshot.history.length,
        'as expected':
          outcomes[index]?.state === expected[index] &&
          snapshot.lastOutcome?.state === expected[index] &&
          version === expectedVersions[index],
      };
    }),
  );
  console.table(rows);
  if (!rows.every((row) => row['as expected'])) {
    console.error('Some device did not end as expected.');
    process.exitCode = 1;
  }
} finally {
  server.close();
  await rm(workspace, { recursive: true, force: true });
}
