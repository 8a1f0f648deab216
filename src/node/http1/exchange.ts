/**
 * One HTTP/1.1 request and its response over a connection of its own (plain TCP or TLS), with
 * memory fixed up front: the socket reads into one reused buffer (`onread`), and body bytes are
 * copied straight into the reader's own buffer (a BYOB byte stream) or, when the reader is busy,
 * into a bounded queue; the socket pauses when that fills. Node's http module allocates a new
 * buffer per read instead, and at hundreds of MB/s the garbage costs ~50 MB of resident memory.
 *
 * @module
 */
import { Buffer } from 'node:buffer';
import { isIP, connect as netConnect, type OnReadOpts, type Socket } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { BodyDecoder, bodyFraming } from './body-decoder.js';
import { ByteQueue } from './byte-queue.js';
import { HttpProtocolError, MAX_HEAD_BYTES, parseResponseHead, type ResponseHead } from './response-head.js';

export interface ExchangeOptions {
  /** TLS settings for https (a private CA, a client certificate); verification stays on by default. */
  tls?: ConnectionOptions;
  /** Bytes read from the socket at a time, into one reused buffer. */
  readBufferBytes: number;
  /** Body bytes held while the reader is busy before the socket pauses. */
  queueBytes: number;
}

export interface ExchangeRequest {
  url: URL;
  method: string;
  headers: Iterable<[string, string]>;
  signal?: AbortSignal | null | undefined;
}

export interface ExchangeResponse {
  head: ResponseHead;
  /** A byte stream (`getReader({ mode: 'byob' })` works), or null when the response has no body. */
  body: ReadableStream<Uint8Array> | null;
}

// Framing is ours to set: a caller's value for these would desynchronise or smuggle requests.
const OWN_HEADERS = new Set([
  'host',
  'connection',
  'content-length',
  'transfer-encoding',
  'keep-alive',
  'upgrade',
]);
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

export function exchange(request: ExchangeRequest, options: ExchangeOptions): Promise<ExchangeResponse> {
  return new Promise<ExchangeResponse>((resolve, reject) => {
    const { url, method, signal } = request;
    let head: Uint8Array = new Uint8Array(0);
    let decoder: BodyDecoder | undefined;
    let controller: ReadableByteStreamController | undefined;
    const queue = new ByteQueue(options.queueBytes);
    /** Bytes beyond the queue (a read delivered after a pause); normally always empty. */
    const overflow: Uint8Array[] = [];
    let responded = false;
    let settled = false; // the body stream closed or errored
    let complete = false; // every body byte has arrived
    let paused = false;
    /** A body cut short: raised once the reader has taken the bytes that did arrive. */
    let cutShort: TypeError | undefined;

    const fail = (error: unknown) => {
      socket.destroy();
      signal?.removeEventListener('abort', onAbort);
      if (!responded) {
        responded = true;
        reject(signal?.aborted ? signal.reason : new TypeError('fetch failed', { cause: error }));
      } else if (!settled) {
        if (!signal?.aborted && (queue.length > 0 || overflow.length > 0)) {
          // Erroring the stream now would drop the bytes held for the reader: a resume would ask
          // for them again. Hand them over first (drain), then the error.
          cutShort = new TypeError('terminated', { cause: error });
          drain();
          return;
        }
        settled = true;
        controller?.error(signal?.aborted ? signal.reason : new TypeError('terminated', { cause: error }));
      }
    };
    const onAbort = () => fail(signal?.reason);

    /** The reader's pending buffer, if it is waiting for bytes. */
    const waitingView = (): Uint8Array | undefined => {
      const view = controller?.byobRequest?.view;
      return view ? new Uint8Array(view.buffer, view.byteOffset, view.byteLength) : undefined;
    };

    /** Fills the reader's pending buffer from what is held; closes the stream when all is read. */
    const drain = () => {
      if (controller === undefined || settled) return;
      const target = waitingView();
      if (target !== undefined) {
        // Oldest first: the queue, then what overflowed it.
        let filled = queue.shift(target);
        while (overflow.length > 0 && filled < target.length) {
          const first = overflow[0]!;
          const count = Math.min(first.length, target.length - filled);
          target.set(first.subarray(0, count), filled);
          filled += count;
          if (count === first.length) overflow.shift();
          else overflow[0] = first.subarray(count);
        }
        if (filled > 0) controller.byobRequest!.respond(filled);
      }
      if (cutShort !== undefined && queue.length === 0 && overflow.length === 0) {
        settled = true;
        controller.error(cutShort);
        return;
      }
      if (complete && queue.length === 0 && overflow.length === 0) {
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        controller.close();
        controller.byobRequest?.respond(0);
      } else if (paused && overflow.length === 0 && queue.free >= options.readBufferBytes) {
        paused = false;
        socket.resume();
      }
    };

    /** Takes body bytes out of the reused read buffer: into the waiting reader, else the queue. */
    const deliver = (body: Uint8Array) => {
      let rest = body;
      const target = queue.length === 0 && overflow.length === 0 ? waitingView() : undefined;
      if (target !== undefined) {
        const count = Math.min(target.length, rest.length);
        target.set(rest.subarray(0, count));
        controller!.byobRequest!.respond(count);
        rest = rest.subarray(count);
      }
      if (rest.length === 0) return;
      if (overflow.length === 0) rest = rest.subarray(queue.push(rest));
      // Rare: a read that arrived after the pause and did not fit (TLS hands over the records it
      // has decrypted even after a pause). Copied, as the read buffer is reused: `rest` views a
      // Buffer, whose slice() would be another view of it, not a copy.
      if (rest.length > 0) overflow.push(new Uint8Array(rest));
    };

    const startBody = (parsed: ResponseHead, rest: Uint8Array) => {
      const framing = bodyFraming(parsed, method);
      const nullBody = framing.kind === 'none' || [204, 205, 304].includes(parsed.status);
      responded = true;
      if (nullBody) {
        settled = true;
        socket.destroy();
        signal?.removeEventListener('abort', onAbort);
        resolve({ head: parsed, body: null });
        return;
      }
      decoder = new BodyDecoder(framing);
      const body = new ReadableStream<Uint8Array>(
        {
          type: 'bytes',
          autoAllocateChunkSize: 64 * 1024, // default readers get a fresh buffer per read
          start: (created) => {
            controller = created as unknown as ReadableByteStreamController;
          },
          pull: () => drain(),
          cancel: () => {
            settled = true;
            socket.destroy();
            signal?.removeEventListener('abort', onAbort);
          },
        },
        { highWaterMark: 0 },
      );
      resolve({ head: parsed, body: body as ReadableStream<Uint8Array> });
      consumeBody(rest);
    };

    const consumeBody = (bytes: Uint8Array) => {
      decoder!.push(bytes, (part) => {
        if (part.length > 0) deliver(part);
      });
      if (decoder!.done && !complete) {
        complete = true;
        socket.destroy(); // the body is whole; the connection was never to be reused
      }
      drain();
    };

    const onRead = (length: number, buffer: Uint8Array): boolean => {
      try {
        if (settled) return false;
        const bytes = buffer.subarray(0, length);
        if (decoder !== undefined) {
          consumeBody(bytes);
        } else {
          head = concat(head, bytes);
          for (;;) {
            const parsed = parseResponseHead(head);
            if (parsed === undefined) break;
            if (parsed.status === 101) throw new HttpProtocolError('unexpected 101 Switching Protocols');
            if (parsed.status < 200) {
              head = head.subarray(parsed.length); // 100 Continue, 103 Early Hints: wait for the real one
              continue;
            }
            startBody(parsed, head.subarray(parsed.length));
            head = new Uint8Array(0);
            break;
          }
        }
        if (!settled && (overflow.length > 0 || queue.free < options.readBufferBytes)) {
          paused = true;
          return false;
        }
        return true;
      } catch (error) {
        fail(error);
        return false;
      }
    };

    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    const onread: OnReadOpts = { buffer: Buffer.allocUnsafe(options.readBufferBytes), callback: onRead };
    const socket: Socket =
      url.protocol === 'https:'
        ? tlsConnect({
            ALPNProtocols: ['http/1.1'],
            ...options.tls,
            host,
            port,
            ...(isIP(host) === 0 ? { servername: options.tls?.servername ?? host } : {}),
            onread,
          } as ConnectionOptions)
        : netConnect({ host, port, onread });
    socket.on('error', fail);
    socket.on('close', () => {
      if (settled) return;
      if (decoder === undefined) {
        fail(new HttpProtocolError('connection closed before a complete response head'));
        return;
      }
      try {
        decoder.end();
        complete = true;
        drain();
      } catch (error) {
        fail(error);
      }
    });
    if (signal?.aborted) {
      fail(signal.reason);
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      socket.write(requestHead(request), 'latin1');
    } catch (error) {
      fail(error);
    }
  });
}

function requestHead({ url, method, headers }: ExchangeRequest): string {
  let text = `${method} ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n`;
  for (const [name, value] of headers) {
    if (OWN_HEADERS.has(name.toLowerCase())) continue;
    if (!HEADER_VALUE.test(value))
      throw new TypeError(`header ${name}: value has a character HTTP/1.1 cannot carry`);
    text += `${name}: ${value}\r\n`;
  }
  return `${text}connection: close\r\n\r\n`;
}

function concat(held: Uint8Array, more: Uint8Array): Uint8Array {
  // Only what is held counts: `more` may end the head and carry a whole read buffer of body.
  // parseResponseHead rejects an unfinished head longer than MAX_HEAD_BYTES, so this holds at most
  // that plus one read; the check keeps the bound should that ever change.
  if (held.length > MAX_HEAD_BYTES) {
    throw new HttpProtocolError(`response head larger than ${MAX_HEAD_BYTES} bytes`);
  }
  const joined = new Uint8Array(held.length + more.length);
  joined.set(held);
  joined.set(more, held.length);
  return joined;
}
