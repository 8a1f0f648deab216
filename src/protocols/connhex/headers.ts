/**
 * HTTP headers of the Connhex release endpoints (docs/protocols/connhex.md): reading the release
 * metadata a `HEAD` returns, writing those headers (for a server or a test double), and building
 * the device's request headers (auth, `Version`, `Range`, `If-Match`).
 *
 * @module
 */
import { ManifestError, OtaError, type ValidationIssue } from '../../core/errors.js';
import { isBytes, isRecord } from '../../core/record.js';
import { parseWith } from '../../core/validate.js';
import { type ContentDigestForm, formatContentDigest, parseContentDigest } from './digest.js';
import { LIMITS } from './limits.js';
import { type ReleaseMetadata, ReleaseMetadataSchema, ReleaseVersionSchema } from './schemas.js';

/**
 * Response headers in any common shape: a fetch `Headers`, or a plain record such as Node's
 * `IncomingHttpHeaders` (any letter case; repeated headers as arrays).
 */
export type HeadersLike =
  | { get(name: string): string | null }
  | Readonly<Record<string, string | readonly string[] | number | undefined>>;

/** A header value as HTTP would read it, or `undefined` when `value` is none. */
function headerValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value.join(', ');
  return undefined;
}

/**
 * Whether `headers` can be read as headers at all: a `Headers` or a record. An array or a byte
 * array is neither (its indices are not header names), and walking a large one per lookup took
 * seconds (found by the fuzz suite with 200 kB of bytes given as headers).
 */
function isHeadersLike(headers: unknown): headers is HeadersLike {
  return isRecord(headers) && !isBytes(headers);
}

/**
 * A case-insensitive reader of `headers`. A record is indexed in one pass (the first usable
 * value of each name wins, as {@link getHeader}), so reading several headers stays linear.
 */
function headerReader(headers: HeadersLike): (name: string) => string | undefined {
  if (typeof (headers as { get?: unknown }).get === 'function') {
    const fetchHeaders = headers as { get(name: string): string | null };
    return (name) => {
      const value = fetchHeaders.get(name);
      return typeof value === 'string' ? value : undefined;
    };
  }
  const index = new Map<string, string>();
  for (const [key, raw] of Object.entries(headers as Record<string, unknown>)) {
    const name = key.toLowerCase();
    if (index.has(name)) continue;
    const value = headerValue(raw);
    if (value !== undefined) index.set(name, value);
  }
  return (name) => index.get(name.toLowerCase());
}

/** Case-insensitive header lookup; repeated values are joined with `, ` as HTTP does. */
export function getHeader(headers: HeadersLike, name: string): string | undefined {
  // Neither a Headers object nor a record (plain JavaScript callers): no header at all.
  if (!isHeadersLike(headers) || typeof name !== 'string') return undefined;
  return headerReader(headers)(name);
}

/**
 * Reads a `Version`, `Min-Version` or `Max-Version` value: an RFC 8941 quoted string (the
 * artifact API documents the selected version as quoted) or a bare value.
 * Returns the version, or what was expected instead.
 */
function versionValue(raw: string): string | { expected: string } {
  const value = raw.replace(/^[ \t]+|[ \t]+$/g, '');
  let version = value;
  if (value.startsWith('"')) {
    // sf-string: printable ASCII, with only \" and \\ escaped.
    const match = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"$/.exec(value);
    if (match === null) return { expected: 'a quoted string with only \\" and \\\\ escapes' };
    version = match[1]!.replace(/\\(["\\])/g, '$1');
  }
  const checked = ReleaseVersionSchema.safeParse(version);
  if (!checked.success) {
    return {
      expected: `a non-empty version of printable ASCII, at most ${LIMITS.maxVersionLength} characters`,
    };
  }
  return checked.data;
}

/** Writes a version as an RFC 8941 quoted string, the way the artifact API sends `Version`. */
export function quoteVersion(version: string): string {
  const valid = parseWith(ReleaseVersionSchema, version, 'Connhex release version');
  return `"${valid.replace(/(["\\])/g, '\\$1')}"`;
}

/**
 * The parameters of a `Content-Disposition` value, read left to right so that a quoted value
 * (which may itself contain `; filename*=`) is never mistaken for a parameter. Stops at the first
 * malformed parameter.
 */
function dispositionParameters(value: string): Map<string, string> {
  const parameters = new Map<string, string>();
  const type = /^\s*[^;\s]*\s*/.exec(value)!;
  const parameter = /;\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;"\s]*)\s*/y;
  parameter.lastIndex = type[0].length;
  for (let match = parameter.exec(value); match !== null; match = parameter.exec(value)) {
    const raw = match[2]!;
    const name = match[1]!.toLowerCase();
    if (!parameters.has(name)) {
      parameters.set(name, raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw);
    }
  }
  return parameters;
}

/** The file name of `Content-Disposition`, if it is a safe base name. */
function dispositionFileName(value: string): string | undefined {
  const parameters = dispositionParameters(value);
  let name: string | undefined;
  // RFC 6266: filename* (an RFC 8187 ext-value) wins over filename.
  const extended = /^utf-8'[^']*'(.+)$/i.exec(parameters.get('filename*') ?? '');
  if (extended) {
    try {
      name = decodeURIComponent(extended[1]!);
    } catch {
      name = undefined;
    }
  }
  name ??= parameters.get('filename');
  if (name === undefined) return undefined;
  // A name with directories (`../../etc/cron.d/x`) is dropped, never trusted as a path.
  return ReleaseMetadataSchema.shape.fileName.safeParse(name).success ? name : undefined;
}

export interface ReleaseHeaderOptions {
  /**
   * Require a `Content-Digest` with a SHA-256 member (so the download can be verified).
   * @default false
   */
  requireDigest?: boolean;
}

/**
 * Reads the release metadata from the headers of a `200` to `HEAD /iot/ota/<initId>` or
 * `HEAD /iot/firmwares/<id>/artifact`. `Version` is required (it is how the addon decides);
 * `Content-Length`, `Content-Digest`, `Min-Version`, `Max-Version` are checked when present;
 * an unusable `ETag` or `Content-Disposition` file name is dropped rather than trusted.
 *
 * @throws ManifestError naming each bad header (e.g. `Content-Digest[0]`) and what was expected.
 *
 * @example
 * ```ts
 * const response = await fetch(url, { method: 'HEAD', headers })
 * const release = connhex.parseReleaseHeaders(response.headers) // { version: '0.0.3', sha256: '…' }
 * ```
 */
export function parseReleaseHeaders(
  headers: HeadersLike,
  options: ReleaseHeaderOptions = {},
): ReleaseMetadata {
  if (!isHeadersLike(headers)) {
    throw new ManifestError('Connhex release headers', [
      { path: '', expected: 'the response headers (a Headers object or a record of header values)' },
    ]);
  }
  const issues: ValidationIssue[] = [];
  const header = headerReader(headers);
  const read = (name: string): string | undefined => {
    const value = header(name);
    if (value !== undefined && value.length > LIMITS.maxHeaderValueLength) {
      issues.push({ path: name, expected: `at most ${LIMITS.maxHeaderValueLength} characters` });
      return undefined;
    }
    return value;
  };
  const out: Record<string, unknown> = {};
  const version = read('Version');
  if (version === undefined) issues.push({ path: 'Version', expected: 'the release version' });
  for (const [name, key] of [
    ['Version', 'version'],
    ['Min-Version', 'minVersion'],
    ['Max-Version', 'maxVersion'],
  ] as const) {
    const raw = name === 'Version' ? version : read(name);
    if (raw === undefined) continue;
    const parsed = versionValue(raw);
    if (typeof parsed === 'string') out[key] = parsed;
    else issues.push({ path: name, expected: parsed.expected });
  }
  const length = read('Content-Length');
  if (length !== undefined) {
    // A repeated header with one value (`1024, 1024`) is allowed by RFC 9110; differing ones are not.
    const values = new Set(length.split(',').map((part) => part.trim()));
    const only = values.size === 1 ? [...values][0]! : '';
    const size = /^\d{1,16}$/.test(only) ? Number(only) : Number.NaN;
    if (Number.isSafeInteger(size)) out.size = size;
    else issues.push({ path: 'Content-Length', expected: 'a byte count' });
  }
  const digest = read('Content-Digest');
  if (digest !== undefined) {
    try {
      const parsed = parseContentDigest(digest);
      if (parsed.sha256 !== undefined) out.sha256 = parsed.sha256;
    } catch (error) {
      if (!(error instanceof ManifestError)) throw error;
      for (const issue of error.issues) issues.push({ ...issue, path: `Content-Digest${issue.path}` });
    }
  }
  if (
    options.requireDigest &&
    out.sha256 === undefined &&
    !issues.some((i) => i.path.startsWith('Content-Digest'))
  ) {
    issues.push({ path: 'Content-Digest', expected: 'a SHA-256 digest (sha-256=:…: or sha256=…)' });
  }
  const etag = read('ETag')?.trim();
  if (etag !== undefined && ReleaseMetadataSchema.shape.etag.safeParse(etag).success) out.etag = etag;
  const type = read('Content-Type')?.trim();
  if (type !== undefined && ReleaseMetadataSchema.shape.contentType.safeParse(type).success) {
    out.contentType = type;
  }
  const disposition = read('Content-Disposition');
  if (disposition !== undefined) {
    const fileName = dispositionFileName(disposition);
    if (fileName !== undefined) out.fileName = fileName;
  }
  if (issues.length > 0) throw new ManifestError('Connhex release headers', issues);
  return parseWith(ReleaseMetadataSchema, out, 'Connhex release headers');
}

export interface WriteHeaderOptions {
  /** How to spell `Content-Digest`. @default 'rfc9530' */
  digestForm?: ContentDigestForm;
}

/**
 * The response headers a Connhex release endpoint sends for `release` (for a server, a test
 * double or a proxy). Only the fields present are written; {@link parseReleaseHeaders} reads them
 * back to the same metadata.
 *
 * @throws ManifestError when `release` is not valid release metadata.
 */
export function releaseHeaders(
  release: ReleaseMetadata,
  options: WriteHeaderOptions = {},
): Record<string, string> {
  const valid = parseWith(ReleaseMetadataSchema, release, 'Connhex release metadata');
  const headers: Record<string, string> = { Version: quoteVersion(valid.version) };
  if (valid.size !== undefined) headers['Content-Length'] = String(valid.size);
  if (valid.sha256 !== undefined)
    headers['Content-Digest'] = formatContentDigest(valid.sha256, options.digestForm);
  if (valid.minVersion !== undefined) headers['Min-Version'] = quoteVersion(valid.minVersion);
  if (valid.maxVersion !== undefined) headers['Max-Version'] = quoteVersion(valid.maxVersion);
  if (valid.etag !== undefined) headers.ETag = valid.etag;
  if (valid.contentType !== undefined) headers['Content-Type'] = valid.contentType;
  if (valid.fileName !== undefined) {
    const ascii = /^[\x20-\x7e]*$/.test(valid.fileName);
    const quoted = valid.fileName.replace(/[^\x20-\x7e]/g, '_').replace(/(["\\])/g, '\\$1');
    headers['Content-Disposition'] = ascii
      ? `attachment; filename="${quoted}"`
      : `attachment; filename="${quoted}"; filename*=UTF-8''${encodeURIComponent(valid.fileName)}`;
  }
  return headers;
}

/** How the device authenticates. Connhex documents both schemes (docs/protocols/connhex.md, "Security"). */
export interface ConnhexCredentials {
  /** The thing key (or an access token with `scheme: 'Bearer'`). Never printed. */
  key: string;
  /** @default 'Thing' */
  scheme?: 'Thing' | 'Bearer';
}

export interface RequestHeaderOptions {
  credentials: ConnhexCredentials;
  /** The installed version, sent as `Version` so the artifact API selects the next eligible release. */
  version?: string;
  /** The `ETag` from the `HEAD`, sent as `If-Match` so the `GET` fetches the same release (else 412). */
  etag?: string;
  /** Resume a partial download from this byte offset (`Range: bytes=<n>-`). */
  resumeFrom?: number;
}

/**
 * Request headers for `HEAD`/`GET` on a release endpoint.
 *
 * @throws OtaError (`CONFIG`) when the key is empty or holds whitespace or control characters
 * (header injection); the message never contains the key.
 *
 * @example
 * ```ts
 * connhex.requestHeaders({ credentials: { key: thingKey }, version: '0.0.2' })
 * // { Authorization: 'Thing …', Version: '0.0.2' }
 * ```
 */
export function requestHeaders(options: RequestHeaderOptions): Record<string, string> {
  const { key, scheme = 'Thing' } = options.credentials;
  if (typeof key !== 'string' || !/^[\x21-\x7e]+$/.test(key)) {
    throw new OtaError(
      'CONFIG',
      'Connhex credentials: the key must be non-empty printable ASCII without spaces (value not shown)',
    );
  }
  if (scheme !== 'Thing' && scheme !== 'Bearer') {
    throw new OtaError('CONFIG', 'Connhex credentials: scheme must be "Thing" or "Bearer"');
  }
  const headers: Record<string, string> = { Authorization: `${scheme} ${key}` };
  if (options.version !== undefined) {
    headers.Version = parseWith(ReleaseVersionSchema, options.version, 'installed version');
  }
  if (options.etag !== undefined) {
    headers['If-Match'] = parseWith(ReleaseMetadataSchema.shape.etag.unwrap(), options.etag, 'ETag');
  }
  if (options.resumeFrom !== undefined) {
    if (!Number.isSafeInteger(options.resumeFrom) || options.resumeFrom < 0) {
      throw new OtaError('CONFIG', 'resumeFrom must be a non-negative integer byte offset');
    }
    if (options.resumeFrom > 0) headers.Range = `bytes=${options.resumeFrom}-`;
  }
  return headers;
}

/** A `Content-Range` of a `206 Partial Content`. */
export interface ContentRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
  /** Full size of the artifact, `undefined` when the server sent `*`. */
  size: number | undefined;
}

/**
 * Parses `Content-Range: bytes <start>-<end>/<size|*>` (RFC 9110, section 14.4), as sent with a `206`
 * when resuming a download.
 *
 * @throws ManifestError for any other form, or a range that is reversed or beyond the size.
 */
export function parseContentRange(value: string): ContentRange {
  const match =
    typeof value === 'string' ? /^bytes (\d{1,16})-(\d{1,16})\/(\d{1,16}|\*)$/.exec(value.trim()) : null;
  const start = match ? Number(match[1]) : Number.NaN;
  const end = match ? Number(match[2]) : Number.NaN;
  const size = match && match[3] !== '*' ? Number(match[3]) : undefined;
  if (
    !match ||
    !Number.isSafeInteger(start) ||
    !Number.isSafeInteger(end) ||
    end < start ||
    (size !== undefined && (!Number.isSafeInteger(size) || end >= size))
  ) {
    throw new ManifestError('Content-Range header', [
      { path: '', expected: 'bytes <first>-<last>/<size> with first ≤ last < size' },
    ]);
  }
  return { start, end, size };
}
