/**
 * The Exosite HTTP device API (docs/protocols/exosite.md, "HTTP device API") as plain request descriptions
 * and response decoders, with no I/O: `fetch(new URL(request.path, origin), request)` sends one. Resource
 * reads and writes are form bodies (`form.ts`); the device authenticates with its token in `X-Exosite-CIK`.
 * No error of this module ever contains the token.
 *
 * @module
 */
import { ManifestError, OtaError, TransportError } from '../../core/errors.js';
import { redactHeadersWith } from '../../core/redact.js';
import { wireText } from '../../core/wire.js';
import { assertAlias } from './alias.js';
import { decodeForm, encodeForm } from './form.js';
import { LIMITS } from './limits.js';
import { ownSecrets } from './secrets.js';

/** Domain of the device API: hosts are `<productId>.m2.exosite.io` (older docs: `m2.exosite.com`). */
export const DEFAULT_DOMAIN = 'm2.exosite.io';
/** Path of resource reads, writes and long polls. */
export const ALIAS_PATH = '/onep:v1/stack/alias';
/** Content type of every form body the API sends or accepts. */
export const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded; charset=utf-8';
/** The header that carries the device token. */
export const CIK_HEADER = 'X-Exosite-CIK';

/**
 * One HTTP request of the device API. Its fields fit `fetch`'s `RequestInit`; `JSON.stringify`
 * of it masks the token (use `redactHeaders` from otakit before logging `headers` any other way).
 */
export interface ExositeRequest {
  method: 'GET' | 'POST';
  /** Path and query, relative to {@link deviceApiOrigin}. */
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/** What a response decoder needs of an HTTP response. */
export interface ExositeResponse {
  status: number;
  /** The body as text or bytes; absent or empty for 204/304. */
  body?: string | Uint8Array;
}

const TOKEN_PATTERN = /^[\x21-\x7e]+$/;
export const TOKEN_EXPECTED = `1 to ${LIMITS.tokenLength} visible ASCII characters`;
const PRODUCT_ID_PATTERN = /^[a-z0-9]{1,63}$/;
const DOMAIN_PATTERN = /^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$/i;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
export const CONTROL = /[\u0000-\u001f\u007f]/;

/** Whether `token` has the shape of a device token (it is never echoed when it has not). */
export function isDeviceToken(token: unknown): token is string {
  return typeof token === 'string' && token.length <= LIMITS.tokenLength && TOKEN_PATTERN.test(token);
}

function assertToken(token: unknown): asserts token is string {
  // The message describes the rule only: the value is a credential, even when malformed.
  if (!isDeviceToken(token))
    throw new OtaError('CONFIG', `Invalid Exosite device token: expected ${TOKEN_EXPECTED}`);
}

/** @internal Throws `CONFIG` unless `productId` is a Murano product id. */
export function assertProductId(productId: unknown): asserts productId is string {
  if (typeof productId !== 'string' || !PRODUCT_ID_PATTERN.test(productId)) {
    throw new OtaError('CONFIG', 'Invalid Exosite product id: expected 1 to 63 lowercase letters or digits');
  }
}

/**
 * The auth header of every device request.
 *
 * @throws OtaError `CONFIG` for a malformed token (control characters would inject headers);
 *   the message never contains the token.
 *
 * @example
 * ```ts
 * fetch(url, { headers: { ...authHeaders(token), Accept: FORM_CONTENT_TYPE } })
 * ```
 */
export function authHeaders(token: string): Record<string, string> {
  assertToken(token);
  return { [CIK_HEADER]: token };
}

/**
 * `https://<productId>.m2.exosite.io`, the origin of the device API (and of the MQTT broker's host).
 *
 * @param options.domain Another domain, e.g. `m2.exosite.com`. @default 'm2.exosite.io'
 */
export function deviceApiOrigin(productId: string, options: { domain?: string } = {}): string {
  assertProductId(productId);
  const domain = options.domain ?? DEFAULT_DOMAIN;
  if (!DOMAIN_PATTERN.test(domain))
    throw new OtaError('CONFIG', 'Invalid Exosite domain: expected a host name');
  return `https://${productId}.${domain.toLowerCase()}`;
}

/** @internal Builds an {@link ExositeRequest} whose JSON form masks the token. */
export function request(
  method: 'GET' | 'POST',
  path: string,
  headers: Record<string, string>,
  body?: string,
): ExositeRequest {
  const built: ExositeRequest =
    body === undefined ? { method, path, headers } : { method, path, headers, body };
  // Not enumerable: `toEqual` and spreading ignore it, `JSON.stringify` (loggers) uses it.
  Object.defineProperty(built, 'toJSON', {
    value: () => ({ ...built, headers: redactHeadersWith(built.headers, ownSecrets) }),
    enumerable: false,
  });
  return built;
}

function aliasQuery(aliases: readonly string[]): string {
  if (!Array.isArray(aliases)) throw new OtaError('CONFIG', 'Exosite aliases: expected an array of aliases');
  if (aliases.length === 0) throw new OtaError('CONFIG', 'An Exosite read needs at least one alias');
  if (aliases.length > LIMITS.formFields) {
    throw new OtaError('CONFIG', `An Exosite read takes at most ${LIMITS.formFields} aliases`);
  }
  for (const alias of aliases) assertAlias(alias);
  return aliases.join('&');
}

/**
 * Writes one or more resources: `POST /onep:v1/stack/alias` with a form body (answer `204`).
 *
 * @example
 * ```ts
 * const req = writeRequest({ token, values: { otau_in: encodeStatus(status) } })
 * await fetch(new URL(req.path, deviceApiOrigin(pid)), req)
 * ```
 */
export function writeRequest(options: {
  token: string;
  values: Readonly<Record<string, string>>;
}): ExositeRequest {
  const headers = { ...authHeaders(options.token), 'Content-Type': FORM_CONTENT_TYPE };
  return request('POST', ALIAS_PATH, headers, encodeForm(options.values));
}

/** Reads resources: `GET /onep:v1/stack/alias?<alias>&<alias>` (answer `200` form, or `204`). */
export function readRequest(options: { token: string; aliases: readonly string[] }): ExositeRequest {
  assertOptions(options, 'Exosite read request');
  const headers = { ...authHeaders(options.token), Accept: FORM_CONTENT_TYPE };
  return request('GET', `${ALIAS_PATH}?${aliasQuery(options.aliases)}`, headers);
}

/** Writes, then reads, in one request: `POST /onep:v1/stack/alias?<read aliases>` with the write body. */
export function hybridRequest(options: {
  token: string;
  values: Readonly<Record<string, string>>;
  read: readonly string[];
}): ExositeRequest {
  const headers = {
    ...authHeaders(options.token),
    'Content-Type': FORM_CONTENT_TYPE,
    Accept: FORM_CONTENT_TYPE,
  };
  return request('POST', `${ALIAS_PATH}?${aliasQuery(options.read)}`, headers, encodeForm(options.values));
}

/** Options of {@link longPollRequest}. */
export interface LongPollOptions {
  token: string;
  /** The one alias to wait on. @default 'config_otau' */
  alias?: string;
  /** `Request-Timeout`: how long the server holds the request, 1 to 300 000 ms. */
  timeoutMs: number;
  /**
   * `If-Modified-Since`: pass the previous response's `Last-Modified` back (as received), or a
   * `Date`, or epoch seconds. Without it the poll starts "now" and a write made between two polls
   * is missed.
   */
  ifModifiedSince?: string | number | Date | null;
}

function ifModifiedSinceValue(value: string | number | Date): string {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime()))
      throw new OtaError('CONFIG', 'Invalid If-Modified-Since: invalid Date');
    return value.toUTCString();
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new OtaError('CONFIG', 'Invalid If-Modified-Since: expected whole epoch seconds');
    }
    return String(value);
  }
  if (value.length === 0 || value.length > 64 || CONTROL.test(value) || /[^\x20-\x7e]/.test(value)) {
    throw new OtaError('CONFIG', 'Invalid If-Modified-Since: expected an HTTP-date or epoch seconds');
  }
  return value;
}

/**
 * A long poll on one alias: a read with `Request-Timeout`, and `If-Modified-Since` when
 * a previous poll returned `Last-Modified`. The server answers `200` when the value is written,
 * `304` when the timeout passes first; decode either with {@link decodeLongPollResponse}.
 *
 * @example
 * ```ts
 * let since: string | null = null
 * for (;;) {
 *   const req = longPollRequest({ token, timeoutMs: 30_000, ifModifiedSince: since })
 *   const res = await fetch(new URL(req.path, origin), req)
 *   const result = decodeLongPollResponse({ status: res.status, body: await res.text() }, res.headers.get('Last-Modified'))
 *   if (result.kind === 'changed') { since = result.lastModified ?? since; handle(result.value) }
 * }
 * ```
 */
export function longPollRequest(options: LongPollOptions): ExositeRequest {
  const alias = options.alias ?? 'config_otau';
  const timeout = options.timeoutMs;
  if (!Number.isSafeInteger(timeout) || timeout < 1 || timeout > LIMITS.requestTimeoutMs) {
    throw new OtaError('CONFIG', `Invalid Request-Timeout: expected 1 to ${LIMITS.requestTimeoutMs} ms`);
  }
  const headers: Record<string, string> = {
    ...authHeaders(options.token),
    Accept: FORM_CONTENT_TYPE,
    'Request-Timeout': String(timeout),
  };
  if (options.ifModifiedSince !== undefined && options.ifModifiedSince !== null) {
    headers['If-Modified-Since'] = ifModifiedSinceValue(options.ifModifiedSince);
  }
  return request('GET', `${ALIAS_PATH}?${aliasQuery([alias])}`, headers);
}

/** @internal Refuses options that are not an object (plain JavaScript callers) with a typed error. */
export function assertOptions(options: unknown, what: string): asserts options is object {
  if (typeof options !== 'object' || options === null) {
    throw new OtaError('CONFIG', `Invalid ${what}: expected an options object`);
  }
}

/**
 * @internal Refuses a response that is not `{ status, body? }` with an integer status, so a decoder
 * given anything throws a typed error naming the field, never a TypeError.
 */
export function assertResponse(response: unknown, what: string): asserts response is ExositeResponse {
  if (typeof response !== 'object' || response === null) {
    throw new ManifestError(what, [{ path: '', expected: 'an HTTP response ({ status, body })' }]);
  }
  const { status } = response as { status?: unknown };
  if (!Number.isInteger(status)) {
    throw new ManifestError(what, [{ path: 'status', expected: 'an HTTP status (an integer)' }]);
  }
}

/** @internal The error for an HTTP status a decoder does not expect. */
export function statusError(what: string, status: number): TransportError {
  // Retrying cannot fix a rejected token or a bad request; a busy or failing server may recover.
  const retryable = status === 408 || status === 429 || status >= 500;
  const reason = status === 401 ? 'device token rejected' : 'unexpected status';
  return new TransportError(`Exosite ${what}: ${reason} (HTTP ${status})`, { status, retryable });
}

/**
 * Decodes the answer to a read (or hybrid) request: `200` → alias → value, `204` → no values.
 *
 * @throws ManifestError for a malformed body; TransportError for any other status (`401`: token
 *   rejected, not retryable).
 */
export function decodeReadResponse(response: ExositeResponse): Record<string, string> {
  assertResponse(response, 'Exosite read response');
  if (response.status === 204) return Object.create(null) as Record<string, string>;
  if (response.status !== 200) throw statusError('read', response.status);
  return decodeForm(response.body ?? '');
}

/** What a long poll brought. */
export type LongPollResult =
  /** The alias was written: its value (the raw resource string) and when. */
  | { kind: 'changed'; alias: string; value: string; lastModified: string | null }
  /** `304`: nothing was written before `Request-Timeout`; poll again at once, same `If-Modified-Since`. */
  | { kind: 'timeout' }
  /** `204`: the alias is empty or unknown. */
  | { kind: 'empty' };

/**
 * Decodes the answer to {@link longPollRequest}.
 *
 * @param lastModified The response's `Last-Modified` header, to pass back as `ifModifiedSince`.
 * @throws ManifestError for a `200` body that is not exactly one `alias=value`; TransportError for
 *   any status other than 200, 204 and 304.
 */
export function decodeLongPollResponse(
  response: ExositeResponse,
  lastModified: string | null = null,
): LongPollResult {
  assertResponse(response, 'Exosite long poll response');
  if (response.status === 304) return { kind: 'timeout' };
  if (response.status === 204) return { kind: 'empty' };
  if (response.status !== 200) throw statusError('long poll', response.status);
  const entries = Object.entries(decodeForm(response.body ?? ''));
  const entry = entries[0];
  if (entry === undefined || entries.length !== 1) {
    throw new ManifestError('Exosite long poll body', [
      { path: '', expected: 'exactly one alias=value field' },
    ]);
  }
  return { kind: 'changed', alias: entry[0], value: entry[1], lastModified };
}

/** @internal Text of a small response body, with {@link LIMITS.smallBodyBytes}. */
export function smallText(body: string | Uint8Array | undefined, what: string): string {
  const text = wireText(body ?? '', { what, maxBytes: LIMITS.smallBodyBytes });
  if (typeof text !== 'string') throw new ManifestError(what, [{ path: '', expected: 'text' }]);
  return text;
}
