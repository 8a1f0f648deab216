/**
 * Shared by the network-fault suite (test/fault/network-*.test.ts): the faults the artifact server
 * plays (`createFaultServer` of otakit/testing), the agent settings that keep retries and stall
 * detection short, and the file-system checks every case ends with (the install target byte for
 * byte as before, no staged or half-written file left, installs counted). Each platform's file
 * drives its real agent against its real cloud side and asserts what that cloud receives.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InstallStep } from '../../src/node/install/types.js';
import type { ArtifactRoute, FaultServer } from '../../src/testing/fault-server.js';
import { until } from '../support/system-services.js';

/** A route's misbehaviour, sized to the artifact it serves. */
export type FaultRoute = (size: number) => Omit<ArtifactRoute, 'body'>;

export interface NetworkFault {
  name: string;
  route: FaultRoute;
}

/** A permanent fault, and the error the agent ends with (its `code`, and what its message says). */
export interface PermanentFault extends NetworkFault {
  code: 'TRANSPORT' | 'INTEGRITY' | 'TIMEOUT';
  says: RegExp;
  /** Whether the machine runs the download phase again (a retryable error): each run is reported. */
  retried: boolean;
}

const half = (size: number) => Math.floor(size / 2);

/**
 * Faults a retry or a resume gets past: the agent must end committed, installed once. A stall is
 * detected by the low-speed watchdog ({@link NETWORK_DOWNLOAD}), then resumed with `Range`.
 */
export const TRANSIENT: NetworkFault[] = [
  {
    name: 'the connection dropped mid-body (once)',
    route: (size) => ({ drop: { afterBytes: half(size), times: 1 } }),
  },
  {
    name: '503 with Retry-After: 1 (once)',
    route: () => ({ fail: { status: 503, times: 1, retryAfter: '1' } }),
  },
  { name: 'a stall mid-body (once)', route: (size) => ({ stall: { afterBytes: half(size), times: 1 } }) },
  { name: 'no response headers at all (once)', route: () => ({ stallHeaders: { times: 1 } }) },
];

/**
 * Faults no retry gets past: the agent must report a failure on the wire, install nothing, leave
 * nothing staged, and take the next order. (`times: Infinity` stays Infinity when decremented.)
 */
export const PERMANENT: PermanentFault[] = [
  {
    name: '404 every time',
    route: () => ({ fail: { status: 404, times: Number.POSITIVE_INFINITY } }),
    code: 'TRANSPORT',
    says: /: HTTP 404$/,
    retried: false,
  },
  {
    name: '500 every time',
    route: () => ({ fail: { status: 500, times: Number.POSITIVE_INFINITY } }),
    code: 'TRANSPORT',
    says: /: HTTP 500$/,
    retried: true,
  },
  {
    // Refused on the header when the order states the size; otherwise the body ends short.
    name: 'a Content-Length that lies (4 KiB more than it sends) every time',
    route: (size) => ({ contentLength: size + 4096 }),
    code: 'INTEGRITY',
    says: /size mismatch, expected \d+, got \d+$/,
    retried: false,
  },
  {
    // After one byte (at 0 the headers would never leave): each resume gains a byte, no more.
    name: 'a stall every time, until the retries are spent',
    route: () => ({ stall: { afterBytes: 1, times: Number.POSITIVE_INFINITY } }),
    code: 'TIMEOUT',
    says: /download stalled \(below 1 B\/s for 250 ms\)/,
    retried: true,
  },
  {
    name: 'no response headers, every time, until the retries are spent',
    route: () => ({ stallHeaders: { times: Number.POSITIVE_INFINITY } }),
    code: 'TIMEOUT',
    says: /response headers timed out after 1000 ms/,
    retried: true,
  },
];

/** Short budgets: a few quick attempts, and a stall is a quarter second without a byte. */
export const FAST_RETRY = { attempts: 2, baseDelayMs: 5, maxDelayMs: 20 };
export const NETWORK_DOWNLOAD = {
  retry: FAST_RETRY,
  // A stall sends nothing: even a loaded machine moves more than 1 B/s while it streams.
  lowSpeed: { bytesPerSecond: 1, windowMs: 250 },
  // A loopback server answers in milliseconds; a second covers a loaded machine's pauses.
  headersTimeoutMs: 1_000,
};
export const MACHINE_DOWNLOAD_ATTEMPTS = 2;
export const NETWORK_MACHINE = {
  retry: { download: { attempts: MACHINE_DOWNLOAD_ATTEMPTS, baseDelayMs: 5, maxDelayMs: 20 } },
};

/** Deterministic bytes that do not compress to nothing (a mid-body cut lands in the data). */
export function payload(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let state = seed * 2_654_435_761;
  for (let index = 0; index < length; index++) {
    state = (state * 1_103_515_245 + 12_345) >>> 0;
    out[index] = state >>> 24;
  }
  return out;
}

/**
 * For platforms whose orders carry a digest: the first response stalls mid-body, the test swaps
 * the artifact meanwhile ({@link swapWhileStalled}), the resume's `If-Range` no longer matches, and
 * the server's `200` brings other bytes of the same size, which the digest refuses.
 */
export const SWAPPED: PermanentFault = {
  name: 'the body swapped between attempts (same size, another digest)',
  route: (size) => ({ stall: { afterBytes: half(size), times: 1 } }),
  code: 'INTEGRITY',
  says: /sha256 mismatch, expected [0-9a-f]{64}, got [0-9a-f]{64}$/,
  retried: false,
};

/** Waits until the first response of `path` hangs in its stall, then serves `body` there instead. */
export async function swapWhileStalled(server: FaultServer, path: string, body: Uint8Array): Promise<void> {
  await until(
    () => server.stats(path).bytesSent > 0,
    () => `the first bytes of ${path}`,
  );
  server.update(path, { body });
}

/** The permanent fault whose Content-Length over-promises. */
export const LYING_LENGTH = PERMANENT[2]!;

/** The same bytes with one flipped: same size, another digest. */
export function corrupt(body: Uint8Array): Uint8Array {
  const copy = body.slice();
  const at = copy.length - 17;
  copy[at] = copy[at]! ^ 0xff;
  return copy;
}

export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Every file under `root` (recursively), as path → SHA-256; `{}` when `root` does not exist. */
export async function snapshot(root: string): Promise<Record<string, string>> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  const files: Record<string, string> = {};
  for (const entry of entries) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files[path.slice(root.length + 1)] = sha256(await readFile(path));
  }
  return files;
}

/** Where a preset agent stages its downloads (Connhex stages in its store folder instead). */
export const stagingOf = (stateDirectory: string) => join(stateDirectory, 'staging');

/** The files in a staging directory. */
export async function stagedFiles(staging: string): Promise<string[]> {
  return Object.keys(await snapshot(staging));
}

/**
 * What a download that failed for good may leave staged: the partial of that update only (the
 * file download hook keeps it so a retry of the same order resumes, and removes it when another
 * update starts), never a file of another update.
 */
export async function onlyPartialOf(staging: string, updateId: string): Promise<boolean> {
  const prefix = `${encodeURIComponent(updateId)}/`;
  return (await stagedFiles(staging)).every((path) => path.startsWith(prefix) && path.endsWith('.part'));
}

/** Counts the installs an installer's `onStep` hears (one `installed` step per install). */
export function installCounter(): { onStep: (step: InstallStep) => void; readonly installs: number } {
  let installs = 0;
  return {
    onStep: (step) => {
      if (step === 'installed') installs += 1;
    },
    get installs() {
      return installs;
    },
  };
}

/** The `count`th item of a list events append to, once it is there (`what` names it in a timeout). */
export async function nth<T>(items: readonly T[], count: number, what: () => string): Promise<T> {
  await until(() => items.length >= count, what);
  return items[count - 1]!;
}
