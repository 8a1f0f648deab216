/**
 * Finds the end of an HTTP/1.1 response body (RFC 9112 §6–7): by Content-Length, by chunked
 * transfer coding, or by the connection closing. Fed raw bytes in whatever pieces the socket
 * delivers; hands the body bytes on as views of the input (no copy) and checks every size, line
 * and trailer against a budget.
 *
 * @module
 */
import { HttpProtocolError, MAX_HEAD_BYTES, type ResponseHead } from './response-head.js';

/** The longest chunk-size line (size plus extensions) accepted. */
const MAX_CHUNK_LINE = 4096;

export type BodyFraming =
  | { kind: 'none' }
  | { kind: 'length'; length: number }
  | { kind: 'chunked' }
  | { kind: 'close' };

/** How the body of `head` (the answer to a `method` request) is delimited. */
export function bodyFraming(head: ResponseHead, method: string): BodyFraming {
  const { status, headers } = head;
  if (method === 'HEAD' || status < 200 || status === 204 || status === 304) return { kind: 'none' };
  const codings = headers
    .filter(([name]) => name === 'transfer-encoding')
    .flatMap(([, value]) => value.split(','))
    .map((coding) => coding.trim().toLowerCase())
    .filter((coding) => coding !== '');
  if (codings.length > 0) {
    // Transfer-Encoding wins over Content-Length (a smuggling attempt otherwise). Only a final
    // "chunked" delimits the body; other codings were never asked for.
    if (codings.at(-1) !== 'chunked' || codings.length > 1) {
      throw new HttpProtocolError(
        `unsupported transfer-encoding "${codings.join(', ')}": expected "chunked"`,
      );
    }
    return { kind: 'chunked' };
  }
  const lengths = new Set(
    headers
      .filter(([name]) => name === 'content-length')
      .flatMap(([, value]) => value.split(',').map((v) => v.trim())),
  );
  if (lengths.size === 0) return { kind: 'close' };
  const [length] = lengths;
  if (lengths.size > 1 || !/^\d{1,15}$/.test(length!)) {
    throw new HttpProtocolError('content-length: expected one decimal byte count');
  }
  return { kind: 'length', length: Number(length) };
}

type ChunkState = 'size' | 'data' | 'data-end' | 'trailer' | 'done';

export class BodyDecoder {
  readonly #framing: BodyFraming;
  /** Body bytes still expected: of the whole body (length) or of the current chunk (chunked). */
  #remaining: number;
  #state: ChunkState;
  /** The line being gathered (chunk size, chunk end, trailer field). */
  #line = '';
  #trailerBytes = 0;

  constructor(framing: BodyFraming) {
    this.#framing = framing;
    this.#remaining = framing.kind === 'length' ? framing.length : 0;
    this.#state =
      framing.kind === 'none' || (framing.kind === 'length' && framing.length === 0) ? 'done' : 'size';
  }

  /** True once the whole body has arrived; bytes after it are not part of the response. */
  get done(): boolean {
    return this.#state === 'done';
  }

  /**
   * Consumes `input`, passing each run of body bytes to `emit`.
   * @throws HttpProtocolError on a malformed chunked body.
   */
  push(input: Uint8Array, emit: (body: Uint8Array) => void): void {
    if (this.#state === 'done' || input.length === 0) return;
    const kind = this.#framing.kind;
    if (kind === 'close') {
      emit(input);
      return;
    }
    if (kind === 'length') {
      const take = Math.min(this.#remaining, input.length);
      emit(input.subarray(0, take));
      this.#remaining -= take;
      if (this.#remaining === 0) this.#state = 'done';
      return;
    }
    this.#pushChunked(input, emit);
  }

  /**
   * The connection closed.
   * @throws HttpProtocolError when the body was cut short.
   */
  end(): void {
    if (this.#state === 'done' || this.#framing.kind === 'close') {
      this.#state = 'done';
      return;
    }
    throw new HttpProtocolError(
      this.#framing.kind === 'length'
        ? `connection closed with ${this.#remaining} of ${this.#framing.length} body bytes missing`
        : 'connection closed inside a chunked body',
    );
  }

  #pushChunked(input: Uint8Array, emit: (body: Uint8Array) => void): void {
    let at = 0;
    while (at < input.length && this.#state !== 'done') {
      if (this.#state === 'data') {
        const take = Math.min(this.#remaining, input.length - at);
        emit(input.subarray(at, at + take));
        at += take;
        this.#remaining -= take;
        if (this.#remaining === 0) this.#state = 'data-end';
        continue;
      }
      // Line-oriented states: gather up to the LF.
      const newline = input.indexOf(0x0a, at);
      const stop = newline === -1 ? input.length : newline;
      // A line may take MAX_CHUNK_LINE bytes plus the CR that ends it; nothing longer is copied.
      if (this.#line.length + (stop - at) > MAX_CHUNK_LINE + 1) throw lineTooLong();
      this.#line += String.fromCharCode(...input.subarray(at, stop));
      if (this.#line.length > MAX_CHUNK_LINE && !this.#line.endsWith('\r')) throw lineTooLong();
      if (this.#state === 'trailer') {
        // The bytes of this piece, and its LF if it has one: the same total however the input is split.
        this.#trailerBytes += stop - at + (newline === -1 ? 0 : 1);
        if (this.#trailerBytes > MAX_HEAD_BYTES) {
          throw new HttpProtocolError(`chunked body: trailer fields over ${MAX_HEAD_BYTES} bytes`);
        }
      }
      at = stop;
      if (newline === -1) break;
      at += 1;
      const line = this.#line.endsWith('\r') ? this.#line.slice(0, -1) : this.#line;
      this.#line = '';
      this.#endLine(line);
    }
  }

  #endLine(line: string): void {
    if (this.#state === 'size') {
      // chunk-size [ ; chunk-ext ]: extensions carry nothing a download needs.
      const size = /^([0-9a-fA-F]{1,13})[ \t]*(?:;.*)?$/.exec(line);
      if (size === null)
        throw new HttpProtocolError('chunked body: malformed chunk size: expected hex digits');
      this.#remaining = Number.parseInt(size[1]!, 16);
      this.#state = this.#remaining === 0 ? 'trailer' : 'data';
    } else if (this.#state === 'data-end') {
      if (line !== '') throw new HttpProtocolError('chunked body: expected CRLF after the chunk data');
      this.#state = 'size';
    } else if (line === '') {
      this.#state = 'done'; // the empty line after the (ignored) trailer fields
    }
  }
}

function lineTooLong(): HttpProtocolError {
  return new HttpProtocolError(`chunked body: a line longer than ${MAX_CHUNK_LINE} bytes`);
}
