/**
 * A `fetch` for ky built on node:http / node:https: the subset a download needs (method,
 * headers, body-less requests, `AbortSignal`, no automatic redirects), with a body stream that
 * pulls from the socket only as fast as it is read. Node's global fetch (undici) buffers and
 * allocates more per chunk; on a 1 GiB download this one keeps resident memory lower.
 *
 * @module
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** Chunks the body stream may hold before the socket is paused. */
const HIGH_WATER_CHUNKS = 4;

function toWebBody(response: IncomingMessage): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        response.on('data', (chunk: Buffer) => {
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((controller.desiredSize ?? 1) <= 0) response.pause();
        });
        response.once('end', () => controller.close());
        response.once('error', (error) => controller.error(error));
        response.once('aborted', () => controller.error(new TypeError('terminated')));
      },
      pull() {
        response.resume();
      },
      cancel() {
        response.destroy();
      },
    },
    { highWaterMark: HIGH_WATER_CHUNKS },
  );
}

/**
 * @example
 * ```ts
 * await downloadArtifact({ url, sink, fetch: nodeFetch })
 * ```
 */
export const nodeFetch: typeof fetch = (input, init) => {
  const request = input instanceof Request ? input : new Request(input, init);
  const url = new URL(request.url);
  const signal = init?.signal ?? request.signal;
  const send = url.protocol === 'https:' ? httpsRequest : url.protocol === 'http:' ? httpRequest : undefined;
  if (send === undefined)
    return Promise.reject(new TypeError(`fetch failed: unsupported scheme ${url.protocol}`));
  const headers: Record<string, string> = {};
  request.headers.forEach((value, name) => {
    headers[name] = value;
  });
  return new Promise<Response>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const outgoing = send(url, { method: request.method, headers }, (incoming) => {
      const status = incoming.statusCode ?? 0;
      const responseHeaders = new Headers();
      for (const [name, value] of Object.entries(incoming.headers)) {
        if (value === undefined) continue;
        for (const item of Array.isArray(value) ? value : [value]) responseHeaders.append(name, item);
      }
      // Statuses that cannot carry a body must get a null body in a Response.
      const bodyless = status === 204 || status === 304 || request.method === 'HEAD';
      if (bodyless) incoming.resume();
      resolve(
        new Response(bodyless ? null : toWebBody(incoming), {
          status,
          statusText: incoming.statusMessage ?? '',
          headers: responseHeaders,
        }),
      );
    });
    const onAbort = () =>
      outgoing.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    outgoing.once('close', () => signal?.removeEventListener('abort', onAbort));
    outgoing.once('error', (cause) =>
      reject(signal?.aborted ? signal.reason : new TypeError('fetch failed', { cause })),
    );
    outgoing.end();
  });
};
