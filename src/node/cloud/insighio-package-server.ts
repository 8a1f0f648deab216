/**
 * The insigh.io package service for a self-hosted back end: answers
 * `GET <basePath>/packages/download?fuid=<file>&did=<device>&dk=<key>&cid=<channel>` as the
 * console does, from the {@link PackageStore} the publisher fills. The device key is checked in
 * constant time and never logged (requests are logged by file id, device id and status only);
 * `Range` with `If-Range` lets a device resume an interrupted download. See docs/cloud/insighio.md.
 *
 * @example
 * ```ts
 * const server = await startInsighIoPackageServer({ packages, deviceKey: ({ deviceId }) => keys.get(deviceId) })
 * // devices: target.baseUrl = server.baseUrl
 * ```
 *
 * @module
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { PackageStore } from '../../cloud/insighio/package-store.js';
import { OtaError } from '../../core/errors.js';
import { type Logger, noopLogger } from '../../core/logger.js';
import type { ControlIds } from '../../protocols/insighio/ids.js';
import { DOWNLOAD_PATH, parseDownloadUrl } from '../../protocols/insighio/urls.js';

export interface InsighIoPackageServerOptions {
  /** Where the publisher stored the packages, by file id. */
  packages: PackageStore;
  /**
   * The key of a device, or `undefined` for a device the service does not know (refused like a
   * wrong key, so the answer tells nobody which devices exist).
   */
  deviceKey(device: ControlIds): string | undefined | Promise<string | undefined>;
  /**
   * The path before `/packages/download`, as in the devices' `baseUrl`.
   * @default '/mf-rproxy'
   */
  basePath?: string;
  /** @default noopLogger */
  logger?: Logger;
}

export interface StartInsighIoPackageServerOptions extends InsighIoPackageServerOptions {
  /** @default 0 (a free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
}

export interface InsighIoPackageServer {
  /** The devices' `baseUrl`: `http://<host>:<port><basePath>`. Put TLS in front of it in production. */
  readonly baseUrl: string;
  readonly server: Server;
  /** Stops listening and drops open connections. */
  close(): Promise<void>;
}

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

/** A 32-byte digest of a key, so keys of any length compare in constant time. */
function digestOf(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** The key offered against the key expected, in time that depends on neither. */
function keyMatches(offered: string, expected: string | undefined): boolean {
  // An unknown device is compared against a random key: the same work as a known one.
  const against = expected ?? randomBytes(16).toString('hex');
  return timingSafeEqual(digestOf(offered), digestOf(against)) && expected !== undefined;
}

/** One byte range of `size` bytes, `null` for a range this server serves whole, or `'unsatisfiable'`. */
function rangeOf(
  header: string | undefined,
  size: number,
): { start: number; end: number } | null | 'unsatisfiable' {
  if (header === undefined) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return null; // several ranges or another unit: the whole file (RFC 9110 allows it)
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return null;
  let start: number;
  let end: number;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(first);
    end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
    if (last !== '' && Number(last) < start) return null; // invalid: ignored
  }
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

/**
 * The request handler of the package service, to mount in your own `http.Server` (or behind a
 * TLS terminator). Answers 404 for another path or an unknown file id, 405 for a method other than
 * GET and HEAD, 400 for a malformed query, 403 for an unknown device or a wrong key, 416 for a
 * range beyond the file, and 200/206 with the package.
 */
export function insighIoPackageHandler(options: InsighIoPackageServerOptions): Handler {
  const basePath = (options.basePath ?? '/mf-rproxy').replace(/\/+$/, '');
  const logger = options.logger ?? noopLogger;
  const etags = new WeakMap<Uint8Array, string>();
  const etagOf = (bytes: Uint8Array) => {
    let etag = etags.get(bytes);
    if (etag === undefined) {
      etag = `"${createHash('sha256').update(bytes).digest('hex').slice(0, 32)}"`;
      etags.set(bytes, etag);
    }
    return etag;
  };

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const fields: Record<string, unknown> = {};
    const answer = (status: number, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'cache-control': 'no-store', ...headers }).end();
      logger.info('otakit insigh.io package server: refused', { ...fields, status });
    };
    const target = request.url ?? '/';
    const path = target.split('?')[0] ?? '';
    if (path !== `${basePath}${DOWNLOAD_PATH}`) return answer(404);
    if (request.method !== 'GET' && request.method !== 'HEAD') return answer(405, { allow: 'GET, HEAD' });
    let params: ReturnType<typeof parseDownloadUrl>;
    try {
      params = parseDownloadUrl(`http://localhost${target}`);
    } catch {
      return answer(400); // the query may hold the key: nothing of it is repeated or logged
    }
    fields.fileId = params.fileId;
    fields.deviceId = params.deviceId;
    const expected = await options.deviceKey({
      deviceId: params.deviceId,
      controlChannelId: params.controlChannelId,
    });
    if (!keyMatches(params.deviceKey, expected)) return answer(403);
    const bytes = await options.packages.get(params.fileId);
    if (bytes === undefined) return answer(404);

    const etag = etagOf(bytes);
    const size = bytes.length;
    const ifRange = request.headers['if-range'];
    const range = ifRange === undefined || ifRange === etag ? rangeOf(request.headers.range, size) : null;
    const common = {
      'cache-control': 'no-store',
      'content-type': 'application/octet-stream',
      'accept-ranges': 'bytes',
      etag,
    };
    if (range === 'unsatisfiable') {
      return answer(416, { 'content-range': `bytes */${size}`, 'accept-ranges': 'bytes', etag });
    }
    const start = range?.start ?? 0;
    const end = range?.end ?? size - 1;
    const status = range === null ? 200 : 206;
    response.writeHead(status, {
      ...common,
      'content-length': String(end - start + 1),
      ...(range === null ? {} : { 'content-range': `bytes ${start}-${end}/${size}` }),
    });
    logger.info('otakit insigh.io package server: download', {
      ...fields,
      status,
      start,
      bytes: end - start + 1,
    });
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    response.end(bytes.subarray(start, end + 1));
  }

  return (request, response) => {
    handle(request, response).catch((error: unknown) => {
      logger.error('otakit insigh.io package server: request failed', {
        message: error instanceof OtaError ? error.message : 'the package store or key lookup failed',
      });
      if (!response.headersSent) response.writeHead(500, { 'cache-control': 'no-store' }).end();
      else response.destroy();
    });
  };
}

/**
 * Starts the package service on `host:port` (loopback and a free port by default). Plain HTTP:
 * the device key travels in the query string, so serve devices through TLS (a reverse proxy)
 * anywhere but a test bench.
 */
export async function startInsighIoPackageServer(
  options: StartInsighIoPackageServerOptions,
): Promise<InsighIoPackageServer> {
  const host = options.host ?? '127.0.0.1';
  const basePath = (options.basePath ?? '/mf-rproxy').replace(/\/+$/, '');
  const server = createServer(insighIoPackageHandler(options));
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(options.port ?? 0, host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    baseUrl: `http://${shownHost}:${port}${basePath}`,
    server,
    async close() {
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
