/**
 * Payload items of a `URL_LIST` or `FILE` manifest. An item is either an absolute URL (fetched directly) or,
 * when it has no host, the id of a content file stored in the IoT Connector (docs/protocols/exosite.md, "The
 * order"), fetched through the device content API ("HTTP device API"). The manifest carries no digest, so
 * the URL scheme and host are all the integrity there is: only `http:` and `https:` are accepted, never
 * `file:`, `data:`, `javascript:` or a scheme-relative `//host`.
 *
 * @module
 */
import { ManifestError, OtaError } from '../../core/errors.js';
import { formEncodeComponent } from './form.js';
import { LIMITS } from './limits.js';

/** What a payload item turned out to be. */
export type PayloadItem =
  /** An absolute `http:`/`https:` URL, downloaded as is. */
  | { kind: 'url'; url: string }
  /** A content id in the IoT Connector, downloaded through the content API. */
  | { kind: 'content'; id: string };

/** The expectation every payload error names. */
export const PAYLOAD_ITEM_EXPECTED = 'an http(s) URL with a host, or a connector content id (no scheme)';

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
const AUTHORITY = /^https?:\/\/[^/\\?#]/i;
// C0 controls and DEL: never part of a URL or a file name, and a header-injection risk.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Why `item` is not a payload item, or `undefined` when it is one. */
function problem(item: string): string | undefined {
  if (item.length === 0 || item.length > LIMITS.urlLength || CONTROL.test(item)) return PAYLOAD_ITEM_EXPECTED;
  const scheme = SCHEME.exec(item)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    // `//host/x` has a host but no scheme; `\\host\x` is read as a host by WHATWG URL parsers.
    if (item.startsWith('//') || item.startsWith('\\')) return PAYLOAD_ITEM_EXPECTED;
    return undefined;
  }
  if (scheme !== 'http' && scheme !== 'https') return PAYLOAD_ITEM_EXPECTED;
  // WHATWG parsers repair `http:///x`, `http:\\x` and `http:x` into `http://x/`: insist on the
  // authority being spelled out, so the host a reader sees is the host that is contacted.
  if (!AUTHORITY.test(item) || !URL.canParse(item)) return PAYLOAD_ITEM_EXPECTED;
  if (new URL(item).hostname === '') return PAYLOAD_ITEM_EXPECTED;
  return undefined;
}

/** Whether `item` is an acceptable payload item (see {@link classifyPayloadItem}). */
export function isPayloadItem(item: unknown): item is string {
  return typeof item === 'string' && problem(item) === undefined;
}

/**
 * Sorts a payload item into an absolute URL or a connector content id.
 *
 * An item with a scheme must be `http:`/`https:` with a host. An item without one is a content
 * id (e.g. `firmware_updatev102.txt`); note that `name:rest` reads as a URL with scheme `name`
 * and is refused.
 *
 * @throws ManifestError (`MANIFEST_INVALID`) at `path` when the item is neither.
 *
 * @example
 * ```ts
 * classifyPayloadItem('firmware_updatev102.txt') // { kind: 'content', id: 'firmware_updatev102.txt' }
 * classifyPayloadItem('https://cdn.example/fw')   // { kind: 'url', url: 'https://cdn.example/fw' }
 * ```
 */
export function classifyPayloadItem(item: string, path = 'payload'): PayloadItem {
  const why = typeof item === 'string' ? problem(item) : PAYLOAD_ITEM_EXPECTED;
  if (why !== undefined) throw new ManifestError('Exosite payload item', [{ path, expected: why }]);
  return SCHEME.test(item) ? { kind: 'url', url: item } : { kind: 'content', id: item };
}

/**
 * Where connector content is downloaded from: a base URL, or a function from content id to URL.
 *
 * - A base URL **with a query** (the content API, see `contentBaseUrl()`) gets
 *   `&id=<content id>` appended, form-encoded.
 * - A base URL **without a query** gets the content id appended as one percent-encoded path
 *   segment (so `a/../b` cannot climb out of it; the ids `.` and `..` are refused).
 * - A function is called with the content id; what it returns is checked like any URL.
 */
export type ContentLocator = string | ((contentId: string) => string);

function checkedHttpUrl(url: string, what: string): void {
  if (typeof url !== 'string' || !URL.canParse(url))
    throw new OtaError('CONFIG', `Invalid ${what}: expected an absolute http(s) URL`);
  const parsed = new URL(url);
  if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.hostname === '') {
    throw new OtaError('CONFIG', `Invalid ${what}: expected an absolute http(s) URL`);
  }
}

/**
 * The URL to download a payload item from: absolute URLs pass through unchanged; content ids are
 * resolved with `content` (see {@link ContentLocator}).
 *
 * @throws ManifestError for an item that is neither an http(s) URL nor a content id;
 *   `OtaError` `CONFIG` when a content id needs a locator and none (or a bad one) was given.
 *
 * @example
 * ```ts
 * const base = contentBaseUrl('d1zzd6dflnt50000')
 * resolvePayloadItem('firmware_updatev102.txt', base)
 * // https://d1zzd6dflnt50000.m2.exosite.io/provision/download?vendor=d1zzd6dflnt50000&model=d1zzd6dflnt50000&id=firmware_updatev102.txt
 * ```
 */
export function resolvePayloadItem(item: string, content?: ContentLocator, path = 'payload'): string {
  const classified = classifyPayloadItem(item, path);
  if (classified.kind === 'url') return classified.url;
  const id = classified.id;
  if (content === undefined) {
    throw new OtaError(
      'CONFIG',
      `Payload item at ${path} is connector content: a content base URL is required`,
    );
  }
  if (typeof content !== 'string' && typeof content !== 'function') {
    throw new OtaError(
      'CONFIG',
      'Invalid content locator: expected a base URL or a function of the content id',
    );
  }
  if (typeof content === 'function') {
    const url = content(id);
    checkedHttpUrl(url, 'content URL');
    return url;
  }
  checkedHttpUrl(content, 'content base URL');
  // Anything appended after a fragment would never reach the server (`new URL().hash` is '' for a bare `#`).
  if (content.includes('#')) throw new OtaError('CONFIG', 'Invalid content base URL: expected no fragment');
  if (content.includes('?')) {
    const joiner = content.endsWith('?') || content.endsWith('&') ? '' : '&';
    return `${content}${joiner}id=${formEncodeComponent(id)}`;
  }
  if (id === '.' || id === '..') {
    // Dot segments survive encodeURIComponent and would be resolved away by the URL parser.
    throw new ManifestError('Exosite payload item', [{ path, expected: PAYLOAD_ITEM_EXPECTED }]);
  }
  let segment: string;
  try {
    segment = encodeURIComponent(id);
  } catch {
    // A lone surrogate has no UTF-8 form, so no URL can name it (found by the fuzz suite).
    throw new ManifestError('Exosite payload item', [{ path, expected: PAYLOAD_ITEM_EXPECTED }]);
  }
  return `${content.endsWith('/') ? content : `${content}/`}${segment}`;
}
