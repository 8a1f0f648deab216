/**
 * A `fetch` for ky on raw node:net / node:tls sockets (see `http1/exchange.ts`): the subset a
 * download needs (body-less requests, `AbortSignal`, no automatic redirects) with resident memory
 * fixed per connection however fast the bytes come. Its response body is a byte stream, so the
 * download engine reads into one reused buffer (BYOB) and nothing is allocated per chunk.
 *
 * @module
 */
import type { ConnectionOptions } from 'node:tls';
import { exchange } from './http1/exchange.js';

export interface NodeFetchOptions {
  /**
   * TLS settings for `https:` URLs: `ca` for a private CA, `cert` + `key` for mutual TLS.
   * Certificate and host name verification stay on unless `rejectUnauthorized: false`.
   */
  tls?: ConnectionOptions;
  /**
   * Bytes read from the socket at a time, into one buffer reused for the whole response.
   * @default 262144
   */
  readBufferBytes?: number;
  /**
   * Body bytes held while the reader is busy (hashing, writing) before the socket pauses and TCP
   * flow control slows the server.
   * @default 1048576
   */
  queueBytes?: number;
}

/**
 * @example
 * ```ts
 * const fetch = createNodeFetch({ tls: { ca: readFileSync('fleet-ca.pem') } })
 * await downloadArtifact({ url, sink, fetch })
 * ```
 */
export function createNodeFetch(options: NodeFetchOptions = {}): typeof fetch {
  const readBufferBytes = options.readBufferBytes ?? 256 * 1024;
  const queueBytes = Math.max(options.queueBytes ?? 1024 * 1024, readBufferBytes);
  return async (input, init) => {
    // Checked before `new Request`, whose errors repeat the URL verbatim, password included.
    const url = targetUrl(input);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new TypeError(`fetch failed: unsupported scheme ${url.protocol}`);
    }
    if (url.username !== '' || url.password !== '') {
      // Never repeat the URL: it holds a password.
      throw new TypeError('fetch failed: credentials in the URL are not sent; use an Authorization header');
    }
    // As fetch(input, init) does, init (method, headers) applies over a Request input too. Without
    // the signal: a Request following it would leave a listener on it until garbage collection.
    const request =
      input instanceof Request && init === undefined ? input : new Request(input, { ...init, signal: null });
    if (request.body !== null) throw new TypeError('fetch failed: nodeFetch sends body-less requests only');
    // The caller's own signal, not the copy a new Request follows it with.
    const signal = init?.signal ?? (input instanceof Request ? input.signal : undefined);
    const { head, body } = await exchange(
      { url: new URL(request.url), method: request.method, headers: request.headers, signal },
      { ...(options.tls ? { tls: options.tls } : {}), readBufferBytes, queueBytes },
    );
    if (head.status > 599) {
      await body?.cancel();
      throw new TypeError(`fetch failed: HTTP status ${head.status} is outside 200–599`);
    }
    return new Response(body, { status: head.status, statusText: head.statusText, headers: head.headers });
  };
}

/** The absolute URL `input` names; a parse failure never repeats it (it may hold a password). */
function targetUrl(input: string | URL | Request): URL {
  if (input instanceof Request) return new URL(input.url);
  try {
    return new URL(input instanceof URL ? input.href : String(input));
  } catch {
    throw new TypeError('fetch failed: invalid URL');
  }
}

/** {@link createNodeFetch} with default options: what `createFileDownloadHook` uses. */
export const nodeFetch: typeof fetch = createNodeFetch();
