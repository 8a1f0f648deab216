/**
 * For the Connhex agent tests: a loopback release server that answers the device's `HEAD` with
 * the release headers (`connhex.releaseHeaders`) and its `GET` with a redirect to the artifact
 * on otakit's fault server (Range, drops, stalls, throttling), checking the thing key on both;
 * release zips; and a NATS subscriber that collects the status words.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { NatsConnection } from '@nats-io/transport-node';
import { connhex } from '../../src/index.js';
import { connectNats } from '../../src/nats/index.js';
import { createFaultServer, type FaultServer } from '../../src/testing/index.js';
import { zip } from '../support/archives.js';

export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A release zip: `update.sh` (appends its working directory to `marker`) and a payload file. */
export function releaseZip(
  version: string,
  marker: string,
  extra: { name: string; data: string | Uint8Array; method?: number }[] = [],
) {
  return zip([
    {
      name: 'update.sh',
      data: `#!/bin/sh\npwd >> '${marker}'\necho "installed ${version}"\n`,
      mode: 0o100755,
    },
    { name: 'new_service.py', data: `print("service ${version}")\n${'#'.repeat(4096)}\n` },
    ...extra,
  ]);
}

export interface Release {
  version: string;
  body: Uint8Array;
  /** What the HEAD claims; default: the body's. */
  sha256?: string;
}

export class ReleaseServer {
  readonly fault: FaultServer;
  readonly requests: { method: string; authorization: string | undefined; range: string | undefined }[] = [];
  release: Release | undefined;
  #server: Server;
  #sockets = new Set<Socket>();
  #port = 0;

  private constructor(
    fault: FaultServer,
    readonly initId: string,
    readonly key: string,
  ) {
    this.fault = fault;
    this.#server = this.#create();
  }

  static async start(initId: string, key: string): Promise<ReleaseServer> {
    const server = new ReleaseServer(await createFaultServer(), initId, key);
    await server.up();
    return server;
  }

  /** `http://127.0.0.1:<port>`: the agent's `baseUrl`. */
  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get path(): string {
    return `/iot/ota/${this.initId}`;
  }

  /** Publishes `release`; the artifact is served by the fault server (optionally misbehaving). */
  publish(release: Release, route: Omit<Parameters<FaultServer['route']>[1], 'body'> = {}): void {
    this.release = release;
    this.fault.route('/release.zip', { ...route, body: release.body });
  }

  count(method: string): number {
    return this.requests.filter((request) => request.method === method).length;
  }

  #create(): Server {
    const server = createServer((request, response) => {
      this.requests.push({
        method: request.method ?? '',
        authorization: request.headers.authorization,
        range: request.headers.range,
      });
      if (request.url !== this.path) return void response.writeHead(404).end();
      if (request.headers.authorization !== `Thing ${this.key}`) return void response.writeHead(401).end();
      const release = this.release;
      if (release === undefined) return void response.writeHead(404).end();
      if (request.method === 'HEAD') {
        const headers = connhex.releaseHeaders({
          version: release.version,
          size: release.body.length,
          sha256: release.sha256 ?? sha256(release.body),
          contentType: 'application/octet-stream',
        });
        return void response.writeHead(200, headers).end();
      }
      response.writeHead(302, { location: `${this.fault.url}/release.zip` }).end();
    });
    server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    return server;
  }

  /** Listens (again, on the same port once it had one). */
  async up(): Promise<void> {
    this.#server = this.#create();
    this.#server.listen(this.#port, '127.0.0.1');
    await once(this.#server, 'listening');
    this.#port = (this.#server.address() as AddressInfo).port;
  }

  /** Stops answering: connections are refused until {@link up}. */
  async down(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async close(): Promise<void> {
    if (this.#server.listening) await this.down();
    await this.fault.close();
  }
}

/** A service on the NATS bus: every `heartbeat.ota.service` payload, decoded. */
export class StatusWatcher {
  readonly payloads: connhex.StatusMessage[] = [];
  readonly raw: string[] = [];

  private constructor(readonly connection: NatsConnection) {}

  static async start(url: string): Promise<StatusWatcher> {
    const connection = await connectNats(url, { reconnectTimeWait: 50, name: 'connhex-cloud' });
    const watcher = new StatusWatcher(connection);
    connection.subscribe(connhex.OTA_STATUS_SUBJECT, {
      callback: (_error, message) => {
        const text = new TextDecoder().decode(message.data);
        watcher.raw.push(text);
        watcher.payloads.push(connhex.decodeStatusMessage(text));
      },
    });
    await connection.flush();
    return watcher;
  }

  words(): connhex.OtaStatus[] {
    return this.payloads.map((payload) => payload.status);
  }

  /** The words with repeats in a row collapsed (heartbeats repeat the last one). */
  changes(): connhex.OtaStatus[] {
    return this.words().filter((word, index, all) => index === 0 || all[index - 1] !== word);
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}
