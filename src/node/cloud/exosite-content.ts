/**
 * The IoT Connector's content area as the local service serves it: files by content id, listed,
 * described (`&info=true`) and downloaded whole or by `Range` (with `If-Range` on the ETag), the
 * way `/provision/download` does. A file may be given faults (stall after some bytes until
 * released, or truncate), so a test or a developer can watch a device resume a download.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Misbehaviour of one content file. */
export interface ContentFaults {
  /** Send this many bytes, then hold the response open until `release(id)`. */
  stallAfterBytes?: number;
  /** Declare the full length, send this many bytes, and close: a truncated transfer. */
  truncateAfterBytes?: number;
}

interface Content {
  body: Uint8Array;
  etag: string;
  updatedS: number;
  faults: ContentFaults;
  waiters: (() => void)[];
  holds: (() => void)[];
  stalled: boolean;
}

const encoder = new TextEncoder();

/** The content files of one product. */
export class ContentArea {
  readonly #files = new Map<string, Content>();

  /** Adds or replaces a file. */
  put(id: string, value: string | Uint8Array, faults: ContentFaults = {}): void {
    const body = typeof value === 'string' ? encoder.encode(value) : value;
    const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`;
    this.#files.set(id, {
      body,
      etag,
      updatedS: Math.floor(Date.now() / 1000),
      faults,
      waiters: [],
      holds: [],
      stalled: false,
    });
  }

  delete(id: string): void {
    this.release(id);
    this.#files.delete(id);
  }

  /** Resolves once a stalled response of `id` has sent its bytes and holds. */
  stalled(id: string): Promise<void> {
    const content = this.#files.get(id);
    if (content === undefined) return Promise.reject(new Error(`No content "${id}"`));
    if (content.stalled) return Promise.resolve();
    return new Promise((resolve) => content.waiters.push(resolve));
  }

  /** Lets stalled responses of `id` finish, and serves it whole from now on. */
  release(id: string): void {
    const content = this.#files.get(id);
    if (content === undefined) return;
    content.faults = {};
    content.stalled = false;
    for (const finish of content.holds.splice(0)) finish();
  }

  releaseAll(): void {
    for (const id of this.#files.keys()) this.release(id);
  }

  /** Answers a `/provision/download` request (already authenticated); returns the status sent. */
  serve(request: IncomingMessage, response: ServerResponse, url: URL): number {
    const id = url.searchParams.get('id');
    if (id === null) {
      const list = [...this.#files.keys()].join('\n');
      if (list === '') {
        response.writeHead(204).end();
        return 204;
      }
      response.writeHead(200, { 'content-type': 'text/csv; charset=utf-8' }).end(list);
      return 200;
    }
    const content = this.#files.get(id);
    if (content === undefined) {
      response.writeHead(404).end();
      return 404;
    }
    if (url.searchParams.get('info') === 'true') {
      const info = `application/octet-stream,${content.body.length},${content.updatedS},`;
      response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end(info);
      return 200;
    }
    return this.#download(request, response, content);
  }

  #download(request: IncomingMessage, response: ServerResponse, content: Content): number {
    const total = content.body.length;
    const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? '');
    const ifRange = request.headers['if-range'];
    const ranged = range !== null && (ifRange === undefined || ifRange === content.etag);
    let start = 0;
    let end = total - 1;
    if (ranged) {
      start = Number(range[1]);
      if (range[2] !== '') end = Math.min(end, Number(range[2]));
      if (start >= total || end < start) {
        response.writeHead(416, { 'content-range': `bytes */${total}` }).end();
        return 416;
      }
    }
    const slice = content.body.subarray(start, end + 1);
    const status = ranged ? 206 : 200;
    response.writeHead(status, {
      'content-type': 'application/octet-stream',
      'content-length': String(slice.length),
      etag: content.etag,
      'accept-ranges': 'bytes',
      ...(ranged ? { 'content-range': `bytes ${start}-${end}/${total}` } : {}),
    });
    const { stallAfterBytes, truncateAfterBytes } = content.faults;
    if (truncateAfterBytes !== undefined) {
      response.write(slice.subarray(0, Math.max(0, truncateAfterBytes - start)));
      response.destroy();
      return status;
    }
    if (stallAfterBytes !== undefined && stallAfterBytes - start < slice.length) {
      const first = Math.max(0, stallAfterBytes - start);
      response.write(slice.subarray(0, first));
      content.stalled = true;
      for (const resolve of content.waiters.splice(0)) resolve();
      content.holds.push(() => response.end(slice.subarray(first)));
      return status;
    }
    response.end(slice);
    return status;
  }
}
