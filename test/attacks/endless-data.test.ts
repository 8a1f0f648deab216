/**
 * Attack: endless data. The artifact server (or a man in the middle on plain http) answers with a
 * body that never ends: past the size the signed manifest declares, without a Content-Length.
 * Cut by the download (src/transport/download.ts, through the real file download hook) as soon as
 * the declared size (or `maxBytes`) is passed: a typed `DOWNLOAD` error naming the size, the
 * connection closed, the staged bytes deleted, nothing installed.
 */
import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { IntegrityError } from '../../src/core/errors.js';
import {
  cleanup,
  device,
  expectNothingInstalled,
  expectRefused,
  keys3,
  rootOf,
  sha256,
  sign,
} from './harness.js';

interface Endless {
  url: string;
  requests: number;
  bytesSent: number;
  /** Resolves when every response the server started was closed by the client. */
  closed: Promise<void>;
  server: Server;
}

const started: Server[] = [];
afterEach(async () => {
  for (const server of started.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
  await cleanup();
});

/** A loopback server that streams zeros forever, chunked (no Content-Length), or with a lying one. */
async function endlessServer(contentLength?: number): Promise<Endless> {
  const chunk = new Uint8Array(16 * 1024).fill(0x41);
  let resolveClosed: () => void = () => {};
  const state: Endless = {
    url: '',
    requests: 0,
    bytesSent: 0,
    closed: new Promise<void>((resolve) => {
      resolveClosed = resolve;
    }),
    server: createServer((_request, response) => {
      state.requests += 1;
      response.writeHead(200, {
        'content-type': 'application/octet-stream',
        ...(contentLength === undefined ? {} : { 'content-length': String(contentLength) }),
      });
      let open = true;
      response.once('close', () => {
        open = false;
        resolveClosed();
      });
      const pump = () => {
        while (open && !response.destroyed) {
          state.bytesSent += chunk.length;
          if (!response.write(chunk)) {
            response.once('drain', pump);
            return;
          }
        }
      };
      pump();
    }),
  };
  started.push(state.server);
  state.server.listen(0, '127.0.0.1');
  await once(state.server, 'listening');
  state.url = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}`;
  return state;
}

async function stagedParts(directory: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(directory, { recursive: true }).catch(() => [] as string[])) {
    if (String(entry).endsWith('.part')) out.push(String(entry));
  }
  return out;
}

describe('attack: endless data', () => {
  it('a never-ending body without Content-Length past the signed size is cut: DOWNLOAD, nothing installed', async () => {
    const [key] = await keys3();
    const server = await endlessServer();
    const rig = await device({ trust: { root: rootOf([key], 1) } });
    const declared = 100_000;
    const order = await sign(
      {
        id: 'fw-2',
        version: '2.0.0',
        artifacts: [
          { url: `${server.url}/fw.bin`, target: 'firmware', size: declared, sha256: sha256('whatever') },
        ],
      },
      [key],
    );
    const outcome = await rig.machine.apply(order);
    const error = expectRefused(rig, outcome, {
      state: 'download_failed',
      code: 'INTEGRITY',
      type: IntegrityError,
      names: 'size mismatch, expected at most 100000 bytes',
    });
    expect((error as IntegrityError).algorithm).toBe('size');
    await server.closed;
    expect(server.requests).toBe(1);
    // Cut near the declared size: what was sent is bounded by it plus socket buffers, not endless.
    expect(server.bytesSent).toBeLessThan(declared + 32 * 1024 * 1024);
    expect(await stagedParts(rig.stagingDirectory)).toEqual([]);
    await expectNothingInstalled(rig);
  });

  it('a Content-Length above the declared size is refused from the headers (then the endless body is dropped)', async () => {
    const server = await endlessServer(10_000_000_000);
    const rig = await device({ machine: { allowUnverified: true } });
    const outcome = await rig.machine.apply({
      id: 'fw-3',
      version: '3.0.0',
      artifacts: [{ url: `${server.url}/fw.bin`, target: 'firmware', size: 50_000 }],
    });
    expectRefused(rig, outcome, {
      state: 'download_failed',
      code: 'INTEGRITY',
      type: IntegrityError,
      names: 'size mismatch, expected 50000, got 10000000000',
    });
    await server.closed;
    expect(await stagedParts(rig.stagingDirectory)).toEqual([]);
    await expectNothingInstalled(rig);
  });

  it('without a declared size, maxBytes cuts the stream', async () => {
    const server = await endlessServer();
    const rig = await device({ machine: { allowUnverified: true }, download: { maxBytes: 200_000 } });
    const outcome = await rig.machine.apply({
      id: 'fw-4',
      version: '4.0.0',
      artifacts: [{ url: `${server.url}/fw.bin`, target: 'firmware' }],
    });
    expectRefused(rig, outcome, {
      state: 'download_failed',
      code: 'INTEGRITY',
      type: IntegrityError,
      names: 'size mismatch, expected at most 200000 bytes',
    });
    await server.closed;
    expect(await stagedParts(rig.stagingDirectory)).toEqual([]);
    await expectNothingInstalled(rig);
  });
});
