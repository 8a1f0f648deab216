/**
 * otakit/node's fetch end to end, against real servers on loopback: node:net servers that write
 * exactly the bytes a test crafts (and record exactly the bytes the client sent), node:http and
 * node:https servers. Covers framing, the request on the wire, failures, aborts, back-pressure with
 * fixed memory, TLS verification, and the download engine on top.
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { getEventListeners } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { downloadArtifact, MemorySink } from '../../src/index.js';
import { createNodeFetch, createNodeHash, nodeFetch } from '../../src/node/index.js';
import { skipOrFailInCi } from '../support/system-services.js';

const TLS = join(import.meta.dirname, '../fixtures/tls');
const CERT = readFileSync(join(TLS, 'cert.pem'));
const KEY = readFileSync(join(TLS, 'key.pem'));
const MiB = 1024 * 1024;

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const latin1 = (text: string) => Buffer.from(text, 'latin1');
/** Deterministic, non-repeating bytes, so a reordered or duplicated run changes the content. */
const pattern = (length: number, seed = 1) =>
  new Uint8Array(length).map((_, index) => (index * 31 + (index >> 8) * 7 + seed) & 0xff);

/** Servers and timers to release after each test, newest first. */
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/**
 * Rejects after `ms` with `what` in the message, so a missing event fails with a reason. The limit
 * only catches an event that never comes: generous, so a busy machine never trips it.
 */
function within<T>(promise: Promise<T>, what: string, ms = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function until(condition: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

interface Connection {
  socket: Socket;
  /** Every byte the client sent on this connection, as latin1 text. */
  received: () => string;
  /** The request head (through the empty line), once it has arrived. */
  request: Promise<string>;
  /** Resolves when the server side of the socket has closed. */
  closed: Promise<void>;
}

interface RawServer {
  url: string;
  port: number;
  connections: Connection[];
}

/**
 * A node:net server: records what each connection sends, and once a request head has arrived calls
 * `respond` to write whatever raw bytes the test wants.
 */
async function rawServer(respond: (socket: Socket, request: string) => void = () => {}): Promise<RawServer> {
  const connections: Connection[] = [];
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {}); // a client abort resets the connection: expected in several tests
    let received = '';
    let answered = false;
    let gotRequest: (head: string) => void = () => {};
    const request = new Promise<string>((resolve) => {
      gotRequest = resolve;
    });
    const closed = new Promise<void>((resolve) => {
      socket.once('close', () => {
        sockets.delete(socket);
        resolve();
      });
    });
    socket.on('data', (data: Buffer) => {
      received += data.toString('latin1');
      const end = received.indexOf('\r\n\r\n');
      if (answered || end === -1) return;
      answered = true;
      const head = received.slice(0, end + 4);
      gotRequest(head);
      respond(socket, head);
    });
    connections.push({ socket, received: () => received, request, closed });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, port, connections };
}

/** Answers every request with `bytes` (written in pieces, `gapMs` apart), then ends or keeps the socket. */
function replyWith(pieces: (string | Uint8Array)[], { gapMs = 0, end = true } = {}) {
  return (socket: Socket) => {
    void (async () => {
      for (const piece of pieces) {
        if (socket.destroyed) return;
        socket.write(typeof piece === 'string' ? latin1(piece) : piece);
        if (gapMs > 0) await sleep(gapMs);
      }
      if (end && !socket.destroyed) socket.end();
    })();
  };
}

function listenHttp<T extends HttpServer | HttpsServer>(server: T, host = '127.0.0.1'): Promise<number> {
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port));
  });
}

/**
 * Reads `body` with a BYOB reader into one buffer of `bufferBytes`, taking the buffer back from
 * each result, and hands every chunk to `onChunk` before the next read reuses the memory.
 */
async function readByob(
  body: ReadableStream<Uint8Array>,
  onChunk: (chunk: Uint8Array) => void,
  bufferBytes = 64 * 1024,
): Promise<{ reads: number; total: number }> {
  const reader = body.getReader({ mode: 'byob' });
  let buffer = new ArrayBuffer(bufferBytes);
  let reads = 0;
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read(new Uint8Array(buffer));
    if (value === undefined) throw new Error('a BYOB read must hand the buffer back');
    // The same memory, transferred back: never a new, differently sized allocation.
    expect(value.buffer.byteLength).toBe(bufferBytes);
    expect(value.byteOffset).toBe(0);
    buffer = value.buffer as ArrayBuffer;
    if (done) return { reads, total };
    expect(value.length).toBeGreaterThan(0);
    reads += 1;
    total += value.length;
    onChunk(value);
  }
}

async function byobBytes(body: ReadableStream<Uint8Array>, bufferBytes = 64 * 1024): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  await readByob(body, (chunk) => parts.push(chunk.slice()), bufferBytes);
  return new Uint8Array(Buffer.concat(parts));
}

/** The rejection of `promise`, failing the test if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** A fetch failure like undici's: a TypeError whose cause says what went wrong. */
async function fetchFailure(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(TypeError);
  const cause = (error as TypeError).cause;
  expect(cause).toBeInstanceOf(Error);
  return cause as Error & { code?: string };
}

/** The request head's fields as [lowercased name, value] pairs. */
function fields(head: string): [string, string][] {
  return head
    .split('\r\n')
    .slice(1)
    .filter((line) => line !== '')
    .map((line) => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
    });
}

describe('responses: status, headers, body framing', () => {
  it('reads a Content-Length body with its status, reason and repeated fields', async () => {
    const body = pattern(70_000);
    const server = await rawServer(
      replyWith(
        [
          'HTTP/1.1 200 Fine By Me\r\n',
          'Set-Cookie: a=1; Path=/\r\nSet-Cookie: b=2\r\nX-Multi: one\r\nx-multi: two\r\n',
          `Content-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`,
          body.subarray(0, 1000),
          body.subarray(1000),
        ],
        { gapMs: 5, end: false }, // the length ends the body, not the socket
      ),
    );
    const response = await nodeFetch(`${server.url}/fw.bin`);
    expect(response.status).toBe(200);
    expect(response.ok).toBe(true);
    expect(response.statusText).toBe('Fine By Me');
    expect(response.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2']);
    expect(response.headers.get('x-multi')).toBe('one, two');
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    expect(response.headers.get('content-length')).toBe(String(body.length));
    const received = new Uint8Array(await response.arrayBuffer());
    expect(received.length).toBe(body.length);
    expect(sha256(received)).toBe(sha256(body));
    // The body is whole: the client closed the connection it never meant to reuse.
    await within(server.connections[0]!.closed, 'the server socket to close');
  });

  it('reads a small head followed by a large body in the same socket read', async () => {
    // One write: the client's first read holds the head and as much body as the kernel's receive
    // window lets through (~128 KB on a fresh Linux loopback connection; more elsewhere).
    const body = pattern(600_000, 6);
    const server = await rawServer((socket) => {
      socket.write(
        Buffer.concat([latin1(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body]),
      );
    });
    for (const fetch of [nodeFetch, createNodeFetch({ readBufferBytes: 1024 * 1024 })]) {
      const response = await fetch(server.url);
      expect(response.status).toBe(200);
      expect(sha256(new Uint8Array(await response.arrayBuffer()))).toBe(sha256(body));
    }
  });

  it('reads a head split across reads whose last read also carries a large piece of body', async () => {
    // A legitimate 20 KiB head (the limit is 64 KiB) whose first part arrives alone; its end comes
    // with as much body as the receive window lets through in one read.
    const body = pattern(600_000, 7);
    const fillers = Array.from(
      { length: 20 },
      (_, index) => `X-Filler-${index}: ${'v'.repeat(1000)}\r\n`,
    ).join('');
    const server = await rawServer((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\n${fillers}`);
      setTimeout(() => {
        socket.write(Buffer.concat([latin1(`Content-Length: ${body.length}\r\n\r\n`), body]));
      }, 20);
    });
    const response = await nodeFetch(server.url);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-filler-19')).toBe('v'.repeat(1000));
    expect(sha256(new Uint8Array(await response.arrayBuffer()))).toBe(sha256(body));
  });

  it('reads a head that arrives with a whole read buffer of body (after large 103 hints)', async () => {
    // Forty 51 KiB Early Hints heads (each under the 64 KiB limit) grow the TCP window, so the
    // read that brings the small final head also brings ~256 KiB of body. The head limit must count
    // the head, not the body bytes read with it.
    const body = pattern(4_000_000, 8);
    const links = Array.from(
      { length: 50 },
      (_, index) => `Link: </a${index}.css>; x=${'v'.repeat(1000)}\r\n`,
    );
    const hint = `HTTP/1.1 103 Early Hints\r\n${links.join('')}\r\n`;
    const server = await rawServer((socket) => {
      void (async () => {
        for (let index = 0; index < 40; index += 1) {
          socket.write(hint);
          await sleep(1);
        }
        await sleep(20);
        socket.write(
          Buffer.concat([latin1(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body]),
        );
      })();
    });
    const response = await nodeFetch(server.url);
    expect(response.status).toBe(200);
    expect(response.headers.get('link')).toBeNull();
    expect(sha256(new Uint8Array(await response.arrayBuffer()))).toBe(sha256(body));
  });

  it('ignores bytes after the Content-Length body', async () => {
    const server = await rawServer(
      replyWith(['HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA BYTES HTTP/1.1 200 OK\r\n\r\n']),
    );
    const response = await nodeFetch(server.url);
    expect(await response.text()).toBe('hello');
  });

  it('reads an empty Content-Length: 0 body as an empty stream, not a null body', async () => {
    const server = await rawServer(
      replyWith(['HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'], { end: false }),
    );
    const response = await nodeFetch(server.url);
    expect(response.body).not.toBeNull();
    expect((await response.arrayBuffer()).byteLength).toBe(0);
  });

  it('decodes a chunked body: several chunks, extensions, trailers, split across packets', async () => {
    const parts = [pattern(10, 1), pattern(300, 2), pattern(70_000, 3), pattern(1, 4)];
    const expected = Buffer.concat(parts);
    const server = await rawServer(
      replyWith(
        [
          'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nSet-Cookie: c=3\r\nSet-Cookie: d=4\r\n\r\n',
          `${parts[0]!.length.toString(16)};name=value;flag\r\n`,
          parts[0]!,
          '\r\n',
          `${parts[1]!.length.toString(16).toUpperCase()} ; quoted="a;b"\r\n`,
          parts[1]!.subarray(0, 100),
          parts[1]!.subarray(100),
          `\r\n${parts[2]!.length.toString(16)}\r\n`,
          parts[2]!,
          `\r\n1\r\n`,
          parts[3]!,
          '\r\n0;last\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n',
        ],
        { gapMs: 3, end: false }, // the last chunk ends the body, not the socket
      ),
    );
    const response = await nodeFetch(server.url);
    expect(response.status).toBe(200);
    expect(response.headers.getSetCookie()).toEqual(['c=3', 'd=4']);
    const received = new Uint8Array(await response.arrayBuffer());
    expect(received.length).toBe(expected.length);
    expect(sha256(received)).toBe(sha256(expected));
    // Trailers are not merged into the headers.
    expect(response.headers.get('x-checksum')).toBeNull();
  });

  it('decodes a chunked body that arrives in one write, and with a BYOB reader', async () => {
    const parts = [pattern(5, 9), pattern(4096, 8), pattern(3, 7)];
    const wire = `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n${parts
      .map((part) => `${part.length.toString(16)};ext=1\r\n${Buffer.from(part).toString('latin1')}\r\n`)
      .join('')}0\r\nTrailer-Field: x\r\n\r\n`;
    const server = await rawServer(replyWith([wire], { end: false }));
    const response = await nodeFetch(server.url);
    expect(sha256(await byobBytes(response.body!, 1000))).toBe(sha256(Buffer.concat(parts)));
  });

  it('reads a close-delimited body (no length: the server ends the socket)', async () => {
    const body = pattern(200_000, 5);
    const server = await rawServer(
      replyWith(
        ['HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n', body.subarray(0, 1), body.subarray(1)],
        {
          gapMs: 5,
        },
      ),
    );
    const response = await nodeFetch(server.url);
    expect(response.status).toBe(200);
    const received = new Uint8Array(await response.arrayBuffer());
    expect(received.length).toBe(body.length);
    expect(sha256(received)).toBe(sha256(body));
  });

  it('reads an HTTP/1.0 close-delimited response', async () => {
    const server = await rawServer(replyWith(['HTTP/1.0 200 OK\r\n\r\nold school']));
    const response = await nodeFetch(server.url);
    expect(await response.text()).toBe('old school');
  });

  it('skips 100 Continue and 103 Early Hints and returns the final response', async () => {
    const server = await rawServer(
      replyWith(
        [
          'HTTP/1.1 100 Continue\r\n\r\n',
          'HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n',
          'HTTP/1.1 201 Created\r\nX-Final: yes\r\nContent-Length: 4\r\n\r\nbody',
        ],
        { gapMs: 5, end: false },
      ),
    );
    const response = await nodeFetch(server.url);
    expect(response.status).toBe(201);
    expect(response.statusText).toBe('Created');
    expect(response.headers.get('x-final')).toBe('yes');
    expect(response.headers.get('link')).toBeNull();
    expect(await response.text()).toBe('body');
  });

  it('skips a 1xx that arrives in the same packet as the final response', async () => {
    const server = await rawServer(
      replyWith(['HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'], {
        end: false,
      }),
    );
    const response = await nodeFetch(server.url);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('ok');
  });

  it('gives a null body for HEAD (despite Content-Length), 204 and 304', async () => {
    const head = await rawServer(
      replyWith(['HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n'], { end: false }),
    );
    const headResponse = await nodeFetch(`${head.url}/fw.bin`, { method: 'HEAD' });
    expect(headResponse.status).toBe(200);
    expect(headResponse.headers.get('content-length')).toBe('1000');
    expect(headResponse.body).toBeNull();
    expect(await head.connections[0]!.request).toMatch(/^HEAD \/fw\.bin HTTP\/1\.1\r\n/);
    await within(head.connections[0]!.closed, 'the HEAD connection to close');

    for (const status of ['204 No Content', '304 Not Modified']) {
      const server = await rawServer(replyWith([`HTTP/1.1 ${status}\r\nETag: "v1"\r\n\r\n`], { end: false }));
      const response = await nodeFetch(server.url);
      expect(`${response.status} ${response.statusText}`).toBe(status);
      expect(response.headers.get('etag')).toBe('"v1"');
      expect(response.body).toBeNull();
      // Not waiting for a body that never comes: the connection is released at once.
      await within(server.connections[0]!.closed, `the ${status} connection to close`);
    }
  });

  it('reads with a default reader and with a BYOB reader reusing one buffer, same bytes', async () => {
    const body = pattern(300_000, 11);
    const respond = replyWith(
      [
        `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`,
        body.subarray(0, 7),
        body.subarray(7, 100_000),
        body.subarray(100_000),
      ],
      { gapMs: 10, end: false },
    );
    const server = await rawServer(respond);

    const viaDefault = new Uint8Array(await (await nodeFetch(server.url)).arrayBuffer());
    expect(sha256(viaDefault)).toBe(sha256(body));

    const response = await nodeFetch(server.url);
    const parts: Uint8Array[] = [];
    const { reads, total } = await readByob(response.body!, (chunk) => parts.push(chunk.slice()), 16 * 1024);
    expect(total).toBe(body.length);
    expect(reads).toBeGreaterThanOrEqual(Math.ceil(body.length / (16 * 1024)));
    expect(sha256(Buffer.concat(parts))).toBe(sha256(body));

    // A default reader over the same stream type: chunks, in order.
    const third = await nodeFetch(server.url);
    const reader = third.body!.getReader();
    const chunks: Uint8Array[] = [];
    for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(next.value);
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(body));
  });
});

describe('reads in flight together', () => {
  it('several BYOB reads issued at once are filled in order, then the stream closes', async () => {
    const body = pattern(25, 3);
    const server = await rawServer((socket) => {
      // Sent only once all reads are waiting: one packet fills them all and ends the body.
      setTimeout(
        () => socket.write(Buffer.concat([latin1('HTTP/1.1 200 OK\r\nContent-Length: 25\r\n\r\n'), body])),
        20,
      );
    });
    const response = await nodeFetch(server.url);
    expect(response.status).toBe(200);
    const reader = response.body!.getReader({ mode: 'byob' });
    const reads = [0, 1, 2, 3].map(() => reader.read(new Uint8Array(10)));
    const results = await Promise.all(reads);
    expect(results.map((result) => result.done)).toEqual([false, false, false, true]);
    expect(Buffer.concat(results.slice(0, 3).map((result) => result.value!))).toEqual(Buffer.from(body));
    expect(results[3]!.value?.length).toBe(0);
  });

  it('several BYOB reads waiting when the head and the whole body arrive together', async () => {
    const body = pattern(25, 4);
    const server = await rawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 25\r\n\r\n');
      setTimeout(() => socket.write(body), 30);
    });
    const response = await nodeFetch(server.url);
    const reader = response.body!.getReader({ mode: 'byob' });
    const results = await Promise.all([0, 1, 2, 3, 4].map(() => reader.read(new Uint8Array(10))));
    expect(results.map((result) => result.done)).toEqual([false, false, false, true, true]);
    expect(Buffer.concat(results.slice(0, 3).map((result) => result.value!))).toEqual(Buffer.from(body));
  });
});

describe('the request on the wire', () => {
  it('sends method, path and query, host with port, the caller headers and connection: close', async () => {
    const server = await rawServer(replyWith(['HTTP/1.1 204 No Content\r\n\r\n'], { end: false }));
    await nodeFetch(`${server.url}/a/b%20c?x=1&y=%20z&z=a/b#fragment`, {
      headers: { 'X-Device': 'dev-1', Accept: 'application/octet-stream', Range: 'bytes=10-' },
    });
    const connection = server.connections[0]!;
    const head = await connection.request;
    expect(head.split('\r\n')[0]).toBe('GET /a/b%20c?x=1&y=%20z&z=a/b HTTP/1.1');
    const sent = fields(head);
    expect(sent.filter(([name]) => name === 'host')).toEqual([['host', `127.0.0.1:${server.port}`]]);
    expect(sent).toContainEqual(['x-device', 'dev-1']);
    expect(sent).toContainEqual(['accept', 'application/octet-stream']);
    expect(sent).toContainEqual(['range', 'bytes=10-']);
    expect(sent.filter(([name]) => name === 'connection')).toEqual([['connection', 'close']]);
    await within(connection.closed, 'the connection to close');
    // Nothing after the head: no body.
    expect(connection.received()).toBe(head);
  });

  it('takes a Request object: its method, headers and URL', async () => {
    const server = await rawServer(
      replyWith(['HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'], { end: false }),
    );
    const response = await nodeFetch(
      new Request(`${server.url}/r?q=1`, { method: 'DELETE', headers: { 'x-from': 'request' } }),
    );
    expect(response.status).toBe(200);
    const head = await server.connections[0]!.request;
    expect(head.split('\r\n')[0]).toBe('DELETE /r?q=1 HTTP/1.1');
    expect(fields(head)).toContainEqual(['x-from', 'request']);
  });

  it('applies init over a Request input, as fetch(input, init) does', async () => {
    const server = await rawServer(
      replyWith(['HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'], { end: false }),
    );
    const request = new Request(`${server.url}/r`, { headers: { 'x-from': 'request' } });
    const response = await nodeFetch(request, { method: 'HEAD', headers: { 'x-from': 'init' } });
    expect(response.body).toBeNull();
    const head = await server.connections[0]!.request;
    expect(head.split('\r\n')[0]).toBe('HEAD /r HTTP/1.1');
    expect(fields(head).filter(([name]) => name === 'x-from')).toEqual([['x-from', 'init']]);
  });

  it('sends an IPv6 literal host with brackets and port', async (context) => {
    const server = createNetServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', (data) => {
        received = data.toString('latin1');
        socket.end('HTTP/1.1 204 No Content\r\n\r\n');
      });
    });
    let received = '';
    const listening = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(0, '::1', () => resolve(true));
    });
    if (!listening) skipOrFailInCi(context, 'no IPv6 loopback (::1) on this host');
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as AddressInfo;
    expect((await nodeFetch(`http://[::1]:${port}/v6`)).status).toBe(204);
    expect(received.split('\r\n').slice(0, 2)).toEqual(['GET /v6 HTTP/1.1', `host: [::1]:${port}`]);
  });

  it('never sends a caller Host, Connection, Transfer-Encoding or Content-Length (no smuggling)', async () => {
    const server = await rawServer(replyWith(['HTTP/1.1 204 No Content\r\n\r\n'], { end: false }));
    await nodeFetch(`${server.url}/x`, {
      headers: {
        Host: 'evil.example',
        Connection: 'keep-alive, Upgrade',
        'Transfer-Encoding': 'chunked',
        'Content-Length': '44',
        'Keep-Alive': 'timeout=5',
        Upgrade: 'websocket',
        'X-Kept': 'yes',
      },
    });
    const connection = server.connections[0]!;
    const head = await connection.request;
    const sent = fields(head);
    expect(sent.filter(([name]) => name === 'host')).toEqual([['host', `127.0.0.1:${server.port}`]]);
    expect(sent.filter(([name]) => name === 'connection')).toEqual([['connection', 'close']]);
    expect(sent.map(([name]) => name)).not.toContain('transfer-encoding');
    expect(sent.map(([name]) => name)).not.toContain('content-length');
    expect(sent.map(([name]) => name)).not.toContain('keep-alive');
    expect(sent.map(([name]) => name)).not.toContain('upgrade');
    expect(head).not.toContain('evil.example');
    expect(sent).toContainEqual(['x-kept', 'yes']);
    await within(connection.closed, 'the connection to close');
    expect(connection.received()).toBe(head); // one request, no smuggled second one or body
    expect(server.connections).toHaveLength(1);
  });

  it('refuses user:pass@ in the URL without repeating the password, before connecting', async () => {
    const server = await rawServer();
    const url = `http://device:s3cr3t-pw@127.0.0.1:${server.port}/fw.bin`;
    for (const input of [url, new URL(url)]) {
      const error = await rejection(nodeFetch(input));
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).not.toContain('s3cr3t-pw');
      expect(String((error as Error).stack)).not.toContain('s3cr3t-pw');
      expect(inspect(error, { depth: 5 })).not.toContain('s3cr3t-pw'); // cause and properties too
    }
    // A URL that does not even parse: the error must not repeat it either.
    const unparsable = await rejection(nodeFetch(`http://device:s3cr3t-pw@bad host:${server.port}/`));
    expect(unparsable).toBeInstanceOf(TypeError);
    expect(inspect(unparsable, { depth: 5 })).not.toContain('s3cr3t-pw');
    const onlyUser = await rejection(nodeFetch(`http://device@127.0.0.1:${server.port}/fw.bin`));
    expect(onlyUser).toBeInstanceOf(TypeError);
    await sleep(20);
    expect(server.connections).toHaveLength(0);
  });

  it('refuses a request with a body, before connecting', async () => {
    const server = await rawServer();
    const error = await rejection(nodeFetch(server.url, { method: 'POST', body: 'payload' }));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/body/);
    await sleep(20);
    expect(server.connections).toHaveLength(0);
  });

  it('refuses an unsupported scheme', async () => {
    for (const url of ['ftp://127.0.0.1/fw.bin', 'file:///etc/passwd', 'data:text/plain,hi']) {
      const error = await rejection(nodeFetch(url));
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toMatch(/unsupported scheme/);
    }
  });
});

describe('failures are TypeErrors with a cause', () => {
  it('connection refused', async () => {
    const probe = createNetServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const cause = await fetchFailure(nodeFetch(`http://127.0.0.1:${port}/`));
    expect(cause.code).toBe('ECONNREFUSED');
  });

  it('the server closes before the head is complete', async () => {
    const server = await rawServer(replyWith(['HTTP/1.1 200 OK\r\nContent-Le']));
    const cause = await fetchFailure(nodeFetch(server.url));
    expect(cause.name).toBe('HttpProtocolError');
    expect(cause.message).toMatch(/closed before a complete response head/);
  });

  it('the server closes without a byte', async () => {
    const server = await rawServer((socket) => socket.end());
    const cause = await fetchFailure(nodeFetch(server.url));
    expect(cause.message).toMatch(/closed before a complete response head/);
  });

  it('a malformed head', async () => {
    for (const wire of [
      'HTTP/1.1 2000 X\r\n\r\n',
      'HTTP/2 200 OK\r\n\r\n',
      'HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n',
      'HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n',
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n',
    ]) {
      const server = await rawServer(replyWith([wire], { end: false }));
      const cause = await fetchFailure(nodeFetch(server.url));
      expect(cause.name, wire).toBe('HttpProtocolError');
      // Failed on the bytes, not on the server giving up: the client closed.
      await within(server.connections[0]!.closed, `the connection to close after ${JSON.stringify(wire)}`);
    }
  });

  it('a head over 64 KiB, while the server keeps sending', async () => {
    const server = await rawServer((socket) => {
      socket.write('HTTP/1.1 200 OK\r\n');
      const field = latin1(`X-Filler: ${'f'.repeat(1000)}\r\n`);
      let sent = 0;
      const timer = setInterval(() => {
        // Never ends the head, never closes: the client must give up on the size alone.
        if (socket.destroyed || sent > 4 * MiB) return clearInterval(timer);
        for (let index = 0; index < 16; index += 1) socket.write(field);
        sent += 16 * field.length;
      }, 1);
      cleanups.push(() => clearInterval(timer));
    });
    const cause = await fetchFailure(nodeFetch(server.url));
    expect(cause.message).toMatch(/response head larger than 65536 bytes/);
    await within(server.connections[0]!.closed, 'the connection to close');
  });

  it('a body cut short: Content-Length 1000, 500 sent, socket closed', async () => {
    const server = await rawServer(
      replyWith(['HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n', pattern(500)], { gapMs: 5 }),
    );
    const response = await nodeFetch(server.url);
    expect(response.status).toBe(200);
    const cause = await fetchFailure(response.arrayBuffer());
    expect(cause.message).toMatch(/500 of 1000 body bytes missing/);

    // The same with a BYOB reader: the 500 bytes, then the error.
    const again = await nodeFetch(server.url);
    const parts: Uint8Array[] = [];
    const error = await rejection(readByob(again.body!, (chunk) => parts.push(chunk.slice())));
    expect(error).toBeInstanceOf(TypeError);
    expect(Buffer.concat(parts)).toEqual(Buffer.from(pattern(500)));
  });

  it('a chunked body cut short', async () => {
    const server = await rawServer(
      replyWith(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc']),
    );
    const response = await nodeFetch(server.url);
    const cause = await fetchFailure(response.arrayBuffer());
    expect(cause.message).toMatch(/closed inside a chunked body/);
  });

  it('a bad chunk', async () => {
    for (const wire of ['5\r\nhello\r\nzz\r\nmore\r\n0\r\n\r\n', '5\r\nhelloXX0\r\n\r\n']) {
      const server = await rawServer(
        replyWith([`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n`, wire], { gapMs: 5, end: false }),
      );
      const response = await nodeFetch(server.url);
      const cause = await fetchFailure(response.arrayBuffer());
      expect(cause.name).toBe('HttpProtocolError');
      await within(server.connections[0]!.closed, 'the connection to close');
    }
  });

  it('a status above 599 rejects, and the connection is closed', async () => {
    const server = await rawServer(
      replyWith(['HTTP/1.1 600 Odd\r\nContent-Length: 3\r\n\r\nabc'], { end: false }),
    );
    const error = await rejection(nodeFetch(server.url));
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/600/);
    await within(server.connections[0]!.closed, 'the connection to close');
  });

  it('a 599 status is still a response', async () => {
    const server = await rawServer(
      replyWith(['HTTP/1.1 599 Edge\r\nContent-Length: 0\r\n\r\n'], { end: false }),
    );
    const response = await nodeFetch(server.url);
    expect(response.status).toBe(599);
    expect(response.ok).toBe(false);
  });
});

describe('AbortSignal', () => {
  it('aborted before the call: rejects with the reason and opens no connection', async () => {
    const server = await rawServer();
    const reason = new Error('cancelled by the operator');
    const error = await rejection(nodeFetch(server.url, { signal: AbortSignal.abort(reason) }));
    expect(error).toBe(reason);
    const plain = await rejection(nodeFetch(server.url, { signal: AbortSignal.abort() }));
    expect(plain).toBeInstanceOf(DOMException);
    expect((plain as DOMException).name).toBe('AbortError');
    await sleep(50);
    // No socket was opened, or the one opened is closed again.
    for (const connection of server.connections) await within(connection.closed, 'the connection to close');
    expect(server.connections.every((connection) => connection.received() === '')).toBe(true);
  });

  it('aborted while waiting for the head: rejects with the reason, the server sees the socket close', async () => {
    const server = await rawServer(() => {}); // reads the request, never answers
    const controller = new AbortController();
    const pending = nodeFetch(`${server.url}/slow`, { signal: controller.signal });
    await until(() => server.connections.length === 1, 'the connection');
    await within(server.connections[0]!.request, 'the request');
    const reason = new Error('took too long');
    controller.abort(reason);
    expect(await rejection(pending)).toBe(reason);
    await within(server.connections[0]!.closed, 'the server socket to close');
  });

  it('aborted with a Request signal while waiting for the head', async () => {
    const server = await rawServer(() => {});
    const controller = new AbortController();
    const pending = nodeFetch(new Request(server.url, { signal: controller.signal }));
    await within(
      until(() => server.connections.length === 1, 'the connection').then(
        () => server.connections[0]!.request,
      ),
      'the request',
    );
    controller.abort(new Error('stop'));
    const error = await rejection(pending);
    expect((error as Error).message).toBe('stop');
    await within(server.connections[0]!.closed, 'the server socket to close');
  });

  it('aborted mid-body: the body read rejects with the reason, the server sees the socket close', async () => {
    const server = await rawServer(
      replyWith(['HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n', pattern(1000)], { end: false }),
    );
    const controller = new AbortController();
    const response = await nodeFetch(server.url, { signal: controller.signal });
    const reader = response.body!.getReader({ mode: 'byob' });
    const first = await reader.read(new Uint8Array(4096));
    expect(first.value?.length).toBeGreaterThan(0);
    const reason = new Error('user cancelled');
    // One read waiting for bytes that will not come, one after the abort.
    const waiting = reader.read(new Uint8Array(4096));
    controller.abort(reason);
    expect(await rejection(waiting)).toBe(reason);
    expect(await rejection(reader.read(new Uint8Array(4096)))).toBe(reason);
    await within(server.connections[0]!.closed, 'the server socket to close');
  });

  it('aborted mid-body with bytes queued: response.arrayBuffer() rejects with the reason', async () => {
    const server = await rawServer(
      replyWith(['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n', '4\r\nabcd\r\n'], { end: false }),
    );
    const controller = new AbortController();
    const response = await nodeFetch(server.url, { signal: controller.signal });
    await sleep(20); // the first chunk is queued, nobody reads it yet
    const reason = new Error('gone');
    controller.abort(reason);
    expect(await rejection(response.arrayBuffer())).toBe(reason);
    await within(server.connections[0]!.closed, 'the server socket to close');
  });

  it('cancelling the body closes the connection', async () => {
    const server = await rawServer(
      replyWith(['HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n', pattern(1000)], { end: false }),
    );
    const response = await nodeFetch(server.url);
    await response.body!.cancel();
    await within(server.connections[0]!.closed, 'the server socket to close');
  });

  it('aborted while the socket is paused by back-pressure', async () => {
    const server = await rawServer((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${32 * MiB}\r\n\r\n`);
      const chunk = Buffer.alloc(MiB, 0x5a);
      const pump = () => {
        while (!socket.destroyed && socket.write(chunk));
        if (!socket.destroyed) socket.once('drain', pump);
      };
      pump();
    });
    const controller = new AbortController();
    const response = await createNodeFetch({ queueBytes: 256 * 1024 })(server.url, {
      signal: controller.signal,
    });
    await sleep(100); // the queue fills, the socket pauses, the kernel buffers fill
    const reason = new Error('abandoned');
    controller.abort(reason);
    const reader = response.body!.getReader({ mode: 'byob' });
    expect(await rejection(reader.read(new Uint8Array(1024)))).toBe(reason);
    await within(server.connections[0]!.closed, 'the server socket to close');
  });

  it('leaves no abort listener on the signal, whatever the outcome', async () => {
    const outcomes: [string, (string | Uint8Array)[], (response: Response) => Promise<unknown>][] = [
      ['a whole body', ['HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc'], (r) => r.arrayBuffer()],
      ['a null body', ['HTTP/1.1 204 No Content\r\n\r\n'], async () => {}],
      ['a cancelled body', ['HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc'], (r) => r.body!.cancel()],
      ['a body cut short', ['HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc'], (r) => r.arrayBuffer()],
      ['a bad head', ['HTTP/1.1 20 OK\r\n\r\n'], async () => {}],
      ['status 600', ['HTTP/1.1 600 X\r\nContent-Length: 9\r\n\r\n'], async () => {}],
    ];
    for (const [what, wire, consume] of outcomes) {
      const server = await rawServer(replyWith(wire, { gapMs: 5, end: what === 'a body cut short' }));
      const controller = new AbortController();
      await nodeFetch(server.url, { signal: controller.signal })
        .then(consume)
        .catch(() => {});
      expect(getEventListeners(controller.signal, 'abort'), what).toHaveLength(0);
      await within(server.connections[0]!.closed, `the connection to close after ${what}`);
    }
  });
});

describe('back-pressure and fixed memory', () => {
  it('a slow reader holds the server back: queueBytes, not the whole 64 MiB, then every byte arrives', async () => {
    const TOTAL = 64 * MiB;
    const CHUNK = MiB;
    const state = { sent: 0, sawFull: false, hash: createHash('sha256') };
    const server = await rawServer((socket) => {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${TOTAL}\r\n\r\n`);
      // Pseudorandom throughout (AES-CTR over zeros): any lost, repeated or reordered run shows.
      const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 1), Buffer.alloc(16, 2));
      const zeros = Buffer.alloc(CHUNK);
      const pump = () => {
        while (state.sent < TOTAL && !socket.destroyed) {
          const chunk = cipher.update(zeros);
          state.hash.update(chunk);
          state.sent += chunk.length;
          if (!socket.write(chunk)) {
            state.sawFull = true;
            socket.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
    const response = await createNodeFetch({ queueBytes: MiB })(server.url);
    expect(response.status).toBe(200);

    // Read nothing until the server's writes stall.
    let last = -1;
    let stableSince = Date.now();
    await until(
      () => {
        if (state.sent !== last) {
          last = state.sent;
          stableSince = Date.now();
        }
        return Date.now() - stableSince > 300;
      },
      'the server to stall',
      30_000, // only catches a server that never stalls; a busy machine merely takes longer
    );
    expect(state.sawFull).toBe(true);
    // Kernel socket buffers on both ends hold some; the client holds at most ~1 MiB + one read.
    expect(state.sent).toBeLessThan(16 * MiB);

    const client = createHash('sha256');
    const { total } = await readByob(response.body!, (chunk) => client.update(chunk), 256 * 1024);
    expect(total).toBe(TOTAL);
    expect(state.sent).toBe(TOTAL);
    expect(client.digest('hex')).toBe(state.hash.digest('hex'));
  });

  it('a 32 MiB random body from node:http arrives intact through a BYOB reader', async () => {
    const body = randomBytes(32 * MiB);
    const port = await listenHttp(
      createHttpServer((_request, response) => {
        response.writeHead(200, { 'content-length': body.length }).end(body);
      }),
    );
    const response = await nodeFetch(`http://127.0.0.1:${port}/big.bin`);
    const client = createHash('sha256');
    const { total } = await readByob(response.body!, (chunk) => client.update(chunk), 256 * 1024);
    expect(total).toBe(body.length);
    expect(client.digest('hex')).toBe(sha256(body));
  });

  it('a small queue and a read buffer bigger than the reader buffers still deliver every byte in order', async () => {
    const body = randomBytes(3 * MiB + 17);
    const server = await rawServer(
      replyWith([`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`, body], { end: false }),
    );
    const fetch = createNodeFetch({ readBufferBytes: 64 * 1024, queueBytes: 1 });
    const response = await fetch(server.url);
    await sleep(50); // let the queue fill and the socket pause
    const client = createHash('sha256');
    let reads = 0;
    const { total } = await readByob(
      response.body!,
      (chunk) => {
        reads += 1;
        client.update(chunk);
      },
      1000, // smaller than one socket read: the queue is drained in pieces
    );
    expect(total).toBe(body.length);
    expect(reads).toBeGreaterThanOrEqual(body.length / 1000);
    expect(client.digest('hex')).toBe(sha256(body));
  });
});

describe('https', () => {
  const serveBody = (body: Uint8Array, chunked = false) =>
    createHttpsServer({ cert: CERT, key: KEY }, (_request, response) => {
      if (chunked) {
        response.writeHead(200);
        for (let at = 0; at < body.length; at += 100_000) response.write(body.subarray(at, at + 100_000));
        response.end();
        return;
      }
      response.writeHead(200, { 'content-length': body.length }).end(body);
    });

  it('downloads from a local https server with the CA given', async () => {
    const body = pattern(1_000_000, 21);
    const port = await listenHttp(serveBody(body));
    const fetch = createNodeFetch({ tls: { ca: CERT } });
    const response = await fetch(`https://127.0.0.1:${port}/fw.bin`);
    expect(response.status).toBe(200);
    expect(sha256(new Uint8Array(await response.arrayBuffer()))).toBe(sha256(body));

    const chunkedPort = await listenHttp(serveBody(body, true));
    // By host name this time (the cert names localhost): SNI and the name check use it.
    const chunked = await fetch(`https://localhost:${chunkedPort}/fw.bin`);
    expect(chunked.headers.get('transfer-encoding')).toBe('chunked');
    expect(sha256(await byobBytes(chunked.body!))).toBe(sha256(body));
  });

  it('pauses and resumes a TLS socket for a slow reader without losing bytes', async () => {
    const body = randomBytes(8 * MiB);
    const port = await listenHttp(serveBody(body));
    const response = await createNodeFetch({ tls: { ca: CERT }, queueBytes: 256 * 1024 })(
      `https://127.0.0.1:${port}/fw.bin`,
    );
    await sleep(100);
    const client = createHash('sha256');
    let reads = 0;
    const { total } = await readByob(
      response.body!,
      (chunk) => {
        client.update(chunk);
        reads += 1;
      },
      128 * 1024,
    );
    expect(reads).toBeGreaterThan(0);
    expect(total).toBe(body.length);
    expect(client.digest('hex')).toBe(sha256(body));
  });

  it('a small read buffer and queue: decrypted records that arrive after the pause are kept intact', async () => {
    // TLS hands over up to 16 KiB records, several per socket read, and keeps handing them over
    // after the client pauses: those bytes go beyond the 4 KiB queue and must be copies, not views
    // of the read buffer the next record overwrites.
    const body = randomBytes(2 * MiB);
    const port = await listenHttp(serveBody(body));
    const fetch = createNodeFetch({ tls: { ca: CERT }, readBufferBytes: 4096, queueBytes: 4096 });
    const response = await fetch(`https://127.0.0.1:${port}/fw.bin`);
    await sleep(50);
    const client = createHash('sha256');
    let reads = 0;
    const { total } = await readByob(
      response.body!,
      (chunk) => {
        reads += 1;
        client.update(chunk);
      },
      3000,
    );
    expect(reads).toBeGreaterThan(0);
    expect(total).toBe(body.length);
    expect(client.digest('hex')).toBe(sha256(body));
  });

  it('refuses the self-signed certificate without the CA', async () => {
    const port = await listenHttp(serveBody(pattern(10)));
    const cause = await fetchFailure(nodeFetch(`https://127.0.0.1:${port}/fw.bin`));
    expect(['DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN']).toContain(cause.code);
  });

  it('refuses a certificate for another host name (the cert covers 127.0.0.1 and localhost, not 127.0.0.2)', async (context) => {
    const server = serveBody(pattern(10));
    const port = await listenHttp(server, '127.0.0.2').catch(() => undefined);
    // Linux has all of 127/8 on the loopback interface.
    if (port === undefined) skipOrFailInCi(context, '127.0.0.2 is not a loopback address on this host');
    const fetch = createNodeFetch({ tls: { ca: CERT } });
    const cause = await fetchFailure(fetch(`https://127.0.0.2:${port}/fw.bin`));
    expect(cause.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    // Verification can be turned off explicitly, and only then does it connect.
    const insecure = createNodeFetch({ tls: { rejectUnauthorized: false } });
    expect((await insecure(`https://127.0.0.2:${port}/fw.bin`)).status).toBe(200);
  });

  it('checks the certificate against the servername the caller sets', async () => {
    const port = await listenHttp(serveBody(pattern(10)));
    const fetch = createNodeFetch({ tls: { ca: CERT, servername: 'firmware.example.com' } });
    const cause = await fetchFailure(fetch(`https://127.0.0.1:${port}/fw.bin`));
    expect(cause.code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });
});

describe('downloadArtifact over nodeFetch', () => {
  it('computes the right sha256 over a chunked response (the engine reads with BYOB)', async () => {
    const body = randomBytes(3 * MiB + 5);
    let requests = 0;
    const port = await listenHttp(
      createHttpServer((_request, response) => {
        requests += 1;
        response.writeHead(200, { 'content-type': 'application/octet-stream' }); // no length: chunked
        for (let at = 0; at < body.length; at += 65_521) response.write(body.subarray(at, at + 65_521));
        response.end();
      }),
    );
    const byob = countByobReaders();
    const sink = new MemorySink();
    const result = await downloadArtifact({
      url: `http://127.0.0.1:${port}/fw.bin`,
      sink,
      fetch: nodeFetch,
      hashFactory: createNodeHash,
      expected: { sha256: sha256(body), size: body.length },
      retry: { attempts: 1 },
    });
    expect(result.size).toBe(body.length);
    expect(result.sha256).toBe(sha256(body));
    expect(result.attempts).toBe(1);
    expect(requests).toBe(1);
    expect(sha256(sink.bytes())).toBe(sha256(body));
    expect(byob.calls()).toBeGreaterThan(0);
  });
});

/** Counts BYOB readers taken while the test runs (restored in afterEach). */
function countByobReaders(): { calls: () => number } {
  const original = ReadableStream.prototype.getReader;
  let count = 0;
  ReadableStream.prototype.getReader = function getReader(this: ReadableStream, ...args: unknown[]) {
    if ((args[0] as { mode?: string } | undefined)?.mode === 'byob') count += 1;
    return (original as (...a: unknown[]) => ReadableStreamDefaultReader).apply(this, args);
  } as typeof original;
  cleanups.push(() => {
    ReadableStream.prototype.getReader = original;
  });
  return { calls: () => count };
}
