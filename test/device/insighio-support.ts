/**
 * Real components for the insigh.io agent tests: an aedes broker in process that can be stopped
 * and started again on the same port with its retained messages (its persistence is kept), a
 * mosquitto broker with the device's password, and a loopback package service that answers
 * `GET /mf-rproxy/packages/download?fuid&did&dk&cid` as the console does, with Range, stalls,
 * and an off switch.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import { freePorts, sleep } from '../support/system-services.js';

/** What the broker saw a client publish (the flags as the client sent them). */
export interface SeenPublish {
  clientId: string | null;
  topic: string;
  payload: string;
  retain: boolean;
  qos: number;
}

export interface TestBroker {
  readonly url: string;
  readonly port: number;
  /** Every publish from a client, across restarts, in arrival order. */
  readonly publishes: SeenPublish[];
  /** The retained payload on `topic`, or null. */
  retained(topic: string): Promise<string | null>;
  /** Closes the broker (clients are disconnected) and its listener. */
  stop(): Promise<void>;
  /** Starts it again on the same port, with the same retained messages. */
  start(): Promise<void>;
}

export interface BrokerOptions {
  /** Accepts or refuses a CONNECT by its credentials. @default accepts all */
  authenticate?: (username: string | undefined, password: string | undefined) => boolean;
  /** Refuses subscriptions whose filter starts with this. */
  refuseFiltersStartingWith?: string;
}

export async function startAedes(options: BrokerOptions = {}): Promise<TestBroker> {
  const publishes: SeenPublish[] = [];
  let broker: Aedes | undefined;
  let server: Server | undefined;
  let persistence: unknown;
  const sockets = new Set<Socket>();
  let port = 0;

  const start = async () => {
    broker = await Aedes.createBroker({
      ...(persistence === undefined ? {} : { persistence }),
      authenticate(_client, username, password, callback) {
        const ok = options.authenticate?.(username, password?.toString()) ?? true;
        if (ok) return callback(null, true);
        const error = Object.assign(new Error('Not authorized'), { returnCode: 5 });
        callback(error as never, false);
      },
      authorizeSubscribe(_client, subscription, callback) {
        const refuse = options.refuseFiltersStartingWith;
        callback(null, refuse !== undefined && subscription.topic.startsWith(refuse) ? null : subscription);
      },
    });
    persistence = (broker as unknown as { persistence: unknown }).persistence;
    broker.on('publish', (packet, client) => {
      if (client === null || client === undefined) return;
      publishes.push({
        clientId: client.id,
        topic: packet.topic,
        payload: Buffer.from(packet.payload).toString(),
        retain: packet.retain,
        qos: packet.qos,
      });
    });
    const current = broker;
    server = createServer((socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      current.handle(socket);
    });
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  };

  await start();
  return {
    get url() {
      return `mqtt://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    publishes,
    async retained(topic) {
      const store = persistence as { createRetainedStream(t: string): AsyncIterable<{ payload: Buffer }> };
      for await (const packet of store.createRetainedStream(topic)) {
        return Buffer.from(packet.payload).toString();
      }
      return null;
    },
    async stop() {
      const closing =
        server === undefined
          ? Promise.resolve()
          : new Promise<void>((resolve) => server!.close(() => resolve()));
      await new Promise<void>((resolve) => broker!.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closing;
    },
    start,
  };
}

// ---------------------------------------------------------------------------------------------
// mosquitto
// ---------------------------------------------------------------------------------------------

/** A mosquitto password file line, `$6$`: base64 salt, base64 SHA-512 of password then salt. */
function passwordLine(user: string, password: string): string {
  const salt = randomBytes(12);
  const hash = createHash('sha512').update(password).update(salt).digest('base64');
  return `${user}:$6$${salt.toString('base64')}$${hash}\n`;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export interface Mosquitto {
  readonly url: string;
  log(): string;
  stop(): Promise<void>;
}

/** mosquitto on a free loopback port that takes only `user`/`password`. */
export async function startMosquitto(binary: string, user: string, password: string): Promise<Mosquitto> {
  const directory = await mkdtemp(join(tmpdir(), 'otakit-insighio-mosquitto-'));
  await writeFile(join(directory, 'passwd'), passwordLine(user, password), { mode: 0o600 });
  const [port] = (await freePorts(1)) as [number];
  await writeFile(
    join(directory, 'mosquitto.conf'),
    [
      'per_listener_settings true',
      'persistence false',
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      'log_dest stderr',
      'log_type all',
      'log_timestamp false',
      `listener ${port} 127.0.0.1`,
      'allow_anonymous false',
      `password_file ${join(directory, 'passwd')}`,
      '',
    ].join('\n'),
  );
  let output = '';
  const child: ChildProcess = spawn(binary, ['-c', join(directory, 'mosquitto.conf')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
  }
  const deadline = Date.now() + 30_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`mosquitto did not start:\n${output}`);
    }
    await sleep(10);
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    log: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGTERM');
        await exited;
      }
      await rm(directory, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The package service
// ---------------------------------------------------------------------------------------------

export interface PackageRequest {
  fileId: string | null;
  deviceId: string | null;
  /** Whether `dk` was the device's key (the key itself is not kept). */
  keyAccepted: boolean;
  range: string | null;
  status: number;
}

export interface PackageServer {
  /** The target's `baseUrl`: `http://127.0.0.1:<port>/mf-rproxy`. */
  readonly baseUrl: string;
  readonly requests: PackageRequest[];
  /** Body bytes sent, over all requests. */
  bytesSent(): number;
  put(fileId: string, body: Uint8Array): void;
  /** The next `times` responses for `fileId` send `afterBytes` bytes, then wait for `release()`. */
  stall(fileId: string, afterBytes: number, times?: number): void;
  /** Lets stalled responses go on, and disarms the stalls no request reached yet. */
  release(): void;
  /** Stops listening and drops every connection (the service is down). */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startPackageServer(ids: {
  /** Checked when given; otherwise any device id is served (and recorded). */
  deviceId?: string;
  deviceKey: string;
  controlChannelId: string;
}): Promise<PackageServer> {
  const packages = new Map<string, Uint8Array>();
  const stalls = new Map<string, { afterBytes: number; times: number }>();
  const requests: PackageRequest[] = [];
  const sockets = new Set<Socket>();
  let sent = 0;
  let releaseAll: () => void = () => {};
  let released = new Promise<void>((resolve) => {
    releaseAll = resolve;
  });

  const write = (response: ServerResponse, bytes: Uint8Array) =>
    new Promise<void>((resolve) => {
      sent += bytes.length;
      if (response.write(bytes)) resolve();
      else response.once('drain', resolve);
    });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const fileId = url.searchParams.get('fuid');
    const keyAccepted = url.searchParams.get('dk') === ids.deviceKey;
    const record: PackageRequest = {
      fileId,
      deviceId: url.searchParams.get('did'),
      keyAccepted,
      range: request.headers.range ?? null,
      status: 0,
    };
    requests.push(record);
    const answer = (status: number) => {
      record.status = status;
      response.writeHead(status).end();
    };
    if (url.pathname !== '/mf-rproxy/packages/download') return answer(404);
    if (
      !keyAccepted ||
      (ids.deviceId !== undefined && url.searchParams.get('did') !== ids.deviceId) ||
      url.searchParams.get('cid') !== ids.controlChannelId
    ) {
      return answer(403);
    }
    const body = fileId === null ? undefined : packages.get(fileId);
    if (body === undefined) return answer(404);
    const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
    const ifRange = request.headers['if-range'];
    if (range && (ifRange === undefined || ifRange === etag) && Number(range[1]) < body.length) {
      start = Number(range[1]);
    }
    record.status = start > 0 ? 206 : 200;
    response.writeHead(record.status, {
      'content-type': 'application/octet-stream',
      'content-length': String(body.length - start),
      'accept-ranges': 'bytes',
      etag,
      ...(start > 0 ? { 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
    });
    const stall = stalls.get(fileId!);
    if (stall !== undefined && stall.times > 0 && stall.afterBytes > start) {
      stall.times -= 1;
      // Taken now: a release() while the first bytes are written must still let this one go.
      const gate = released;
      await write(response, body.subarray(start, stall.afterBytes));
      const closed = once(response, 'close');
      await Promise.race([gate, closed]);
      if (response.destroyed) return;
      start = stall.afterBytes;
    }
    await write(response, body.subarray(start));
    response.end();
  }

  const server = createHttpServer((request, response) => {
    handle(request, response).catch(() => response.destroy());
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;

  const down = async () => {
    if (!server.listening) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };

  return {
    baseUrl: `http://127.0.0.1:${port}/mf-rproxy`,
    requests,
    bytesSent: () => sent,
    put: (fileId, body) => packages.set(fileId, body),
    stall: (fileId, afterBytes, times = 1) => stalls.set(fileId, { afterBytes, times }),
    release() {
      // Stalls not reached yet are dropped too: a request still on its way does not stall.
      stalls.clear();
      releaseAll();
      released = new Promise<void>((resolve) => {
        releaseAll = resolve;
      });
    },
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
