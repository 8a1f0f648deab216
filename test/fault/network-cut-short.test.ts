/**
 * Regression (found by the network-fault suite): a body cut short while bytes wait for the reader.
 * otakit/node's fetch errored the body stream at once, and a byte stream's error drops what it
 * queued: the bytes that did arrive were lost, so the resume asked for them again (on the Exosite
 * agent, a Content-Length that over-promised cost a second full download and a retried phase).
 * They are now handed over first, then the error.
 */
import { once } from 'node:events';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeFetch } from '../../src/node/index.js';
import { payload } from './network-support.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

/** Lets the event loop poll for I/O `count` times (the client's read of the close lands in one). */
async function ioTurns(count: number): Promise<void> {
  for (let turn = 0; turn < count; turn++) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * Answers each request with `Content-Length: <declared>` and `body`, then closes; `closed` holds
 * one promise per connection, settled when its socket has closed.
 */
async function cutShortServer(body: Uint8Array, declared: number) {
  const closed: Promise<unknown>[] = [];
  const server = createServer((socket: Socket) => {
    closed.push(once(socket, 'close'));
    socket.once('data', () => {
      socket.end(
        Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${declared}\r\n\r\n`), body]),
      );
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, closed };
}

describe('a body cut short while its bytes wait for the reader', () => {
  it('nodeFetch hands over the bytes that arrived, then fails the read', async () => {
    const body = payload(500, 1);
    const server = await cutShortServer(body, 1000);
    const response = await nodeFetch(server.url);
    // Nobody reads until the connection is gone and the client has seen it close.
    await server.closed[0];
    await ioTurns(20);
    const reader = response.body!.getReader();
    const parts: Uint8Array[] = [];
    const failure = await (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return undefined;
        parts.push(value);
      }
    })().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TypeError);
    expect((failure as TypeError).message).toBe('terminated');
    expect(Buffer.concat(parts)).toEqual(Buffer.from(body));
  });
});
