/**
 * Byte encodings used on the wire: standard base64 (RFC 4648 §4), base64url without padding (§5)
 * and lowercase hex, with web standards only (no `Buffer`, no `btoa` Latin-1 limits).
 *
 * @module
 */

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const indexOf = (alphabet: string): ReadonlyMap<string, number> =>
  new Map([...alphabet].map((char, index) => [char, index]));
const B64_INDEX = indexOf(B64);
const B64URL_INDEX = indexOf(B64URL);

/**
 * Strict standard base64 (RFC 4648 §4): the padding may be left out, but nothing else is
 * tolerated (no whitespace, no URL-safe letters, no bits beyond the last byte).
 * Returns `undefined` for anything else.
 */
export function decodeBase64(text: string): Uint8Array | undefined {
  const body = text.replace(/={1,2}$/, '');
  if (text.length !== body.length && text.length % 4 !== 0) return undefined;
  return decodeUnpadded(body, B64_INDEX);
}

/** Standard base64 with padding. */
export function encodeBase64(bytes: Uint8Array): string {
  return encode(bytes, B64, '=');
}

/** Strict base64url without padding (RFC 4648 §5); `undefined` for anything else, `=` included. */
export function decodeBase64url(text: string): Uint8Array | undefined {
  return decodeUnpadded(text, B64URL_INDEX);
}

/** Base64url without padding (RFC 4648 §5). */
export function encodeBase64url(bytes: Uint8Array): string {
  return encode(bytes, B64URL, '');
}

function encode(bytes: Uint8Array, alphabet: string, pad: string): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i]!;
    const b = bytes[i + 1];
    const c = bytes[i + 2];
    out += alphabet[a >> 2]!;
    out += alphabet[((a & 3) << 4) | ((b ?? 0) >> 4)]!;
    out += b === undefined ? pad : alphabet[((b & 15) << 2) | ((c ?? 0) >> 6)]!;
    out += c === undefined ? pad : alphabet[c & 63]!;
  }
  return out;
}

function decodeUnpadded(body: string, index: ReadonlyMap<string, number>): Uint8Array | undefined {
  if (body.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let buffer = 0;
  let bits = 0;
  let at = 0;
  for (const char of body) {
    const value = index.get(char);
    if (value === undefined) return undefined;
    // Only the last 24 bits matter; masking keeps the number small on long texts.
    buffer = ((buffer << 6) | value) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (buffer >> bits) & 0xff;
    }
  }
  // Leftover bits must be zero, or two texts would decode to the same bytes.
  if ((buffer & ((1 << bits) - 1)) !== 0) return undefined;
  return out;
}

export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * An ArrayBuffer holding exactly the bytes of `view`, for APIs that take a whole buffer
 * (spark-md5). `view.buffer` alone is wrong for a view into a larger buffer, and
 * `view.slice().buffer` is wrong too for a Node `Buffer`, whose `slice` returns a view into the
 * same (often shared, pooled) memory. Copies only when the view does not cover its buffer.
 */
export function exactArrayBuffer(view: Uint8Array): ArrayBuffer {
  const { buffer } = view;
  if (buffer instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === buffer.byteLength)
    return buffer;
  // `new Uint8Array(typedArray)` always copies into a fresh ArrayBuffer, for Buffers too.
  return new Uint8Array(view).buffer;
}
