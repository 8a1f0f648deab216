/**
 * The Connhex status over a REAL NATS server: Debian's `nats-server`, started by this file on
 * random loopback ports, and the official NATS client for Node (`nats`, a devDependency used only
 * here; otakit itself has no NATS client). An "addon" connection publishes what otakit's connhex
 * encoder produces, on the subject the namespace builds (`statusEnvelope`); a "cloud" connection
 * subscribed to `heartbeat.*.service` decodes each payload with `decodeStatusMessage`, reads it as
 * a canonical status with `toUpdateStatus` (through `statusMapping`) and feeds a tracker-role
 * machine (docs/protocols/connhex.md, vectors C4 and C6 to C9).
 *
 * Two servers: an open one (`nats-server -a 127.0.0.1 -p <port>`) and a secured one from a config
 * file whose users are the addon (may only publish `heartbeat.ota.service`) and the cloud (may only
 * subscribe to `heartbeat.*.service`), with `max_payload` set to the namespace's status limit, so
 * the server itself checks otakit's subjects and limit.
 *
 * Ordering: NATS keeps one publisher's messages in order towards one subscriber, and the cloud
 * handles its messages one at a time, so a test waits for a count (or a sentinel) and then knows
 * nothing else is coming.
 *
 * nats-server comes from the system (`apt-get install nats-server`; .ci/run installs it in CI),
 * found on PATH, in /usr/sbin, or at NATS_SERVER_PATH. Without it the file skips locally and fails
 * in CI (CI set).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ConnectionOptions, connect, type Msg, type NatsConnection, type Subscription } from 'nats';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  connhex,
  createUpdateMachine,
  type IngestResult,
  isOtaError,
  ManifestError,
  type OtaError,
  type SerializedOtaError,
  type TrackerUpdateMachine,
  type UpdateState,
} from '../../../src/index.js';
import { connhexAgent } from '../../../src/node/index.js';
import { findSystemBinary, freePorts, IN_CI, sleep, until } from '../../support/system-services.js';

const NATS_SERVER = findSystemBinary('nats-server', 'NATS_SERVER_PATH');
const MISSING =
  'no nats-server on PATH or in /usr/sbin (install it with `apt-get install nats-server`, or set NATS_SERVER_PATH)';

const decoder = new TextDecoder();

// ---------------------------------------------------------------------------------------------
// The servers
// ---------------------------------------------------------------------------------------------

/** Whether a NATS server answers on `port`: it greets every client with an `INFO {…}` line. */
function greets(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ port, host: '127.0.0.1' });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('data', (chunk: Buffer) => done(chunk.toString('latin1').startsWith('INFO ')));
    socket.once('error', () => done(false));
  });
}

class NatsServer {
  private child: ChildProcess | undefined;
  private output = '';

  constructor(
    readonly port: number,
    private readonly args: string[],
  ) {}

  /** Everything nats-server logged (to stderr). */
  log(): string {
    return this.output;
  }

  /** Starts nats-server and resolves once it greets a TCP client with INFO. */
  async start(): Promise<void> {
    const child = spawn(NATS_SERVER!, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let failure: Error | undefined;
    child.once('error', (error) => {
      failure = error;
    });
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8').on('data', (chunk: string) => {
        this.output += chunk;
      });
    }
    const deadline = Date.now() + 5_000;
    while (!(await greets(this.port))) {
      if (failure || child.exitCode !== null || child.signalCode !== null) {
        await sleep(20); // let the last of its log in
        throw new Error(
          `nats-server exited (${failure?.message ?? child.exitCode ?? child.signalCode}) before it accepted connections:\n${this.output}`,
        );
      }
      if (Date.now() > deadline) {
        throw new Error(`nats-server did not greet on 127.0.0.1:${this.port} within 5 s:\n${this.output}`);
      }
      await sleep(10);
    }
  }

  /** Stops it (SIGTERM, then SIGKILL after 2 s) and waits until it is gone. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
    await exited;
    clearTimeout(timer);
  }
}

/** A server from `argsFor(port)` on a fresh port; tries new ports if one was taken meanwhile. */
async function startServer(argsFor: (port: number) => Promise<string[]>): Promise<NatsServer> {
  for (let attempt = 1; ; attempt++) {
    const [port] = (await freePorts(1)) as [number];
    const server = new NatsServer(port, await argsFor(port));
    try {
      await server.start();
      return server;
    } catch (error) {
      await server.stop();
      if (attempt === 3 || !/in use/i.test(server.log())) throw error;
    }
  }
}

/** The secured server's users: the OTA addon and the cloud, each allowed only its own side. */
const EDGE = { user: 'edge-ota', pass: randomBytes(12).toString('hex') };
const CLOUD = { user: 'cloud', pass: randomBytes(12).toString('hex') };

function securedConfig(port: number): string {
  return [
    '# Written by test/protocols/connhex/nats.test.ts',
    `listen: "127.0.0.1:${port}"`,
    `max_payload: ${connhex.LIMITS.maxStatusBytes}`,
    'authorization {',
    '  users = [',
    `    { user: "${EDGE.user}", password: "${EDGE.pass}", permissions: {`,
    `        publish: { allow: ["${connhex.OTA_STATUS_SUBJECT}"] }, subscribe: { deny: [">"] } } }`,
    `    { user: "${CLOUD.user}", password: "${CLOUD.pass}", permissions: {`,
    `        publish: { deny: [">"] }, subscribe: { allow: ["${connhex.HEARTBEAT_WILDCARD}"] } } }`,
    '  ]',
    '}',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// The two sides
// ---------------------------------------------------------------------------------------------

/** Every connection a test opened: afterEach closes what is left. */
const connections = new Set<NatsConnection>();

async function open(server: NatsServer, name: string, options: ConnectionOptions = {}) {
  const nc = await connect({
    servers: `127.0.0.1:${server.port}`,
    name,
    reconnect: false,
    timeout: 2_000,
    ...options,
  });
  connections.add(nc);
  return nc;
}

/** The nine words, as the tests saw them arrive at a cloud (the file ends by checking all came). */
const wordsOverNats = new Set<connhex.OtaStatus>();

const T1 = '2025-03-01T10:00:00.000Z';
const T2 = '2025-03-01T11:00:00.000Z';

/**
 * The OTA addon: it walks canonical states as its update goes, and publishes, for each state
 * Connhex has a word for, the payload `toWireStatus` + `statusEnvelope` build; between them it
 * repeats its last payload (the heartbeat) and re-checks on its interval.
 */
class Addon {
  readonly sent: string[] = [];
  private previous: UpdateState | null = null;
  private readonly context: connhex.WireStatusContext;
  private last: connhex.StatusMessage | undefined;

  constructor(
    private readonly nc: NatsConnection,
    currentVersion: string,
  ) {
    this.context = { currentVersion };
  }

  /** One canonical transition; publishes its word, if Connhex has one. */
  step(
    state: UpdateState,
    options: { version?: string | null; at?: string; error?: SerializedOtaError } = {},
  ): void {
    const wire = connhex.toWireStatus(
      {
        state,
        previous: this.previous,
        version: options.version ?? null,
        at: options.at ?? T1,
        ...(options.error ? { error: options.error } : {}),
      },
      this.context,
    );
    this.previous = state;
    if (wire === null) return;
    // What the addon remembers for its next payloads.
    this.context.lastChecked = wire.last_checked;
    if (wire.latest_version) this.context.latestVersion = wire.latest_version;
    this.context.currentVersion = wire.current_version;
    this.publish(wire);
  }

  /** The periodic heartbeat: the last payload again. */
  heartbeat(): void {
    this.publish(this.last!);
  }

  /**
   * The periodic re-check while an update is under way: it says `checking`, and the heartbeat
   * then goes on with the update's status.
   */
  recheck(): void {
    const wire = connhex.toWireStatus(
      { state: 'checking', previous: this.previous, version: null, at: T2 },
      this.context,
    );
    this.publish(wire!, { remember: false });
  }

  private publish(wire: connhex.StatusMessage, { remember = true } = {}): void {
    const envelope = connhex.statusEnvelope(wire);
    this.nc.publish(envelope.subject, envelope.payload);
    this.sent.push(envelope.payload);
    if (remember) this.last = wire;
  }
}

interface Received {
  subject: string;
  payload: string;
  /** The decoded word, or the typed error the decoder threw. */
  word?: connhex.OtaStatus;
  decodeError?: OtaError;
  /** The canonical state the payload was read as, and what the tracker said. */
  state?: UpdateState;
  result?: IngestResult;
}

/**
 * The cloud: one subscription (to every heartbeat by default), handled one message at a time,
 * each OTA payload decoded, read and ingested by a tracker of the device.
 */
class Cloud {
  readonly received: Received[] = [];
  /** Heartbeats of other services (`heartbeat.<service>.service`, service ≠ ota). */
  readonly otherServices: string[] = [];
  /** Anything that was not a typed otakit error: must stay empty. */
  readonly unexpected: unknown[] = [];
  readonly trackerErrors: OtaError[] = [];
  readonly tracker: TrackerUpdateMachine;
  readonly subscription: Subscription;
  private readonly loop: Promise<void>;

  constructor(
    nc: NatsConnection,
    readonly machineId: string,
    subject: string = connhex.HEARTBEAT_WILDCARD,
  ) {
    this.tracker = createUpdateMachine({ id: machineId, role: 'tracker' });
    this.tracker.on('error', (error) => this.trackerErrors.push(error));
    const subscription = nc.subscribe(subject);
    this.subscription = subscription;
    this.loop = (async () => {
      for await (const msg of subscription) {
        try {
          await this.handle(msg);
        } catch (error) {
          this.unexpected.push(error);
        }
      }
    })();
  }

  private async handle(msg: Msg): Promise<void> {
    expect(connhex.subjectMatches(connhex.HEARTBEAT_WILDCARD, msg.subject)).toBe(true);
    if (!connhex.isOtaStatusSubject(msg.subject)) {
      this.otherServices.push(connhex.parseHeartbeatSubject(msg.subject).service);
      return;
    }
    const entry: Received = { subject: msg.subject, payload: decoder.decode(msg.data) };
    this.received.push(entry);
    let message: connhex.StatusMessage;
    try {
      message = connhex.decodeStatusMessage(msg.data);
    } catch (error) {
      if (!isOtaError(error)) throw error;
      entry.decodeError = error;
      return;
    }
    entry.word = message.status;
    wordsOverNats.add(message.status);
    const status = connhex.toUpdateStatus(message, {
      machineId: this.machineId,
      at: new Date().toISOString(),
      previous: this.tracker.state === 'idle' ? null : this.tracker.state,
    });
    entry.state = status.state;
    entry.result = await this.tracker.ingest(status);
  }

  /** Waits until `count` OTA payloads were handled (decoded and, if valid, ingested). */
  async handled(count: number): Promise<void> {
    await until(
      () => this.received.length >= count && this.received.every((r) => r.decodeError || r.result),
      () => `${count} payloads; got ${JSON.stringify(this.received.map((r) => r.payload))}`,
    );
    // One more tick: a message past `count` would already be on its way in.
    await sleep(20);
    expect(this.received).toHaveLength(count);
    expect(this.unexpected).toEqual([]);
  }

  payloads(): string[] {
    return this.received.map((entry) => entry.payload);
  }

  states(): (UpdateState | undefined)[] {
    return this.received.map((entry) => (entry.result?.accepted ? entry.result.state : undefined));
  }

  refusals(): string[] {
    return this.received.flatMap((entry) =>
      entry.result && !entry.result.accepted ? [`${entry.word}: ${entry.result.error.message}`] : [],
    );
  }

  async close(): Promise<void> {
    this.subscription.unsubscribe();
    await this.loop;
  }
}

/** A serialised error as a device machine would give the addon. */
const failed = (code: 'TRANSPORT' | 'DOWNLOAD', message: string): SerializedOtaError => ({
  name: 'OtaError',
  code,
  message,
  retryable: true,
});

/** The exact payload the encoder writes (the five fields, in the documented order). */
const payload = (current: string, latest: string, status: connhex.OtaStatus, error = '', checked = T1) =>
  `{"current_version":"${current}","latest_version":"${latest}","status":"${status}","error":"${error}","last_checked":"${checked}"}`;

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

if (!NATS_SERVER) {
  if (IN_CI) {
    describe('connhex status over a real nats-server', () => {
      it('has nats-server to run (CI must run the NATS tests)', () => {
        throw new Error(`${MISSING}. .ci/run apt-installs nats-server when CI is set: see its warnings.`);
      });
    });
  } else {
    console.warn(`test/protocols/connhex/nats.test.ts skipped: ${MISSING}`);
  }
}

describe.skipIf(!NATS_SERVER)(
  `connhex status over a real nats-server${NATS_SERVER ? '' : ` (skipped: ${MISSING})`}`,
  () => {
    let tempDir: string | undefined;
    let openServer: NatsServer;
    let securedServer: NatsServer;
    const servers: NatsServer[] = [];

    beforeAll(async () => {
      tempDir = await mkdtemp(join(tmpdir(), 'otakit-nats-'));
      const dir = tempDir;
      [openServer, securedServer] = await Promise.all([
        startServer(async (port) => ['-a', '127.0.0.1', '-p', String(port)]),
        startServer(async (port) => {
          const file = join(dir, `secured-${port}.conf`);
          await writeFile(file, securedConfig(port), { mode: 0o600 });
          return ['-c', file];
        }),
      ]);
      servers.push(openServer, securedServer);
    });

    afterEach(async () => {
      await Promise.all([...connections].map((nc) => (nc.isClosed() ? undefined : nc.close())));
      connections.clear();
    });

    afterAll(async () => {
      await Promise.all(servers.map((server) => server.stop()));
      if (tempDir) await rm(tempDir, { recursive: true, force: true });
    });

    it('C4 + C6: a whole update, every word in order, with heartbeats and a re-check, ends committed', async () => {
      expect(connhex.heartbeatSubject('ota')).toBe(connhex.OTA_STATUS_SUBJECT);
      const cloudNc = await open(openServer, 'cloud');
      const cloud = new Cloud(cloudNc, 'edge-1');
      await cloudNc.flush(); // the server has the subscription before the addon publishes
      const edge = await open(openServer, 'connhex-ota-addon');
      const addon = new Addon(edge, '0.0.2');

      // C4/C6: current 0.0.2, HEAD says 0.0.3, auto_install: the addon's flags allow the whole path.
      const config = connhexAgent.parseAgentConfig('[ota]\nauto_install = true\n');
      const decision = connhex.decideUpdate({ status: 200, headers: { Version: '"0.0.3"' } }, '0.0.2', {
        config,
      });
      expect(decision).toMatchObject({ kind: 'available', download: true, install: true });
      const version = decision.kind === 'available' ? decision.release.version : '';

      addon.step('checking');
      addon.step('available', { version });
      addon.heartbeat(); // the agent's liveness heartbeat repeats the last status
      addon.step('downloading', { version });
      addon.recheck(); // the check interval came round during the update
      addon.heartbeat(); // and the heartbeat goes on with the update's status
      addon.step('downloaded', { version });
      addon.step('verifying', { version }); // no word: nothing published
      addon.step('installing', { version });
      addon.step('installed', { version }); // no word: nothing published
      addon.step('committed', { version });
      // Another service's heartbeat on the same wildcard: the cloud sees it, the tracker does not.
      edge.publish(connhex.heartbeatSubject('modbus'), '{}');
      await edge.flush();
      await cloud.handled(9);

      expect(cloud.payloads()).toEqual(addon.sent);
      expect(cloud.payloads()).toEqual([
        payload('0.0.2', '', 'checking', '', ''),
        payload('0.0.2', '0.0.3', 'update_available'), // C4: latest_version 0.0.3
        payload('0.0.2', '0.0.3', 'update_available'),
        payload('0.0.2', '0.0.3', 'downloading'),
        payload('0.0.2', '0.0.3', 'checking'),
        payload('0.0.2', '0.0.3', 'downloading'),
        payload('0.0.2', '0.0.3', 'update_ready'),
        payload('0.0.2', '0.0.3', 'updating'),
        payload('0.0.3', '0.0.3', 'updated'), // C6: now running 0.0.3
      ]);
      expect(cloud.received.every((entry) => entry.subject === 'heartbeat.ota.service')).toBe(true);
      expect(cloud.otherServices).toEqual(['modbus']);

      // Each word through the namespace's mapping; in context, the re-check reads as the update's
      // own state (no news) instead of `checking`.
      const words = cloud.received.map((entry) => entry.word!);
      expect(words.map((word) => connhex.statusMapping.toCanonical[word])).toEqual([
        'checking',
        'available',
        'available',
        'downloading',
        'checking',
        'downloading',
        'downloaded',
        'installing',
        'committed',
      ]);
      expect(cloud.received.map((entry) => entry.state)).toEqual([
        'checking',
        'available',
        'available',
        'downloading',
        'downloading',
        'downloading',
        'downloaded',
        'installing',
        'committed',
      ]);
      expect(cloud.refusals()).toEqual([]);
      expect(cloud.received.map((entry) => entry.result)).toEqual([
        { accepted: true, state: 'checking', skipped: [], duplicate: false },
        { accepted: true, state: 'available', skipped: [], duplicate: false },
        { accepted: true, state: 'available', skipped: [], duplicate: true },
        { accepted: true, state: 'downloading', skipped: [], duplicate: false },
        { accepted: true, state: 'downloading', skipped: [], duplicate: true },
        { accepted: true, state: 'downloading', skipped: [], duplicate: true },
        { accepted: true, state: 'downloaded', skipped: [], duplicate: false },
        // The states the addon has no word for are inferred, and said so.
        { accepted: true, state: 'installing', skipped: ['verifying'], duplicate: false },
        { accepted: true, state: 'committed', skipped: ['installed'], duplicate: false },
      ]);
      expect(cloud.tracker.state).toBe('committed');
      expect(cloud.tracker.snapshot()).toMatchObject({
        current: { id: '0.0.3', version: '0.0.3' },
        lastOutcome: { state: 'committed', error: null },
      });

      // The heartbeat keeps saying `updated`: with the update over, that reads as idle.
      addon.heartbeat();
      await edge.flush();
      await cloud.handled(10);
      expect(cloud.received[9]).toMatchObject({
        payload: payload('0.0.3', '0.0.3', 'updated'),
        state: 'idle',
        result: { accepted: true },
      });
      expect(cloud.tracker.snapshot()).toMatchObject({
        state: 'idle',
        current: { id: '0.0.3' },
        lastOutcome: { state: 'committed' },
      });
      expect(cloud.tracker.snapshot().history.map((entry) => entry.to)).toEqual([
        'checking',
        'available',
        'downloading',
        'downloaded',
        'installing',
        'committed',
        'idle',
      ]);
      expect(cloud.trackerErrors).toEqual([]);
      await cloud.close();
      expect(cloud.subscription.isClosed()).toBe(true);
    });

    it('C7 on the secured server: update.sh exits 1, the tracker ends in install_failed', async () => {
      const cloudNc = await open(securedServer, 'cloud', CLOUD);
      const cloud = new Cloud(cloudNc, 'edge-2');
      await cloudNc.flush();
      const edge = await open(securedServer, 'connhex-ota-addon', EDGE);
      const addon = new Addon(edge, '0.0.3');
      const failure = connhex.updateScriptResult({ code: 1 })!;

      addon.step('checking');
      addon.step('available', { version: '0.0.4' });
      addon.step('downloading', { version: '0.0.4' });
      addon.step('downloaded', { version: '0.0.4' });
      addon.step('installing', { version: '0.0.4' });
      addon.step('install_failed', { version: '0.0.4', error: failure.toJSON() });
      addon.heartbeat();
      await edge.flush();
      await cloud.handled(7);

      expect(cloud.payloads()).toEqual([
        payload('0.0.3', '', 'checking', '', ''),
        payload('0.0.3', '0.0.4', 'update_available'),
        payload('0.0.3', '0.0.4', 'downloading'),
        payload('0.0.3', '0.0.4', 'update_ready'),
        payload('0.0.3', '0.0.4', 'updating'),
        payload('0.0.3', '0.0.4', 'update_failed', 'update.sh exited with status 1'),
        payload('0.0.3', '0.0.4', 'update_failed', 'update.sh exited with status 1'),
      ]);
      expect(cloud.states()).toEqual([
        'checking',
        'available',
        'downloading',
        'downloaded',
        'installing',
        'install_failed',
        'install_failed',
      ]);
      expect(cloud.refusals()).toEqual([]);
      expect(cloud.tracker.snapshot()).toMatchObject({
        state: 'install_failed',
        current: null,
        lastOutcome: {
          state: 'install_failed',
          update: { id: '0.0.4', version: '0.0.4' },
          error: { code: 'INSTALL', message: 'update.sh exited with status 1', retryable: false },
        },
      });
      await cloud.close();
    });

    it.each([
      {
        vector: 'C8: HEAD 500, on a first boot',
        current: '',
        run: (addon: Addon) => {
          addon.step('checking');
          addon.step('check_failed', { at: T2, error: failed('TRANSPORT', 'HEAD returned HTTP 500') });
        },
        expected: [
          // Byte for byte: the documented template (docs/protocols/connhex.md).
          '{"current_version":"","latest_version":"","status":"checking","error":"","last_checked":""}',
          payload('', '', 'check_failed', 'HEAD returned HTTP 500', T2), // last_checked updated
        ],
        end: { state: 'check_failed', code: 'CHECK' },
      },
      {
        vector: 'C9: GET aborted half-way',
        current: '0.0.2',
        run: (addon: Addon) => {
          addon.step('checking');
          addon.step('available', { version: '0.0.3', at: T2 });
          addon.step('downloading', { version: '0.0.3' });
          addon.step('download_failed', {
            version: '0.0.3',
            error: failed('DOWNLOAD', 'connection reset after 2048 bytes'),
          });
        },
        expected: [
          payload('0.0.2', '', 'checking', '', ''),
          payload('0.0.2', '0.0.3', 'update_available', '', T2),
          payload('0.0.2', '0.0.3', 'downloading', '', T2),
          payload('0.0.2', '0.0.3', 'download_failed', 'connection reset after 2048 bytes', T2),
        ],
        end: { state: 'download_failed', code: 'DOWNLOAD' },
      },
    ])(
      '$vector: the failure word travels and the tracker ends in it',
      async ({ current, run, expected, end }) => {
        const cloudNc = await open(openServer, 'cloud');
        const cloud = new Cloud(cloudNc, 'edge-3');
        await cloudNc.flush();
        const edge = await open(openServer, 'connhex-ota-addon');
        run(new Addon(edge, current));
        await edge.flush();
        await cloud.handled(expected.length);
        expect(cloud.payloads()).toEqual(expected);
        expect(cloud.refusals()).toEqual([]);
        expect(cloud.tracker.state).toBe(end.state);
        // The addon retries checks and downloads at its next check: retryable.
        expect(cloud.tracker.snapshot().lastOutcome).toMatchObject({
          state: end.state,
          error: {
            code: end.code,
            message: expected.at(-1)!.match(/"error":"([^"]*)"/)![1],
            retryable: true,
          },
        });
        await cloud.close();
      },
    );

    it('a malformed or oversized payload gives a typed MANIFEST_INVALID; the subscription goes on', async () => {
      const cloudNc = await open(openServer, 'cloud');
      const cloud = new Cloud(cloudNc, 'edge-4', connhex.OTA_STATUS_SUBJECT);
      await cloudNc.flush();
      const edge = await open(openServer, 'connhex-ota-addon');
      const addon = new Addon(edge, '0.0.2');
      const limit = connhex.LIMITS.maxStatusBytes;
      // A valid status padded to an exact size with a key the decoder ignores (forward compatible).
      const padded = (bytes: number) => {
        const head = '{"status":"checking","pad":"';
        return `${head}${'x'.repeat(bytes - head.length - 2)}"}`;
      };
      expect(Buffer.byteLength(padded(limit))).toBe(limit);

      addon.step('checking');
      const subject = connhex.OTA_STATUS_SUBJECT;
      edge.publish(subject, '');
      edge.publish(subject, '{');
      edge.publish(subject, '{"status":"exploded"}');
      edge.publish(subject, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]));
      edge.publish(subject, '{"status":"checking","latest_version":"0.0.3\\r\\nX-Injected: 1"}');
      edge.publish(subject, padded(limit + 1));
      edge.publish(subject, padded(limit)); // exactly at the limit: accepted (a re-check, no news)
      addon.step('available', { version: '0.0.3' });
      await edge.flush();
      await cloud.handled(9);

      const errors = cloud.received.map((entry) =>
        entry.decodeError ? entry.decodeError.code : entry.result?.accepted ? entry.result.state : 'refused',
      );
      expect(errors).toEqual([
        'checking',
        'MANIFEST_INVALID',
        'MANIFEST_INVALID',
        'MANIFEST_INVALID',
        'MANIFEST_INVALID',
        'MANIFEST_INVALID',
        'MANIFEST_INVALID',
        'checking',
        'available',
      ]);
      const issues = cloud.received.slice(1, 7).map((entry) => {
        const error = entry.decodeError;
        if (!(error instanceof ManifestError)) throw new Error(`expected a ManifestError, got ${error}`);
        expect(error.retryable).toBe(false);
        expect(error.message).toMatch(/^Invalid Connhex OTA status/);
        return error.issues[0];
      });
      expect(issues).toEqual([
        { path: '', expected: 'valid JSON' },
        { path: '', expected: 'valid JSON' },
        { path: 'status', expected: expect.stringContaining('"update_available"') },
        { path: '', expected: 'UTF-8 text' },
        { path: 'latest_version', expected: expect.any(String) },
        { path: '', expected: `at most ${limit} bytes` },
      ]);
      // A payload that did not decode never reached the tracker; the next good one did.
      expect(cloud.trackerErrors).toEqual([]);
      expect(cloud.subscription.isClosed()).toBe(false);
      expect(cloud.tracker.snapshot()).toMatchObject({ state: 'available', update: { id: '0.0.3' } });

      // The addon side refuses to produce an oversized payload in the first place.
      const huge = { status: 'update_failed' as const, error: 'x'.repeat(limit) };
      for (const build of [() => connhex.encodeStatusMessage(huge), () => connhex.statusEnvelope(huge)]) {
        let thrown: unknown;
        try {
          build();
        } catch (error) {
          thrown = error;
        }
        expect(isOtaError(thrown, 'MANIFEST_INVALID')).toBe(true);
      }
      await cloud.close();
    });

    it('the secured server: passwords, per-user subjects built by otakit, and max_payload = LIMITS', async () => {
      await expect(
        open(securedServer, 'intruder', { user: EDGE.user, pass: 'wrong-password' }),
      ).rejects.toMatchObject({ code: 'AUTHORIZATION_VIOLATION' });
      await expect(open(securedServer, 'anonymous')).rejects.toMatchObject({
        code: 'AUTHORIZATION_VIOLATION',
      });

      const cloudNc = await open(securedServer, 'cloud', CLOUD);
      const cloud = new Cloud(cloudNc, 'edge-5');
      await cloudNc.flush();
      const edge = await open(securedServer, 'connhex-ota-addon', EDGE);
      expect(edge.info?.max_payload).toBe(connhex.LIMITS.maxStatusBytes);
      const statuses: { type: string; data: unknown; subject: string | undefined }[] = [];
      const watching = (async () => {
        // nats.js does not end this iterator on close(); leaving the loop ends it.
        for await (const status of edge.status()) {
          statuses.push({ type: status.type, data: status.data, subject: status.permissionContext?.subject });
          if (status.data === 'PERMISSIONS_VIOLATION') break;
        }
      })();

      // The addon user may publish only heartbeat.ota.service: the server drops anything else.
      edge.publish(connhex.heartbeatSubject('modbus'), '{}');
      const addon = new Addon(edge, '0.0.2');
      addon.step('checking'); // the sentinel: after it, the dropped message cannot still arrive
      await edge.flush();
      await cloud.handled(1);
      expect(cloud.otherServices).toEqual([]);
      await until(
        () => statuses.some((status) => status.data === 'PERMISSIONS_VIOLATION'),
        () => `a permissions violation; got ${JSON.stringify(statuses)}`,
      );
      await watching;
      expect(statuses).toContainEqual({
        type: 'error',
        data: 'PERMISSIONS_VIOLATION',
        subject: 'heartbeat.modbus.service',
      });
      expect(edge.isClosed()).toBe(false);

      // The server's max_payload is the namespace's limit: one byte more is refused by the client.
      const atLimit = `{"status":"checking","pad":"${'x'.repeat(connhex.LIMITS.maxStatusBytes - 30)}"}`;
      expect(Buffer.byteLength(atLimit)).toBe(connhex.LIMITS.maxStatusBytes);
      expect(() => edge.publish(connhex.OTA_STATUS_SUBJECT, `${atLimit} `)).toThrow(
        expect.objectContaining({ code: 'MAX_PAYLOAD_EXCEEDED' }),
      );
      edge.publish(connhex.OTA_STATUS_SUBJECT, atLimit);
      await edge.flush();
      await cloud.handled(2);
      expect(cloud.received[1]).toMatchObject({
        word: 'checking',
        result: { accepted: true, duplicate: true },
      });

      await cloud.close();
    });

    it("the server routes heartbeat.*.service exactly as otakit's subjectMatches says", async () => {
      const cloudNc = await open(openServer, 'cloud');
      const wildcard = new Set<string>();
      const exact = new Set<string>();
      const everything: string[] = [];
      expect(connhex.isValidSubject(connhex.HEARTBEAT_WILDCARD, { wildcards: true })).toBe(true);
      cloudNc.subscribe(connhex.HEARTBEAT_WILDCARD, { callback: (_error, msg) => wildcard.add(msg.subject) });
      cloudNc.subscribe(connhex.OTA_STATUS_SUBJECT, { callback: (_error, msg) => exact.add(msg.subject) });
      cloudNc.subscribe('>', { callback: (_error, msg) => everything.push(msg.subject) });
      await cloudNc.flush();
      const edge = await open(openServer, 'publisher');
      const subjects = [
        connhex.OTA_STATUS_SUBJECT,
        connhex.heartbeatSubject('modbus'),
        connhex.heartbeatSubject('ota-2'),
        'heartbeat.ota.service.extra',
        'heartbeat.ota',
        'heartbeat.service',
        'heartbeat.ota.services',
        'telemetry.ota.service',
        'Heartbeat.ota.service',
      ];
      for (const subject of subjects) {
        expect(connhex.isValidSubject(subject), subject).toBe(true);
        edge.publish(subject, '{}');
      }
      edge.publish('otakit.sentinel', '');
      await edge.flush();
      // One connection, one socket, in order: once `>` has the sentinel, the others have theirs.
      await until(
        () => everything.includes('otakit.sentinel'),
        () => 'the sentinel',
      );
      expect(everything).toEqual([...subjects, 'otakit.sentinel']);
      for (const subject of subjects) {
        expect(wildcard.has(subject), subject).toBe(
          connhex.subjectMatches(connhex.HEARTBEAT_WILDCARD, subject),
        );
        expect(exact.has(subject), subject).toBe(connhex.isOtaStatusSubject(subject));
      }
      expect([...wildcard]).toEqual([
        'heartbeat.ota.service',
        'heartbeat.modbus.service',
        'heartbeat.ota-2.service',
      ]);
      expect([...wildcard].map((subject) => connhex.parseHeartbeatSubject(subject).service)).toEqual([
        'ota',
        'modbus',
        'ota-2',
      ]);
    });

    // C9, "next check retries": the retry repeats the update id (Connhex's id is the version), and
    // the tracker must still take it from the ended attempt through idle to committed.
    it('after download_failed, the retry of the same release is tracked to committed', async () => {
      const cloudNc = await open(openServer, 'cloud');
      const cloud = new Cloud(cloudNc, 'edge-6');
      await cloudNc.flush();
      const edge = await open(openServer, 'connhex-ota-addon');
      const addon = new Addon(edge, '0.0.2');
      const aborted = { name: 'AbortError', code: 'DOWNLOAD' as const, message: 'reset', retryable: true };
      addon.step('checking');
      addon.step('available', { version: '0.0.3' });
      addon.step('downloading', { version: '0.0.3' });
      addon.step('download_failed', { version: '0.0.3', error: aborted });
      addon.step('idle');
      addon.step('checking');
      addon.step('available', { version: '0.0.3', at: T2 });
      addon.step('downloading', { version: '0.0.3' });
      addon.step('downloaded', { version: '0.0.3' });
      addon.step('installing', { version: '0.0.3' });
      addon.step('committed', { version: '0.0.3' });
      await edge.flush();
      await cloud.handled(10);
      await cloud.close();
      expect(cloud.refusals()).toEqual([]);
      expect(cloud.tracker.state).toBe('committed');
    });

    // A tracker that starts while the device is up to date takes its `updated` heartbeats (which
    // carry a version the idle tracker does not know) as no news, not as illegal idle -> idle.
    it('a new tracker takes the idle heartbeat of an up-to-date device', async () => {
      const cloudNc = await open(openServer, 'cloud');
      const cloud = new Cloud(cloudNc, 'edge-7');
      await cloudNc.flush();
      const edge = await open(openServer, 'connhex-ota-addon');
      edge.publish(connhex.OTA_STATUS_SUBJECT, payload('0.0.3', '0.0.3', 'updated'));
      edge.publish(connhex.OTA_STATUS_SUBJECT, payload('0.0.3', '0.0.3', 'updated'));
      await edge.flush();
      await cloud.handled(2);
      await cloud.close();
      expect(cloud.trackerErrors).toEqual([]);
      expect(cloud.states()).toEqual(['idle', 'idle']);
    });

    it('carried all nine status words over NATS', () => {
      expect([...wordsOverNats].sort()).toEqual([...connhex.OTA_STATUSES].sort());
    });
  },
);
