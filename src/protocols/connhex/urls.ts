/**
 * URLs of the Connhex release endpoints (docs/protocols/connhex.md): the device (thing) endpoint
 * `https://apis.<domain>/iot/ota/<initId>` and the firmware-artifact endpoint
 * `https://apis.<domain>/iot/firmwares/<firmwareId>/artifact`.
 *
 * @module
 */
import { ManifestError } from '../../core/errors.js';
import { redactUrlWith } from '../../core/redact.js';
import { ownSecrets } from './secrets.js';
import { CONTROL_CHARACTER } from './text.js';

export interface EndpointOptions {
  /** The Connhex domain; the API lives at `https://apis.<domain>`. */
  domain?: string;
  /** The API root instead of `domain`, e.g. `https://apis.example.com` or a proxy path. */
  baseUrl?: string;
  /**
   * Allow a plain `http:` base URL (a local test server). Off by default: updates run code as root,
   * and otakit never falls back from HTTPS to HTTP.
   * @default false
   */
  allowHttp?: boolean;
}

const HOSTNAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

function invalid(what: string, path: string, expected: string): ManifestError {
  return new ManifestError(what, [{ path, expected }]);
}

/** The API root for `options`, without a trailing slash. */
export function apiBase(options: EndpointOptions): string {
  if (options.baseUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw invalid('Connhex base URL', 'baseUrl', 'an absolute URL');
    }
    const allowed = options.allowHttp ? ['https:', 'http:'] : ['https:'];
    if (!allowed.includes(url.protocol)) {
      throw invalid(
        `Connhex base URL ${redactUrlWith(options.baseUrl, ownSecrets)}`,
        'baseUrl',
        options.allowHttp ? 'an http(s) URL' : 'an https URL (set allowHttp for a local test server)',
      );
    }
    if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
      throw invalid(
        `Connhex base URL ${redactUrlWith(options.baseUrl, ownSecrets)}`,
        'baseUrl',
        'a URL without query, fragment or credentials (authenticate with the Authorization header)',
      );
    }
    return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  }
  if (options.domain === undefined || !HOSTNAME.test(options.domain)) {
    throw invalid('Connhex domain', 'domain', 'a DNS name such as example.com');
  }
  return `https://apis.${options.domain.toLowerCase()}`;
}

function segment(value: string, name: string): string {
  if (typeof value !== 'string' || value === '' || value.length > 256 || CONTROL_CHARACTER.test(value)) {
    throw invalid(`Connhex ${name}`, name, 'a non-empty id of at most 256 characters');
  }
  return encodeURIComponent(value);
}

/**
 * The device endpoint the Edge addon checks (`HEAD`) and downloads (`GET`) from.
 *
 * @example
 * ```ts
 * deviceReleaseUrl({ domain: 'example.com', initId: 'dev-42' }) // 'https://apis.example.com/iot/ota/dev-42'
 * ```
 */
export function deviceReleaseUrl(options: EndpointOptions & { initId: string }): string {
  return `${apiBase(options)}/iot/ota/${segment(options.initId, 'initId')}`;
}

/**
 * The firmware-artifact endpoint (apps and users; `Version` request header selects the next
 * eligible release).
 *
 * @example
 * ```ts
 * artifactUrl({ domain: 'example.com', firmwareId: 'fw-1' })
 * // 'https://apis.example.com/iot/firmwares/fw-1/artifact'
 * ```
 */
export function artifactUrl(options: EndpointOptions & { firmwareId: string }): string {
  return `${apiBase(options)}/iot/firmwares/${segment(options.firmwareId, 'firmwareId')}/artifact`;
}

/** A release URL taken apart. */
export type ReleaseUrl =
  | { kind: 'device'; baseUrl: string; initId: string }
  | { kind: 'artifact'; baseUrl: string; firmwareId: string };

/**
 * Takes a release URL apart (the inverse of {@link deviceReleaseUrl} and {@link artifactUrl}).
 *
 * @throws ManifestError when `url` is not one of the two endpoints; the URL is shown redacted.
 */
export function parseReleaseUrl(url: string, options: Pick<EndpointOptions, 'allowHttp'> = {}): ReleaseUrl {
  const fail = (expected: string) =>
    invalid(
      `Connhex release URL ${typeof url === 'string' ? redactUrlWith(url.slice(0, 512), ownSecrets) : ''}`.trim(),
      '',
      expected,
    );
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw fail('an absolute URL');
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw fail('a URL without credentials (authenticate with the Authorization header)');
  }
  const baseUrl = apiBase({ baseUrl: parsed.origin, allowHttp: options.allowHttp ?? false });
  const match = /^(.*)\/iot\/(?:ota\/([^/]+)|firmwares\/([^/]+)\/artifact)$/.exec(parsed.pathname);
  if (match === null || parsed.search !== '' || parsed.hash !== '') {
    throw fail('<base>/iot/ota/<initId> or <base>/iot/firmwares/<firmwareId>/artifact');
  }
  let id: string;
  try {
    id = decodeURIComponent(match[2] ?? match[3]!);
  } catch {
    throw fail('a percent-encoded id');
  }
  const base = `${baseUrl}${match[1]!}`;
  return match[2] !== undefined
    ? { kind: 'device', baseUrl: base, initId: id }
    : { kind: 'artifact', baseUrl: base, firmwareId: id };
}

/** The suffix of a release's signed statement, served beside the release endpoint. */
export const STATEMENT_SUFFIX = '.otakit.json';

/**
 * Where the signed statement of the release at `releaseUrl` is served (otakit's companion,
 * which the Connhex addon never asks for): `<release URL>.otakit.json`.
 */
export function statementUrl(releaseUrl: string): string {
  return `${releaseUrl}${STATEMENT_SUFFIX}`;
}
