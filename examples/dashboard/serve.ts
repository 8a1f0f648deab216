/**
 * Serves the dashboard over node:http:
 *
 * - `GET /` and the bundle (`/app.js`) from {@link buildDashboard}, built once at start;
 * - `GET /api/snapshot`: the current `DemoStreamPayload`, as JSON;
 * - `GET /events`: Server-Sent Events, `event: snapshot` with the payload as JSON, right away on
 *   connect and then every 500 ms; a comment line (`: heartbeat`) every 15 s keeps idle proxies
 *   from closing the stream.
 *
 * `close()` ends every event stream and the server.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildDashboard } from './build.js';
import type { DemoStreamPayload } from './payload.js';

export interface ServeDashboardOptions {
  /** 0 (the default): any free port. */
  port?: number;
  /** Default `127.0.0.1`. */
  host?: string;
  /** The payload now; called once per tick for all clients together, and per `/api/snapshot`. */
  snapshot: () => Promise<DemoStreamPayload>;
  /** How often event streams get a payload, default 500 ms. */
  intervalMs?: number;
}

export interface DashboardServer {
  /** `http://host:port/`. */
  url: string;
  close(): Promise<void>;
}

const HEARTBEAT_MS = 15_000;

export async function serveDashboard(options: ServeDashboardOptions): Promise<DashboardServer> {
  const files = await buildDashboard();
  const host = options.host ?? '127.0.0.1';
  const intervalMs = options.intervalMs ?? 500;
  const clients = new Set<ServerResponse>();
  let closed = false;

  const payloadText = async () => JSON.stringify(await options.snapshot());

  const send = (response: ServerResponse, text: string) => {
    if (clients.has(response)) response.write(`event: snapshot\ndata: ${text}\n\n`);
  };

  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://dashboard').pathname;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/api/snapshot') {
      payloadText().then(
        (text) =>
          response
            .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
            .end(text),
        (error: unknown) =>
          response.writeHead(500, { 'content-type': 'text/plain' }).end(`snapshot failed: ${String(error)}`),
      );
      return;
    }
    if (path === '/events') {
      response.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      // Reconnect after a second if the stream drops (the browser's default is about 3 s).
      response.write('retry: 1000\n\n');
      clients.add(response);
      response.on('close', () => clients.delete(response));
      payloadText().then(
        (text) => send(response, text),
        () => {},
      );
      return;
    }
    const file = files.get(path);
    if (file === undefined) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    response.writeHead(200, { 'content-type': file.contentType, 'cache-control': 'no-store' }).end(file.body);
  });

  let ticking = false;
  const tick = setInterval(() => {
    if (ticking || clients.size === 0) return;
    ticking = true;
    payloadText()
      .then((text) => {
        for (const response of clients) send(response, text);
      })
      .catch((error: unknown) => console.error('dashboard: snapshot failed:', error))
      .finally(() => {
        ticking = false;
      });
  }, intervalMs);
  const heartbeat = setInterval(() => {
    for (const response of clients) response.write(': heartbeat\n\n');
  }, HEARTBEAT_MS);
  tick.unref();
  heartbeat.unref();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const shown = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${shown}:${port}/`,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(tick);
      clearInterval(heartbeat);
      for (const response of clients) response.end();
      clients.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    },
  };
}
