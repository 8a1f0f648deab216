/**
 * A small ThingsBoard in process, for the chunk transfer and agent tests: an aedes broker that
 * authenticates the device by its access token (the MQTT user name) and answers the device API
 * as ThingsBoard's MQTT transport does (attribute requests, `v2/fw/request/<id>/chunk/<n>` with
 * the chunk size as payload, `PAYLOAD_TOO_LARGE` on `v2/fw/error`), records the telemetry, and
 * can be stopped and started again on the same port; plus the HTTP firmware endpoint
 * `GET /api/v1/<token>/firmware?title=&version=` on loopback.
 *
 * One device per emulator: the broker's topics are global, as ThingsBoard's are per session.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpServer, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { Aedes, type AedesPublishPacket } from 'aedes';

export interface TbPackage {
  title: string;
  version: string;
  /** What ThingsBoard serves. */
  bytes: Uint8Array;
  /** @default 'SHA256' */
  algorithm?: string;
  /** @default the checksum of `bytes` with `algorithm` (give another one for a corrupt package) */
  checksum?: string;
}

export interface ChunkRequestSeen {
  requestId: number;
  chunk: number;
  size: number;
}

export interface TbEmulator {
  readonly url: string;
  readonly token: string;
  /** Every `v1/devices/me/telemetry` message, parsed, in arrival order. */
  readonly telemetry: Record<string, unknown>[];
  /** `fw_state` values in the order they arrived. */
  fwStates(): string[];
  readonly chunkRequests: ChunkRequestSeen[];
  readonly attributeRequests: string[];
  /** Every topic and payload any client published (to look for the token). */
  readonly published: { topic: string; payload: string }[];
  /** The `fw_*` attributes of `pkg` (SHA256 checksum unless told). */
  attributesOf(pkg: TbPackage): Record<string, unknown>;
  /** Assigns `pkg`: answers attribute requests with it, serves its bytes, and pushes it (unless `push: false`). */
  assign(pkg: TbPackage, options?: { push?: boolean }): Promise<void>;
  /** Publishes a raw attribute push. */
  push(attributes: Record<string, unknown>): Promise<void>;
  /** Chunk requests from `chunk` on get no answer until `release()`. */
  hold(chunk: number): void;
  release(): void;
  /** The next `count` chunk requests get no answer (lost). */
  drop(count: number): void;
  /** Largest chunk served; larger requests get PAYLOAD_TOO_LARGE. @default 65536 */
  maxPayload: number;
  /** Closes the broker and its listener; clients are disconnected. */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  /** The HTTP device API (firmware endpoint): base URL and every request seen. */
  readonly http: { baseUrl: string; requests: { token: string; title: string | null; status: number }[] };
  close(): Promise<void>;
}

export function checksumOf(bytes: Uint8Array, algorithm: string): string {
  const names: Record<string, string> = { MD5: 'md5', SHA256: 'sha256', SHA384: 'sha384', SHA512: 'sha512' };
  const name = names[algorithm];
  if (name === undefined) throw new Error(`the emulator computes no ${algorithm}; give the checksum`);
  return createHash(name).update(bytes).digest('hex');
}

export async function startThingsBoard(token: string): Promise<TbEmulator> {
  let broker: Aedes | undefined;
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  let port = 0;
  let assigned: TbPackage | undefined;
  let heldFrom: number | undefined;
  let releaseHeld: () => void = () => {};
  let held = new Promise<void>((resolve) => {
    releaseHeld = resolve;
  });
  let dropping = 0;
  const chunkSizes = new Map<number, number>();
  const telemetry: Record<string, unknown>[] = [];
  const chunkRequests: ChunkRequestSeen[] = [];
  const attributeRequests: string[] = [];
  const published: { topic: string; payload: string }[] = [];

  const attributesOf = (pkg: TbPackage): Record<string, unknown> => {
    const algorithm = pkg.algorithm ?? 'SHA256';
    return {
      fw_title: pkg.title,
      fw_version: pkg.version,
      fw_size: pkg.bytes.length,
      fw_checksum_algorithm: algorithm,
      fw_checksum: pkg.checksum ?? checksumOf(pkg.bytes, algorithm),
    };
  };

  const send = (topic: string, payload: Uint8Array | string) =>
    new Promise<void>((resolve, reject) => {
      const packet = {
        cmd: 'publish',
        topic,
        payload: typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload),
        qos: 1,
        retain: false,
        dup: false,
      } as unknown as AedesPublishPacket;
      if (broker === undefined) return reject(new Error('the broker is down'));
      broker.publish(packet, (error) => (error ? reject(error) : resolve()));
    });

  async function onChunkRequest(requestId: number, chunk: number, text: string): Promise<void> {
    let size = text === '' ? 0 : Number.parseInt(text, 10);
    if (size > 0) chunkSizes.set(requestId, size);
    else size = chunkSizes.get(requestId) ?? 0;
    chunkRequests.push({ requestId, chunk, size });
    if (dropping > 0) {
      dropping -= 1;
      return;
    }
    if (size > emulator.maxPayload) return send('v2/fw/error', 'PAYLOAD_TOO_LARGE');
    if (heldFrom !== undefined && chunk >= heldFrom) await held;
    const bytes = assigned?.bytes ?? new Uint8Array(0);
    // ThingsBoard: size 0 = the whole package; past the end, an empty answer.
    const slice = size === 0 ? bytes : bytes.subarray(chunk * size, (chunk + 1) * size);
    await send(`v2/fw/response/${requestId}/chunk/${chunk}`, slice).catch(() => {});
  }

  async function onPublish(topic: string, payload: Buffer): Promise<void> {
    const text = payload.toString();
    published.push({ topic, payload: text });
    if (topic === 'v1/devices/me/telemetry') {
      telemetry.push(JSON.parse(text) as Record<string, unknown>);
      return;
    }
    const attributeRequest = /^v1\/devices\/me\/attributes\/request\/(\d+)$/.exec(topic);
    if (attributeRequest) {
      attributeRequests.push(text);
      const shared = assigned === undefined ? {} : attributesOf(assigned);
      await send(
        `v1/devices/me/attributes/response/${attributeRequest[1]}`,
        JSON.stringify({ shared }),
      ).catch(() => {});
      return;
    }
    const chunkRequest = /^v2\/fw\/request\/(\d+)\/chunk\/(\d+)$/.exec(topic);
    if (chunkRequest) await onChunkRequest(Number(chunkRequest[1]), Number(chunkRequest[2]), text);
  }

  const start = async () => {
    const current = await Aedes.createBroker({
      authenticate(_client, username, _password, callback) {
        if (username === token) return callback(null, true);
        // CONNACK 5, "not authorized": what ThingsBoard answers an unknown token.
        callback(Object.assign(new Error('Not authorized'), { returnCode: 5 }) as never, false);
      },
    });
    current.on('publish', (packet, client) => {
      if (client === null || client === undefined) return;
      void onPublish(packet.topic, Buffer.from(packet.payload));
    });
    broker = current;
    server = createServer((socket) => {
      // Small request/answer exchanges: without this, Nagle and delayed ACKs add ~40 ms to each.
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      current.handle(socket);
    });
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  };

  const stop = async () => {
    const closing =
      server === undefined
        ? Promise.resolve()
        : new Promise<void>((resolve) => server!.close(() => resolve()));
    const current = broker;
    broker = undefined;
    if (current !== undefined) await new Promise<void>((resolve) => current.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closing;
  };

  // The HTTP device API: the firmware endpoint only.
  const httpRequests: { token: string; title: string | null; status: number }[] = [];
  const httpServer = createHttpServer((request, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const match = /^\/api\/v1\/([^/]+)\/firmware$/.exec(url.pathname);
    const record = { token: match?.[1] ?? '', title: url.searchParams.get('title'), status: 0 };
    httpRequests.push(record);
    const answer = (status: number, body?: Uint8Array) => {
      record.status = status;
      response.writeHead(status, body === undefined ? {} : { 'content-length': String(body.length) });
      response.end(body === undefined ? undefined : Buffer.from(body));
    };
    if (match === null) return answer(404);
    if (match[1] !== token) return answer(401);
    if (
      assigned === undefined ||
      url.searchParams.get('title') !== assigned.title ||
      url.searchParams.get('version') !== assigned.version
    ) {
      return answer(404);
    }
    answer(200, assigned.bytes);
  });
  httpServer.listen(0, '127.0.0.1');
  await once(httpServer, 'listening');
  const httpPort = (httpServer.address() as AddressInfo).port;

  await start();
  const emulator: TbEmulator = {
    get url() {
      return `mqtt://127.0.0.1:${port}`;
    },
    token,
    telemetry,
    fwStates: () =>
      telemetry.map((entry) => entry.fw_state).filter((state): state is string => typeof state === 'string'),
    chunkRequests,
    attributeRequests,
    published,
    attributesOf,
    async assign(pkg, options = {}) {
      assigned = pkg;
      if (options.push !== false) await send('v1/devices/me/attributes', JSON.stringify(attributesOf(pkg)));
    },
    push: (attributes) => send('v1/devices/me/attributes', JSON.stringify(attributes)),
    hold(chunk) {
      heldFrom = chunk;
    },
    release() {
      heldFrom = undefined;
      releaseHeld();
      held = new Promise<void>((resolve) => {
        releaseHeld = resolve;
      });
    },
    drop(count) {
      dropping = count;
    },
    maxPayload: 65_536,
    stop,
    start,
    http: { baseUrl: `http://127.0.0.1:${httpPort}`, requests: httpRequests },
    async close() {
      emulator.release();
      await stop();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      httpServer.closeAllConnections();
    },
  };
  return emulator;
}
