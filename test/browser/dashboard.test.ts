/**
 * The dashboard (examples/dashboard/) in a real Chromium (Debian's `chromium`, driven by
 * playwright-core), fed by a real rollout: an in-process MQTT broker (aedes), six simulated
 * insigh.io devices on it (otakit/testing's fleet simulator; dev-003 fails its install), and the
 * service side of docs/cloud/rollouts.md's quick start — the update publisher, the status intake
 * into a `Fleet`, the rollout orchestrator. The payload the page gets is built from that Fleet
 * and that orchestrator, as the demo's `--serve` builds it.
 *
 * The page is opened before the rollout starts: what it shows afterwards came over the event
 * stream. Then the demo itself is run with `--serve` and the dashboard it prints is opened.
 *
 * Chromium comes from the system (`apt-get install chromium`) or CHROMIUM_PATH: without it the
 * file skips locally and fails in CI (CI set), as test/browser/chromium.test.ts does.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDashboard, forbiddenInputs, lastMetafile } from '../../examples/dashboard/build.js';
import type { DemoStreamPayload } from '../../examples/dashboard/payload.js';
import { type DashboardServer, serveDashboard } from '../../examples/dashboard/serve.js';
import {
  createRolloutOrchestrator,
  createStatusIntake,
  createUpdatePublisher,
  MemoryRolloutStore,
  publisherDispatcher,
  type RolloutOrchestrator,
} from '../../src/cloud/index.js';
import {
  createUpdateMachine,
  downloadArtifact,
  Fleet,
  insighIo,
  MemorySink,
  MemoryStore,
  type MqttConnection,
  mqttChannel,
  PROTOCOL_DESCRIPTORS,
  type UpdateStatus,
} from '../../src/index.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import {
  createFaultServer,
  createFleetSimulator,
  type FaultServer,
  seededRandom,
} from '../../src/testing/index.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH, HAVE_CHROMIUM } from '../support/chromium.js';

const ROOT = join(import.meta.dirname, '../..');
const IN_CI = Boolean(process.env.CI);
const MISSING = `no Chromium at ${CHROMIUM_PATH} (install it with \`apt-get install chromium\`, or set CHROMIUM_PATH)`;
const SCREENSHOT = join(ROOT, 'test/artifacts/dashboard.png');
/** Only catches a hang: the page is polled until the state shows, however slow the machine. */
const WAIT = { timeout: 45_000 };

const DEVICES = Array.from({ length: 6 }, (_, index) => `dev-${String(index + 1).padStart(3, '0')}`);
const FAILING = ['dev-003'];
const CONTROL_CHANNEL = 'ctrl-1';
const ROLLOUT = 'app-2.0';
const RELEASE = {
  id: 'fa8884d2',
  version: '2.0.0',
  artifacts: [
    {
      url: 'https://console.insigh.io/mf-rproxy/packages/download?fuid=fa8884d2',
      target: 'package' as const,
      size: 4096,
      name: 'fa8884d2.tar.gz',
    },
  ],
};

if (!HAVE_CHROMIUM) {
  if (IN_CI) {
    describe('the dashboard in a real Chromium', () => {
      it('has Chromium to run in (CI must run the browser tests)', () => {
        throw new Error(`${MISSING}. .ci/run apt-installs chromium when CI is set: see its warnings.`);
      });
    });
  } else {
    console.warn(`test/browser/dashboard.test.ts skipped: ${MISSING}`);
  }
}

/** The service side of a small rollout over simulated insigh.io devices, all in this process. */
interface RealRollout {
  fleet: Fleet;
  orchestrator: RolloutOrchestrator;
  start(): Promise<void>;
  payload(extra?: DemoStreamPayload['platforms']): Promise<DemoStreamPayload>;
  close(): Promise<void>;
}

async function startRealRollout(): Promise<RealRollout> {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`;

  // The devices.
  const devicesConnection = await connectMqtt(url, { clientId: 'simulated-fleet' });
  const simulator = createFleetSimulator({
    protocol: insighIo.protocol,
    devices: DEVICES.map((deviceId) => ({
      id: deviceId,
      target: { controlChannelId: CONTROL_CHANNEL, deviceId },
    })),
    channels: { mqtt: mqttChannel(devicesConnection) },
    failures: { kind: 'install_failed', devices: FAILING },
    latency: { download: [100, 400], install: [50, 200] },
    random: seededRandom(1),
  });
  await simulator.start();

  // The service.
  const connection: MqttConnection = await connectMqtt(url, { clientId: 'ota-service' });
  const fleet = new Fleet();
  const publisher = createUpdatePublisher({
    protocol: insighIo.protocol,
    channels: { mqtt: mqttChannel(connection) },
    fleet,
  });
  const targetOf = (deviceId: string) => ({ controlChannelId: CONTROL_CHANNEL, deviceId });
  const intake = createStatusIntake({
    fleet,
    protocol: insighIo.protocol,
    connection,
    filter: `channels/${CONTROL_CHANNEL}/messages/+/ota`,
    targetOf: (topic) => targetOf(topic.split('/')[3]!),
  });
  await intake.start();
  const orchestrator = createRolloutOrchestrator({
    store: new MemoryRolloutStore(),
    fleet,
    dispatcher: publisherDispatcher(publisher, targetOf),
  });

  return {
    fleet,
    orchestrator,
    async start() {
      await orchestrator.start({
        id: ROLLOUT,
        manifest: RELEASE,
        devices: DEVICES,
        waves: [{ name: 'canary', count: 2 }, { percent: 100 }],
      });
    },
    async payload(extra = []) {
      const rollout = await orchestrator.snapshot(ROLLOUT);
      const rollouts = rollout === undefined ? [] : [rollout];
      return {
        at: new Date().toISOString(),
        platforms: [
          { platform: 'insighIo', title: PROTOCOL_DESCRIPTORS.insighIo.title, fleet: await fleet.snapshot() },
          ...extra,
        ],
        rollouts,
        done: rollouts.length > 0 && rollouts.every((each) => each.finishedAt !== null),
      };
    },
    async close() {
      await orchestrator.close();
      await intake.stop();
      await simulator.stop();
      await Promise.all([connection.close(), devicesConnection.close()]);
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A second "platform": one device running otakit's update machine, downloading a real artifact
 * over HTTP from the fault server (throttled), its statuses and its download progress ingested
 * into a Fleet of their own. The body stops halfway until `release()`, so the page is sure to see
 * the download under way, however slow the machine.
 */
interface DownloadingDevice {
  fleet: Fleet;
  deviceId: string;
  /** Starts the update; resolves with its outcome once committed (after `release()`). */
  apply(): Promise<string>;
  release(): void;
  close(): Promise<void>;
}

async function startDownloadingDevice(): Promise<DownloadingDevice> {
  const server: FaultServer = await createFaultServer();
  const body = new Uint8Array(randomBytes(512 * 1024));
  server.route('/fw/gw-2.1.0.bin', { body, bytesPerSecond: 1024 * 1024, chunkSize: 16 * 1024 });
  const fleet = new Fleet();
  const deviceId = 'gw-01';
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  /** The device's fetch: the body holds back past half the artifact until released. */
  const gatedFetch: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    if (response.body === null) return response;
    let passed = 0;
    const held = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        async transform(chunk, controller) {
          if (passed + chunk.byteLength > body.length / 2) await gate;
          passed += chunk.byteLength;
          controller.enqueue(chunk);
        },
      }),
    );
    return new Response(held, { status: response.status, headers: response.headers });
  };
  // Statuses reach the fleet in the order the device sent them.
  let queue = Promise.resolve();
  const ingest = (status: UpdateStatus) => {
    queue = queue.then(async () => {
      await fleet.ingest(deviceId, status);
    });
    return queue;
  };
  let last: UpdateStatus | null = null;
  const machine = createUpdateMachine({
    id: deviceId,
    store: new MemoryStore(),
    hooks: {
      async download(context) {
        const artifact = context.manifest.artifacts[0]!;
        const sink = new MemorySink();
        const result = await downloadArtifact({
          url: artifact.url,
          sink,
          expected: { size: body.length, sha256: artifact.sha256! },
          hashes: ['sha256'],
          fetch: gatedFetch,
          signal: context.signal,
          onProgress: ({ bytes, total }) => context.onProgress({ bytes, total }),
        });
        return [{ location: 'memory:fw', size: result.size, sha256: result.sha256! }];
      },
      async install() {},
      async healthCheck() {
        return true;
      },
      async commit() {},
      async report({ status }) {
        last = status;
        await ingest(status);
      },
    },
  });
  // What a device sends between transitions: its progress, as a repeated `downloading` status.
  machine.on('progress', ({ bytes, total, bytesPerSecond }) => {
    if (last?.state !== 'downloading') return;
    void ingest({ ...last, at: new Date().toISOString(), progress: { bytes, total, bytesPerSecond } });
  });
  return {
    fleet,
    deviceId,
    async apply() {
      const outcome = await machine.apply({
        id: 'gw-2.1.0',
        version: '2.1.0',
        artifacts: [
          {
            url: `${server.url}/fw/gw-2.1.0.bin`,
            target: 'firmware',
            size: body.length,
            sha256: createHash('sha256').update(body).digest('hex'),
          },
        ],
      });
      await queue;
      return outcome.state;
    },
    release,
    async close() {
      release();
      await server.close();
    },
  };
}

/** A page that records uncaught errors and console errors. */
async function openPage(browser: Browser, url: string) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror ${error.name}: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()} (${message.location().url})`);
  });
  await page.goto(url);
  await page.locator('#connection[data-live="true"]').waitFor(WAIT);
  return { page, errors };
}

/** Types `manifest` into the manifest box as a paste would (one input event). */
async function pasteManifest(page: Page, manifest: unknown): Promise<void> {
  await page.locator('#manifest-input').fill(JSON.stringify(manifest, null, 2));
}

describe('the dashboard bundle', () => {
  it('builds for the browser with no Node built-in and no Node-only otakit module in it', async () => {
    const files = await buildDashboard();
    expect([...files.keys()].sort()).toEqual(['/', '/app.js']);
    const inputs = Object.keys(lastMetafile!.inputs);
    expect(inputs).toContain('src/index.ts');
    expect(inputs.filter((input) => input.startsWith('node:'))).toEqual([]);
    expect(forbiddenInputs(lastMetafile!)).toEqual([]);
    const app = files.get('/app.js')!.body;
    expect(typeof app === 'string' ? app : new TextDecoder().decode(app)).not.toMatch(/["']node:/);
  });

  it('refuses a bundle that would hold a Node-only module', () => {
    expect(
      forbiddenInputs({
        inputs: { 'src/node/file-store.ts': { bytes: 1, imports: [] } },
        outputs: {
          'app.js': {
            bytes: 1,
            inputs: {},
            imports: [{ path: 'node:fs', kind: 'import-statement' }],
            exports: [],
          },
        },
      }),
    ).toEqual(['src/node/file-store.ts', 'node:fs']);
  });
});

describe.skipIf(!HAVE_CHROMIUM)(
  `the dashboard in a real Chromium${HAVE_CHROMIUM ? '' : ` (skipped: ${MISSING})`}`,
  () => {
    let browser: Browser | undefined;
    let rollout: RealRollout | undefined;
    let gateway: DownloadingDevice | undefined;
    let dashboard: DashboardServer | undefined;

    beforeAll(async () => {
      [browser, rollout, gateway] = await Promise.all([
        chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS }),
        startRealRollout(),
        startDownloadingDevice(),
      ]);
      dashboard = await serveDashboard({
        snapshot: async () =>
          rollout!.payload([
            {
              platform: 'http',
              title: 'HTTP gateway (otakit machine)',
              fleet: await gateway!.fleet.snapshot(),
            },
          ]),
      });
    });

    afterAll(async () => {
      await browser?.close();
      await dashboard?.close();
      await rollout?.close();
      await gateway?.close();
    });

    it('serves the payload as JSON at /api/snapshot', async () => {
      const response = await fetch(new URL('/api/snapshot', dashboard!.url));
      expect(response.headers.get('content-type')).toBe('application/json');
      const payload = (await response.json()) as DemoStreamPayload;
      expect(payload.platforms.map(({ platform, title }) => ({ platform, title }))).toEqual([
        { platform: 'insighIo', title: 'insigh.io' },
        { platform: 'http', title: 'HTTP gateway (otakit machine)' },
      ]);
    });

    it('streams a real rollout: devices reach committed, waves and failures show, the manifest box names field errors', async () => {
      const { page, errors } = await openPage(browser!, dashboard!.url);
      try {
        // Before the rollout: the example manifest is valid, no rollout yet.
        await expect.poll(() => page.locator('#manifest-status').textContent(), WAIT).toBe('valid');
        await page.locator('#rollouts .none').waitFor(WAIT);

        await rollout!.start();
        const settled = await rollout!.orchestrator.waitFor(ROLLOUT);
        expect(settled.state).toBe('completed');
        expect(settled.totals).toMatchObject({ succeeded: 5, failed: 1 });

        // What the page shows came over the event stream, a payload at a time.
        const card = page.locator(`[data-rollout="${ROLLOUT}"]`);
        await page.locator(`[data-rollout="${ROLLOUT}"][data-state="completed"]`).waitFor(WAIT);
        for (const deviceId of DEVICES.filter((id) => !FAILING.includes(id)))
          await page.locator(`tr[data-device="${deviceId}"][data-state="committed"]`).waitFor(WAIT);
        await page.locator('tr[data-device="dev-003"][data-state="install_failed"]').waitFor(WAIT);
        // insigh.io's own word for committed: its `applied` OTA event.
        expect(await page.locator('tr[data-device="dev-001"] .word').getAttribute('data-word')).toBe(
          String(insighIo.protocol.statusMapping.fromCanonical.committed),
        );

        // A device downloading over HTTP: a progress bar with bytes/s, then committed.
        const applied = gateway!.apply();
        const downloading = page.locator(`tr[data-device="${gateway!.deviceId}"][data-state="downloading"]`);
        await downloading.locator('.progress progress').waitFor(WAIT);
        await expect
          .poll(async () => (await downloading.locator('.progress span').textContent()) ?? '', WAIT)
          .toMatch(/KiB of 512\.0 KiB, [1-9][\d.]* (B|KiB|MiB)\/s$/);
        // The picture shows the download under way (and the field error below).
        await pasteManifest(page, {
          id: 'app-2.0.0',
          version: '2.0.0',
          artifacts: [{ url: 'ftp://updates.example.com/app.bin', target: 'firmware' }],
        });
        await page.locator('#manifest-issues li[data-path="artifacts[0].url"]').waitFor(WAIT);
        mkdirSync(join(ROOT, 'test/artifacts'), { recursive: true });
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
        gateway!.release();
        expect(await applied).toBe('committed');
        // The machine goes back to idle after committing: the page shows how the update ended.
        await page
          .locator(`tr[data-device="${gateway!.deviceId}"][data-state="idle"][data-outcome="committed"]`)
          .waitFor(WAIT);
        expect(await card.locator('tr[data-wave="canary"]').textContent()).toContain('succeeded 2');
        expect(await card.locator('.totals').textContent()).toContain('install_failed 1');
        expect(await card.locator('tbody tr').count()).toBe(2);

        // An invalid manifest: every issue with its path and what was expected.
        await pasteManifest(page, {
          id: 'app-2.0.0',
          version: '2.0.0',
          artifacts: [{ url: 'ftp://updates.example.com/app.bin', target: 'firmware', md5: 'xyz' }],
        });
        await expect.poll(() => page.locator('#manifest-status').textContent(), WAIT).toMatch(/^invalid/);
        const urlIssue = page.locator('#manifest-issues li[data-path="artifacts[0].url"]');
        expect(await urlIssue.textContent()).toMatch(/^artifacts\[0\]\.url: expected /);
        expect(await page.locator('#manifest-issues li[data-path="artifacts[0].md5"]').count()).toBe(1);

        // Not JSON at all.
        await page.locator('#manifest-input').fill('{ "id": ');
        await expect.poll(() => page.locator('#manifest-status').textContent(), WAIT).toBe('not JSON');

        expect(errors).toEqual([]);
      } finally {
        await page.close();
      }
    });
  },
);

describe.skipIf(!HAVE_CHROMIUM)(
  `the demo's --serve in a real Chromium${HAVE_CHROMIUM ? '' : ` (skipped: ${MISSING})`}`,
  () => {
    let demo: ChildProcess | undefined;
    let browser: Browser | undefined;
    let output = '';

    afterAll(async () => {
      await browser?.close();
      if (demo && demo.exitCode === null && demo.signalCode === null) {
        demo.kill('SIGTERM');
        await once(demo, 'exit');
      }
    });

    it('opens the dashboard the demo prints and sees its devices reach committed', async () => {
      demo = spawn(
        process.execPath,
        ['--import', 'tsx', 'examples/demo.ts', '--serve', '0', '--devices', '2'],
        {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, NO_COLOR: '1' },
        },
      );
      const printed = new Promise<string>((resolve, reject) => {
        const look = (chunk: Buffer) => {
          output += chunk.toString();
          const match = /dashboard[^\n]*?(http:\/\/[^\s]+)/i.exec(output);
          if (match) resolve(match[1]!);
        };
        demo!.stdout!.on('data', look);
        demo!.stderr!.on('data', (chunk: Buffer) => {
          output += chunk.toString();
        });
        demo!.once('exit', (code) =>
          reject(new Error(`the demo exited (${code}) before printing a URL:\n${output}`)),
        );
      });
      const url = await printed;
      browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
      const { page, errors } = await openPage(browser, url);
      await page.locator('tr[data-device][data-state="committed"]').first().waitFor(WAIT);
      const payload = (await (await fetch(new URL('/api/snapshot', url))).json()) as DemoStreamPayload;
      expect(payload.platforms.length).toBeGreaterThan(0);
      expect(errors).toEqual([]);
      await page.close();
    });
  },
);
