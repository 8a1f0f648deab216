/**
 * What every platform of the demo shares: the context a platform is started in (its directory,
 * its fleet size, which of its devices are the injected failures, where its agents report their
 * progress) and what it hands back (its fleet, the dispatcher the rollout orchestrator orders
 * through, the release, a closer).
 */
import { randomBytes } from 'node:crypto';
import type { RolloutDispatcher } from '../../src/cloud/rollout/dispatcher.js';
import type { RolloutPlanInput } from '../../src/cloud/rollout/plan.js';
import type { DeviceAgent } from '../../src/device/agent.js';
import type { Fleet, ManifestInput } from '../../src/index.js';
import { nodeFetch } from '../../src/node/node-fetch.js';

export const PLATFORMS = [
  'degu',
  'micropython_ota',
  'insighio',
  'connhex',
  'exosite',
  'thingsboard',
] as const;
export type PlatformName = (typeof PLATFORMS)[number];

export const TITLES: Record<PlatformName, string> = {
  degu: 'Degu',
  micropython_ota: 'micropython_ota',
  insighio: 'insigh.io',
  connhex: 'Connhex',
  exosite: 'Exosite',
  thingsboard: 'ThingsBoard',
};

/** The protocol names the dashboard payload uses. */
export const PROTOCOL_NAMES: Record<PlatformName, string> = {
  degu: 'degu',
  micropython_ota: 'micropythonOta',
  insighio: 'insighIo',
  connhex: 'connhex',
  exosite: 'exosite',
  thingsboard: 'thingsBoard',
};

/** Short prefixes of the device ids (`tb-1`, `ins-2`…). */
export const PREFIXES: Record<PlatformName, string> = {
  degu: 'degu',
  micropython_ota: 'mpy',
  insighio: 'ins',
  connhex: 'edge',
  exosite: 'exo',
  thingsboard: 'tb',
};

export const deviceIds = (platform: PlatformName, count: number) =>
  Array.from({ length: count }, (_, index) => `${PREFIXES[platform]}-${index + 1}`);

/** Where the agents' progress goes (the progress bars or plain lines). */
export interface DeviceWatcher {
  state(deviceId: string, state: string, detail?: string): void;
  progress(deviceId: string, bytes: number, total: number | null, bytesPerSecond: number): void;
}

export interface PlatformContext {
  /** A fresh directory for this platform's cloud side and devices. */
  root: string;
  devices: string[];
  /** The devices given a corrupt artifact. */
  failing: ReadonlySet<string>;
  watcher: DeviceWatcher;
  /** Lines worth saying once (which NATS, …). */
  note(line: string): void;
}

export interface PlatformRun {
  fleet: Fleet;
  dispatcher: RolloutDispatcher;
  /** The release, as the rollout carries it. */
  manifest: ManifestInput;
  /** Plan fields this platform needs (`reportedAs`…). */
  plan?: Partial<RolloutPlanInput>;
  /** How the cloud side and the devices are wired, in one line. */
  wiring: string;
  close(): Promise<void>;
}

/** Follows an agent: its machine's transitions and download progress. */
export function watchAgent<Target>(
  watcher: DeviceWatcher,
  deviceId: string,
  agent: DeviceAgent<Target>,
): void {
  agent.on('transition', ({ to, error }) =>
    watcher.state(deviceId, to, error ? `${error.code}: ${error.message}` : undefined),
  );
  agent.on('progress', ({ bytes, total, bytesPerSecond }) =>
    watcher.progress(deviceId, bytes, total, bytesPerSecond),
  );
  // Non-fatal problems (a poll that failed while a server was closing…): the agent runs on.
  agent.on('error', () => {});
}

/**
 * The injected failure: a download path that flips one byte of every body it fetches (a bad
 * flash of the artifact store, a broken proxy). Where the platform's order carries a digest the
 * machine refuses the bytes (verify_failed); where it carries none, `unhealthy` below makes the
 * corrupted build fail its health check, so the device rolls back.
 */
export const corruptingFetch: typeof fetch = async (input, init) => {
  const response = await nodeFetch(input, init);
  if (!response.ok || response.body === null) return response;
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.length > 0) bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
  const headers = new Headers(response.headers);
  headers.delete('content-encoding');
  return new Response(bytes, { status: response.status, statusText: response.statusText, headers });
};

/** Preset options that make a device one of the injected failures. */
export function failureOptions(failing: boolean) {
  return failing ? { download: { fetch: corruptingFetch }, hooks: { healthCheck: async () => false } } : {};
}

/** Bytes of a release artifact: deterministic, `size` long. */
export function artifactBytes(label: string, size: number): Buffer {
  const head = Buffer.from(`${label}\n`);
  const body = randomBytes(Math.max(0, size - head.length));
  return Buffer.concat([head, body]);
}

/** `data:` URL of bytes, so a manifest carries the files a platform's publisher packs. */
export const dataUrl = (bytes: Uint8Array) =>
  `data:application/octet-stream;base64,${Buffer.from(bytes).toString('base64')}`;

/** The bytes of a `data:` URL made by {@link dataUrl}. */
export function dataOf(url: string): Buffer {
  const match = /^data:[^,]*;base64,(.*)$/.exec(url);
  if (match === null) throw new Error(`not a base64 data: URL: ${url.slice(0, 40)}`);
  return Buffer.from(match[1]!, 'base64');
}

/** Closers, run in reverse order; one that fails does not stop the others. */
export class Closers {
  readonly #list: Array<() => Promise<unknown> | unknown> = [];
  add(close: () => Promise<unknown> | unknown): void {
    this.#list.push(close);
  }
  async run(): Promise<void> {
    for (const close of this.#list.splice(0).reverse()) {
      try {
        await close();
      } catch {
        // Shutting down: keep closing the rest.
      }
    }
  }
}

/** An in-process aedes broker on a free loopback port. */
export async function startBroker(): Promise<{ url: string; close(): Promise<void> }> {
  const { Aedes } = await import('aedes');
  const { createServer } = await import('node:net');
  const broker = await Aedes.createBroker();
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as import('node:net').AddressInfo;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    async close() {
      const closing = new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closing;
    },
  };
}
