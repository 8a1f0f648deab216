/**
 * A real HTTP server on loopback that serves artifacts and misbehaves on demand: ranges or not,
 * dropped connections, stalls, lying Content-Length, artifacts that change between attempts,
 * 429/503 with Retry-After, redirects, Basic auth, throttling, and dishonest range handling. It counts what it sent, so tests
 * can assert how many bytes a resume really cost.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface ArtifactRoute {
  body: Uint8Array;
  /** `false` for none. @default a strong tag from the SHA-256 of the body */
  etag?: string | false;
  lastModified?: string;
  /** Honour `Range`. @default true */
  ranges?: boolean;
  /** Destroy the socket after this many body bytes, for the next `times` requests. */
  drop?: { afterBytes: number; times: number };
  /** Stop sending (keep the socket open) after this many body bytes, for the next `times` requests. */
  stall?: { afterBytes: number; times: number };
  /**
   * Take the request and answer nothing at all (no status line, no headers; the socket stays
   * open) for the next `times` requests: a server that hangs before it responds.
   */
  stallHeaders?: { times: number };
  /** Answer with this status for the next `times` requests. */
  fail?: { status: number; times: number; retryAfter?: string };
  /** Redirect to this location (absolute or relative). */
  redirect?: { location: string; status?: number };
  /** Require these Basic credentials. */
  basicAuth?: { username: string; password: string };
  /** Declare this Content-Length instead of the real one; `false` sends none (chunked, endless-data tests). */
  contentLength?: number | false;
  /** Send the body at about this rate. */
  bytesPerSecond?: number;
  /** Chunk size of writes. @default 65536 */
  chunkSize?: number;
  /**
   * Misbehave on ranges, for resume tests: a real server that ignores `If-Range`, gets
   * `Content-Range` wrong, or answers `206` to a request that asked for no range.
   */
  dishonest?: {
    /** Answer a `Range` request with `206` whatever `If-Range` says. */
    ignoreIfRange?: boolean;
    /** Serve (and state in `Content-Range`) a range starting this many bytes after the one requested. */
    rangeStartShift?: number;
    /** Answer a request without `Range` with `206` from this offset. */
    unrequestedRangeFrom?: number;
  };
}

export interface FaultServerStats {
  requests: number;
  /** Body bytes written, over all requests. */
  bytesSent: number;
  /** `Range` headers received, in order (`null` when absent). */
  ranges: (string | null)[];
  /** Headers of each request, lower-cased names. */
  headers: Record<string, string | string[] | undefined>[];
  /** Path and query of each request, as received. */
  urls: string[];
}

export interface FaultServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  route(path: string, route: ArtifactRoute): void;
  /** Changes a route in place (e.g. swap the body between attempts). */
  update(path: string, change: Partial<ArtifactRoute>): void;
  stats(path: string): FaultServerStats;
  close(): Promise<void>;
}

function strongEtag(body: Uint8Array): string {
  return `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * @example
 * ```ts
 * const server = await createFaultServer()
 * server.route('/fw.bin', { body, drop: { afterBytes: 1_000_000, times: 1 } })
 * await downloadArtifact({ url: `${server.url}/fw.bin`, sink })
 * server.stats('/fw.bin').bytesSent // ≈ body.length: the retry resumed
 * ```
 */
export async function createFaultServer(): Promise<FaultServer> {
  const routes = new Map<string, ArtifactRoute>();
  const stats = new Map<string, FaultServerStats>();
  const sockets = new Set<Socket>();

  const statsFor = (path: string) => {
    let entry = stats.get(path);
    if (entry === undefined) {
      entry = { requests: 0, bytesSent: 0, ranges: [], headers: [], urls: [] };
      stats.set(path, entry);
    }
    return entry;
  };

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    const route = routes.get(path);
    const counters = statsFor(path);
    counters.requests += 1;
    counters.ranges.push(request.headers.range ?? null);
    counters.headers.push({ ...request.headers });
    counters.urls.push(request.url ?? '/');
    if (route === undefined) {
      response.writeHead(404).end();
      return;
    }
    if (route.stallHeaders && route.stallHeaders.times > 0) {
      route.stallHeaders.times -= 1;
      // Silent until the client gives up (its socket closes) or the server closes.
      return;
    }
    if (route.redirect) {
      response.writeHead(route.redirect.status ?? 302, { location: route.redirect.location }).end();
      return;
    }
    if (route.basicAuth) {
      const expected = `Basic ${Buffer.from(`${route.basicAuth.username}:${route.basicAuth.password}`).toString('base64')}`;
      if (request.headers.authorization !== expected) {
        response.writeHead(401, { 'www-authenticate': 'Basic realm="otakit"' }).end();
        return;
      }
    }
    if (route.fail && route.fail.times > 0) {
      route.fail.times -= 1;
      response
        .writeHead(route.fail.status, route.fail.retryAfter ? { 'retry-after': route.fail.retryAfter } : {})
        .end();
      return;
    }
    const body = route.body;
    const etag = route.etag === false ? undefined : (route.etag ?? strongEtag(body));
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (etag) headers.etag = etag;
    if (route.lastModified) headers['last-modified'] = route.lastModified;
    if (route.ranges !== false) headers['accept-ranges'] = 'bytes';

    let start = 0;
    let status = 200;
    const range = request.headers.range;
    const ifRange = request.headers['if-range'];
    const validatorMatches =
      ifRange === undefined ||
      ifRange === etag ||
      ifRange === route.lastModified ||
      route.dishonest?.ignoreIfRange === true;
    const unrequested = range === undefined ? route.dishonest?.unrequestedRangeFrom : undefined;
    if (unrequested !== undefined && unrequested < body.length) {
      start = unrequested;
      status = 206;
      headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
    } else if (range && route.ranges !== false && validatorMatches) {
      const match = /^bytes=(\d+)-$/.exec(range);
      if (match) {
        start = Math.min(body.length, Number(match[1]) + (route.dishonest?.rangeStartShift ?? 0));
        if (start >= body.length) {
          response.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
          return;
        }
        status = 206;
        headers['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}`;
      }
    }
    if (route.contentLength !== false)
      headers['content-length'] = String(route.contentLength ?? body.length - start);
    response.writeHead(status, headers);

    const drop = route.drop && route.drop.times > 0 ? route.drop : undefined;
    if (drop) drop.times -= 1;
    const stall = route.stall && route.stall.times > 0 ? route.stall : undefined;
    if (stall) stall.times -= 1;
    const chunkSize = route.chunkSize ?? 65_536;
    let sent = 0;
    for (let offset = start; offset < body.length; offset += chunkSize) {
      if (response.destroyed || response.writableEnded) return;
      let chunk = body.subarray(offset, Math.min(body.length, offset + chunkSize));
      const cut = drop?.afterBytes ?? stall?.afterBytes;
      if (cut !== undefined && sent + chunk.length >= cut) {
        chunk = chunk.subarray(0, cut - sent);
        if (chunk.length > 0) {
          response.write(chunk);
          counters.bytesSent += chunk.length;
        }
        if (drop) {
          // Let the bytes leave before the reset, as a real mid-body failure would.
          await sleep(20);
          request.socket.destroy();
        }
        // A stall keeps the socket open and silent until the client gives up.
        return;
      }
      const flushed = response.write(chunk);
      counters.bytesSent += chunk.length;
      sent += chunk.length;
      if (route.bytesPerSecond) await sleep((chunk.length / route.bytesPerSecond) * 1000);
      else if (!flushed) await new Promise((resolve) => response.once('drain', resolve));
    }
    response.end();
  }

  const server = createServer((request, response) => {
    handle(request, response).catch(() => response.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    route: (path, route) => {
      routes.set(path, { ...route });
    },
    update: (path, change) => {
      const current = routes.get(path);
      if (current === undefined) throw new Error(`No route ${path}`);
      routes.set(path, { ...current, ...change });
    },
    stats: (path) => statsFor(path),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
