/**
 * An emulation of Exosite Murano's device side, for tests and runnable examples: the HTTP device
 * API on loopback (`/onep:v1/stack/alias` reads, writes and long polls with `X-Exosite-CIK`,
 * `Request-Timeout`, `If-Modified-Since`, `304` and `Last-Modified`; the connector content API
 * `/provision/download` with `Range`; `/provision/activate`), and optionally the MQTT side over any
 * broker (`$resource/config_otau/<µs>` to the device, `$resource/<alias>` from it).
 *
 * One device, as Murano sees it: each resource holds what the platform **set** and what the device
 * **reported**. The platform's writes ({@link ExositeEmulator.setConfig}) set `config_otau` and
 * wake the long polls; the device's writes set `reported` (its acknowledgement of `config_otau`,
 * its `otau_in` statuses) and wake nothing. A long poll without `If-Modified-Since` waits for the
 * next change, as Murano's does; each change gets a `Last-Modified` one second after the previous
 * one at least, so no two changes share one.
 *
 * Over MQTT the latest `config_otau` is kept retained on `$resource/config_otau/<µs>` (the one
 * before is cleared), so a device that subscribes gets it, as Murano syncs a device at connect.
 *
 * @example
 * ```ts
 * import { createExositeEmulator } from 'otakit/testing'
 *
 * const murano = await createExositeEmulator({ content: { 'app.txt': 'v2' } })
 * await murano.setConfig({ version: '2.0.0', name: 'app', type: 'URL_LIST', payload: ['app.txt'] })
 * // point an agent at murano.origin (apiOrigin) with murano.productId, murano.identity, murano.token
 * console.log(murano.statuses().map((status) => status.status))
 * await murano.close()
 * ```
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { decodeForm, encodeForm } from '../protocols/exosite/form.js';
import { decodeStatus, encodeManifest } from '../protocols/exosite/resource.js';
import type { OtauManifestInput, OtauStatus } from '../protocols/exosite/schemas.js';
import type { MqttConnection } from '../transport/mqtt-connection.js';

export interface ExositeEmulatorOptions {
  /** @default 'emulated0001' */
  productId?: string;
  /** @default 'device-0001' */
  identity?: string;
  /** The device token the API accepts (and activation hands out). @default random */
  token?: string;
  /** Connector content files, by content id. */
  content?: Record<string, string | Uint8Array>;
  /** @default 0 (any free port) */
  port?: number;
}

/** Misbehaviour of one content file. */
export interface ContentFaults {
  /** Send this many bytes, then hold the response open until {@link ExositeEmulator.release}. */
  stallAfterBytes?: number;
  /** Declare the full length, send this many bytes, and close: a truncated transfer. */
  truncateAfterBytes?: number;
}

/** One request the emulation answered. */
export interface ExositeRequestRecord {
  method: string;
  /** Path and query. */
  path: string;
  status: number;
  /** `Request-Timeout`, `If-Modified-Since`, `Range` as received. */
  requestTimeout?: string;
  ifModifiedSince?: string;
  range?: string;
  /** Whether it carried the right token. Never the token itself. */
  authorized: boolean;
}

export interface ExositeEmulator {
  /** `http://127.0.0.1:<port>`: the agent's `apiOrigin`. */
  readonly origin: string;
  readonly productId: string;
  readonly identity: string;
  readonly token: string;
  /** The platform writes `config_otau` (a manifest is encoded first): long polls answer, MQTT gets it. */
  setConfig(value: string | OtauManifestInput): Promise<void>;
  /** `config_otau`: what the platform set, what the device acknowledged, and when (ms). */
  config(): { set: string; reported: string | undefined; modifiedMs: number };
  /** Every `otau_in` the device wrote, decoded, in order. */
  statuses(): OtauStatus[];
  /** Every value the device wrote back to `config_otau`, in order. */
  acks(): string[];
  /** Every resource write of the device (HTTP or MQTT), in order: acknowledgements and statuses interleaved. */
  writes(): { alias: string; value: string }[];
  /** Adds or replaces a content file. */
  putContent(id: string, body: string | Uint8Array, faults?: ContentFaults): void;
  /** Resolves once a stalled response of `id` has sent its bytes and holds. */
  stalled(id: string): Promise<void>;
  /** Lets stalled responses of `id` finish, and serves it whole from now on. */
  release(id: string): void;
  /** The next long poll (or the one waiting) answers this value with this `Last-Modified` (ms), as a misbehaving proxy replaying an old answer would. */
  replayOnce(value: string, modifiedMs: number): void;
  /** Every request answered, in order. */
  requests(): ExositeRequestRecord[];
  /** Mirrors `config_otau` to MQTT and records the device's `$resource/<alias>` publishes. */
  attachMqtt(connection: MqttConnection): Promise<void>;
  /** Stops listening (the device API is "down"); state is kept. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

const ALIAS_PATH = '/onep:v1/stack/alias';
const FORM = 'application/x-www-form-urlencoded; charset=utf-8';

interface Content {
  body: Uint8Array;
  etag: string;
  faults: ContentFaults;
  waiters: (() => void)[];
  holds: (() => void)[];
  stalled: boolean;
}

interface Waiter {
  since: number | undefined;
  answer: (value: string, modifiedMs: number) => void;
}

const encoder = new TextEncoder();

function sinceMs(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  if (/^\d{1,12}$/.test(header.trim())) return Number(header.trim()) * 1000;
  const parsed = Date.parse(header);
  return Number.isNaN(parsed) ? undefined : parsed;
}

async function body(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts the emulation on loopback; see the module's example. */
export async function createExositeEmulator(options: ExositeEmulatorOptions = {}): Promise<ExositeEmulator> {
  const productId = options.productId ?? 'emulated0001';
  const identity = options.identity ?? 'device-0001';
  const token = options.token ?? randomBytes(20).toString('hex');
  let activated = false;
  const config = { set: '', reported: undefined as string | undefined, modifiedMs: 0 };
  const statuses: OtauStatus[] = [];
  const acks: string[] = [];
  const writes: { alias: string; value: string }[] = [];
  const log: ExositeRequestRecord[] = [];
  const contents = new Map<string, Content>();
  let waiters: Waiter[] = [];
  let replay: { value: string; modifiedMs: number } | undefined;
  const mqtt: { connection?: MqttConnection; topic?: string } = {};
  const sockets = new Set<Socket>();

  const putContent = (id: string, value: string | Uint8Array, faults: ContentFaults = {}) => {
    const bytes = typeof value === 'string' ? encoder.encode(value) : value;
    const etag = `"${createHash('sha256').update(bytes).digest('hex').slice(0, 32)}"`;
    contents.set(id, { body: bytes, etag, faults, waiters: [], holds: [], stalled: false });
  };
  for (const [id, value] of Object.entries(options.content ?? {})) putContent(id, value);

  const deviceWrite = (alias: string, value: string) => {
    writes.push({ alias, value });
    if (alias === 'config_otau') {
      config.reported = value;
      acks.push(value);
    } else if (alias === 'otau_in') {
      statuses.push(decodeStatus(value));
    }
  };

  const answerPoll = (response: ServerResponse, value: string, modifiedMs: number) => {
    response.writeHead(200, { 'content-type': FORM, 'last-modified': new Date(modifiedMs).toUTCString() });
    response.end(encodeForm({ config_otau: value }));
  };

  const alias = async (
    request: IncomingMessage,
    response: ServerResponse,
    url: URL,
    record: ExositeRequestRecord,
  ) => {
    if (request.method === 'POST') {
      for (const [name, value] of Object.entries(decodeForm(await body(request)))) deviceWrite(name, value);
      record.status = 204;
      return void response.writeHead(204).end();
    }
    const aliases = [...url.searchParams.keys()];
    const held = request.headers['request-timeout'];
    if (typeof held !== 'string') {
      // A plain read: what the platform set.
      const values: Record<string, string> = {};
      if (aliases.includes('config_otau') && config.set !== '') values.config_otau = config.set;
      if (Object.keys(values).length === 0) {
        record.status = 204;
        return void response.writeHead(204).end();
      }
      record.status = 200;
      response.writeHead(200, {
        'content-type': FORM,
        'last-modified': new Date(config.modifiedMs).toUTCString(),
      });
      return void response.end(encodeForm(values));
    }
    const since = sinceMs(request.headers['if-modified-since'] as string | undefined);
    if (replay !== undefined) {
      const { value, modifiedMs } = replay;
      replay = undefined;
      record.status = 200;
      return answerPoll(response, value, modifiedMs);
    }
    if (since !== undefined && config.modifiedMs > since) {
      record.status = 200;
      return answerPoll(response, config.set, config.modifiedMs);
    }
    // Held until the next change or Request-Timeout, as Murano does.
    const waiter: Waiter = {
      since,
      answer: (value, modifiedMs) => {
        clearTimeout(timer);
        record.status = 200;
        answerPoll(response, value, modifiedMs);
      },
    };
    const timer = setTimeout(
      () => {
        waiters = waiters.filter((entry) => entry !== waiter);
        record.status = 304;
        response.writeHead(304).end();
      },
      Math.min(Number(held) || 30_000, 300_000),
    );
    response.on('close', () => {
      clearTimeout(timer);
      waiters = waiters.filter((entry) => entry !== waiter);
    });
    waiters.push(waiter);
  };

  const download = (
    request: IncomingMessage,
    response: ServerResponse,
    url: URL,
    record: ExositeRequestRecord,
  ) => {
    const content = contents.get(url.searchParams.get('id') ?? '');
    if (url.searchParams.get('vendor') !== productId || content === undefined) {
      record.status = 404;
      return void response.writeHead(404).end();
    }
    const total = content.body.length;
    let start = 0;
    const range = /^bytes=(\d+)-(\d*)$/.exec((request.headers.range as string | undefined) ?? '');
    const ifRange = request.headers['if-range'];
    const ranged = range !== null && (ifRange === undefined || ifRange === content.etag);
    let end = total - 1;
    if (ranged) {
      start = Number(range![1]);
      if (range![2] !== '') end = Math.min(end, Number(range![2]));
      if (start >= total) {
        record.status = 416;
        return void response.writeHead(416, { 'content-range': `bytes */${total}` }).end();
      }
    }
    const slice = content.body.subarray(start, end + 1);
    record.status = ranged ? 206 : 200;
    response.writeHead(record.status, {
      'content-type': 'application/octet-stream',
      'content-length': String(slice.length),
      etag: content.etag,
      'accept-ranges': 'bytes',
      ...(ranged ? { 'content-range': `bytes ${start}-${end}/${total}` } : {}),
    });
    const { stallAfterBytes, truncateAfterBytes } = content.faults;
    if (truncateAfterBytes !== undefined) {
      response.write(slice.subarray(0, Math.max(0, truncateAfterBytes - start)));
      return void response.destroy();
    }
    if (stallAfterBytes !== undefined && stallAfterBytes - start < slice.length) {
      const first = Math.max(0, stallAfterBytes - start);
      response.write(slice.subarray(0, first));
      content.stalled = true;
      for (const resolve of content.waiters.splice(0)) resolve();
      content.holds.push(() => response.end(slice.subarray(first)));
      return;
    }
    response.end(slice);
  };

  const activate = async (
    request: IncomingMessage,
    response: ServerResponse,
    record: ExositeRequestRecord,
  ) => {
    const form = decodeForm(await body(request));
    const known = form.vendor === productId && form.model === productId && form.sn === identity;
    record.status = !known ? 404 : activated ? 409 : 200;
    if (record.status !== 200) return void response.writeHead(record.status).end();
    activated = true;
    response.writeHead(200, { 'content-type': 'text/plain' }).end(token);
  };

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://emulated');
    const authorized = request.headers['x-exosite-cik'] === token;
    const record: ExositeRequestRecord = {
      method: request.method ?? 'GET',
      path: `${url.pathname}${url.search}`,
      status: 0,
      authorized,
    };
    for (const [field, header] of [
      ['requestTimeout', 'request-timeout'],
      ['ifModifiedSince', 'if-modified-since'],
      ['range', 'range'],
    ] as const) {
      const value = request.headers[header];
      if (typeof value === 'string') record[field] = value;
    }
    log.push(record);
    if (url.pathname === '/provision/activate' && request.method === 'POST')
      return activate(request, response, record);
    if (!authorized) {
      record.status = 401;
      return void response.writeHead(401).end();
    }
    if (url.pathname === ALIAS_PATH) return alias(request, response, url, record);
    if (url.pathname === '/provision/download' && request.method === 'GET')
      return download(request, response, url, record);
    if (url.pathname === '/timestamp') {
      record.status = 200;
      return void response.writeHead(200).end(String(Math.floor(Date.now() / 1000)));
    }
    record.status = 404;
    response.writeHead(404).end();
  };

  let server: Server | undefined;
  let port = options.port ?? 0;
  const start = async () => {
    const created = createServer((request, response) => {
      handle(request, response).catch(() => {
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
      created.listen(port, '127.0.0.1', () => resolve());
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

  const publishConfig = async () => {
    const { connection } = mqtt;
    if (connection === undefined) return;
    const previous = mqtt.topic;
    const topic = `$resource/config_otau/${config.modifiedMs * 1000}`;
    mqtt.topic = topic;
    await connection.publish(topic, config.set, { qos: 1, retain: true });
    // Cleared after the new one is out: a subscriber meanwhile sees the old one and then a newer one.
    if (previous !== undefined && previous !== topic)
      await connection.publish(previous, '', { qos: 1, retain: true });
  };

  return {
    get origin() {
      return `http://127.0.0.1:${port}`;
    },
    productId,
    identity,
    token,
    async setConfig(value) {
      config.set = typeof value === 'string' ? value : encodeManifest(value);
      const now = Date.now() - (Date.now() % 1000);
      config.modifiedMs = Math.max(now, config.modifiedMs + 1000);
      for (const waiter of waiters.splice(0)) waiter.answer(config.set, config.modifiedMs);
      await publishConfig();
    },
    config: () => ({ ...config }),
    statuses: () => statuses.map((status) => ({ ...status })),
    acks: () => [...acks],
    writes: () => writes.map((write) => ({ ...write })),
    putContent,
    stalled(id) {
      const content = contents.get(id);
      if (content === undefined) return Promise.reject(new Error(`No content "${id}"`));
      if (content.stalled) return Promise.resolve();
      return new Promise((resolve) => content.waiters.push(resolve));
    },
    release(id) {
      const content = contents.get(id);
      if (content === undefined) return;
      content.faults = {};
      content.stalled = false;
      for (const finish of content.holds.splice(0)) finish();
    },
    replayOnce(value, modifiedMs) {
      const waiter = waiters.shift();
      if (waiter === undefined) replay = { value, modifiedMs };
      else waiter.answer(value, modifiedMs);
    },
    requests: () => log.map((record) => ({ ...record })),
    async attachMqtt(connection) {
      mqtt.connection = connection;
      await connection.subscribe('$resource/+', (message) => {
        const name = message.topic.slice('$resource/'.length);
        deviceWrite(name, new TextDecoder().decode(message.payload));
      });
      if (config.set !== '') await publishConfig();
    },
    stop,
    start: async () => {
      if (server === undefined) await start();
    },
    async close() {
      for (const content of contents.values()) for (const finish of content.holds.splice(0)) finish();
      await stop();
    },
  };
}
