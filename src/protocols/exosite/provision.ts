/**
 * Provisioning and utility procedures of the Exosite HTTP device API (docs/protocols/exosite.md, "HTTP
 * device API"): activation (identity → device token), the server clock, and the content area of the IoT
 * Connector where ExoSense puts uploaded package files. Requests only, no I/O, like `http.ts`.
 *
 * Exported from `otakit/node` as `exositeProvisioning` (a device agent activates itself and lists
 * its content; a dashboard never does), so the browser-safe root does not carry it.
 *
 * @module
 */
import { ManifestError, OtaError, TransportError } from '../../core/errors.js';
import { formEncodeComponent } from './form.js';
import {
  assertProductId,
  assertResponse,
  authHeaders,
  CONTROL,
  type ExositeRequest,
  type ExositeResponse,
  FORM_CONTENT_TYPE,
  isDeviceToken,
  request,
  smallText,
  statusError,
  TOKEN_EXPECTED,
} from './http.js';
import { LIMITS } from './limits.js';

/**
 * Activation: `POST /provision/activate` with `vendor`, `model` (both the product id) and
 * `sn` (the device identity). The answer's body is the device token.
 */
export function activateRequest(options: { productId: string; identity: string }): ExositeRequest {
  assertProductId(options.productId);
  const identity = options.identity;
  if (
    typeof identity !== 'string' ||
    identity.length === 0 ||
    identity.length > 128 ||
    CONTROL.test(identity)
  ) {
    throw new OtaError(
      'CONFIG',
      'Invalid Exosite identity: expected 1 to 128 characters, no control characters',
    );
  }
  const pid = options.productId;
  const body = `vendor=${pid}&model=${pid}&sn=${formEncodeComponent(identity)}`;
  return request('POST', '/provision/activate', { 'Content-Type': FORM_CONTENT_TYPE }, body);
}

/**
 * The token from an activation answer.
 *
 * @throws TransportError for `404` (identity not found), `409` (identity not enabled for
 *   activation, or already activated) and other statuses; ManifestError when the body is not a
 *   token. The body is never quoted: it is a credential.
 */
export function decodeActivateResponse(response: ExositeResponse): string {
  assertResponse(response, 'Exosite activation response');
  if (response.status === 404) {
    throw new TransportError('Exosite activation: identity not found (HTTP 404)', {
      status: 404,
      retryable: false,
    });
  }
  if (response.status === 409) {
    throw new TransportError(
      'Exosite activation: identity not enabled for activation or already activated (HTTP 409)',
      {
        status: 409,
        retryable: false,
      },
    );
  }
  if (response.status !== 200) throw statusError('activation', response.status);
  const token = smallText(response.body, 'Exosite activation response').trim();
  if (!isDeviceToken(token)) {
    throw new ManifestError('Exosite activation response', [
      { path: '', expected: `a device token (${TOKEN_EXPECTED})` },
    ]);
  }
  return token;
}

/** `GET /timestamp`: the server's clock. */
export function timestampRequest(): ExositeRequest {
  return request('GET', '/timestamp', {});
}

/** Epoch seconds from a `/timestamp` answer. */
export function decodeTimestampResponse(response: ExositeResponse): number {
  assertResponse(response, 'Exosite timestamp response');
  if (response.status !== 200) throw statusError('timestamp', response.status);
  const text = smallText(response.body, 'Exosite timestamp').trim();
  const seconds = /^\d{1,15}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(seconds)) {
    throw new ManifestError('Exosite timestamp', [{ path: '', expected: 'whole epoch seconds' }]);
  }
  return seconds;
}

function contentPath(productId: string, extra: string): string {
  assertProductId(productId);
  return `/provision/download?vendor=${productId}&model=${productId}${extra}`;
}

function contentId(id: string): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > LIMITS.urlLength || CONTROL.test(id)) {
    throw new OtaError(
      'CONFIG',
      'Invalid Exosite content id: expected 1 to 8192 characters, no control characters',
    );
  }
  return formEncodeComponent(id);
}

/** Lists the content ids available to the device (one per line). */
export function contentListRequest(options: { token: string; productId: string }): ExositeRequest {
  return request('GET', contentPath(options.productId, ''), authHeaders(options.token));
}

/** Asks for one content file's type, size, update time and meta. */
export function contentInfoRequest(options: {
  token: string;
  productId: string;
  id: string;
}): ExositeRequest {
  return request(
    'GET',
    contentPath(options.productId, `&id=${contentId(options.id)}&info=true`),
    authHeaders(options.token),
  );
}

/**
 * Downloads one content file, optionally a byte range (`Range: bytes=start-end`, answer `206`).
 */
export function contentDownloadRequest(options: {
  token: string;
  productId: string;
  id: string;
  range?: { start: number; end?: number };
}): ExositeRequest {
  const headers = authHeaders(options.token);
  const range = options.range;
  if (range !== undefined) {
    const { start, end } = range;
    const valid =
      Number.isSafeInteger(start) &&
      start >= 0 &&
      (end === undefined || (Number.isSafeInteger(end) && end >= start));
    if (!valid) throw new OtaError('CONFIG', 'Invalid byte range: expected 0 <= start <= end');
    headers.Range = `bytes=${start}-${end ?? ''}`;
  }
  return request('GET', contentPath(options.productId, `&id=${contentId(options.id)}`), headers);
}

/** The content ids of a content list answer (one per line; blank lines skipped). */
export function decodeContentList(response: ExositeResponse): string[] {
  assertResponse(response, 'Exosite content list response');
  if (response.status === 204) return [];
  if (response.status !== 200) throw statusError('content list', response.status);
  return smallText(response.body, 'Exosite content list')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/** A content file's description, from `…&info=true`. */
export interface ContentInfo {
  contentType: string;
  /** Bytes. */
  size: number;
  /** Epoch seconds of the last update. */
  updated: number;
  /** Free text the uploader attached (may contain commas). */
  meta: string;
}

/** Decodes `<content-type>,<byte-size>,<updated-ts>,<meta>`. */
export function decodeContentInfo(response: ExositeResponse): ContentInfo {
  const what = 'Exosite content info';
  assertResponse(response, what);
  if (response.status !== 200) throw statusError('content info', response.status);
  const text = smallText(response.body, what).trim();
  const match = /^([^,]*),(\d{1,15}),(\d{1,15}),?([\s\S]*)$/.exec(text);
  if (match === null) {
    throw new ManifestError(what, [{ path: '', expected: '<content-type>,<byte-size>,<updated-ts>,<meta>' }]);
  }
  return {
    contentType: match[1] ?? '',
    size: Number(match[2]),
    updated: Number(match[3]),
    meta: match[4] ?? '',
  };
}
