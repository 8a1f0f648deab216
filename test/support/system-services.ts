/**
 * For tests against real servers installed from Debian (mosquitto, nats-server): finding the
 * binary, free loopback ports, and waiting. Without the binary a test file skips locally and
 * fails in CI, where `.ci/run` installs it.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, statSync } from 'node:fs';
import { mkdtemp, stat } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

export const IN_CI = Boolean(process.env.CI);

/** `$<envVariable>`, then `command -v <name>`, then the sbin directories a non-root PATH lacks. */
export function findSystemBinary(name: string, envVariable: string): string | undefined {
  const candidates = [
    process.env[envVariable],
    ...(process.env.PATH ?? '').split(delimiter).map((directory) => directory && join(directory, name)),
    `/usr/sbin/${name}`,
    `/usr/local/sbin/${name}`,
  ];
  return candidates.find((candidate) => {
    if (!candidate) return false;
    try {
      accessSync(candidate, constants.X_OK);
      return statSync(candidate).isFile();
    } catch {
      return false;
    }
  });
}

/** Ephemeral loopback ports, free a moment ago (bound all at once, so they are distinct). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer().listen(0, '127.0.0.1'));
  await Promise.all(servers.map((server) => once(server, 'listening')));
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  return ports;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `predicate` every 5 ms; fails naming what it waited for instead of hanging. The default
 * limit is generous: it only catches a condition that never comes, not a slow machine.
 */
export async function until(predicate: () => boolean, what: () => string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await sleep(5);
  }
}

/**
 * For a test that cannot run here (a tool or a host facility is missing): outside CI it skips,
 * saying what is missing; in CI (`CI` set) it fails instead, because `.ci/run` provides
 * everything the suite uses and a silent skip there would hide a test that never ran.
 */
export function skipOrFailInCi(context: { skip: (note?: string) => void }, missing: string): never {
  if (IN_CI) throw new Error(`${missing}: CI must run this test (.ci/run installs what the suite needs)`);
  console.warn(`skipped: ${missing}`);
  context.skip(missing);
  throw new Error(`test was not skipped: ${missing}`); // context.skip() throws; this is never reached
}

/** Whether `command` runs (`command --version`, or the given arguments), for tests that drive system tools. */
export function hasTool(command: string, args: string[] = ['--version']): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * A new empty directory on another file system than `than`, or undefined when this host offers
 * none (tried: /dev/shm, /run/shm, /run/user/<uid>, /var/tmp, /tmp, the working directory, home).
 * The caller removes it.
 */
export async function mkdtempOnOtherFileSystem(than: string): Promise<string | undefined> {
  const device = (await stat(than)).dev;
  const uid = process.getuid?.();
  const candidates = [
    '/dev/shm',
    '/run/shm',
    uid === undefined ? '' : `/run/user/${uid}`,
    '/var/tmp',
    '/tmp',
    process.cwd(),
    homedir(),
  ];
  for (const candidate of candidates) {
    if (!candidate) continue;
    const info = await stat(candidate).catch(() => null);
    if (info === null || !info.isDirectory() || info.dev === device) continue;
    const made = await mkdtemp(join(candidate, 'otakit-')).catch(() => undefined);
    if (made !== undefined) return made;
  }
  return undefined;
}
