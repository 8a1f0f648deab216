// The ThingsBoard agent end to end: a real MQTT session to an aedes broker that plays
// ThingsBoard's MQTT transport (test/device/thingsboard-support.ts: attribute requests and pushes,
// chunk requests, telemetry) and its HTTP firmware endpoint on loopback; files installed for real;
// SIGKILLs in a child process. Nothing is timed: timeouts only catch hangs.
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { build } from 'esbuild';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isOtaError, type OtaError } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/logger.js';
import type { DeviceAgent } from '../../src/device/agent.js';
import type { IgnoredEvent } from '../../src/device/events.js';
import type { UpdateOutcome } from '../../src/machine/record.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { createThingsBoardAgent, type ThingsBoardAgentOptions } from '../../src/node/agents/thingsboard.js';
import { thingsBoardChecksum } from '../../src/node/agents/thingsboard-checksum.js';
import type { MqttConnection } from '../../src/transport/mqtt-connection.js';
import { until } from '../support/system-services.js';
import { startThingsBoard, type TbEmulator, type TbPackage } from './thingsboard-support.js';

const TOKEN = 'A1_TB_AGENT_TOKEN_93c1';
const CHILD = join(import.meta.dirname, 'thingsboard-agent-child.ts');
const OLD = new TextEncoder().encode('firmware 1.0\n');
const CHUNK = 4096;
const FAST = { baseDelayMs: 5, maxDelayMs: 20 };
/** Bytes compared by digest: a deep equality over a MiB-sized buffer takes seconds. */
const digest = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

const pkg = (version: string, size = 20_000): TbPackage => ({
  title: 'app',
  version,
  bytes: new Uint8Array(randomBytes(size)),
});

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

interface Rig {
  tb: TbEmulator;
  root: string;
  file: string;
  connection: MqttConnection;
  agent: DeviceAgent<unknown>;
  outcomes: UpdateOutcome[];
  ignored: IgnoredEvent[];
  errors: OtaError[];
  logs: string[];
  nextOutcome(): Promise<UpdateOutcome>;
  /** Everything under the agent's staging directory: files, and folders ending in `/`. */
  stagedFiles(): Promise<string[]>;
}

async function rig(options: Partial<ThingsBoardAgentOptions> & { tb?: TbEmulator } = {}): Promise<Rig> {
  const tb = options.tb ?? (await startThingsBoard(TOKEN));
  if (options.tb === undefined) cleanups.push(() => tb.close());
  const root = await mkdtemp(join(tmpdir(), 'otakit-tb-agent-'));
  cleanups.push(() => rm(root, { recursive: true, force: true }));
  const file = join(root, 'app.bin');
  await writeFile(file, OLD);
  const connection = await connectMqtt(tb.url, { username: TOKEN, reconnect: { initialMs: 20, maxMs: 100 } });
  const logs: string[] = [];
  const record = (level: string) => (message: string, context?: Record<string, unknown>) =>
    logs.push(`${level} ${message} ${inspect(context, { depth: 5 })}`);
  const logger: Logger = {
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
  };
  const { tb: _tb, ...agentOptions } = options;
  const agent = createThingsBoardAgent({
    target: { accessToken: TOKEN, baseUrl: tb.http.baseUrl },
    connection,
    current: { title: 'app', version: '1.0' },
    chunkSize: CHUNK,
    chunkTimeoutMs: 5_000,
    chunkRetry: FAST,
    installTarget: file,
    stateDirectory: join(root, 'agent'),
    fsync: false,
    download: { retry: { attempts: 2, ...FAST } },
    logger,
    ...agentOptions,
  }) as DeviceAgent<unknown>;
  const outcomes: UpdateOutcome[] = [];
  const ignored: IgnoredEvent[] = [];
  const errors: OtaError[] = [];
  agent.on('outcome', (outcome) => outcomes.push(outcome));
  agent.on('ignored', (event) => ignored.push(event));
  agent.on('error', (error) => errors.push(error));
  cleanups.push(async () => {
    await agent.stop({ cancel: true });
    await connection.close();
  });
  let seen = 0;
  return {
    tb,
    root,
    file,
    connection,
    agent,
    outcomes,
    ignored,
    errors,
    logs,
    async nextOutcome() {
      const index = seen++;
      await until(
        () => outcomes.length > index,
        () => `outcome ${index + 1} (states ${tb.fwStates().join(' ')})`,
      );
      return outcomes[index]!;
    },
    async stagedFiles() {
      const staging = join(root, 'agent', 'staging');
      const entries = await readdir(staging, { recursive: true, withFileTypes: true }).catch(() => []);
      return entries.map((entry) => (entry.isDirectory() ? `${entry.name}/` : entry.name));
    },
  };
}

// INITIATED: the order was taken (the machine's `available`), as ThingsBoard itself records it.
const HAPPY = ['INITIATED', 'DOWNLOADING', 'DOWNLOADED', 'VERIFIED', 'UPDATING', 'UPDATED'];

function fwError(tb: TbEmulator): string {
  return String(tb.telemetry.find((entry) => entry.fw_state === 'FAILED')?.fw_error ?? '');
}

describe('createThingsBoardAgent: updates', () => {
  it('by MQTT chunks: fw_state in order, the file replaced, UPDATED with the new version', async () => {
    const device = await rig();
    await device.agent.start();
    const next = pkg('1.1');
    await device.tb.assign(next);
    expect(await device.nextOutcome()).toMatchObject({
      state: 'committed',
      update: { id: 'fw:app@1.1', version: '1.1' },
    });
    expect(digest(await readFile(device.file))).toBe(digest(next.bytes));
    expect(device.tb.telemetry[0]).toEqual({ current_fw_title: 'app', current_fw_version: '1.0' });
    expect(device.tb.fwStates()).toEqual(HAPPY);
    expect(device.tb.telemetry.at(-1)).toEqual({
      current_fw_title: 'app',
      current_fw_version: '1.1',
      fw_state: 'UPDATED',
    });
    // 20 000 bytes in chunks of 4096: five requests, the size as payload, one transfer id.
    const chunks = device.tb.chunkRequests;
    expect(chunks.map((request) => [request.chunk, request.size])).toEqual(
      [0, 1, 2, 3, 4].map((n) => [n, CHUNK]),
    );
    expect(new Set(chunks.map((request) => request.requestId)).size).toBe(1);
    expect(device.tb.http.requests).toEqual([]);
    expect(await device.stagedFiles()).toEqual([]);
    expect(device.agent.current).toEqual({ id: 'fw:app@1.1', version: '1.1' });
  });

  it('by HTTP from the device API; the package assigned while the device was away is found at start', async () => {
    const tb = await startThingsBoard(TOKEN);
    cleanups.push(() => tb.close());
    const next = pkg('1.1');
    await tb.assign(next, { push: false });
    const device = await rig({ tb, transfer: 'http' });
    await device.agent.start();
    expect(await device.nextOutcome()).toMatchObject({ state: 'committed', update: { id: 'fw:app@1.1' } });
    expect(digest(await readFile(device.file))).toBe(digest(next.bytes));
    expect(tb.fwStates()).toEqual(HAPPY);
    expect(tb.http.requests).toEqual([{ token: TOKEN, title: 'app', status: 200 }]);
    expect(tb.chunkRequests).toEqual([]);
    // Asked at start: the boot request (sent before the subscription) and fetchOrder's, each
    // for every package key; the answer is decoded once.
    expect(tb.attributeRequests.map((request) => JSON.parse(request))).toEqual([
      { sharedKeys: 'fw_title,fw_version,fw_size,fw_checksum,fw_checksum_algorithm,fw_url,fw_tag' },
      { sharedKeys: 'fw_title,fw_version,fw_size,fw_checksum,fw_checksum_algorithm,fw_url,fw_tag' },
    ]);
    expect(device.outcomes).toHaveLength(1);
  });

  it.each(['SHA384', 'SHA512', 'CRC32', 'MURMUR3_32', 'MURMUR3_128', 'MD5'])(
    'verifies a %s checksum as ThingsBoard computes it, then installs',
    async (algorithm) => {
      const device = await rig();
      await device.agent.start();
      const next = pkg('1.1', 9_000);
      const checksum = thingsBoardChecksum(algorithm);
      checksum.update(next.bytes);
      await device.tb.assign({ ...next, algorithm, checksum: checksum.digest() });
      expect(await device.nextOutcome()).toMatchObject({ state: 'committed' });
      expect(digest(await readFile(device.file))).toBe(digest(next.bytes));
      expect(device.tb.fwStates()).toEqual(HAPPY);
    },
  );
});

describe('createThingsBoardAgent: failures', () => {
  it('a SHA-256 mismatch: FAILED with fw_error, nothing installed, nothing left staged', async () => {
    const device = await rig();
    await device.agent.start();
    await device.tb.assign({ ...pkg('1.1'), checksum: 'ab'.repeat(32) });
    expect(await device.nextOutcome()).toMatchObject({
      state: 'download_failed',
      error: { code: 'INTEGRITY' },
    });
    expect(device.tb.fwStates()).toEqual(['INITIATED', 'DOWNLOADING', 'FAILED']);
    expect(fwError(device.tb)).toMatch(/^download_failed: INTEGRITY: .*sha256 mismatch/);
    expect(digest(await readFile(device.file))).toBe(digest(OLD));
    expect(await device.stagedFiles()).toEqual([]);
    expect(device.agent.current).toEqual({ id: 'fw:app@1.0', version: '1.0' });
  });

  it('a SHA384 mismatch (checked over the staged file): FAILED after DOWNLOADED, nothing installed', async () => {
    const device = await rig();
    await device.agent.start();
    await device.tb.assign({ ...pkg('1.1'), algorithm: 'SHA384', checksum: 'cd'.repeat(48) });
    expect(await device.nextOutcome()).toMatchObject({
      state: 'verify_failed',
      error: { code: 'INTEGRITY' },
    });
    expect(device.tb.fwStates()).toEqual(['INITIATED', 'DOWNLOADING', 'DOWNLOADED', 'FAILED']);
    expect(fwError(device.tb)).toMatch(/^verify_failed: INTEGRITY: app: SHA384 mismatch/);
    expect(digest(await readFile(device.file))).toBe(digest(OLD));
    expect(await device.stagedFiles()).toEqual([]);
  });

  it('the broker goes down mid-chunks and comes back: the transfer resumes and the update completes', async () => {
    const device = await rig({ chunkTimeoutMs: 1_000, chunkRetry: { ...FAST, attempts: 100 } });
    await device.agent.start();
    const next = pkg('1.1');
    device.tb.hold(2);
    await device.tb.assign(next);
    await until(
      () => device.tb.chunkRequests.some((request) => request.chunk === 2),
      () => 'the request for chunk 2',
    );
    await device.tb.stop();
    device.tb.release();
    await device.tb.start();
    expect(await device.nextOutcome()).toMatchObject({ state: 'committed', update: { id: 'fw:app@1.1' } });
    expect(digest(await readFile(device.file))).toBe(digest(next.bytes));
    expect(device.tb.fwStates()).toEqual(HAPPY);
    // Chunks 0 and 1 were not asked for again.
    expect(device.tb.chunkRequests.filter((request) => request.chunk < 2)).toHaveLength(2);
  });

  it('cancel during the download: FAILED "canceled", nothing installed', async () => {
    const device = await rig();
    await device.agent.start();
    device.tb.hold(1);
    await device.tb.assign(pkg('1.1'));
    await until(
      () => device.tb.chunkRequests.some((request) => request.chunk === 1),
      () => 'the request for chunk 1',
    );
    expect(await device.agent.cancel('operator said no')).toBe(true);
    expect(await device.nextOutcome()).toMatchObject({ state: 'canceled' });
    expect(device.tb.fwStates()).toEqual(['INITIATED', 'DOWNLOADING', 'FAILED']);
    expect(fwError(device.tb)).toMatch(/^canceled: ABORTED: operator said no/);
    expect(digest(await readFile(device.file))).toBe(digest(OLD));
    expect(device.agent.current).toEqual({ id: 'fw:app@1.0', version: '1.0' });
  });

  it('a wrong token for the firmware endpoint (HTTP 401): FAILED, nothing installed, the token in no message', async () => {
    const wrong = 'WRONG_TOKEN_7f3e91';
    const tb = await startThingsBoard(TOKEN);
    cleanups.push(() => tb.close());
    // The MQTT session is the device's (right token); the HTTP download uses target.accessToken.
    const device = await rig({
      tb,
      transfer: 'http',
      target: { accessToken: wrong, baseUrl: tb.http.baseUrl },
    });
    await device.agent.start();
    await device.tb.assign(pkg('1.1'));
    const outcome = await device.nextOutcome();
    expect(outcome).toMatchObject({ state: 'download_failed', error: { code: 'TRANSPORT' } });
    expect(device.tb.http.requests.map((request) => request.status)).toEqual([401]);
    expect(device.tb.fwStates()).toEqual(['INITIATED', 'DOWNLOADING', 'FAILED']);
    expect(fwError(device.tb)).toMatch(/401/);
    expect(digest(await readFile(device.file))).toBe(digest(OLD));
    const said = [
      JSON.stringify(device.tb.published),
      JSON.stringify(outcome),
      device.errors.map((error) => error.message).join('\n'),
      device.logs.join('\n'),
    ].join('\n');
    expect(said).not.toContain(wrong);
    expect(said).toContain('/api/v1/***/firmware');
  });

  it('the broker refuses the token: connectMqtt rejects with a typed, non-retryable error without it', async () => {
    const tb = await startThingsBoard(TOKEN);
    cleanups.push(() => tb.close());
    const wrong = 'NOT_THE_DEVICE_TOKEN_55';
    const error = await connectMqtt(tb.url, {
      username: wrong,
      reconnect: { initialMs: 20, maxMs: 100 },
    }).catch((thrown: unknown) => thrown);
    expect(isOtaError(error, 'TRANSPORT')).toBe(true);
    expect(error).toMatchObject({ retryable: false });
    expect(String((error as Error).message)).not.toContain(wrong);
    expect(inspect(error)).not.toContain(wrong);
  });
});

describe('createThingsBoardAgent: orders', () => {
  it('duplicate and replayed attributes: the running update is not started twice, the installed one not again', async () => {
    const device = await rig();
    await device.agent.start();
    const next = pkg('1.1');
    device.tb.hold(1);
    await device.tb.assign(next);
    await until(
      () => device.tb.chunkRequests.some((request) => request.chunk === 1),
      () => 'the request for chunk 1',
    );
    await device.tb.push(device.tb.attributesOf(next)); // the same push again, while it runs
    await until(
      () => device.ignored.some((event) => event.reason === 'duplicate'),
      () => 'the duplicate',
    );
    device.tb.release();
    expect(await device.nextOutcome()).toMatchObject({ state: 'committed', update: { id: 'fw:app@1.1' } });
    // Replayed after the install: a push, then an attribute request (checkNow) answering 1.1.
    await device.tb.push(device.tb.attributesOf(next));
    await until(
      () => device.ignored.filter((event) => event.reason === 'no_order').length >= 1,
      () => 'the replay ignored',
    );
    expect(await device.agent.checkNow()).toBeNull();
    expect(device.tb.fwStates()).toEqual(HAPPY);
    expect(device.tb.chunkRequests.filter((request) => request.chunk === 0)).toHaveLength(1);
    expect(device.outcomes).toHaveLength(1);
  });

  it('a stale order: one that arrives while another runs is superseded by the newest', async () => {
    const device = await rig();
    await device.agent.start();
    const first = pkg('1.1');
    const stale = pkg('1.2');
    const newest = pkg('1.3');
    device.tb.hold(1);
    await device.tb.assign(first);
    await until(
      () => device.tb.chunkRequests.some((request) => request.chunk === 1),
      () => 'the request for chunk 1',
    );
    await device.tb.push(device.tb.attributesOf(stale));
    // ThingsBoard serves the package assigned now: the rest of 1.1's transfer brings 1.3's bytes.
    await device.tb.assign(newest);
    await until(
      () => device.ignored.some((event) => event.reason === 'superseded'),
      () => 'the superseded order',
    );
    expect(device.ignored.find((event) => event.reason === 'superseded')?.update).toEqual({
      id: 'fw:app@1.2',
      version: '1.2',
    });
    device.tb.release();
    expect(await device.nextOutcome()).toMatchObject({
      state: 'download_failed',
      error: { code: 'INTEGRITY' },
    });
    expect(await device.nextOutcome()).toMatchObject({ state: 'committed', update: { id: 'fw:app@1.3' } });
    expect(digest(await readFile(device.file))).toBe(digest(newest.bytes));
    expect(device.tb.fwStates()).toEqual(['INITIATED', 'DOWNLOADING', 'FAILED', ...HAPPY]);
  });

  it('packages removed, for another title, or of other features: no update', async () => {
    const device = await rig();
    await device.agent.start();
    await device.tb.push({ deleted: ['fw_title', 'fw_version'] });
    await device.tb.push({ someOtherAttribute: 42 });
    await device.tb.push(device.tb.attributesOf({ ...pkg('9.9'), title: 'other-product' }));
    await until(
      () => device.ignored.filter((event) => event.reason === 'no_order').length >= 3,
      () => 'three ignored pushes',
    );
    expect(device.tb.fwStates()).toEqual([]);
    expect(device.tb.chunkRequests).toEqual([]);
  });

  it('an archive package (tar.gz) unpacks into the install directory', async () => {
    const source = await mkdtemp(join(tmpdir(), 'otakit-tb-archive-'));
    cleanups.push(() => rm(source, { recursive: true, force: true }));
    await mkdir(join(source, 'tree', 'lib'), { recursive: true });
    await writeFile(join(source, 'tree', 'main.py'), 'print("1.1")\n');
    await writeFile(join(source, 'tree', 'lib', 'util.py'), 'X = 1\n');
    execFileSync('tar', ['-czf', join(source, 'app.tar.gz'), '-C', join(source, 'tree'), '.']);
    const bytes = new Uint8Array(await readFile(join(source, 'app.tar.gz')));
    const root = await mkdtemp(join(tmpdir(), 'otakit-tb-dir-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    await mkdir(join(root, 'app'));
    await writeFile(join(root, 'app', 'main.py'), 'print("1.0")\n');
    const device = await rig({ installAs: 'archive', installTarget: join(root, 'app'), transfer: 'http' });
    await device.agent.start();
    await device.tb.assign({ title: 'app', version: '1.1', bytes });
    expect(await device.nextOutcome()).toMatchObject({ state: 'committed' });
    expect(await readFile(join(root, 'app', 'main.py'), 'utf8')).toBe('print("1.1")\n');
    expect(await readFile(join(root, 'app', 'lib', 'util.py'), 'utf8')).toBe('X = 1\n');
    expect((await readdir(root)).sort()).toEqual(['app']);
  });
});

describe('createThingsBoardAgent: options', () => {
  const base = (): ThingsBoardAgentOptions => ({
    target: { accessToken: TOKEN },
    connection: { publish: async () => {}, subscribe: async () => async () => {}, close: async () => {} },
    installTarget: '/tmp/never/app.bin',
    stateDirectory: '/tmp/never/agent',
  });

  it('refuses bad options with typed errors naming the field, never the token', () => {
    const cases: [Partial<ThingsBoardAgentOptions>, RegExp][] = [
      [{ installTarget: '' }, /installTarget/],
      [{ stateDirectory: undefined as unknown as string }, /stateDirectory/],
      [{ connection: undefined as unknown as MqttConnection }, /connection/],
      [{ target: { accessToken: TOKEN, transport: 'http', baseUrl: 'http://tb' } }, /target\.transport/],
      [{ transfer: 'http' }, /target\.baseUrl/],
      [{ transfer: 'coap' as 'http' }, /transfer/],
      [{ installAs: 'zip' as 'file' }, /installAs/],
      [{ current: { title: '', version: '1' } }, /current/],
      [{ target: { accessToken: `${TOKEN}/x` } }, /accessToken/],
    ];
    for (const [extra, pattern] of cases) {
      let error: unknown;
      try {
        createThingsBoardAgent({ ...base(), ...extra });
      } catch (thrown) {
        error = thrown;
      }
      expect(isOtaError(error), `${JSON.stringify(extra)}`).toBe(true);
      expect((error as Error).message).toMatch(pattern);
      expect((error as Error).message).not.toContain(TOKEN);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// SIGKILL of the agent's process, then a restart
// ---------------------------------------------------------------------------------------------

let childBundle: Promise<string> | undefined;
/** The child bundled once (esbuild), so each process starts as plain node. */
function childScript(): Promise<string> {
  childBundle ??= (async () => {
    const directory = await mkdtemp(join(tmpdir(), 'otakit-tb-child-'));
    const outfile = join(directory, 'thingsboard-agent-child.mjs');
    await build({
      entryPoints: [CHILD],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile,
      logLevel: 'error',
      // mqtt.js's CommonJS dependencies call require(): give the ESM bundle one.
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
    });
    return outfile;
  })();
  return childBundle;
}
afterAll(async () => {
  if (childBundle !== undefined) await rm(join(await childBundle, '..'), { recursive: true, force: true });
});

interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: Record<string, unknown>[];
}

async function runChild(
  config: Record<string, unknown>,
  onLine: (line: Record<string, unknown>, kill: () => void) => void = () => {},
): Promise<ChildRun> {
  const script = await childScript();
  const child = spawn(process.execPath, [script, JSON.stringify(config)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let buffer = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop()!;
    for (const part of parts) {
      const line = JSON.parse(part) as Record<string, unknown>;
      lines.push(line);
      onLine(line, () => child.kill('SIGKILL'));
    }
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('exit', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
  );
  if (code !== 0 && signal === null) throw new Error(`agent child exited ${code}:\n${stderr}`);
  return { code, signal, lines };
}

/** Bytes of the `.part` files under `staging` (0 while there are none). */
function stagedBytes(staging: string): number {
  if (!existsSync(staging)) return 0;
  return readdirSync(staging, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.part'))
    .reduce((sum, entry) => sum + statSync(join(entry.parentPath, entry.name)).size, 0);
}

describe('SIGKILL of the agent process, then a restart', () => {
  async function prepare() {
    const tb = await startThingsBoard(TOKEN);
    cleanups.push(() => tb.close());
    const root = await mkdtemp(join(tmpdir(), 'otakit-tb-kill-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    await writeFile(join(root, 'app.bin'), OLD);
    const config = (extra: Record<string, unknown> = {}) => ({
      root,
      brokerUrl: tb.url,
      token: TOKEN,
      chunkSize: 65_536,
      ...extra,
    });
    return { tb, root, config };
  }

  it('killed mid-download: the new process resumes from the staged bytes and installs once', async () => {
    const { tb, root, config } = await prepare();
    // 1.5 MiB in 64 KiB chunks: the file sink writes 1 MiB batches. Chunk 20 is held, so the
    // first process cannot finish; it is killed once its first MiB is on disk.
    const next = pkg('1.1', 1_572_864);
    tb.hold(20);
    let kill: () => void = () => {};
    const first = runChild(config(), (_line, killChild) => {
      kill = killChild;
    });
    await until(
      () => tb.attributeRequests.length >= 2,
      () => 'the first process asking for its attributes',
      45_000, // bundling the child and starting node on a loaded machine
    );
    await tb.assign(next);
    await until(
      () => tb.chunkRequests.some((request) => request.chunk === 20),
      () => 'the request for chunk 20',
      30_000,
    );
    // The batch write is asynchronous: on a loaded machine it can still be in flight when chunk
    // 20 is asked for (CI once killed before it landed, and the restart rightly began at 0).
    const staging = join(root, 'agent', 'staging');
    await until(
      () => stagedBytes(staging) >= 1_048_576,
      () => `1 MiB staged, got ${stagedBytes(staging)}`,
      30_000,
    );
    const firstRequestId = tb.chunkRequests[0]!.requestId;
    kill(); // while it waits for chunk 20
    const run = await first;
    expect(run.signal).toBe('SIGKILL');
    tb.release();
    expect(tb.fwStates()).toEqual(['INITIATED', 'DOWNLOADING']);

    const second = await runChild(config());
    expect(second.lines.find((line) => line.event === 'outcome')).toMatchObject({
      outcome: { state: 'committed', update: { id: 'fw:app@1.1' } },
    });
    expect(digest(await readFile(join(root, 'app.bin')))).toBe(digest(next.bytes));
    const resumed = tb.chunkRequests.filter((request) => request.requestId !== firstRequestId);
    expect(resumed[0]!.chunk).toBeGreaterThanOrEqual(16);
    expect(tb.fwStates()).toEqual([
      'INITIATED',
      'DOWNLOADING',
      'DOWNLOADING',
      'DOWNLOADED',
      'VERIFIED',
      'UPDATING',
      'UPDATED',
    ]);
  }, 120_000);

  it.each(['backed-up', 'renamed'])(
    'killed mid-install (after the installer step "%s"): the new process finishes it, UPDATED once',
    async (step) => {
      const { tb, root, config } = await prepare();
      const next = pkg('1.1', 50_000);
      await tb.assign(next, { push: false });
      const first = await runChild(config({ killAtStep: step }));
      expect(first.signal).toBe('SIGKILL');
      expect(first.lines.at(-1)).toEqual({ event: 'step', step });
      expect(tb.fwStates()).toEqual(['INITIATED', 'DOWNLOADING', 'DOWNLOADED', 'VERIFIED', 'UPDATING']);

      const second = await runChild(config());
      expect(second.lines.find((line) => line.event === 'outcome')).toMatchObject({
        outcome: { state: 'committed', update: { id: 'fw:app@1.1' } },
      });
      expect(digest(await readFile(join(root, 'app.bin')))).toBe(digest(next.bytes));
      expect((await readdir(root)).sort()).toEqual(['agent', 'app.bin']);
      expect(tb.fwStates().filter((state) => state === 'UPDATED')).toHaveLength(1);
      expect(tb.fwStates().at(-1)).toBe('UPDATED');
      // The second process did not download again.
      expect(new Set(tb.chunkRequests.map((request) => request.requestId)).size).toBe(1);
    },
    120_000,
  );
});
