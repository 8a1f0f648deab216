/**
 * What both APIs of the local Murano service need of a request: a body read up to a limit (a
 * larger one is refused with `413` before it is buffered), the management token checked in
 * constant time, and the request record the service reports (never a credential in it).
 *
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { redactUrlWith } from '../../core/redact.js';
import { ownSecrets } from '../../protocols/exosite/secrets.js';

/** A body over its limit: answered `413`. */
export class BodyTooLarge extends Error {}

/** The body as text, or {@link BodyTooLarge} once it passes `maxBytes` (the rest is not read). */
export async function readBody(request: IncomingMessage, maxBytes: number): Promise<string> {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > maxBytes) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of request) {
    length += (chunk as Buffer).length;
    if (length > maxBytes) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** Checks `Authorization: Bearer <token>` against the expected token, in constant time. */
export function bearerMatches(request: IncomingMessage, expected: Buffer): boolean {
  const header = request.headers.authorization;
  const match = typeof header === 'string' ? /^Bearer (\S+)$/i.exec(header) : null;
  // Digests of equal length: the comparison takes the same time whatever was sent.
  const given = digest(match?.[1] ?? '');
  return timingSafeEqual(given, expected) && match !== null;
}

/** The digest a {@link bearerMatches} check compares against. */
export function bearerDigest(token: string): Buffer {
  return digest(token);
}

/** One request the service answered. */
export interface ExositeRequestRecord {
  method: string;
  /** Path and query, credentials in the query (`cik`, `token`…) masked. */
  path: string;
  status: number;
  /** `Request-Timeout`, `If-Modified-Since`, `Range` as received. */
  requestTimeout?: string;
  ifModifiedSince?: string;
  range?: string;
  /** Whether it carried a valid device token (device API) or management token. Never the token. */
  authorized: boolean;
  /** The device it was authenticated as, if any. */
  identity?: string;
}

/** A fresh record of `request`, `status` 0 until answered. */
export function recordOf(request: IncomingMessage, url: URL): ExositeRequestRecord {
  const record: ExositeRequestRecord = {
    method: request.method ?? 'GET',
    // A client that put its token in the query (`?cik=`) must not see it in a request log.
    path: redactUrlWith(`${url.pathname}${url.search}`, ownSecrets),
    status: 0,
    authorized: false,
  };
  for (const [field, header] of [
    ['requestTimeout', 'request-timeout'],
    ['ifModifiedSince', 'if-modified-since'],
    ['range', 'range'],
  ] as const) {
    const value = request.headers[header];
    if (typeof value === 'string') record[field] = value;
  }
  return record;
}

/**
 * A `Request-Timeout` header as ms: absent → `undefined`; not whole milliseconds ≥ 1 → `null`
 * (answered `400`); longer than `max` is cut to `max`, as Murano caps it.
 */
export function requestTimeoutOf(request: IncomingMessage, max: number): number | undefined | null {
  const header = request.headers['request-timeout'];
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !/^\d{1,15}$/.test(header.trim())) return null;
  const value = Number(header.trim());
  return value < 1 ? null : Math.min(value, max);
}
