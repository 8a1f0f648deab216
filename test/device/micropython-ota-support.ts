/**
 * A loopback micropython_ota server for the agent tests: a static server root (what Apache or
 * nginx would serve, per the reference's README) with HTTP Basic auth on every path, both file
 * layouts, Range requests with a strong ETag (so a killed download resumes), stalls, and an off
 * switch that keeps the port. It records every request (never the credentials themselves).
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { dirname, join } from 'node:path';

export type Layout = 'prefix' | 'subdirectory';

export interface SeenRequest {
  path: string;
  /** The request carried the right Basic credentials. */
  authorized: boolean;
  /** It carried an Authorization header at all. */
  withAuth: boolean;
  range: string | null;
  status: number;
}

export interface OtaServer {
  /** `http://127.0.0.1:<port>`: the target's `host`. */
  readonly host: string;
  readonly requests: SeenRequest[];
  /** Puts one file of the server root (`/app/version`, `/app/1.0.1_main.py`). */
  put(path: string, body: string | Uint8Array): void;
  remove(path: string): void;
  /** Puts every file of a release where `layout` wants it (the `version` file is not touched). */
  publish(project: string, version: string, files: Record<string, string | Uint8Array>, layout: Layout): void;
  /** Writes `<project>/version` (with a trailing newline, as editors leave it). */
  setVersion(project: string, version: string): void;
  /** The next `times` responses for `path` send `afterBytes` bytes, then wait for `release()`. */
  stall(path: string, afterBytes: number, times?: number): void;
  release(): void;
  /** The requests for files of `project` other than its `version` file. */
  fileRequests(project: string): SeenRequest[];
  /** Stops listening and drops every connection (the server is down). */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

export function filePath(project: string, version: string, filename: string, layout: Layout): string {
  return `/${project}/${version}${layout === 'prefix' ? '_' : '/'}${filename}`;
}

export async function startOtaServer(credentials?: { user: string; password: string }): Promise<OtaServer> {
  const files = new Map<string, Uint8Array>();
  const stalls = new Map<string, { afterBytes: number; times: number }>();
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const expected =
    credentials === undefined
      ? undefined
      : `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString('base64')}`;
  let releaseAll: () => void = () => {};
  let released = new Promise<void>((resolve) => {
    releaseAll = resolve;
  });

  const write = (response: ServerResponse, bytes: Uint8Array) =>
    new Promise<void>((resolve) => {
      if (response.write(bytes)) resolve();
      else response.once('drain', resolve);
    });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
    const authorized = expected === undefined || request.headers.authorization === expected;
    const seen: SeenRequest = {
      path,
      authorized,
      withAuth: request.headers.authorization !== undefined,
      range: request.headers.range ?? null,
      status: 0,
    };
    requests.push(seen);
    const answer = (status: number, headers: Record<string, string> = {}) => {
      seen.status = status;
      response.writeHead(status, headers).end();
    };
    if (!authorized) return answer(401, { 'www-authenticate': 'Basic realm="ota"' });
    const body = files.get(path);
    if (body === undefined) return answer(404);
    const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
    const ifRange = request.headers['if-range'];
    if (range && (ifRange === undefined || ifRange === etag) && Number(range[1]) < body.length) {
      start = Number(range[1]);
    }
    seen.status = start > 0 ? 206 : 200;
    response.writeHead(seen.status, {
      'content-type': 'application/octet-stream',
      'content-length': String(body.length - start),
      'accept-ranges': 'bytes',
      etag,
      ...(start > 0 ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
    });
    const stall = stalls.get(path);
    if (stall !== undefined && stall.times > 0 && stall.afterBytes > start) {
      stall.times -= 1;
      await write(response, body.subarray(start, stall.afterBytes));
      await Promise.race([released, once(response, 'close')]);
      if (response.destroyed) return;
      start = stall.afterBytes;
    }
    await write(response, body.subarray(start));
    response.end();
  }

  const server = createServer((request, response) => {
    handle(request, response).catch(() => response.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const bytes = (body: string | Uint8Array) =>
    typeof body === 'string' ? new TextEncoder().encode(body) : body;

  const down = async () => {
    if (!server.listening) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };

  return {
    host: `http://127.0.0.1:${port}`,
    requests,
    put: (path, body) => files.set(path, bytes(body)),
    remove: (path) => files.delete(path),
    publish(project, version, release, layout) {
      for (const [name, body] of Object.entries(release))
        files.set(filePath(project, version, name, layout), bytes(body));
    },
    setVersion: (project, version) => files.set(`/${project}/version`, bytes(`${version}\n`)),
    stall: (path, afterBytes, times = 1) => stalls.set(path, { afterBytes, times }),
    release() {
      releaseAll();
      released = new Promise<void>((resolve) => {
        releaseAll = resolve;
      });
    },
    fileRequests: (project) =>
      requests.filter((seen) => seen.path.startsWith(`/${project}/`) && seen.path !== `/${project}/version`),
    down,
    async up() {
      if (server.listening) return;
      server.listen(port, '127.0.0.1');
      await once(server, 'listening');
    },
    async close() {
      releaseAll();
      await down();
    },
  };
}

/** A directory tree as `{ 'lib/util.py': content }`, files only, symlinks as `-> target`. */
export async function readTree(root: string): Promise<Record<string, string>> {
  const tree: Record<string, string> = {};
  const walk = async (directory: string, prefix: string) => {
    for (const entry of await readdir(directory, { withFileTypes: true })) {
      const path = join(directory, entry.name);
      const name = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      if (entry.isDirectory()) await walk(path, name);
      else tree[name] = await readFile(path, 'utf8');
    }
  };
  await walk(root, '');
  return tree;
}

export async function writeTree(root: string, tree: Record<string, string>): Promise<void> {
  for (const [name, content] of Object.entries(tree)) {
    const path = join(root, name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, content);
  }
}
