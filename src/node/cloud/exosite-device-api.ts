/**
 * A local Murano device-API service, for development fleets and tests: many devices of one
 * product on one loopback (or LAN) HTTP server, speaking what a device sees of
 * `<productId>.m2.exosite.io` (activation, form writes and reads, long polls with
 * `Request-Timeout` ≤ 300 000 ms / `If-Modified-Since` / `304` / `Last-Modified`, the content API
 * with `Range`) and, for a back end, Murano's device state API and a write feed
 * (docs/cloud/exosite.md). Optionally each device's `$resource/…` MQTT side over a connection.
 *
 * Devices authenticate with their token (`X-Exosite-CIK`), compared by SHA-256 digest in constant
 * time; the management API with a bearer token. No token is stored (only digests), logged, or
 * put in an error or a request record. Bodies are read up to their limit and refused (`413`) past
 * it. Resources and the write journal live in a `StateStore` (`FileStore` for a service that
 * keeps its devices across restarts).
 *
 * @example
 * ```ts
 * import { createExositeDeviceApi, FileStore } from 'otakit/node'
 *
 * const murano = await createExositeDeviceApi({
 *   productId: 'dev0fleet',
 *   devices: [{ identity: 'sensor-1', token: process.env.SENSOR_1_TOKEN }, { identity: 'sensor-2' }],
 *   managementToken: process.env.MURANO_MANAGEMENT_TOKEN,
 *   store: new FileStore('/var/lib/murano-dev'),
 *   port: 8080,
 * })
 * console.log(murano.origin) // the devices' apiOrigin, and the publisher's baseUrl
 * ```
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { FeedEvent } from '../../cloud/exosite/feed.js';
import { OtaError } from '../../core/errors.js';
import { type Logger, noopLogger } from '../../core/logger.js';
import { MemoryStore, type StateStore } from '../../core/store.js';
import { assertAlias, CONFIG_OTAU } from '../../protocols/exosite/alias.js';
import { encodeManifest } from '../../protocols/exosite/resource.js';
import type { OtauManifestInput } from '../../protocols/exosite/schemas.js';
import type { MqttConnection } from '../../transport/mqtt-connection.js';
import { ContentArea, type ContentFaults } from './exosite-content.js';
import { deviceRoute, type PolledValue, pollKey } from './exosite-device-routes.js';
import { bearerDigest, type ExositeRequestRecord, recordOf } from './exosite-http.js';
import { LongPolls } from './exosite-long-poll.js';
import { managementRoute } from './exosite-management-routes.js';
import { bridgeMqtt } from './exosite-mqtt-bridge.js';
import { DeviceRegistry, newDeviceToken } from './exosite-registry.js';

export type { FeedEvent } from '../../cloud/exosite/feed.js';
export type { ContentFaults } from './exosite-content.js';
export type { ExositeRequestRecord } from './exosite-http.js';

/** One device of the product. */
export interface ExositeDeviceSpec {
  identity: string;
  /** A token it already has (activated). Without one the device activates to get one. */
  token?: string;
  /**
   * Whether `/provision/activate` hands out a token, once: `token` when given (kept in memory
   * only, until activation), else a new one.
   * @default true without `token`, false with one
   */
  activationEnabled?: boolean;
}

export interface ExositeDeviceApiOptions {
  /** The product (IoT Connector) id: 1 to 63 lowercase letters or digits. */
  productId: string;
  /** Devices to add (or update) at start; devices already in the store are kept. */
  devices?: readonly ExositeDeviceSpec[];
  /** Connector content files, by content id (kept in memory, not in the store). */
  content?: Readonly<Record<string, string | Uint8Array>>;
  /**
   * The bearer token of the management API (device state and write feed).
   * @default random: read it from `managementToken`
   */
  managementToken?: string;
  /**
   * Where devices, resources and the write journal are kept.
   * @default a new MemoryStore (lost with the process; give the same store to a new service to
   *   restart one)
   */
  store?: StateStore;
  /** @default '127.0.0.1' */
  host?: string;
  /** @default 0 (any free port) */
  port?: number;
  /**
   * Device writes the journal (the write feed) keeps; a reader further behind is told of a gap.
   * @default 1024
   */
  journalLimit?: number;
  /** Request lines at `debug` (method, path, status, identity; never a token). @default noopLogger */
  logger?: Logger;
  /** Hears every request once answered (tests, request logs). */
  onRequest?: (record: ExositeRequestRecord) => void;
}

/** One resource of one device, as the service holds it. */
export interface ExositeResourceView {
  set?: string;
  reported?: string;
  /** Last change of either, µs since the epoch. */
  timestamp: number;
  /** `Last-Modified` of `set`, ms since the epoch. */
  setAtMs?: number;
}

export interface ExositeDeviceApi {
  /** `http://<host>:<port>`: the devices' `apiOrigin` and the management API's base URL. */
  readonly origin: string;
  readonly productId: string;
  /** The management API's bearer token (a secret: give it to the publisher's channel only). */
  readonly managementToken: string;
  /** Adds a device (or changes its token / activation); its resources are kept. */
  addDevice(device: ExositeDeviceSpec): Promise<void>;
  /** The identities of every device. */
  devices(): string[];
  /** The platform sets `config_otau` (a manifest is encoded first): long polls answer, MQTT gets it. */
  setConfig(identity: string, value: string | OtauManifestInput): Promise<void>;
  /** The platform sets any resource of a device. */
  set(identity: string, alias: string, value: string): Promise<void>;
  /** One resource of a device, or `undefined`. */
  resource(identity: string, alias: string): ExositeResourceView | undefined;
  /** Every write of every device after `after`, as the write feed serves them. */
  writesAfter(after: number): FeedEvent[];
  /** Calls `listener` for every device write (HTTP or MQTT), once stored; returns the remover. */
  onWrite(listener: (event: FeedEvent) => void): () => void;
  /** Adds or replaces a content file (with faults for tests). */
  putContent(id: string, body: string | Uint8Array, faults?: ContentFaults): void;
  deleteContent(id: string): void;
  /** Resolves once a stalled download of `id` has sent its bytes and holds. */
  stalled(id: string): Promise<void>;
  /** Lets stalled downloads of `id` finish, and serves it whole from now on. */
  release(id: string): void;
  /** The next long poll of `identity` answers this value and `Last-Modified` (a proxy replaying an old answer). */
  replayOnce(identity: string, value: string, modifiedMs: number): void;
  /** Bridges `identity`'s resources to MQTT over `connection`; resolves with the detaching function. */
  attachMqtt(identity: string, connection: MqttConnection): Promise<() => Promise<void>>;
  /** Resolves once every change so far is in the store. */
  flushed(): Promise<void>;
  /** Stops listening (the API is "down"); state is kept. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** Stops for good: connections cut (stalled downloads too), MQTT bridges detached, the store flushed. */
  close(): Promise<void>;
}

/** Starts the service; see the module's example. */
export async function createExositeDeviceApi(options: ExositeDeviceApiOptions): Promise<ExositeDeviceApi> {
  const { productId } = options;
  if (typeof productId !== 'string' || !/^[a-z0-9]{1,63}$/.test(productId)) {
    throw new OtaError('CONFIG', 'Invalid Exosite product id: expected 1 to 63 lowercase letters or digits');
  }
  const logger = options.logger ?? noopLogger;
  const managementToken = options.managementToken ?? newDeviceToken();
  if (managementToken.length < 16 || !/^[\x21-\x7e]+$/.test(managementToken)) {
    throw new OtaError('CONFIG', 'Invalid management token: expected at least 16 visible ASCII characters');
  }
  const journalLimit = options.journalLimit ?? 1024;
  if (!Number.isSafeInteger(journalLimit) || journalLimit < 1) {
    throw new OtaError('CONFIG', 'Invalid journalLimit: expected a positive whole number');
  }
  const registry = await DeviceRegistry.open(options.store ?? new MemoryStore(), productId, journalLimit);
  const preIssued = new Map<string, string>();
  const addDevice = async (device: ExositeDeviceSpec) => {
    await registry.addDevice(device.identity, device);
    if (device.token !== undefined && device.activationEnabled === true)
      preIssued.set(device.identity, device.token);
    else preIssued.delete(device.identity);
  };
  for (const device of options.devices ?? []) await addDevice(device);
  const content = new ContentArea();
  for (const [id, body] of Object.entries(options.content ?? {})) content.put(id, body);

  const polls = new LongPolls<PolledValue>();
  const feedPolls = new LongPolls<void>();
  const replays = new Map<string, PolledValue>();
  registry.onSet((change) => polls.wake(pollKey(change.identity, change.alias), change));
  registry.onWrite(() => feedPolls.wake(productId, undefined));
  const bridges = new Set<() => Promise<void>>();

  const set = async (identity: string, alias: string, value: string) => {
    assertAlias(alias);
    if (!registry.has(identity)) throw new OtaError('CONFIG', 'Unknown Exosite device identity');
    await registry.set(identity, alias, value);
  };
  const deviceContext = { productId, registry, content, polls, replays, preIssued };
  const managementContext = {
    productId,
    registry,
    tokenDigest: bearerDigest(managementToken),
    feedPolls,
    set,
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://murano.local');
    const record = recordOf(request, url);
    response.once('close', () => {
      logger.debug('otakit exosite service: request', {
        method: record.method,
        path: url.pathname,
        status: record.status,
        ...(record.identity === undefined ? {} : { identity: record.identity }),
      });
      options.onRequest?.(record);
    });
    if (await deviceRoute(deviceContext, request, response, url, record)) return;
    if (await managementRoute(managementContext, request, response, url, record)) return;
    record.status = 404;
    response.writeHead(404).end();
  };

  const host = options.host ?? '127.0.0.1';
  let port = options.port ?? 0;
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  const start = async () => {
    const created = createServer((request, response) => {
      handle(request, response).catch((error: unknown) => {
        logger.warn('otakit exosite service: request failed', {
          code: error instanceof OtaError ? error.code : 'INTERNAL',
        });
        if (!response.headersSent) response.writeHead(500);
        response.end();
      });
    });
    created.on('connection', (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      created.once('error', reject);
      created.listen(port, host, () => resolve());
    });
    port = (created.address() as AddressInfo).port;
    server = created;
  };
  const stop = async () => {
    const current = server;
    server = undefined;
    if (current === undefined) return;
    const closed = new Promise<void>((resolve) => current.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  await start();

  return {
    get origin() {
      return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    },
    productId,
    managementToken,
    addDevice,
    devices: () => registry.identities(),
    setConfig: (identity, value) =>
      set(identity, CONFIG_OTAU, typeof value === 'string' ? value : encodeManifest(value)),
    set,
    resource: (identity, alias) => registry.resource(identity, alias),
    writesAfter(after) {
      const events: FeedEvent[] = [];
      for (let page = registry.feed(after); page.events.length > 0; page = registry.feed(page.next)) {
        events.push(...page.events);
      }
      return events;
    },
    onWrite: (listener) => registry.onWrite(listener),
    putContent: (id, body, faults) => content.put(id, body, faults),
    deleteContent: (id) => content.delete(id),
    stalled: (id) => content.stalled(id),
    release: (id) => content.release(id),
    replayOnce(identity, value, modifiedMs) {
      const replay = { value, atMs: modifiedMs };
      if (!polls.wakeOne(pollKey(identity, CONFIG_OTAU), replay)) replays.set(identity, replay);
    },
    async attachMqtt(identity, connection) {
      if (!registry.has(identity)) throw new OtaError('CONFIG', 'Unknown Exosite device identity');
      const detach = await bridgeMqtt(registry, identity, connection, (error) =>
        logger.warn('otakit exosite service: MQTT bridge', {
          code: error instanceof OtaError ? error.code : 'TRANSPORT',
        }),
      );
      const remove = async () => {
        if (bridges.delete(remove)) await detach();
      };
      bridges.add(remove);
      return remove;
    },
    flushed: () => registry.flushed(),
    stop,
    start: async () => {
      if (server === undefined) await start();
    },
    async close() {
      // Connections first: a stalled download is cut, as a crash of the service would cut it.
      await stop();
      content.releaseAll();
      await Promise.allSettled([...bridges].map((detach) => detach()));
      await registry.flushed();
    },
  };
}
