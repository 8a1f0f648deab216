/**
 * For tests against real servers installed from Debian (mosquitto, nats-server): finding the
 * binary, free loopback ports, and waiting. Without the binary a test file skips locally and
 * fails in CI, where `.ci/run` installs it.
 */
import { once } from 'node:events';
import { accessSync, constants, statSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
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

/** Polls `predicate` every 5 ms; fails naming what it waited for instead of hanging. */
export async function until(predicate: () => boolean, what: () => string, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await sleep(5);
  }
}
