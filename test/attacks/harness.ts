/**
 * The shared rig of the attack suite: a real device (the update machine with a `FileStore`, the
 * real file download hook, a real atomic installer on a temporary directory, optionally a trust
 * gate) and a real loopback artifact server that counts its requests. Each attack file builds its
 * own rig from here, runs the attack through `machine.apply()` and asserts the refusal and that
 * nothing was installed.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { TrustError, type TrustReason } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/logger.js';
import { createUpdateMachine } from '../../src/machine/create-machine.js';
import type { DeviceMachineOptions, DeviceUpdateMachine } from '../../src/machine/device-machine.js';
import type { UpdateOutcome } from '../../src/machine/record.js';
import { createTrustGate, type MachineTrustOptions } from '../../src/machine/trust-gate.js';
import type { Manifest, ManifestInput } from '../../src/manifest/schema.js';
import { signManifest } from '../../src/manifest/trust.js';
import { type ArchiveLimits, extractArchive } from '../../src/node/archive/index.js';
import { createFileDownloadHook, type FileDownloadHookOptions } from '../../src/node/download-hook.js';
import { FileStore } from '../../src/node/file-store.js';
import { createDirectoryInstaller } from '../../src/node/install/directory-installer.js';
import { createFileInstaller } from '../../src/node/install/file-installer.js';
import type { Installer } from '../../src/node/install/types.js';
import { createFaultServer, type FaultServer } from '../../src/testing/fault-server.js';
import { type TestKey, testKeys } from '../security/keys.js';

export { rootOf, type TestKey, testKeys } from '../security/keys.js';

export const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');
export const md5 = (bytes: Uint8Array | string) => createHash('md5').update(bytes).digest('hex');
export const encode = (text: string) => new TextEncoder().encode(text);

/** A temporary directory, removed by `cleanup()`. */
const made: string[] = [];
export async function temporary(prefix = 'otakit-attack-'): Promise<string> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  made.push(path);
  return path;
}

const servers: FaultServer[] = [];
const machines: DeviceUpdateMachine[] = [];
export async function cleanup(): Promise<void> {
  for (const machine of machines.splice(0)) machine.dispose();
  await Promise.allSettled(servers.splice(0).map((server) => server.close()));
  await Promise.all(made.splice(0).map((path) => rm(path, { recursive: true, force: true })));
}

/** A real loopback artifact server (the fault server), closed by `cleanup()`. */
export async function artifactServer(): Promise<FaultServer> {
  const server = await createFaultServer();
  servers.push(server);
  return server;
}

/** Total requests the server received, over every path. */
export function totalRequests(server: FaultServer, paths: readonly string[]): number {
  return paths.reduce((sum, path) => sum + server.stats(path).requests, 0);
}

/** An artifact of `body` served at `path`, with its size and digests. */
export function artifactOf(
  server: FaultServer,
  path: string,
  body: Uint8Array,
  digests: { sha256?: boolean; md5?: boolean } = { sha256: true },
) {
  server.route(path, { body });
  return {
    url: `${server.url}${path}`,
    target: 'firmware' as const,
    size: body.length,
    ...(digests.sha256 ? { sha256: sha256(body) } : {}),
    ...(digests.md5 ? { md5: md5(body) } : {}),
  };
}

export async function sign(manifest: ManifestInput | Manifest, keys: readonly TestKey[]): Promise<Manifest> {
  return signManifest(
    manifest,
    keys.map((key) => key.seed),
  );
}

/** A package of `body` served at `/pkg`, and an order for it (version 2.0.0) signed by `key`. */
export function signedPackageOrder(
  server: FaultServer,
  body: Uint8Array,
  key: TestKey,
  id = 'pkg-2',
): Promise<Manifest> {
  return sign(
    { id, version: '2.0.0', artifacts: [{ ...artifactOf(server, '/pkg', body), target: 'package' }] },
    [key],
  );
}

/** Three fixed keys (seeds 1, 2, 3), for the attacks that need a trust root. */
export async function keys3(): Promise<[TestKey, TestKey, TestKey]> {
  return (await testKeys(1, 2, 3)) as [TestKey, TestKey, TestKey];
}

export interface DeviceOptions {
  trust?: MachineTrustOptions;
  /** `file`: the artifact replaces one file. `archive`: it is extracted and replaces a directory. */
  kind?: 'file' | 'archive';
  download?: Partial<FileDownloadHookOptions>;
  machine?: Partial<DeviceMachineOptions>;
  archiveLimits?: Partial<ArchiveLimits>;
  logger?: Logger;
  id?: string;
}

export interface Device {
  machine: DeviceUpdateMachine;
  /** Builds a new machine over the same store, target and staging (a restart). */
  restart: () => DeviceUpdateMachine;
  /** The installed file (`file`) or directory (`archive`). */
  target: string;
  root: string;
  stateDirectory: string;
  stagingDirectory: string;
  installer: Installer;
  /** Calls of the install hook, and of `installer.install` (the step that touches the target). */
  calls: { installHook: number; installerInstall: number };
  /** Every transition, error and report the machines emitted. */
  events: unknown[];
  /** The live errors of the machines' `error` events (typed, with every field). */
  errors: unknown[];
  /** What the target held before the attack (path → bytes, or link → target). */
  before: Map<string, string>;
}

/** Snapshot of a file or a tree: relative path → hex of its bytes (or `-> link`, or `dir`). */
export async function snapshot(path: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const visit = async (absolute: string, relative: string) => {
    const stats = await lstat(absolute).catch(() => null);
    if (stats === null) return;
    if (stats.isSymbolicLink()) out.set(relative, `-> ${await readlink(absolute)}`);
    else if (stats.isDirectory()) {
      out.set(relative, 'dir');
      for (const name of (await readdir(absolute)).sort()) {
        await visit(join(absolute, name), relative === '' ? name : `${relative}/${name}`);
      }
    } else out.set(relative, Buffer.from(await readFile(absolute)).toString('hex'));
  };
  await visit(path, '');
  return out;
}

export const OLD_FILE = encode('old firmware 1.0.0\n');
export const OLD_TREE: Record<string, string> = {
  'version.txt': '1.0.0\n',
  'app/main.py': 'print("old")\n',
};

/** A device whose target holds the old version, with the real download hook and installer. */
export async function device(options: DeviceOptions = {}): Promise<Device> {
  const root = await temporary();
  const kind = options.kind ?? 'file';
  const stateDirectory = join(root, 'state');
  const stagingDirectory = join(root, 'staging');
  const target = kind === 'file' ? join(root, 'firmware.bin') : join(root, 'app');
  if (kind === 'file') await writeFile(target, OLD_FILE);
  else {
    for (const [name, text] of Object.entries(OLD_TREE)) {
      await mkdir(join(target, name, '..'), { recursive: true });
      await writeFile(join(target, name), text);
    }
  }
  const calls = { installHook: 0, installerInstall: 0 };
  const base: Installer =
    kind === 'file'
      ? createFileInstaller({ target, fsync: false })
      : createDirectoryInstaller({ target, fsync: false });
  const installer: Installer = Object.assign(Object.create(base) as Installer, {
    install: (staged: string, opts?: Parameters<Installer['install']>[1]) => {
      calls.installerInstall += 1;
      return base.install(staged, opts);
    },
  });
  const store = new FileStore(stateDirectory, { fsync: false });
  const download = createFileDownloadHook({
    directory: stagingDirectory,
    fsync: false,
    reserveBytes: false,
    retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 2 },
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...options.download,
  });
  const events: unknown[] = [];
  const errors: unknown[] = [];
  const build = () => {
    const machine = createUpdateMachine({
      id: options.id ?? 'dev-1',
      store,
      hooks: {
        download,
        install: async ({ staged, signal }) => {
          calls.installHook += 1;
          if (kind === 'file') return installer.install(staged[0]!.location, { signal });
          const staging = await (base as ReturnType<typeof createDirectoryInstaller>).prepareStaging();
          await extractArchive(staged[0]!.location, staging, {
            signal,
            ...(options.archiveLimits === undefined ? {} : { limits: options.archiveLimits }),
          });
          return installer.install(staging, { signal });
        },
        commit: async () => installer.commit(),
        rollback: async () => installer.rollback(),
      },
      retry: { download: { attempts: 1, baseDelayMs: 1, maxDelayMs: 2 } },
      ...(options.trust === undefined ? {} : { trust: createTrustGate(options.trust) }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      ...options.machine,
    } as DeviceMachineOptions);
    for (const name of ['transition', 'error', 'report'] as const) {
      machine.on(name, (event: unknown) => events.push(event));
    }
    machine.on('error', (error) => errors.push(error));
    machines.push(machine);
    return machine;
  };
  return {
    machine: build(),
    restart: build,
    target,
    root,
    stateDirectory,
    stagingDirectory,
    installer,
    calls,
    events,
    errors,
    before: await snapshot(target),
  };
}

export interface Refusal {
  state: string;
  code: string;
  /** The error's class: the live error (the machine's `error` event) is an instance of it. */
  type: abstract new (
    ...args: never[]
  ) => Error;
  name?: string;
  reason?: string;
  /** Text the message must contain (the field it names). */
  names: string | RegExp;
}

/**
 * The outcome is the typed refusal expected: its serialised error has the code and names the
 * field, and the live error the machine emitted is of the class (and `reason`) expected.
 * Returns the live error.
 */
export function expectRefused(rig: Pick<Device, 'errors'>, outcome: UpdateOutcome, refusal: Refusal) {
  expect(outcome.state).toBe(refusal.state);
  const serialized = outcome.error;
  expect(serialized).not.toBeNull();
  expect(serialized!.code).toBe(refusal.code);
  if (refusal.name !== undefined) expect(serialized!.name).toBe(refusal.name);
  const live = rig.errors.findLast(
    (error) => (error as { message?: unknown }).message === serialized!.message,
  ) as (Error & { code: string; reason?: string }) | undefined;
  expect(live, 'the machine emitted the refusal as an error event').toBeDefined();
  expect(live).toBeInstanceOf(refusal.type);
  expect(live!.code).toBe(refusal.code);
  if (refusal.reason !== undefined) expect(live!.reason).toBe(refusal.reason);
  for (const message of [serialized!.message, live!.message]) {
    if (typeof refusal.names === 'string') expect(message).toContain(refusal.names);
    else expect(message).toMatch(refusal.names);
  }
  return live!;
}

/** The refusal of a trust check: `verify_failed` with a `TrustError` of `reason`, naming `names`. */
export function trustRefusal(reason: TrustReason, names: string | RegExp): Refusal {
  return { state: 'verify_failed', code: 'TRUST', type: TrustError, reason, names };
}

/** Nothing installed: the install hook (or the installer) never ran and the target is unchanged. */
export async function expectNothingInstalled(
  rig: Device,
  { installHookRan = false }: { installHookRan?: boolean } = {},
): Promise<void> {
  if (!installHookRan) expect(rig.calls.installHook).toBe(0);
  expect(rig.calls.installerInstall).toBe(0);
  expect(await snapshot(rig.target)).toEqual(rig.before);
  expect(await rig.installer.state()).toMatchObject({ phase: 'idle' });
}
