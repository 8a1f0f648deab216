/**
 * Parses an HTTP/1.1 response head (status line and header fields, RFC 9112 §4–5) from raw bytes,
 * strictly and within a byte budget: a malicious or broken server gets a {@link HttpProtocolError}
 * naming what was wrong, never a crash or an unbounded buffer.
 *
 * @module
 */

/** The most bytes a response head may take; Node's own parser allows 16 KiB by default. */
export const MAX_HEAD_BYTES = 64 * 1024;

export interface ResponseHead {
  status: number;
  statusText: string;
  /** Field names lowercased, in arrival order, repeated fields kept. */
  headers: [name: string, value: string][];
  /** Bytes the head took, including the empty line that ends it. */
  length: number;
}

/** A response that breaks HTTP/1.1 framing. Network bytes, so never retried blindly as a bug. */
export class HttpProtocolError extends Error {
  override readonly name = 'HttpProtocolError';
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Field values: visible ASCII, obs-text, spaces and tabs; never CR, LF or NUL (response splitting).
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const STATUS_LINE = /^HTTP\/1\.[01] ([1-9]\d\d)(?: ([\t\x20-\x7e\x80-\xff]*))?$/;

/** The index just past the empty line ending the head in `bytes`, or -1 when it has not arrived. */
function headEnd(bytes: Uint8Array): number {
  // Lines end in CRLF; a bare LF is accepted as RFC 9112 §2.2 allows.
  for (let index = bytes.indexOf(0x0a); index !== -1; index = bytes.indexOf(0x0a, index + 1)) {
    const next = bytes[index + 1];
    if (next === 0x0a) return index + 2;
    if (next === 0x0d && bytes[index + 2] === 0x0a) return index + 3;
  }
  return -1;
}

/**
 * Parses the head at the start of `bytes`. Returns `undefined` while it is incomplete.
 * @throws HttpProtocolError when the head is malformed or over {@link MAX_HEAD_BYTES}.
 */
export function parseResponseHead(bytes: Uint8Array): ResponseHead | undefined {
  // Only a terminator within the budget counts: a head ending past it is rejected whether its
  // last bytes arrived in the same read or a later one.
  const end = headEnd(bytes.subarray(0, MAX_HEAD_BYTES));
  if (end === -1) {
    if (bytes.length >= MAX_HEAD_BYTES) {
      throw new HttpProtocolError(`response head larger than ${MAX_HEAD_BYTES} bytes`);
    }
    return undefined;
  }
  const lines = latin1(bytes.subarray(0, end))
    .split('\n')
    .map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  lines.length -= 2; // the empty line and what follows the final LF
  const status = STATUS_LINE.exec(lines[0] ?? '');
  if (status === null) {
    throw new HttpProtocolError(`malformed status line: expected "HTTP/1.1 <3-digit code> <reason>"`);
  }
  const headers: [string, string][] = [];
  for (const line of lines.slice(1)) {
    if (line.startsWith(' ') || line.startsWith('\t')) {
      throw new HttpProtocolError('obsolete line folding in a header field');
    }
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (!TOKEN.test(name))
      throw new HttpProtocolError('malformed header field name: expected a token before ":"');
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (!FIELD_VALUE.test(value)) {
      throw new HttpProtocolError(`header field ${name}: value has a control character`);
    }
    headers.push([name.toLowerCase(), value]);
  }
  return { status: Number(status[1]), statusText: status[2] ?? '', headers, length: end };
}

function latin1(bytes: Uint8Array): string {
  let text = '';
  for (let index = 0; index < bytes.length; index += 8192) {
    text += String.fromCharCode(...bytes.subarray(index, index + 8192));
  }
  return text;
}
