/**
 * The package download URL of insigh.io:
 * `https://console.insigh.io/mf-rproxy/packages/download?fuid=<file>&did=<device>&dk=<key>&cid=<channel>`.
 * The device key rides in the query string, so every URL this module hands out prints redacted.
 *
 * @module
 */
import * as z from 'zod';
import { ManifestError, OtaError } from '../../core/errors.js';
import { redactUrlWith } from '../../core/redact.js';
import {
  ChannelIdSchema,
  DeviceIdSchema,
  DeviceKeySchema,
  FileIdSchema,
  ID_PATTERN,
  parseConfig,
} from './ids.js';
import { LIMITS } from './limits.js';
import { ownSecrets } from './secrets.js';

/** The console's package service, as the firmware addresses it. */
export const DEFAULT_BASE_URL = 'https://console.insigh.io/mf-rproxy';

/** The path below the base URL. */
export const DOWNLOAD_PATH = '/packages/download';

/** Everything the download URL is made of. */
export const DownloadParamsSchema = z.object({
  /** `fuid`: the file id from the order's `i` record. */
  fileId: FileIdSchema,
  /** `did`: the device (thing) id. */
  deviceId: DeviceIdSchema,
  /** `dk`: the device (thing) key. A secret. */
  deviceKey: DeviceKeySchema,
  /** `cid`: the control channel id. */
  controlChannelId: ChannelIdSchema,
});
export type DownloadParams = z.output<typeof DownloadParamsSchema>;

/** Where packages are downloaded from, and whether plain HTTP is tolerated. */
export interface DownloadUrlOptions {
  /**
   * The package service base URL; `/packages/download` is appended.
   * @default 'https://console.insigh.io/mf-rproxy'
   */
  baseUrl?: string;
  /**
   * Accept an `http:` base URL. Off by default (docs/protocols/insighIo.md): over plain HTTP the device
   * key and the package travel in clear. The reference firmware uses HTTP on `esp32wroom` boards.
   * @default false
   */
  allowInsecureHttp?: boolean;
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * A download URL that holds the device key. Printing it in any ordinary way (`String(url)`,
 * template literals, `JSON.stringify`, Node's `console.log`) shows the redacted form with
 * `dk=***`; only {@link DownloadUrl.href} gives the real URL, for the HTTP client. Passing the
 * object itself to `fetch` therefore fails safe (the server refuses `dk=***`).
 */
export class DownloadUrl {
  readonly #href: string;

  constructor(href: string) {
    this.#href = href;
  }

  /** The URL with the device key. Give it to the HTTP client and to nothing else. */
  get href(): string {
    return this.#href;
  }

  /** The URL with `dk` masked, for logs, errors and events. */
  get redacted(): string {
    return redactUrlWith(this.#href, ownSecrets);
  }

  toString(): string {
    return this.redacted;
  }

  toJSON(): string {
    return this.redacted;
  }

  [INSPECT](): string {
    return `DownloadUrl <${this.redacted}>`;
  }
}

/** The validated base URL (origin and path), without a trailing slash. */
function baseOf(options: DownloadUrlOptions): string {
  const raw = options.baseUrl ?? DEFAULT_BASE_URL;
  const fail = (expected: string): never => {
    // Neither the message nor a cause repeats the URL: it might carry credentials.
    throw new OtaError('CONFIG', `Invalid insigh.io base URL: expected ${expected}`);
  };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail('an absolute URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && options.allowInsecureHttp === true)) {
    fail(
      options.allowInsecureHttp === true
        ? 'an https: or http: URL'
        : 'an https: URL (set allowInsecureHttp for http:)',
    );
  }
  if (url.username !== '' || url.password !== '') fail('a URL without user info');
  if (url.search !== '' || url.hash !== '') fail('a URL without query or fragment');
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function build(base: string, params: DownloadParams): DownloadUrl {
  const query = [
    ['fuid', params.fileId],
    ['did', params.deviceId],
    ['dk', params.deviceKey],
    ['cid', params.controlChannelId],
  ]
    .map(([name, value]) => `${name}=${encodeURIComponent(value!)}`)
    .join('&');
  return new DownloadUrl(`${base}${DOWNLOAD_PATH}?${query}`);
}

/**
 * Builds the download URL of a package (vector I2). Ids must match the id pattern; the key is
 * percent-encoded.
 * @throws OtaError (`CONFIG`) for an invalid id, key or base URL; the message never holds the key.
 *
 * @example
 * ```ts
 * const url = insighIo.downloadUrl({ fileId: order.fileId, deviceId, deviceKey, controlChannelId })
 * await fetch(url.href)            // the real URL
 * logger.info(`fetching ${url}`)   // prints dk=***
 * ```
 */
export function downloadUrl(params: DownloadParams, options: DownloadUrlOptions = {}): DownloadUrl {
  const valid = parseConfig(DownloadParamsSchema, params, 'insigh.io download parameters');
  return build(baseOf(options), valid);
}

/**
 * The URLs to try, in order. Hardened (the default): the one URL of {@link downloadUrl}.
 * With `httpFallback`, the reference firmware's behaviour: the same URL over plain HTTP after
 * the HTTPS one, which exposes the device key to anyone on the path; use it only where a device
 * fleet must keep working against a server that needs it.
 */
export function downloadUrls(
  params: DownloadParams,
  options: DownloadUrlOptions & {
    /** @default false */
    httpFallback?: boolean;
  } = {},
): DownloadUrl[] {
  const primary = downloadUrl(params, options);
  if (options.httpFallback !== true || !primary.href.startsWith('https:')) return [primary];
  return [primary, new DownloadUrl(`http:${primary.href.slice('https:'.length)}`)];
}

/** A download URL taken apart. */
export interface ParsedDownloadUrl extends DownloadParams {
  /** Scheme, host and path before `/packages/download`. */
  baseUrl: string;
}

/**
 * Parses a download URL (e.g. in a test server, or a canonical artifact URL). Each of `fuid`,
 * `did`, `dk`, `cid` must appear exactly once; other parameters are refused.
 * @throws ManifestError naming the parameter and what was expected, never its value.
 */
export function parseDownloadUrl(url: string): ParsedDownloadUrl {
  const what = 'insigh.io download URL';
  const fail = (path: string, expected: string): never => {
    throw new ManifestError(what, [{ path, expected }]);
  };
  if (typeof url !== 'string' || url.length > LIMITS.maxUrlLength) {
    fail('', `a URL of at most ${LIMITS.maxUrlLength} characters`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // No cause: URL errors repeat their input, which holds the key.
    return fail('', 'an absolute URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') fail('', 'an http(s) URL');
  if (!parsed.pathname.endsWith(DOWNLOAD_PATH)) fail('', `a path ending in ${DOWNLOAD_PATH}`);
  const names = { fuid: 'fileId', did: 'deviceId', dk: 'deviceKey', cid: 'controlChannelId' } as const;
  const values: Record<string, string> = {};
  for (const [name, value] of parsed.searchParams) {
    if (!Object.hasOwn(names, name)) fail(name, 'only the parameters fuid, did, dk, cid');
    if (Object.hasOwn(values, name)) fail(name, 'the parameter once');
    values[name] = value;
  }
  for (const name of Object.keys(names)) {
    if (!Object.hasOwn(values, name)) fail(name, 'a value');
    if (name !== 'dk' && !ID_PATTERN.test(values[name]!)) fail(name, 'an id of letters, digits, "-", "_"');
  }
  const result = DownloadParamsSchema.safeParse({
    fileId: values.fuid,
    deviceId: values.did,
    deviceKey: values.dk,
    controlChannelId: values.cid,
  });
  if (!result.success) {
    const field = String(result.error.issues[0]?.path[0] ?? '');
    const name = Object.entries(names).find(([, key]) => key === field)?.[0] ?? '';
    return fail(
      name,
      name === 'dk' ? `a device key of 1 to ${LIMITS.maxKeyLength} printable characters` : 'a valid id',
    );
  }
  const params = result.data;
  const base = `${parsed.origin}${parsed.pathname.slice(0, -DOWNLOAD_PATH.length)}`;
  return { baseUrl: base, ...params };
}
