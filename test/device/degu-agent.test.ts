/**
 * The Degu agent (`createDeguAgent`, otakit/node) end to end against real components: an aedes
 * broker in process on a loopback port (restarted on the same port for the outage test), the
 * self-hosted shadow service on its own connection answering as AWS IoT Core, a loopback HTTP
 * server serving the files (`createFaultServer`), real files on disk, and, for the power-cut
 * cases, the agent in a child process killed with SIGKILL at a point it announces.
 *
 * The operator orders as a cloud service would: `degu.protocol.cloud.encodeOrder` written into
 * the shadow. Nothing here waits on the wall clock; limits only catch hangs.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, type ExpectStatic, expect, it } from 'vitest';
import { isOtaError, type OtaError } from '../../src/core/errors.js';
import type { IgnoredEvent } from '../../src/device/events.js';
import type { TransitionEvent } from '../../src/machine/events.js';
import type { UpdateOutcome } from '../../src/machine/record.js';
import { connectMqtt } from '../../src/mqtt/index.js';
import { createDeguAgent, type DeguAgent, type DeguAgentOptions } from '../../src/node/agents/degu.js';
import { protocol as degu } from '../../src/protocols/degu/protocol.js';
import { createFaultServer, type FaultServer } from '../../src/testing/fault-server.js';
import { createShadowService, type ShadowService } from '../../src/testing/shadow-service.js';
import type { MqttConnection, MqttConnectionState } from '../../src/transport/mqtt-connection.js';
import { until } from '../support/system-services.js';

const md5 = (bytes: Uint8Array | string) => createHash('md5').update(bytes).digest('hex');
const bytes = (size: number, seed: number) => {
  const out = Buffer.alloc(size);
  let state = seed;
  for (let index = 0; index < size; index++) {
    state = (state * 1103515245 + 12345) >>> 0;
    out[index] = state >>> 24;
  }
  return out;
};

/** The device's password on the broker: must appear in no error message. */
const PASSWORD = 'degu-device-secret-7f3a';
const FILES = {
  scriptA: Buffer.from("print('A')\n"),
  scriptB: Buffer.from("print('B')\n"),
  configB: Buffer.from('interval=60\n'),
  firmwareA: bytes(24 * 1024, 1),
  firmwareB: bytes(48 * 1024, 2),
};

/** The MD5 of each of FILES. */
const SUMS = Object.fromEntries(
  Object.entries(FILES).map(([name, content]) => [name, md5(content)]),
) as Record<keyof typeof FILES, string>;

/** aedes on a fixed loopback port, that can be stopped and started again on that port. */
async function startBroker() {
  let port = 0;
  let server: Server | undefined;
  let broker: Aedes | undefined;
  const sockets = new Set<Socket>();
  const start = async () => {
    const current = await Aedes.createBroker({
      authenticate(_client, username, password, callback) {
        // The service and the operator connect without credentials; a device must bring its own.
        if (username === undefined || (username === 'degu' && password?.toString() === PASSWORD)) {
          return callback(null, true);
        }
        callback(Object.assign(new Error('Not authorized'), { returnCode: 5 }) as never, false);
      },
      authorizeSubscribe(client, subscription, callback) {
        // A device whose policy does not cover the shadow topics (an AWS policy without iot:Subscribe).
        const refused = client?.id.startsWith('no-shadow') && subscription.topic.startsWith('$aws/');
        callback(null, refused ? null : subscription);
      },
    });
    broker = current;
    server = createServer((socket) => {
      // Without it each exchange waits for a delayed ACK (~40 ms a hop).
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      current.handle(socket);
    });
    await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  };
  await start();
  return {
    get url() {
      return `mqtt://127.0.0.1:${port}`;
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => broker!.close(() => resolve()));
      await new Promise<void>((resolve) => server!.close(() => resolve()));
    },
    start,
  };
}

let broker: Awaited<ReturnType<typeof startBroker>>;
let files: FaultServer;
let service: ShadowService;
let operatorConnection: MqttConnection;
let root: string;
let thingCount = 0;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  broker = await startBroker();
  files = await createFaultServer();
  root = await mkdtemp(join(tmpdir(), 'otakit-degu-agent-'));
  operatorConnection = await connectMqtt(broker.url, {
    clientId: `degu-service-${process.pid}`,
    reconnect: { initialMs: 20, maxMs: 100 },
  });
  service = createShadowService({ connection: operatorConnection });
  await service.start();
  files.route('/main_B.py', { body: FILES.scriptB });
  files.route('/CONFIG_B', { body: FILES.configB });
  files.route('/degu_B.bin', { body: FILES.firmwareB });
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});
afterAll(async () => {
  await service.stop();
  await operatorConnection.close();
  await broker.stop();
  await files.close();
  await rm(root, { recursive: true, force: true });
});

/** A device of its own: a thing, a directory with main.py (A), no CONFIG, firmware A. */
async function device(name = 'dev') {
  const thingName = `DEGU${process.pid}X${++thingCount}${name}`;
  const directory = join(root, thingName);
  await mkdir(join(directory, 'files'), { recursive: true });
  const paths = {
    script: join(directory, 'files', 'main.py'),
    config: join(directory, 'files', 'CONFIG'),
    firmware: join(directory, 'files', 'degu.bin'),
  };
  await writeFile(paths.script, FILES.scriptA);
  await writeFile(paths.firmware, FILES.firmwareA);
  /** What the files hold, as MD5s (`null` when missing): quick to compare, and printable. */
  const read = async () => {
    const sum = async (path: string) => {
      const content = await readFile(path).catch(() => null);
      return content === null ? null : md5(content);
    };
    return {
      script: await sum(paths.script),
      config: await sum(paths.config),
      firmware: await sum(paths.firmware),
    };
  };
  return { thingName, directory, paths, stateDirectory: join(directory, 'state'), read };
}

/** What the operator orders: any of the three items, as `cloud.encodeOrder` writes it. */
async function order(
  thingName: string,
  items: { script?: [string, string]; config?: [string, string]; firmware?: [string, string] },
) {
  const artifacts = (['script', 'config', 'firmware'] as const).flatMap((target) => {
    const item = items[target];
    return item === undefined ? [] : [{ url: `${files.url}${item[0]}`, md5: item[1], target }];
  });
  const { value } = degu.cloud.encodeOrder({ id: 'order', version: '1', artifacts }, { thingName });
  const result = await service.update({ thingName }, value[0]!.payload);
  if (!result.ok) throw new Error(result.error.message);
  return result.shadow.version;
}

const ORDER_ALL = {
  script: ['/main_B.py', md5(FILES.scriptB)],
  config: ['/CONFIG_B', md5(FILES.configB)],
  firmware: ['/degu_B.bin', md5(FILES.firmwareB)],
} satisfies Parameters<typeof order>[1];

async function agentConnection(clientId: string, onState?: (change: MqttConnectionState) => void) {
  const connection = await connectMqtt(broker.url, {
    clientId,
    username: 'degu',
    password: PASSWORD,
    reconnect: { initialMs: 20, maxMs: 100 },
  });
  if (onState !== undefined) connection.onStateChange?.(onState);
  cleanups.push(() => connection.close());
  return connection;
}

async function startAgent(
  dev: Awaited<ReturnType<typeof device>>,
  options: Partial<DeguAgentOptions> = {},
): Promise<{ agent: DeguAgent; seen: ReturnType<typeof watch> }> {
  const connection = options.connection ?? (await agentConnection(`agent-${dev.thingName}`));
  const agent = createDeguAgent({
    thingName: dev.thingName,
    connection,
    files: dev.paths,
    stateDirectory: dev.stateDirectory,
    fsync: false,
    firmwareVersion: '1.0.0-rc1',
    download: { retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 } },
    ...options,
  });
  const seen = watch(agent);
  cleanups.push(() => agent.stop({ cancel: true }));
  await agent.start();
  return { agent, seen };
}

function watch(agent: DeguAgent) {
  const seen = {
    outcomes: [] as UpdateOutcome[],
    ignored: [] as IgnoredEvent[],
    errors: [] as OtaError[],
    transitions: [] as string[],
    progress: 0,
  };
  agent.on('outcome', (outcome) => seen.outcomes.push(outcome));
  agent.on('ignored', (event) => seen.ignored.push(event));
  agent.on('error', (error) => seen.errors.push(error));
  agent.on('transition', (event: TransitionEvent) => seen.transitions.push(event.to));
  agent.on('progress', () => {
    seen.progress++;
  });
  return seen;
}

const reportedOf = (thingName: string) => service.shadow({ thingName })?.state.reported ?? {};
const requestsTo = (path: string) => files.stats(path).requests;

describe('Degu agent', () => {
  it('reports the local MD5s at start, installs an order for all three files, reports and clears it', async () => {
    const dev = await device();
    const { agent, seen } = await startAgent(dev, { clearDesired: true });
    // The boot report: MD5s of the files on disk, `none` for the missing CONFIG (D1's format).
    await until(
      () => reportedOf(dev.thingName).firmware_ver !== undefined,
      () => 'the boot report',
    );
    expect(reportedOf(dev.thingName)).toEqual({
      script_user_ver: md5(FILES.scriptA),
      config_user_ver: 'none',
      firmware_system_ver: md5(FILES.firmwareA),
      firmware_ver: '1.0.0-rc1',
    });

    await order(dev.thingName, ORDER_ALL);
    await until(
      () => seen.outcomes.length === 1,
      () => `an outcome; errors ${seen.errors.map((error) => error.message)}`,
    );
    expect(seen.outcomes[0]).toMatchObject({ state: 'committed', error: null });
    expect(seen.transitions).toEqual(
      expect.arrayContaining(['downloading', 'downloaded', 'verifying', 'installing', 'committed']),
    );
    expect(await dev.read()).toEqual({
      script: SUMS.scriptB,
      config: SUMS.configB,
      firmware: SUMS.firmwareB,
    });
    // Only the three files: no backup, journal or staging file left beside them.
    expect((await readdir(join(dev.directory, 'files'))).sort()).toEqual(['CONFIG', 'degu.bin', 'main.py']);
    await until(
      () => reportedOf(dev.thingName).config_user_ver === md5(FILES.configB),
      () => 'the report of the new MD5s',
    );
    expect(reportedOf(dev.thingName)).toMatchObject({
      script_user_ver: md5(FILES.scriptB),
      config_user_ver: md5(FILES.configB),
      firmware_system_ver: md5(FILES.firmwareB),
    });
    // clearDesired: the finished order is gone from desired (no URL stays in the delta forever).
    await until(
      () => service.shadow({ thingName: dev.thingName })?.state.desired === undefined,
      () =>
        `desired cleared; it is ${JSON.stringify(service.shadow({ thingName: dev.thingName })?.state.desired)}`,
    );
    expect(await agent.checkUpdate()).toEqual({ update: false, items: [], skipped: [] });
    expect(seen.errors).toEqual([]);
  });

  it('finds an order that waited in the shadow at start (get); checkUpdate only decides', async () => {
    const dev = await device();
    // Script ordered at the MD5 it already has (D4: not flagged), CONFIG ordered new.
    await order(dev.thingName, {
      script: ['/main_B.py', md5(FILES.scriptA)],
      config: ['/CONFIG_B', md5(FILES.configB)],
    });
    const before = requestsTo('/CONFIG_B');
    const scriptRequests = requestsTo('/main_B.py');
    const idle = createDeguAgent({
      thingName: dev.thingName,
      connection: await agentConnection(`check-${dev.thingName}`),
      files: dev.paths,
      stateDirectory: dev.stateDirectory,
      fsync: false,
    });
    const check = await idle.checkUpdate();
    expect(check.update).toBe(true);
    expect(check.items).toEqual([
      { item: 'config_user', url: `${files.url}/CONFIG_B`, md5: md5(FILES.configB), reportedMd5: 'none' },
    ]);
    expect(requestsTo('/CONFIG_B')).toBe(before);

    const { seen } = await startAgent(dev);
    await until(
      () => seen.outcomes.length === 1,
      () => 'the outcome',
    );
    expect(seen.outcomes[0]).toMatchObject({ state: 'committed' });
    expect(await dev.read()).toEqual({
      script: SUMS.scriptA,
      config: SUMS.configB,
      firmware: SUMS.firmwareA,
    });
    expect(requestsTo('/main_B.py')).toBe(scriptRequests);
  });

  it('a corrupt artifact (MD5 differs from the order) fails verification: nothing installed, old MD5s reported', async () => {
    const dev = await device();
    files.route('/main_corrupt.py', { body: Buffer.from("print('evil')\n") });
    const { seen } = await startAgent(dev);
    await until(
      () => reportedOf(dev.thingName).script_user_ver !== undefined,
      () => 'the boot report',
    );
    await order(dev.thingName, {
      script: ['/main_corrupt.py', md5(FILES.scriptB)],
      config: ['/CONFIG_B', md5(FILES.configB)],
    });
    await until(
      () => seen.outcomes.length === 1,
      () => 'the outcome',
    );
    // The download hook measures the MD5 as the bytes stream and refuses at the end of the
    // download; the verify step would refuse it otherwise. Either way: before any install.
    expect(seen.outcomes[0]).toMatchObject({ state: 'download_failed', error: { code: 'INTEGRITY' } });
    expect(seen.outcomes[0]!.error!.message).toContain(md5(FILES.scriptB));
    // All or nothing: the good CONFIG is not installed either.
    expect(await dev.read()).toEqual({ script: SUMS.scriptA, config: null, firmware: SUMS.firmwareA });
    expect((await readdir(join(dev.directory, 'files'))).sort()).toEqual(['degu.bin', 'main.py']);
    expect(reportedOf(dev.thingName)).toMatchObject({
      script_user_ver: md5(FILES.scriptA),
      config_user_ver: 'none',
    });
    expect(seen.transitions).not.toContain('installing');
  });

  it('broker down then up: the agent reconnects, reads the shadow again and installs what was ordered meanwhile', async () => {
    const dev = await device();
    const states: string[] = [];
    const connection = await agentConnection(`outage-${dev.thingName}`, (change) =>
      states.push(change.state),
    );
    const { seen } = await startAgent(dev, { connection });
    await until(
      () => reportedOf(dev.thingName).script_user_ver !== undefined,
      () => 'the boot report',
    );
    await broker.stop();
    await until(
      () => states.includes('offline'),
      () => `the agent offline; states ${states}`,
    );
    // Ordered while the device is away: whatever the broker does with the delta, the agent must
    // learn of it when it is back.
    const ordered = service.update(
      { thingName: dev.thingName },
      JSON.stringify({
        state: { desired: { script_user: `${files.url}/main_B.py`, script_user_ver: md5(FILES.scriptB) } },
      }),
    );
    await broker.start();
    await ordered;
    await until(
      () => seen.outcomes.length === 1,
      () => `the outcome; states ${states}; errors ${seen.errors.map((error) => error.message)}`,
    );
    expect(seen.outcomes[0]).toMatchObject({ state: 'committed' });
    expect((await dev.read()).script).toBe(SUMS.scriptB);
    await until(
      () => reportedOf(dev.thingName).script_user_ver === md5(FILES.scriptB),
      () => 'the report after the outage',
    );
    expect(requestsTo('/main_B.py')).toBeGreaterThan(0);
  });

  it('duplicate and replayed deltas, and the same order written again, install nothing twice', async () => {
    const dev = await device();
    const installs: string[] = [];
    files.route('/degu_slow.bin', { body: FILES.firmwareB, stall: { afterBytes: 16 * 1024, times: 1 } });
    const deltas: string[] = [];
    const raw = await agentConnection(`raw-${dev.thingName}`);
    await raw.subscribe(`$aws/things/${dev.thingName}/shadow/update/delta`, (message) =>
      deltas.push(new TextDecoder().decode(message.payload)),
    );
    const { seen } = await startAgent(dev, {
      onInstallStep: (item, step) => {
        if (step === 'renamed') installs.push(item);
      },
      download: {
        retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 },
        lowSpeed: { bytesPerSecond: 1, windowMs: 300 },
      },
    });
    await until(
      () => reportedOf(dev.thingName).script_user_ver !== undefined,
      () => 'the boot report',
    );
    const firmwareOrder = { firmware: ['/degu_slow.bin', md5(FILES.firmwareB)] } satisfies Parameters<
      typeof order
    >[1];
    await order(dev.thingName, firmwareOrder);
    await until(
      () => seen.progress > 0,
      () => 'the download under way',
    );
    // While it runs: the operator writes the same order again (a newer version, same MD5s).
    await order(dev.thingName, firmwareOrder);
    await until(
      () => seen.outcomes.length === 1,
      () => `the outcome; errors ${seen.errors.map((error) => error.message)}`,
    );
    expect(seen.outcomes[0]).toMatchObject({ state: 'committed' });
    expect(seen.ignored.map((event) => event.reason)).toContain('duplicate');
    expect(installs).toEqual(['firmware_system']);
    const served = requestsTo('/degu_slow.bin');

    // Afterwards: every delta seen so far replayed as the broker could (QoS 1 redelivery), and the
    // order written once more. Then a sentinel order for the script, to know all was handled.
    for (const delta of [...deltas])
      await raw.publish(`$aws/things/${dev.thingName}/shadow/update/delta`, delta);
    await order(dev.thingName, firmwareOrder);
    await order(dev.thingName, { ...firmwareOrder, script: ['/main_B.py', md5(FILES.scriptB)] });
    await until(
      () => seen.outcomes.length === 2,
      () => 'the sentinel update',
    );
    expect(seen.outcomes[1]).toMatchObject({ state: 'committed' });
    expect(installs).toEqual(['firmware_system', 'script_user']);
    expect(requestsTo('/degu_slow.bin')).toBe(served);
    expect(seen.errors).toEqual([]);
  });

  it('a stale delta (older version) with another order is ignored', async () => {
    const dev = await device();
    files.route('/main_stale.py', { body: Buffer.from("print('stale')\n") });
    const raw = await agentConnection(`stale-${dev.thingName}`);
    const { seen } = await startAgent(dev);
    await until(
      () => reportedOf(dev.thingName).script_user_ver !== undefined,
      () => 'the boot report',
    );
    const version = await order(dev.thingName, { config: ['/CONFIG_B', md5(FILES.configB)] });
    await until(
      () => seen.outcomes.length === 1,
      () => 'the first update',
    );
    const ignoredBefore = seen.ignored.length;
    await raw.publish(
      `$aws/things/${dev.thingName}/shadow/update/delta`,
      JSON.stringify({
        state: { script_user: `${files.url}/main_stale.py`, script_user_ver: md5("print('stale')\n") },
        version: version - 1,
        timestamp: 1,
      }),
    );
    // Sentinel: a real order after it, on the same path through the broker.
    await order(dev.thingName, {
      config: ['/CONFIG_B', md5(FILES.configB)],
      script: ['/main_B.py', md5(FILES.scriptB)],
    });
    await until(
      () => seen.outcomes.length === 2,
      () => 'the sentinel update',
    );
    expect(requestsTo('/main_stale.py')).toBe(0);
    expect(seen.ignored.slice(ignoredBefore).map((event) => event.reason)).toContain('no_order');
    expect((await dev.read()).script).toBe(SUMS.scriptB);
  });

  it('cancel mid-download: canceled, nothing installed; the order runs later on checkNow', async () => {
    const dev = await device();
    files.route('/degu_cancel.bin', { body: FILES.firmwareB, stall: { afterBytes: 8 * 1024, times: 1 } });
    const { agent, seen } = await startAgent(dev);
    await order(dev.thingName, { firmware: ['/degu_cancel.bin', md5(FILES.firmwareB)] });
    await until(
      () => seen.progress > 0,
      () => 'the download under way',
    );
    expect(await agent.cancel('operator said stop')).toBe(true);
    await until(
      () => seen.outcomes.length === 1,
      () => 'the outcome',
    );
    expect(seen.outcomes[0]).toMatchObject({ state: 'canceled' });
    expect((await dev.read()).firmware).toBe(SUMS.firmwareA);
    expect(reportedOf(dev.thingName).firmware_system_ver).toBe(md5(FILES.firmwareA));
    const outcome = await agent.checkNow();
    expect(outcome).toMatchObject({ state: 'committed' });
    expect((await dev.read()).firmware).toBe(SUMS.firmwareB);
  });

  it('bad credentials: the broker refuses, a typed error without the password, nothing installed', async () => {
    const dev = await device();
    await order(dev.thingName, ORDER_ALL);
    const error = await connectMqtt(broker.url, {
      clientId: `bad-${dev.thingName}`,
      username: 'degu',
      password: `${PASSWORD}-wrong`,
      reconnect: { initialMs: 20, maxMs: 100 },
    }).then(
      (connection) => {
        cleanups.push(() => connection.close());
        throw new Error('connected with a wrong password');
      },
      (thrown: unknown) => thrown,
    );
    expect(isOtaError(error, 'TRANSPORT')).toBe(true);
    expect((error as OtaError).retryable).toBe(false);
    expect(
      JSON.stringify({ message: (error as Error).message, stack: (error as Error).stack }),
    ).not.toContain(PASSWORD);
    expect(await dev.read()).toEqual({ script: SUMS.scriptA, config: null, firmware: SUMS.firmwareA });
  });

  it('a policy that refuses the shadow topics: start() rejects typed, the agent does not run, nothing installed', async () => {
    const dev = await device();
    await order(dev.thingName, ORDER_ALL);
    const connection = await agentConnection(`no-shadow-${dev.thingName}`);
    const agent = createDeguAgent({
      thingName: dev.thingName,
      connection,
      files: dev.paths,
      stateDirectory: dev.stateDirectory,
      fsync: false,
      shadowTimeoutMs: 2_000,
    });
    const error = await agent.start().then(
      () => new Error('started'),
      (thrown: unknown) => thrown,
    );
    expect(isOtaError(error, 'TRANSPORT')).toBe(true);
    expect(agent.running).toBe(false);
    expect(agent.shadow).toBeUndefined();
    expect(await dev.read()).toEqual({ script: SUMS.scriptA, config: null, firmware: SUMS.firmwareA });
  });

  it('named shadows, and options it refuses naming the field', async () => {
    const dev = await device('named');
    const connection = await agentConnection(`named-${dev.thingName}`);
    const target = { thingName: dev.thingName, shadowName: 'ota' };
    const { value } = degu.cloud.encodeOrder(
      {
        id: 'x',
        version: '1',
        artifacts: [{ url: `${files.url}/CONFIG_B`, md5: md5(FILES.configB), target: 'config' }],
      },
      target,
    );
    await service.update(target, value[0]!.payload);
    const { seen } = await startAgent(dev, {
      connection,
      shadowName: 'ota',
      files: { config: dev.paths.config },
    });
    await until(
      () => seen.outcomes.length === 1,
      () => 'the outcome',
    );
    expect((await dev.read()).config).toBe(SUMS.configB);
    expect(service.shadow(target)?.state.reported).toEqual({
      config_user_ver: md5(FILES.configB),
      firmware_ver: '1.0.0-rc1',
    });
    expect(service.shadow({ thingName: dev.thingName })).toBeUndefined();

    const refused = (options: Partial<DeguAgentOptions>) => {
      try {
        createDeguAgent({
          thingName: 'ok',
          connection,
          files: { script: 'x' },
          stateDirectory: dev.stateDirectory,
          ...options,
        });
      } catch (error) {
        return error;
      }
      return undefined;
    };
    expect(refused({ files: {} })).toMatchObject({
      code: 'MANIFEST_INVALID',
      message: expect.stringContaining('files'),
    });
    expect(refused({ thingName: 'a/b' })).toMatchObject({
      code: 'MANIFEST_INVALID',
      message: expect.stringContaining('thingName'),
    });
  });
});

// Each case runs two child processes (start-up dominates), so the cases run at once, each on a
// thing and in a directory of its own.
describe.concurrent('Degu agent killed with SIGKILL, then started again', () => {
  let childBundle: string;
  beforeAll(async () => {
    // Bundled once (esbuild): each child then starts as plain node, not through tsx.
    const directory = mkdtempSync(join(tmpdir(), 'otakit-degu-child-'));
    cleanupAll.push(() => rmSync(directory, { recursive: true, force: true }));
    childBundle = join(directory, 'degu-agent-child.mjs');
    await build({
      entryPoints: [join(import.meta.dirname, 'degu-agent-child.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: childBundle,
      logLevel: 'error',
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
    });
  });
  const cleanupAll: Array<() => void> = [];
  afterAll(() => {
    for (const cleanup of cleanupAll) cleanup();
  });

  /** Runs the child until it exits; `onLine` may kill it. */
  function runChild(
    dev: Awaited<ReturnType<typeof device>>,
    crashAt: string,
    onLine: (line: string, kill: () => void) => void = () => {},
  ): Promise<{ lines: string[]; signal: NodeJS.Signals | null; code: number | null; stderr: string }> {
    const config = {
      url: broker.url,
      thingName: dev.thingName,
      stateDirectory: dev.stateDirectory,
      files: dev.paths,
      expected: {
        script_user_ver: md5(FILES.scriptB),
        config_user_ver: md5(FILES.configB),
        firmware_system_ver: md5(FILES.firmwareB),
      },
    };
    const child = spawn(process.execPath, [childBundle, JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OTAKIT_CRASH_AT: crashAt },
    });
    const lines: string[] = [];
    let buffer = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const parts = buffer.split('\n');
      buffer = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        onLine(line, () => child.kill('SIGKILL'));
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    return new Promise((resolve) =>
      child.on('close', (code, signal) => resolve({ lines, signal, code, stderr })),
    );
  }

  const expectInstalled = async (dev: Awaited<ReturnType<typeof device>>, expect: ExpectStatic) => {
    expect(await dev.read()).toEqual({
      script: SUMS.scriptB,
      config: SUMS.configB,
      firmware: SUMS.firmwareB,
    });
    expect((await readdir(join(dev.directory, 'files'))).sort()).toEqual(['CONFIG', 'degu.bin', 'main.py']);
    await until(
      () => reportedOf(dev.thingName).firmware_system_ver === md5(FILES.firmwareB),
      () => `the new MD5s reported; reported ${JSON.stringify(reportedOf(dev.thingName))}`,
    );
    expect(reportedOf(dev.thingName)).toMatchObject({
      script_user_ver: md5(FILES.scriptB),
      config_user_ver: md5(FILES.configB),
    });
  };

  it('mid-download: the new process resumes the download with Range and installs', async ({ expect }) => {
    const dev = await device();
    // Bigger than the file sink's 1 MiB write batch: a smaller file is written only when complete,
    // so a kill leaves nothing to resume from (and the download simply starts again).
    const size = 3 * 1024 * 1024;
    const body = bytes(size, 3);
    const path = `/degu_kill_${dev.thingName}.bin`;
    // Throttled so the kill lands mid-body; and the first request stops sending at 75 %, so
    // however late the kill comes, the first process cannot have finished the download.
    files.route(path, {
      body,
      bytesPerSecond: 8 * 1024 * 1024,
      chunkSize: 64 * 1024,
      stall: { afterBytes: (size * 3) / 4, times: 1 },
    });
    await order(dev.thingName, { ...ORDER_ALL, firmware: [path, md5(body)] });
    const first = await runChild(dev, '', (line, kill) => {
      // Killed past 2.1 MiB of the firmware (the script and CONFIG are a few bytes): the file sink
      // writes 1 MiB batches and waits for the first before it starts the second, so the first
      // MiB is on disk. At half way (1.5 MiB) its write could still be in flight on a loaded
      // machine, and the restart would rightly begin at 0.
      if (line.startsWith('progress ') && Number(line.slice('progress '.length)) >= 2.1 * 1024 * 1024) kill();
    });
    expect(first.signal).toBe('SIGKILL');
    expect(await dev.read()).toEqual({ script: SUMS.scriptA, config: null, firmware: SUMS.firmwareA });

    // The second process gets the rest at full speed.
    files.update(path, { stall: { afterBytes: 0, times: 0 }, bytesPerSecond: 0 });
    const second = await runChild(dev, '');
    expect(second, second.stderr).toMatchObject({ code: 0 });
    expect(second.lines.find((line) => line.startsWith('outcome '))).toContain('"state":"committed"');
    const stats = files.stats(path);
    const resumedFrom = Number(/^bytes=(\d+)-$/.exec(stats.ranges.at(-1) ?? '')?.[1]);
    expect(resumedFrom).toBeGreaterThanOrEqual(1024 * 1024);
    expect(await dev.read()).toEqual({ script: SUMS.scriptB, config: SUMS.configB, firmware: md5(body) });
  });

  for (const crashAt of [
    'script_user:staged',
    'config_user:renamed',
    'firmware_system:backed-up',
    'firmware_system:installed',
  ]) {
    it(`mid-install (${crashAt}): the old or the new file, never a mix, then the update completes`, async () => {
      const dev = await device();
      await order(dev.thingName, ORDER_ALL);
      const first = await runChild(dev, crashAt);
      expect(first.signal, first.stderr).toBe('SIGKILL');
      expect(first.lines.at(-1)).toBe(`step ${crashAt}`);
      // Each file whole: A or B, byte for byte.
      const half = await dev.read();
      expect([SUMS.scriptA, SUMS.scriptB]).toContain(half.script);
      expect([null, SUMS.configB]).toContain(half.config);
      expect([SUMS.firmwareA, SUMS.firmwareB]).toContain(half.firmware);

      const second = await runChild(dev, '');
      expect(second, second.stderr).toMatchObject({ code: 0 });
      await expectInstalled(dev, expect);
    });
  }
});
