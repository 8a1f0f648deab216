/**
 * The device side of the micropython_ota protocol object. The device polls the server's
 * `<host>/<project>/version` file; a tag other than the one it runs is an order for the files
 * its target names, under that tag. Its only "status" is its own `version` file, written once
 * the update is in place.
 *
 * @module
 */
import { ManifestError, TransportError } from '../../core/errors.js';
import type { UpdateRef } from '../../core/status.js';
import type { Manifest } from '../../manifest/schema.js';
import type { DeviceCodec, OrderContext, WireMessage } from '../contract.js';
import type { Conversion } from '../conversion.js';
import { basicAuthHeaders } from './auth.js';
import { toCanonical } from './codec.js';
import { checkInbound } from './inbound.js';
import { localVersionMessage } from './local-version.js';
import { parseTarget, type Target } from './target.js';
import { versionFileUrl } from './urls.js';
import { parseRemoteVersion } from './version-file.js';

const NO_ORDER: Conversion<Manifest | null> = Object.freeze({ value: null, lost: [] });

/** Request headers with the target's Basic auth, lower-case as the contract wants them. */
export function authHeaders(target: Target): Record<string, string> {
  return Object.fromEntries(
    Object.entries(basicAuthHeaders(target.auth)).map(([name, value]) => [name.toLowerCase(), value]),
  );
}

/** The GET of the server's `version` file, with Basic auth when the target has credentials. */
export function versionCheckRequest(target: Target): WireMessage {
  const headers = authHeaders(target);
  return {
    channel: 'http',
    address: versionFileUrl(target),
    payload: '',
    method: 'GET',
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
  };
}

/** The error for a version request the server did not answer with the file (no URL: it may hold credentials). */
function notAnAnswer(status: number): TransportError {
  const why = status === 401 || status === 403 ? ': the server refused the credentials' : '';
  return new TransportError(`micropython_ota version check failed with HTTP ${status}${why}`, {
    status,
    retryable: status >= 500 || status === 408 || status === 429,
  });
}

function currentVersion(context: OrderContext<Target>): unknown {
  const current: unknown = context.current;
  return typeof current === 'object' && current !== null
    ? (current as Partial<UpdateRef>).version
    : undefined;
}

/**
 * Decodes the server's answer to the version request. A 404 (or 410) means "no update", as in the
 * reference (a withdrawn order is a deleted `version` file); so does the tag the device already
 * runs. Any other tag, older ones included, is an order. Other statuses are not an answer, and
 * unlike the reference (which treats them as "no update" and so hides refused credentials
 * forever) they are a failed check: a `TransportError`, retryable for 5xx, 408 and 429.
 */
function decodeOrder(message: unknown, context: OrderContext<Target>): Conversion<Manifest | null> {
  const target = parseTarget((context as Partial<OrderContext<Target>> | null)?.target);
  const response = checkInbound(message, 'micropython_ota version response');
  if (response.status === 404 || response.status === 410) return NO_ORDER;
  if (response.status !== undefined && response.status !== 200) throw notAnAnswer(response.status);
  const tag = parseRemoteVersion(response.payload);
  if (tag === currentVersion(context)) return NO_ORDER;
  return toCanonical({
    host: target.host,
    project: target.project,
    version: tag,
    filenames: target.filenames,
    layout: target.layout ?? 'prefix',
  });
}

/** The device side: polls the `version` file, writes its own `version` file when committed. */
export const device: DeviceCodec<Target> = {
  orderSources(target) {
    return [{ channel: 'http', request: versionCheckRequest(parseTarget(target)) }];
  },

  decodeOrder,

  encodeStatus(status) {
    // Every other phase is local to the device: the reference prints failures and says nothing.
    if (status.state !== 'committed') return [];
    if (status.version === null) {
      throw new ManifestError('micropython_ota status', [
        { path: 'version', expected: 'the tag of the committed release, to write to the version file' },
      ]);
    }
    return [localVersionMessage(status.version)];
  },

  bootReport(current) {
    // A device with no version file runs nothing otakit installed: there is nothing to say.
    if (current === null || current.version === null) return [];
    return [localVersionMessage(current.version)];
  },
};
