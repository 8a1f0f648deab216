/**
 * A Connhex release endpoint in Node: the URLs the Connhex Edge OTA addon (and otakit's Connhex
 * agent) checks and downloads from, `<base>/iot/ota/<initId>` and
 * `<base>/iot/firmwares/<firmwareId>/artifact` (docs/cloud/connhex.md).
 *
 * - `HEAD` answers the release headers the device decides on: `Version` (quoted), `Content-Length`,
 *   `Content-Digest` (SHA-256), `ETag`, `Content-Type`, `Content-Disposition`, `Min-Version` and
 *   `Max-Version` when set; `404` on a device endpoint with no release (the device reads "no
 *   update"), `204` on an artifact endpoint with nothing eligible (none, or the `Version` the
 *   request names).
 * - `GET` sends the `.zip` (`Range` and `If-Range` for a resumed download: `206`, `416`), or
 *   redirects to where it lives.
 * - `PUT` with the protocol's release JSON (what `connhex.protocol.cloud.encodeOrder` sends, so
 *   `createUpdatePublisher` publishes through it) and `DELETE` (its `encodeWithdrawal`), with
 *   `Authorization: Bearer <publisherToken>`; without a publisher token they answer `405`.
 * - Devices authenticate with `Thing <key>` or `Bearer <key>` when `keys` is set.
 *
 * `createConnhexReleaseHandler` is a `(request, response, next?)` handler (plain `node:http`,
 * Express, Connect); `startConnhexReleaseServer` listens on its own.
 *
 * @module
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { isOtaError, OtaError } from '../../core/errors.js';
import { type Logger, noopLogger } from '../../core/logger.js';
import type { ContentDigestForm } from '../../protocols/connhex/digest.js';
import { getHeader, releaseHeaders } from '../../protocols/connhex/headers.js';
import { ReleaseSchema } from '../../protocols/connhex/schemas.js';
import { STATEMENT_SUFFIX } from '../../protocols/connhex/urls.js';
import { decodeStatement, STATEMENT_KEY } from '../../protocols/signed-statement.js';
import {
  type ConnhexReleaseEndpoint,
  type ConnhexReleaseKeys,
  deviceAllowed,
  presentedKey,
  sameSecret,
} from './connhex-release-auth.js';
import { ConnhexReleases, type StoredConnhexRelease } from './connhex-releases.js';

export type { ConnhexReleaseEndpoint, ConnhexReleaseKeys } from './connhex-release-auth.js';

export interface ConnhexReleaseHandlerOptions {
  /** The releases served. @default a new, empty {@link ConnhexReleases} */
  releases?: ConnhexReleases;
  /**
   * The device keys: `HEAD` and `GET` need `Authorization: Thing <key>` (or `Bearer <key>`) with
   * a key accepted at the endpoint. Left out, the endpoint is open: only for a loopback test.
   */
  keys?: ConnhexReleaseKeys;
  /**
   * The token a publisher sends (`Authorization: Bearer <token>`) to `PUT` and `DELETE`
   * releases over HTTP. Left out, releases are published in code only (`releases.publish`).
   */
  publisherToken?: string;
  /** How `Content-Digest` is spelled. @default 'rfc9530' (`sha-256=:<base64>:`) */
  digestForm?: ContentDigestForm;
  /** Largest release JSON a `PUT` may send, in bytes. @default 65536 */
  maxBodyBytes?: number;
  /** @default noopLogger (request lines carry method, endpoint and status; never a key) */
  logger?: Logger;
}

/** A request handler; `next` (Express, Connect) is called for paths that are not release endpoints. */
export type ConnhexReleaseHandler = ((
  request: IncomingMessage,
  response: ServerResponse,
  next?: (error?: unknown) => void,
) => void) & { readonly releases: ConnhexReleases };

const ENDPOINT_PATH = /^(?:.*)\/iot\/(?:ota\/([^/]+)|firmwares\/([^/]+)\/artifact)$/;

/** The endpoint a request path names, or `undefined` for any other path. */
function endpointOf(pathname: string): ConnhexReleaseEndpoint | undefined {
  const match = ENDPOINT_PATH.exec(pathname);
  if (match === null) return undefined;
  try {
    return match[1] !== undefined
      ? { kind: 'device', initId: decodeURIComponent(match[1]) }
      : { kind: 'artifact', firmwareId: decodeURIComponent(match[2]!) };
  } catch {
    return undefined;
  }
}

function scopeOf(endpoint: ConnhexReleaseEndpoint): { initId: string } | { firmwareId: string } {
  return endpoint.kind === 'device' ? { initId: endpoint.initId } : { firmwareId: endpoint.firmwareId };
}

/** `bytes=<first>-[<last>]` or `bytes=-<suffix>` against `size`; `null` when unsatisfiable. */
function byteRange(header: string, size: number): { start: number; end: number } | null | undefined {
  const match = /^bytes=(\d{0,16})-(\d{0,16})$/.exec(header.trim());
  if (match === null || (match[1] === '' && match[2] === '')) return undefined; // not one range: ignored
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return null;
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || end < start) return null;
  return { start, end };
}

async function readBody(request: IncomingMessage, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > limit) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Creates the release endpoint's request handler.
 *
 * @example
 * ```ts
 * const handler = createConnhexReleaseHandler({ keys: { 'edge-7': thingKey } })
 * handler.releases.publish({ version: '1.4.0', files: { 'app.py': source }, updateScript: '#!/bin/sh\n' })
 * createServer(handler).listen(8080)
 * ```
 */
export function createConnhexReleaseHandler(
  options: ConnhexReleaseHandlerOptions = {},
): ConnhexReleaseHandler {
  const releases = options.releases ?? new ConnhexReleases();
  const logger = options.logger ?? noopLogger;
  const maxBodyBytes = options.maxBodyBytes ?? 64 * 1024;
  const { keys, publisherToken } = options;
  if (publisherToken !== undefined && (typeof publisherToken !== 'string' || publisherToken.length < 16)) {
    throw new OtaError('CONFIG', 'Connhex release server: publisherToken must be at least 16 characters');
  }
  const headersOf = (release: StoredConnhexRelease): Record<string, string> => ({
    ...releaseHeaders(
      release.metadata,
      options.digestForm === undefined ? {} : { digestForm: options.digestForm },
    ),
    'Accept-Ranges': release.bytes === undefined ? 'none' : 'bytes',
    'Cache-Control': 'no-store',
  });

  /** The release an endpoint serves now: a device's own, or the latest of a firmware. */
  const releaseAt = (endpoint: ConnhexReleaseEndpoint): StoredConnhexRelease | undefined =>
    endpoint.kind === 'device'
      ? releases.forDevice(endpoint.initId)
      : releases.forFirmware(endpoint.firmwareId);

  async function serve(
    request: IncomingMessage,
    response: ServerResponse,
    endpoint: ConnhexReleaseEndpoint,
    statement = false,
  ) {
    const method = request.method ?? '';
    const answer = (
      status: number,
      headers: Record<string, string | number> = {},
      body?: string | Uint8Array,
    ) => {
      logger.debug('otakit connhex release server: request', {
        method,
        endpoint: endpoint.kind,
        id: endpoint.kind === 'device' ? endpoint.initId : endpoint.firmwareId,
        status,
      });
      response.writeHead(status, headers);
      response.end(method === 'HEAD' ? undefined : body);
    };

    if (statement) {
      // `<endpoint>.otakit.json`: the signed statement of the release the endpoint serves now.
      if (method !== 'HEAD' && method !== 'GET') return answer(405, { Allow: 'HEAD, GET' });
      if (keys !== undefined && !(await deviceAllowed(keys, endpoint, request.headers.authorization))) {
        return answer(401, { 'WWW-Authenticate': 'Thing' });
      }
      const release = releaseAt(endpoint);
      if (release?.statement === undefined) return answer(404);
      return answer(
        200,
        { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' },
        release.statement,
      );
    }
    if (method === 'PUT' || method === 'DELETE') {
      const token = presentedKey(request.headers.authorization, ['Bearer']);
      if (publisherToken === undefined) return answer(405, { Allow: 'HEAD, GET' });
      if (token === undefined || !sameSecret(token, publisherToken)) {
        return answer(401, { 'WWW-Authenticate': 'Bearer' });
      }
      if (method === 'DELETE') {
        releases.withdraw(scopeOf(endpoint));
        return answer(204);
      }
      return publishFromJson(request, endpoint, answer);
    }
    if (method !== 'HEAD' && method !== 'GET') return answer(405, { Allow: 'HEAD, GET, PUT, DELETE' });
    if (keys !== undefined && !(await deviceAllowed(keys, endpoint, request.headers.authorization))) {
      return answer(401, { 'WWW-Authenticate': 'Thing' });
    }
    // Read once: a publish during this request does not mix two releases in one answer.
    const release = releaseAt(endpoint);
    if (release === undefined) return answer(endpoint.kind === 'device' ? 404 : 204);
    if (endpoint.kind === 'artifact') {
      const installed = getHeader(request.headers, 'Version')?.replace(/^"|"$/g, '');
      if (installed === release.metadata.version) return answer(204);
    }
    const headers = headersOf(release);
    if (method === 'HEAD') return answer(200, headers);
    if (release.bytes === undefined) {
      const { 'Content-Length': _length, ...rest } = headers;
      return answer(302, { ...rest, Location: release.location! });
    }
    const bytes = release.bytes;
    const range = request.headers.range;
    const ifRange = request.headers['if-range'];
    // If-Range: resume only the very file the first request got, else send it whole.
    if (range !== undefined && (ifRange === undefined || ifRange === release.metadata.etag)) {
      const wanted = byteRange(range, bytes.length);
      if (wanted === null) return answer(416, { 'Content-Range': `bytes */${bytes.length}` });
      if (wanted !== undefined) {
        const { 'Content-Length': _length, 'Content-Digest': _digest, ...rest } = headers;
        return answer(
          206,
          {
            ...rest,
            'Content-Range': `bytes ${wanted.start}-${wanted.end}/${bytes.length}`,
            'Content-Length': wanted.end - wanted.start + 1,
          },
          bytes.subarray(wanted.start, wanted.end + 1),
        );
      }
    }
    return answer(200, headers, bytes);
  }

  async function publishFromJson(
    request: IncomingMessage,
    endpoint: ConnhexReleaseEndpoint,
    answer: (status: number, headers?: Record<string, string>, body?: string) => void,
  ) {
    const text = await readBody(request, maxBodyBytes);
    if (text === undefined) return answer(413);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return answer(400, { 'Content-Type': 'text/plain' }, 'the body must be the release as JSON');
    }
    const parsed = ReleaseSchema.safeParse(json);
    if (!parsed.success) {
      const fields = parsed.error.issues.map((issue) => issue.path.join('.') || '(root)').join(', ');
      return answer(400, { 'Content-Type': 'text/plain' }, `invalid release: ${fields}`);
    }
    const release = parsed.data;
    // A signed release: its statement rides in the release JSON (`otakit_manifest`).
    const signedText = (json as Record<string, unknown>)[STATEMENT_KEY];
    let manifest: ReturnType<typeof decodeStatement> | undefined;
    if (signedText !== undefined) {
      try {
        manifest = decodeStatement(signedText);
      } catch {
        return answer(400, { 'Content-Type': 'text/plain' }, `invalid release: ${STATEMENT_KEY}`);
      }
    }
    const own = new URL(release.url).pathname === new URL(request.url ?? '/', 'http://x').pathname;
    try {
      if (own) {
        // The device downloads from this endpoint: the bytes must be here already.
        const bytes = release.sha256 === undefined ? undefined : releases.packageBySha256(release.sha256);
        if (bytes === undefined) {
          return answer(409, { 'Content-Type': 'text/plain' }, 'no package with this sha256: add it first');
        }
        if (release.size !== undefined && release.size !== bytes.length) {
          return answer(409, { 'Content-Type': 'text/plain' }, 'size does not match the package');
        }
        releases.publish({
          ...scopeOf(endpoint),
          version: release.version,
          zip: bytes,
          ...(release.minVersion === undefined ? {} : { minVersion: release.minVersion }),
          ...(release.maxVersion === undefined ? {} : { maxVersion: release.maxVersion }),
          ...(release.fileName === undefined ? {} : { fileName: release.fileName }),
          ...(manifest === undefined ? {} : { manifest }),
        });
      } else {
        const { url, ...metadata } = release;
        releases.publishRedirect(scopeOf(endpoint), metadata, url, manifest);
      }
    } catch (error) {
      if (isOtaError(error)) return answer(400, { 'Content-Type': 'text/plain' }, error.message);
      throw error;
    }
    logger.info('otakit connhex release server: release published', {
      endpoint: endpoint.kind,
      version: release.version,
    });
    return answer(204);
  }

  const handler = (request: IncomingMessage, response: ServerResponse, next?: (error?: unknown) => void) => {
    let pathname: string;
    try {
      pathname = new URL(request.url ?? '/', 'http://x').pathname;
    } catch {
      pathname = '';
    }
    const statement = pathname.endsWith(STATEMENT_SUFFIX);
    const endpoint = endpointOf(statement ? pathname.slice(0, -STATEMENT_SUFFIX.length) : pathname);
    if (endpoint === undefined) {
      if (next !== undefined) return next();
      response.writeHead(404).end();
      return;
    }
    serve(request, response, endpoint, statement).catch((error: unknown) => {
      logger.error('otakit connhex release server: request failed', {
        code: isOtaError(error) ? error.code : 'INTERNAL',
      });
      if (next !== undefined) return next(error);
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  };
  return Object.assign(handler, { releases });
}

export interface ConnhexReleaseServerOptions extends ConnhexReleaseHandlerOptions {
  /** @default 0 (a free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
}

/** A listening release endpoint. */
export interface ConnhexReleaseServer {
  /** `http://<host>:<port>`: the devices' `baseUrl` (with `allowHttp` on loopback only). */
  readonly url: string;
  readonly releases: ConnhexReleases;
  readonly server: Server;
  /** Stops listening and ends open connections. */
  close(): Promise<void>;
}

/**
 * Starts a release endpoint on its own HTTP server. Put it behind TLS (a reverse proxy) for real
 * devices: the agent refuses `http:` unless `allowHttp` is set for a loopback test.
 *
 * @example
 * ```ts
 * const endpoint = await startConnhexReleaseServer({ keys: { 'edge-7': thingKey }, port: 8080 })
 * endpoint.releases.publish({ version: '1.4.0', zip })
 * ```
 */
export async function startConnhexReleaseServer(
  options: ConnhexReleaseServerOptions = {},
): Promise<ConnhexReleaseServer> {
  const handler = createConnhexReleaseHandler(options);
  const server = createServer(handler);
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const host = options.host ?? '127.0.0.1';
  server.listen(options.port ?? 0, host);
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    releases: handler.releases,
    server,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
