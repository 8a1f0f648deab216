/**
 * `npm run demo`: a small mixed fleet updated end to end on embedded defaults, nothing to configure.
 *
 * - The back end has one release (2.0.0, a 4 MiB artifact with MD5 and SHA-256) and sends it to
 *   each device in that device's own platform format: a ThingsBoard attribute update, a Degu
 *   shadow delta, an Exosite `config_otau` manifest. Each device decodes it with the platform
 *   codec, turns it into the canonical manifest (printing what the format could not carry), and
 *   runs the persistent update machine with the real transfer engine (streaming download over
 *   loopback HTTP, MD5 + SHA-256 while streaming, atomic install with a backup).
 * - pi-01 (ThingsBoard) updates cleanly; pi-02 (Degu) loses power half way through the download
 *   and resumes with HTTP Range after the "reboot"; pi-03 (Exosite, which carries no digest) fails
 *   its health check and rolls back; pi-04 (Degu) is served a tampered artifact and refuses it.
 * - The back end follows every device with a tracker fed by the devices' reports, and prints each
 *   outcome in the device's platform vocabulary.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createUpdateMachine,
  degu,
  exosite,
  type Manifest,
  type TrackerUpdateMachine,
  thingsBoard,
  type UpdateOutcome,
  type UpdateStatus,
} from '../src/index.js';
import { createFileDownloadHook, createFileInstaller, FileStore } from '../src/node/index.js';
import { createCrashingStore, createFaultServer } from '../src/testing/index.js';

type Platform = 'thingsboard' | 'degu' | 'exosite';

const V1 = new TextEncoder().encode('app 1.0.0\n');
const V2 = new Uint8Array(4 * 1024 * 1024).map((_, index) => (index * 7919) % 251);
const TAMPERED = V2.slice();
TAMPERED[1234] = TAMPERED[1234]! ^ 0x01;
const digest = (algorithm: string, bytes: Uint8Array) => createHash(algorithm).update(bytes).digest('hex');

const server = await createFaultServer();
server.route('/artifacts/app-2.0.0.bin', { body: V2 });
server.route('/tampered/app-2.0.0.bin', { body: TAMPERED });
// pi-02 downloads over a slow link, so the power cut lands mid-body.
server.route('/slow/app-2.0.0.bin', { body: V2, bytesPerSecond: 8 * 1024 * 1024, chunkSize: 64 * 1024 });
const workspace = await mkdtemp(join(tmpdir(), 'otakit-demo-'));

const release = (path = '/artifacts/app-2.0.0.bin'): Manifest => ({
  id: 'release-2.0.0',
  version: '2.0.0',
  artifacts: [
    {
      url: `${server.url}${path}`,
      size: V2.length,
      md5: digest('md5', V2),
      sha256: digest('sha256', V2),
      target: 'firmware',
      name: 'app.bin',
    },
  ],
});

const COLORS: Record<string, string> = { 'pi-01': '36', 'pi-02': '35', 'pi-03': '33', 'pi-04': '34' };
const say = (device: string, text: string) =>
  console.log(`\x1b[${COLORS[device] ?? '0'}m[${device}]\x1b[0m ${text}`);

/** The back end: encodes the release in the device's format; the device decodes it. Both ends shown. */
function deliver(
  device: string,
  platform: Platform,
  manifest: Manifest,
): { manifest: Manifest; unverified: boolean } {
  let wire: string;
  let received: { value: Manifest | null; lost: { field: string; reason: string }[] };
  if (platform === 'thingsboard') {
    wire = JSON.stringify(thingsBoard.fromCanonical(manifest).value);
    received = thingsBoard.toCanonical(thingsBoard.decodeAttributes(wire));
  } else if (platform === 'degu') {
    const order = degu.fromCanonical(manifest).value;
    wire = JSON.stringify({ state: order.state.desired, version: 7, timestamp: 1_764_000_000 });
    received = degu.deltaToCanonical(degu.decodeMessage('update/delta', wire));
  } else {
    wire = exosite.encodeManifest(exosite.fromCanonical(manifest).value);
    received = exosite.toCanonical(exosite.decodeManifest(wire));
  }
  say(device, `order via ${platform}: ${wire.length > 110 ? `${wire.slice(0, 107)}...` : wire}`);
  for (const loss of received.lost)
    say(device, `  the ${platform} format cannot carry ${loss.field}: ${loss.reason}`);
  if (received.value === null) throw new Error(`${device}: the order carried nothing to install`);
  return { manifest: received.value, unverified: received.lost.some((loss) => /digest/.test(loss.reason)) };
}

/** How the device would say its final state on its own platform. */
function wireStatus(platform: Platform, status: UpdateStatus): string {
  if (platform === 'thingsboard') return JSON.stringify(thingsBoard.statusToTelemetry(status));
  if (platform === 'exosite')
    return JSON.stringify(exosite.statusFromCanonical(status) ?? 'no otau_in status');
  const reported =
    status.state === 'committed' ? 'reported *_ver now matches desired' : 'reported *_ver unchanged';
  return `Degu has no status words: ${reported}`;
}

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

interface DeviceOptions {
  platform: Platform;
  unhealthy?: boolean;
  unverified?: boolean;
  crashable?: boolean;
}

function deviceMachine(device: string, options: DeviceOptions) {
  const root = join(workspace, device);
  const durable = new FileStore(join(root, 'state'));
  const store = options.crashable ? createCrashingStore(durable) : durable;
  const installer = createFileInstaller({ target: join(root, 'app.bin') });
  const machine = createUpdateMachine({
    id: device,
    store,
    allowUnverified: options.unverified ?? false,
    hooks: {
      download: createFileDownloadHook({ directory: join(root, 'staging') }),
      install: async ({ staged }) => void (await installer.install(staged[0]!.location)),
      healthCheck: async () => !options.unhealthy,
      commit: async () => installer.commit(),
      rollback: async () => installer.rollback(),
      report: async ({ status }) => {
        const result = await trackerFor(device).ingest(status);
        if (!result.accepted) throw result.error;
        if (['committed', 'rolled_back', 'download_failed', 'verify_failed'].includes(status.state)) {
          say(device, `status on the wire: ${wireStatus(options.platform, status)}`);
        }
      },
    },
  });
  machine.on('transition', ({ from, to, resumed, error }) =>
    say(
      device,
      `${resumed ? `resumed in ${to}` : `${from} -> ${to}`}${error ? `  (${error.code}: ${error.message})` : ''}`,
    ),
  );
  machine.on('progress', ({ bytes, bytesPerSecond }) => {
    if (bytes === V2.length)
      say(device, `downloaded ${bytes} bytes at ${(bytesPerSecond / 1e6).toFixed(1)} MB/s`);
  });
  return { machine, store };
}

async function update(device: string, options: DeviceOptions, path?: string): Promise<UpdateOutcome> {
  const { manifest, unverified } = deliver(device, options.platform, release(path));
  if (unverified) say(device, '  no digest to check: this device was set up with allowUnverified');
  const { machine } = deviceMachine(device, { ...options, unverified });
  await machine.resume(); // what every agent does at start-up
  return machine.apply(manifest);
}

async function powerCutThenResume(device: string, options: DeviceOptions): Promise<UpdateOutcome> {
  const { manifest } = deliver(device, options.platform, release('/slow/app-2.0.0.bin'));
  const { machine, store } = deviceMachine(device, { ...options, crashable: true });
  const power = new AbortController();
  // Degu orders carry no size, so the device does not know the total: the demo does.
  machine.on('progress', ({ bytes }) => {
    if (bytes >= V2.length / 2 && !power.signal.aborted) {
      say(device, `*** power cut at ${bytes} of ${V2.length} bytes ***`);
      (store as ReturnType<typeof createCrashingStore>).crash(); // nothing more reaches the disk...
      power.abort(); // ...and the process stops
    }
  });
  void machine.apply(manifest, { signal: power.signal }).catch(() => {});
  for (let waited = 0; !power.signal.aborted; waited += 5) {
    if (waited > 30_000) throw new Error(`${device}: the download never reached half way`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  machine.removeAllListeners();
  const sentBefore = server.stats('/slow/app-2.0.0.bin').bytesSent;
  say(device, '*** reboot: a new process, a new machine over the same state directory ***');
  server.update('/slow/app-2.0.0.bin', { bytesPerSecond: 0 });
  const { machine: rebooted } = deviceMachine(device, options);
  const outcome = await rebooted.resume();
  const sentAfter = server.stats('/slow/app-2.0.0.bin').bytesSent - sentBefore;
  say(
    device,
    `after the reboot the server sent ${sentAfter} more bytes (Range resume: ${server.stats('/slow/app-2.0.0.bin').ranges.at(-1)})`,
  );
  return outcome;
}

async function installedVersion(device: string): Promise<string> {
  const bytes = await readFile(join(workspace, device, 'app.bin'));
  if (digest('sha256', bytes) === digest('sha256', V2)) return '2.0.0';
  return digest('sha256', bytes) === digest('sha256', V1) ? '1.0.0' : 'unknown';
}

try {
  // The fleet runs 1.0.0 today.
  for (const device of ['pi-01', 'pi-02', 'pi-03', 'pi-04']) {
    await mkdir(join(workspace, device), { recursive: true });
    await writeFile(join(workspace, device, 'app.bin'), V1);
  }
  const plan: [string, Platform, string, string][] = [
    ['pi-01', 'thingsboard', 'committed', '2.0.0'],
    ['pi-02', 'degu', 'committed', '2.0.0'],
    ['pi-03', 'exosite', 'rolled_back', '1.0.0'],
    ['pi-04', 'degu', 'download_failed', '1.0.0'],
  ];
  const outcomes = await Promise.all([
    update('pi-01', { platform: 'thingsboard' }),
    powerCutThenResume('pi-02', { platform: 'degu' }),
    update('pi-03', { platform: 'exosite', unhealthy: true }),
    update('pi-04', { platform: 'degu' }, '/tampered/app-2.0.0.bin'),
  ]);

  console.log('\nFleet, as the back end sees it:');
  const rows = await Promise.all(
    plan.map(async ([device, platform, expected, expectedVersion], index) => {
      const snapshot = trackerFor(device).snapshot();
      const version = await installedVersion(device);
      return {
        device,
        platform,
        outcome: snapshot.lastOutcome?.state ?? '(none)',
        error: snapshot.lastOutcome?.error?.code ?? '',
        'running version': version,
        transitions: snapshot.history.length,
        'as expected':
          outcomes[index]?.state === expected &&
          snapshot.lastOutcome?.state === expected &&
          version === expectedVersion,
      };
    }),
  );
  console.table(rows);
  if (!rows.every((row) => row['as expected'])) {
    console.error('Some device did not end as expected.');
    process.exitCode = 1;
  }
} finally {
  await server.close();
  await rm(workspace, { recursive: true, force: true });
}
