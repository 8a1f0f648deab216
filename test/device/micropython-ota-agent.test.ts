/**
 * The micropython_ota agent end to end, against a loopback server that serves a project in both
 * layouts behind HTTP Basic auth: the agent (`createMicropythonOtaAgent`) and the reference's two
 * functions (`otaUpdate`, `checkForOtaUpdate`) install every file of a release or none, write the
 * `version` file last, take an older tag as a rollback, ignore the tag they run, survive a server
 * that is down, a cancel, refused credentials, and a SIGKILL of their process at any point of an
 * update (a child process, restarted).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isOtaError, type OtaError } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/logger.js';
import type { IgnoredEvent } from '../../src/device/events.js';
import type { UpdateOutcome } from '../../src/machine/record.js';
import {
  createMicropythonOtaAgent,
  type MicropythonOtaAgent,
  type MicropythonOtaAgentOptions,
} from '../../src/node/agents/micropython-ota.js';
import { checkForOtaUpdate, otaUpdate } from '../../src/node/agents/micropython-ota-once.js';
import { fileChannel } from '../../src/node/file-channel.js';
import type { Channel } from '../../src/transport/channel.js';
import { until } from '../support/system-services.js';
import {
  filePath,
  type Layout,
  type OtaServer,
  readTree,
  startOtaServer,
  writeTree,
} from './micropython-ota-support.js';

const AUTH = { user: 'otauser', password: 'pw-Top-Secret-42' };
const PROJECT = 'app';
const FILENAMES = ['main.py', 'lib/util.py'];
const files = (version: string) => ({
  'main.py': `print("${version}")\n`,
  'lib/util.py': `util ${version}\n`,
});
/** The device before any update: the release 1.0.0 plus files the release does not name. */
const OLD = { ...files('1.0.0'), 'boot.py': 'boot\n', 'data/keep.txt': 'app data\n', version: '1.0.0' };
const installed = (version: string) => ({ ...OLD, ...files(version), version });

const roots: string[] = [];
const agents: MicropythonOtaAgent[] = [];
const servers: OtaServer[] = [];
afterEach(async () => {
  await Promise.allSettled(agents.splice(0).map((agent) => agent.stop({ cancel: true })));
  await Promise.allSettled(servers.splice(0).map((server) => server.close()));
});
afterAll(async () => {
  await Promise.all(roots.splice(0).map((root) => rm(root, { recursive: true, force: true })));
});

async function newRoot(tree: Record<string, string> | null = OLD): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'otakit-mpota-'));
  roots.push(root);
  if (tree !== null) await writeTree(join(root, 'app'), tree);
  return root;
}

/** A server with `app/version` = `version` and the releases given, in `layout`. */
async function serve(version: string, releases: string[], layout: Layout = 'prefix'): Promise<OtaServer> {
  const server = await startOtaServer(AUTH);
  servers.push(server);
  server.setVersion(PROJECT, version);
  for (const release of releases) server.publish(PROJECT, release, files(release), layout);
  return server;
}

/** Everything logged, as one string, to look for secrets in. */
function recordingLogger(): Logger & { text(): string } {
  const lines: string[] = [];
  const log = (message: string, context?: Record<string, unknown>) =>
    lines.push(`${message} ${JSON.stringify(context ?? {})}`);
  return { debug: log, info: log, warn: log, error: log, text: () => lines.join('\n') };
}

/** A file channel that records what it writes, in one log with the installer's steps. */
function recordingFiles(directory: string, log: string[]): Channel {
  const real = fileChannel({ directory, fsync: false });
  return {
    kind: 'file',
    send(message, options) {
      log.push(`write ${message.address}=${message.payload}`);
      return real.send(message, options);
    },
  };
}

function options(
  root: string,
  server: OtaServer,
  extra: Partial<MicropythonOtaAgentOptions> & { layout?: Layout; password?: string } = {},
): MicropythonOtaAgentOptions & { log: string[] } {
  const { layout, password, ...rest } = extra;
  const log: string[] = [];
  return {
    target: {
      host: server.host,
      project: PROJECT,
      filenames: FILENAMES,
      layout: layout ?? 'prefix',
      auth: { user: AUTH.user, password: password ?? AUTH.password },
    },
    appDirectory: join(root, 'app'),
    stateDirectory: join(root, 'agent'),
    fsync: false,
    file: recordingFiles(join(root, 'app'), log),
    installer: { onStep: (step) => void log.push(`step ${step}`) },
    download: { retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 20 } },
    poll: { intervalMs: 20, jitter: 0.5, backoff: { baseDelayMs: 10, maxDelayMs: 40 } },
    ...rest,
    log,
  };
}

function startAgent(agentOptions: MicropythonOtaAgentOptions) {
  const agent = createMicropythonOtaAgent(agentOptions);
  agents.push(agent);
  const seen = {
    outcomes: [] as UpdateOutcome[],
    ignored: [] as IgnoredEvent[],
    errors: [] as OtaError[],
    states: [] as string[],
  };
  agent.on('outcome', (outcome) => seen.outcomes.push(outcome));
  agent.on('ignored', (event) => seen.ignored.push(event));
  agent.on('error', (error) => seen.errors.push(error));
  agent.on('transition', ({ to }) => seen.states.push(to));
  return { agent, seen, started: agent.start() };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );
}

const versionPolls = (server: OtaServer) =>
  server.requests.filter((request) => request.path === `/${PROJECT}/version`).length;

describe('the micropython_ota agent on a loopback server with Basic auth', () => {
  it('installs a release (prefix layout): every file at once, the rest of the app kept, the version file last; then the same tag does nothing', async () => {
    const root = await newRoot();
    const server = await serve('1.0.1', ['1.0.1']);
    const agentOptions = options(root, server);
    const { agent, seen, started } = startAgent(agentOptions);
    await started;
    await until(
      () => seen.outcomes.length === 1,
      () => JSON.stringify(seen),
    );
    expect(seen.outcomes[0]).toMatchObject({
      state: 'committed',
      update: { id: 'app@1.0.1', version: '1.0.1' },
    });
    expect(await readTree(join(root, 'app'))).toEqual(installed('1.0.1'));
    expect(await agent.localVersion()).toBe('1.0.1');
    // Both files were fetched where the prefix layout puts them, with the credentials.
    expect(server.fileRequests(PROJECT).map((request) => request.path)).toEqual([
      '/app/1.0.1_main.py',
      '/app/1.0.1_lib/util.py',
    ]);
    expect(server.requests.every((request) => request.authorized)).toBe(true);
    // The boot report rewrote the tag it found; the new tag was written after the installer committed.
    const log = agentOptions.log;
    expect(log[0]).toBe('write version=1.0.0');
    expect(log.at(-1)).toBe('write version=1.0.1');
    expect(log.indexOf('step committed')).toBeLessThan(log.indexOf('write version=1.0.1'));
    expect(log.indexOf('step renamed')).toBeLessThan(log.indexOf('step committed'));
    // Nothing left beside the app (backup, staging) or in the agent's staging directory.
    expect((await readdir(root)).sort()).toEqual(['agent', 'app']);
    expect(await readdir(join(root, 'agent', 'staging'))).toEqual([]);
    // What the agent persisted holds URLs and tags, never the credentials.
    const state = join(root, 'agent', 'state');
    for (const name of await readdir(state)) {
      const text = await readFile(join(state, name), 'utf8');
      expect(text).not.toContain(AUTH.password);
      expect(text).not.toContain(btoa(`${AUTH.user}:${AUTH.password}`));
    }

    // The same tag at every poll: nothing is fetched or installed again.
    const polls = versionPolls(server);
    await until(
      () => versionPolls(server) >= polls + 3,
      () => 'three more polls',
    );
    expect(seen.outcomes).toHaveLength(1);
    expect(seen.ignored.at(-1)).toMatchObject({ reason: 'no_order' });
    expect(server.fileRequests(PROJECT)).toHaveLength(2);
    expect(seen.errors).toEqual([]);
  });

  it('otaUpdate(): the subdirectory layout, the reset the reference asks for, nothing on the same tag', async () => {
    const root = await newRoot();
    const server = await serve('1.0.1', ['1.0.1', '1.0.2', '1.0.3'], 'subdirectory');
    const resets: string[] = [];
    const base = {
      ...options(root, server, { layout: 'subdirectory' }),
      onReset: (reset: string) => void resets.push(reset),
    };

    const first = await otaUpdate(base);
    expect(first).toMatchObject({
      changed: true,
      version: '1.0.1',
      reset: 'hard',
      outcome: { state: 'committed' },
    });
    expect(resets).toEqual(['hard']);
    expect(await readTree(join(root, 'app'))).toEqual(installed('1.0.1'));
    expect(server.fileRequests(PROJECT).map((request) => request.path)).toEqual([
      '/app/1.0.1/main.py',
      '/app/1.0.1/lib/util.py',
    ]);

    const again = await otaUpdate(base);
    expect(again).toEqual({ changed: false, version: '1.0.1', outcome: null, reset: 'none' });
    expect(resets).toEqual(['hard']);
    expect(server.fileRequests(PROJECT)).toHaveLength(2);

    server.setVersion(PROJECT, '1.0.2');
    expect(await otaUpdate({ ...base, softReset: true })).toMatchObject({ version: '1.0.2', reset: 'soft' });
    server.setVersion(PROJECT, '1.0.3');
    expect(await otaUpdate({ ...base, hardReset: false })).toMatchObject({ version: '1.0.3', reset: 'none' });
    expect(resets).toEqual(['hard', 'soft']);
    expect(await readTree(join(root, 'app'))).toEqual(installed('1.0.3'));
  });

  it('a missing file (404) installs nothing and leaves the version file alone; once the server has it, it installs', async () => {
    const root = await newRoot();
    const server = await serve('1.0.1', []);
    server.put(filePath(PROJECT, '1.0.1', 'main.py', 'prefix'), files('1.0.1')['main.py']);
    const agentOptions = options(root, server, { poll: { intervalMs: 3_600_000 } });
    const { agent, seen, started } = startAgent(agentOptions);
    await started;
    await until(
      () => seen.outcomes.length === 1,
      () => 'the update of the first poll',
    );
    expect(seen.outcomes[0]).toMatchObject({ state: 'download_failed', error: { code: 'TRANSPORT' } });
    // Every check tries again, as the reference does at every boot.
    expect(await agent.checkNow()).toMatchObject({ state: 'download_failed' });
    expect(server.fileRequests(PROJECT).map((request) => [request.path, request.status])).toContainEqual([
      '/app/1.0.1_lib/util.py',
      404,
    ]);
    expect(await readTree(join(root, 'app'))).toEqual(OLD);
    expect(agentOptions.log.filter((line) => line.startsWith('write'))).toEqual(['write version=1.0.0']);
    expect(agentOptions.log.filter((line) => line.startsWith('step'))).toEqual([]);

    // otaUpdate() says so with a typed error (the reference prints and returns None).
    await agent.stop();
    const error = await rejection(otaUpdate(options(root, server)));
    expect(isOtaError(error, 'TRANSPORT')).toBe(true);
    expect((error as Error).message).toMatch(/404/);
    expect(await readTree(join(root, 'app'))).toEqual(OLD);

    server.put(filePath(PROJECT, '1.0.1', 'lib/util.py', 'prefix'), files('1.0.1')['lib/util.py']);
    expect(await otaUpdate(options(root, server))).toMatchObject({
      changed: true,
      outcome: { state: 'committed' },
    });
    expect(await readTree(join(root, 'app'))).toEqual(installed('1.0.1'));
  });

  it('the server down, then up: failed polls are typed, back off, and the update installs once it is back', async () => {
    const root = await newRoot();
    const server = await serve('1.0.1', ['1.0.1']);
    await server.down();
    const { seen, started } = startAgent(options(root, server));
    await started;
    await until(
      () => seen.errors.length >= 3,
      () => `3 failed polls, got ${seen.errors.length}`,
    );
    for (const error of seen.errors) expect(error).toMatchObject({ code: 'TRANSPORT', retryable: true });
    expect(await readTree(join(root, 'app'))).toEqual(OLD);
    await server.up();
    await until(
      () => seen.outcomes.length === 1,
      () => JSON.stringify(seen.outcomes),
    );
    expect(seen.outcomes[0]).toMatchObject({ state: 'committed', update: { version: '1.0.1' } });
    expect(await readTree(join(root, 'app'))).toEqual(installed('1.0.1'));
  });

  it('the server going down mid-download installs nothing; back up, the download resumes and installs', async () => {
    const root = await newRoot();
    const server = await serve('1.0.1', []);
    const big = `# ${'x'.repeat(256 * 1024)}\n`;
    server.publish(PROJECT, '1.0.1', { ...files('1.0.1'), 'main.py': big }, 'prefix');
    server.stall(filePath(PROJECT, '1.0.1', 'main.py', 'prefix'), 128 * 1024);
    const { seen, started } = startAgent(
      options(root, server, {
        poll: { intervalMs: 3_600_000, backoff: { baseDelayMs: 10, maxDelayMs: 40 } },
        machine: { retry: { download: { attempts: 1 } } },
      }),
    );
    await started;
    await until(
      () => server.fileRequests(PROJECT).length === 1 && seen.states.includes('downloading'),
      () => 'the stalled download',
    );
    await server.down();
    await until(
      () => seen.outcomes.length === 1,
      () => 'the failed download',
    );
    expect(seen.outcomes[0]).toMatchObject({ state: 'download_failed' });
    expect(await readTree(join(root, 'app'))).toEqual(OLD);
    await server.up();
    const { agent } = { agent: agents.at(-1)! };
    expect(await agent.checkNow()).toMatchObject({ state: 'committed' });
    expect(await readTree(join(root, 'app'))).toEqual({ ...installed('1.0.1'), 'main.py': big });
  });

  it('rollback: the server publishing an older tag installs it, as any other tag', async () => {
    const root = await newRoot();
    const server = await serve('1.0.1', ['1.0.0', '1.0.1']);
    const { seen, started } = startAgent(options(root, server));
    await started;
    await until(
      () => seen.outcomes.length === 1,
      () => 'the update to 1.0.1',
    );
    expect(await readTree(join(root, 'app'))).toEqual(installed('1.0.1'));
    server.setVersion(PROJECT, '1.0.0');
    await until(
      () => seen.outcomes.length === 2,
      () => 'the rollback to 1.0.0',
    );
    expect(seen.outcomes[1]).toMatchObject({
      state: 'committed',
      update: { id: 'app@1.0.0', version: '1.0.0' },
    });
    expect(await readTree(join(root, 'app'))).toEqual(OLD);
  });

  it('the version file is the memory: a restart or a lost state installs nothing again, a deleted version file installs again', async () => {
    const root = await newRoot();
    const server = await serve('1.0.1', ['1.0.1']);
    const quiet = { poll: { intervalMs: 3_600_000 } };
    expect(await otaUpdate(options(root, server))).toMatchObject({ outcome: { state: 'committed' } });
    expect(server.fileRequests(PROJECT)).toHaveLength(2);

    // A restart: the first poll finds the tag it runs.
    let run = startAgent(options(root, server, quiet));
    await run.started;
    expect(await run.agent.checkNow()).toBeNull();
    await run.agent.stop();

    // The state lost (a wiped data partition): rebuilt from the version file, nothing fetched.
    await rm(join(root, 'agent'), { recursive: true, force: true });
    run = startAgent(options(root, server, quiet));
    await run.started;
    expect(run.agent.current).toEqual({ id: 'app@1.0.1', version: '1.0.1' });
    expect(await run.agent.checkNow()).toBeNull();
    await run.agent.stop();
    expect(server.fileRequests(PROJECT)).toHaveLength(2);

    // The version file deleted (the reference's way to force an update): installed again.
    await rm(join(root, 'app', 'version'));
    run = startAgent(options(root, server, quiet));
    await run.started;
    expect(run.agent.current).toBeNull();
    expect(await run.agent.checkNow()).toMatchObject({ state: 'committed', update: { version: '1.0.1' } });
    expect(server.fileRequests(PROJECT)).toHaveLength(4);
    expect(await readTree(join(root, 'app'))).toEqual(installed('1.0.1'));
  });

  it('cancel during the download: canceled, nothing installed; an aborted otaUpdate() likewise', async () => {
    const root = await newRoot();
    const server = await serve('1.0.1', ['1.0.1']);
    const main = filePath(PROJECT, '1.0.1', 'main.py', 'prefix');
    server.stall(main, 4);
    const { agent, seen, started } = startAgent(options(root, server, { poll: { intervalMs: 3_600_000 } }));
    await started;
    await until(
      () => server.fileRequests(PROJECT).length === 1,
      () => 'the stalled download',
    );
    expect(await agent.cancel('operator')).toBe(true);
    await until(
      () => seen.outcomes.length === 1,
      () => 'the canceled outcome',
    );
    expect(seen.outcomes[0]).toMatchObject({ state: 'canceled' });
    expect(await readTree(join(root, 'app'))).toEqual(OLD);
    await agent.stop();

    server.stall(main, 4);
    const controller = new AbortController();
    const pending = otaUpdate({ ...options(root, server), signal: controller.signal });
    await until(
      () => server.fileRequests(PROJECT).length === 2,
      () => 'the second stalled download',
    );
    controller.abort();
    expect(isOtaError(await rejection(pending), 'ABORTED')).toBe(true);
    expect(await readTree(join(root, 'app'))).toEqual(OLD);
  });

  it('refused credentials: a typed error (401) in which no password appears, and nothing installed', async () => {
    const root = await newRoot();
    const server = await serve('1.0.1', ['1.0.1']);
    const wrong = 'Wrong-Password-77';
    const logger = recordingLogger();
    const { agent, seen, started } = startAgent(
      options(root, server, { password: wrong, logger, poll: { intervalMs: 3_600_000 } }),
    );
    await started;
    const error = await rejection(agent.checkNow());
    expect(isOtaError(error, 'TRANSPORT')).toBe(true);
    expect(error).toMatchObject({ status: 401, retryable: false });
    const once = await rejection(otaUpdate(options(root, server, { password: wrong, logger })));
    expect(once).toMatchObject({ code: 'TRANSPORT', status: 401 });
    const check = await rejection(
      checkForOtaUpdate({
        target: options(root, server, { password: wrong }).target,
        appDirectory: join(root, 'app'),
      }),
    );
    expect(check).toMatchObject({ code: 'TRANSPORT', status: 401 });

    const messages = [error, once, check, ...seen.errors].map((problem) => `${(problem as Error).message}`);
    for (const text of [...messages, logger.text()]) {
      expect(text).not.toContain(wrong);
      expect(text).not.toContain(AUTH.password);
      expect(text).not.toContain(btoa(`${AUTH.user}:${wrong}`));
    }
    expect(server.fileRequests(PROJECT)).toEqual([]);
    expect(await readTree(join(root, 'app'))).toEqual(OLD);
    expect(agent.machine.state).toBe('idle');
  });

  it('checkForOtaUpdate(): the check alone, and the reset it asks for when the tag changed', async () => {
    const root = await newRoot();
    const server = await serve('1.0.1', ['1.0.1']);
    const target = options(root, server).target;
    const appDirectory = join(root, 'app');
    const resets: string[] = [];
    const onReset = (reset: string) => void resets.push(reset);
    expect(await checkForOtaUpdate({ target, appDirectory, onReset })).toEqual({
      changed: true,
      version: '1.0.1',
      reset: 'hard',
    });
    expect(await checkForOtaUpdate({ target, appDirectory, onReset, softReset: true })).toMatchObject({
      reset: 'soft',
    });
    expect(resets).toEqual(['hard', 'soft']);
    expect(server.fileRequests(PROJECT)).toEqual([]);
    expect(await readTree(appDirectory)).toEqual(OLD);

    server.setVersion(PROJECT, '1.0.0');
    expect(await checkForOtaUpdate({ target, appDirectory, onReset })).toEqual({
      changed: false,
      version: '1.0.0',
      reset: 'none',
    });
    server.remove(`/${PROJECT}/version`); // a 404: no update, as in the reference
    expect(await checkForOtaUpdate({ target, appDirectory, onReset })).toEqual({
      changed: false,
      version: '1.0.0',
      reset: 'none',
    });
    expect(resets).toEqual(['hard', 'soft']);
  });

  it('refuses bad settings with typed errors that name the field and hold no secret', async () => {
    const root = await newRoot();
    const server = await serve('1.0.1', []);
    const base = options(root, server);
    const problems = [
      () => createMicropythonOtaAgent({ ...base, stateDirectory: join(root, 'app', 'state') }),
      () =>
        createMicropythonOtaAgent({ ...base, target: { ...base.target, filenames: ['main.py', 'version'] } }),
      () => createMicropythonOtaAgent({ ...base, target: { ...base.target, filenames: ['../boot.py'] } }),
      () =>
        createMicropythonOtaAgent({
          ...base,
          target: { ...base.target, auth: { user: 'a:b', password: 'Sec-ret-1' } },
        }),
      () =>
        createMicropythonOtaAgent({
          ...base,
          target: { ...base.target, auth: { user: 'u', password: 'Sec\nret-2' } },
        }),
      () => createMicropythonOtaAgent({ ...base, appDirectory: '' }),
    ];
    const errors = problems.map((make) => {
      try {
        make();
      } catch (error) {
        return error as OtaError & { issues?: { path: string }[] };
      }
      throw new Error('expected a typed error');
    });
    expect(errors.map((error) => error.code)).toEqual([
      'CONFIG',
      'CONFIG',
      'MANIFEST_INVALID',
      'MANIFEST_INVALID',
      'MANIFEST_INVALID',
      'CONFIG',
    ]);
    expect(errors[2]!.issues?.map((issue) => issue.path)).toEqual(['filenames[0]']);
    expect(errors[3]!.issues?.map((issue) => issue.path)).toEqual(['auth.user']);
    expect(errors[4]!.issues?.map((issue) => issue.path)).toEqual(['auth.password']);
    for (const error of errors) {
      expect(error.message).not.toContain('Sec-ret-1');
      expect(error.message).not.toContain('Sec\nret-2');
      expect(JSON.stringify(error.issues ?? [])).not.toContain('Sec');
    }
  });
});

// ---------------------------------------------------------------------------------------------
// SIGKILL of the agent's process, then a restart
// ---------------------------------------------------------------------------------------------

const CHILD = join(import.meta.dirname, 'micropython-ota-agent-child.ts');
let childBundle: Promise<string> | undefined;
/** The child bundled once (esbuild), so each process starts as plain node. */
function childScript(): Promise<string> {
  childBundle ??= (async () => {
    const directory = await mkdtemp(join(tmpdir(), 'otakit-mpota-child-'));
    roots.push(directory);
    const outfile = join(directory, 'micropython-ota-agent-child.mjs');
    await build({
      entryPoints: [CHILD],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile,
      logLevel: 'error',
      banner: {
        js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      },
    });
    return outfile;
  })();
  return childBundle;
}

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

// Concurrent: each test has its own project on the server and its own directories, and most of
// the time is child processes starting.
describe.concurrent('SIGKILL of the agent process, then a restart', () => {
  let server: OtaServer;
  beforeAll(async () => {
    server = await startOtaServer(AUTH);
  });
  afterAll(async () => {
    await server.close();
  });

  let projects = 0;
  /** A project of its own on the shared server, 1.0.1 published, and a device running 1.0.0. */
  async function prepare(release: Record<string, string> = files('1.0.1')) {
    const project = `kill${++projects}`;
    server.setVersion(project, '1.0.1');
    server.publish(project, '1.0.1', release, 'subdirectory');
    const root = await newRoot();
    const config = (mode: 'agent' | 'once', extra: Record<string, unknown> = {}) => ({
      root,
      host: server.host,
      project,
      filenames: FILENAMES,
      layout: 'subdirectory',
      user: AUTH.user,
      password: AUTH.password,
      mode,
      ...extra,
    });
    return { project, root, config, app: join(root, 'app') };
  }

  /**
   * What the app directory holds right after a kill, its `version` file aside: the old tree, the
   * new one, nothing (the window between the installer's two renames), or a mix (a bug).
   */
  async function wholeTree(app: string, release: Record<string, string>): Promise<string> {
    const tree = await readTree(app).catch(() => null);
    if (tree === null) return 'absent';
    const { version: _tag, ...rest } = tree;
    const { version: _old, ...old } = OLD;
    if (isDeepStrictEqual(rest, old)) return 'old';
    if (isDeepStrictEqual(rest, { ...old, ...release })) return 'new';
    return `mixed: ${JSON.stringify(tree)}`;
  }

  it('killed mid-download: the app is untouched; the restarted agent resumes with Range and installs', async () => {
    const release = { ...files('1.0.1'), 'main.py': `# ${'x'.repeat(4 * 1024 * 1024)}\n` };
    const { project, root, config, app } = await prepare(release);
    const path = filePath(project, '1.0.1', 'main.py', 'subdirectory');
    const size = release['main.py'].length;
    // The first response stops at 3/4: however late the kill lands after 5/8, it is mid-download.
    server.stall(path, Math.floor((size * 3) / 4));
    const killed = await runChild(config('agent'), (line, kill) => {
      if (line.event === 'progress' && (line.bytes as number) >= (size * 5) / 8) kill();
    });
    expect(killed.signal).toBe('SIGKILL');
    server.release();
    expect(await readTree(app)).toEqual(OLD);

    const second = await runChild(config('agent'));
    expect(second.lines.find((line) => line.event === 'outcome')).toMatchObject({
      outcome: { state: 'committed', update: { version: '1.0.1' } },
    });
    const requests = server.requests.filter((request) => request.path === path);
    expect(requests.at(-1)).toMatchObject({ status: 206 });
    expect(requests.at(-1)?.range).toMatch(/^bytes=[1-9]\d*-$/);
    expect(await readTree(app)).toEqual({ ...OLD, ...release, version: '1.0.1' });
    expect((await readdir(root)).sort()).toEqual(['agent', 'app']);
  });

  it.each([
    ['staged', 'agent'],
    ['backed-up', 'once'],
    ['renamed', 'agent'],
    ['committed', 'agent'],
  ] as const)(
    'killed mid-install (after the installer step "%s"): whole trees only; the restart (%s) finishes it, version file last',
    async (step, restart) => {
      const release = files('1.0.1');
      const { root, config, app } = await prepare(release);
      const killed = await runChild(config('agent', { killAtStep: step }));
      expect(killed.signal).toBe('SIGKILL');
      expect(killed.lines.at(-1)).toEqual({ event: 'step', step });
      const state = await wholeTree(app, release);
      // Before the swap the app is the old tree, after it the new one; between the two renames
      // (backed-up) the old tree waits whole at the backup path. The tag is still the old one.
      expect(state).toBe({ staged: 'old', 'backed-up': 'absent', renamed: 'new', committed: 'new' }[step]);
      if (state !== 'absent') expect((await readTree(app)).version).toBe('1.0.0');

      const second = await runChild(config(restart));
      const finished =
        restart === 'agent'
          ? second.lines.find((line) => line.event === 'outcome')
          : second.lines.find((line) => line.event === 'result');
      expect(JSON.stringify(finished)).toContain('"committed"');
      expect(await readTree(app)).toEqual(installed('1.0.1'));
      expect((await readdir(root)).sort()).toEqual(['agent', 'app']);
    },
  );

  it('killed after the commit, before the version file was written: the restart writes it', async () => {
    const release = files('1.0.1');
    const { config, app } = await prepare(release);
    const killed = await runChild(config('agent', { killBeforeWriting: '1.0.1' }));
    expect(killed.signal).toBe('SIGKILL');
    // The new files are in place and the tag is still the old one: what the reference calls a retry.
    expect(await readTree(app)).toEqual({ ...installed('1.0.1'), version: '1.0.0' });
    const second = await runChild(config('agent'));
    expect(second.lines.find((line) => line.event === 'outcome')).toMatchObject({
      outcome: { state: 'committed', update: { version: '1.0.1' } },
    });
    expect(second.lines.filter((line) => line.event === 'write').map((line) => line.payload)).toContain(
      '1.0.1',
    );
    expect(await readTree(app)).toEqual(installed('1.0.1'));
  });
});
