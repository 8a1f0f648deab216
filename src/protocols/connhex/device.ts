/**
 * The device side of the Connhex contract: the addon's `HEAD` on its release endpoint is the
 * order source, the response headers are the order, and the `heartbeat.ota.service` payload is
 * the status. Built from the folder's codecs (`decideUpdate`, `toCanonical`, `toWireStatus`).
 * See docs/protocols/connhex.md.
 *
 * @module
 */
import { isOtaError, ManifestError } from '../../core/errors.js';
import { type UpdateRef, type UpdateStatus, UpdateStatusSchema } from '../../core/status.js';
import { parseWith } from '../../core/validate.js';
import type { Manifest } from '../../manifest/schema.js';
import type { DeviceCodec, OrderContext, StatusContext, WireMessage, WireSource } from '../contract.js';
import type { Conversion } from '../conversion.js';
import { decideUpdate } from './check.js';
import { toCanonical } from './codec.js';
import { requestHeaders } from './headers.js';
import { checkInbound } from './inbound.js';
import { encodeStatusMessage, toWireStatus } from './status.js';
import { OTA_STATUS_SUBJECT } from './subjects.js';
import { resolveTarget, type Target } from './target.js';
import { parseReleaseUrl } from './urls.js';

const ORDER = 'Connhex release check response';

/**
 * What the Connhex device side may also be told when it encodes a status. The contract's
 * context has only the target; the addon's payload also names the installed version
 * (`current_version`) and the time of the last check (`last_checked`), which a Connhex-aware
 * agent passes here. Left out, they are sent as `''` ("not known").
 */
export interface ConnhexStatusContext extends StatusContext<Target> {
  /** When the last check ran (RFC 3339), repeated in `last_checked`. */
  lastChecked?: string;
}

/** Statuses of the `HEAD` that mean "nothing to install": none eligible, unchanged, no firmware. */
const NO_ORDER: ReadonlySet<number> = new Set([204, 304, 404]);

/** The target of a context, validated (a context that is not an object has no target). */
function targetOf(context: unknown): ReturnType<typeof resolveTarget> {
  return resolveTarget(
    typeof context === 'object' && context !== null ? (context as { target?: unknown }).target : undefined,
  );
}

/** Header names lower-cased, as the contract's wire messages carry them. */
function lowerCaseNames(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

/**
 * Checks that a response came from a release endpoint (its URL is the manifest's artifact URL).
 * The URL is not quoted in the error: it was built from configuration the caller already has.
 */
function checkReleaseAddress(address: string, target: Target): void {
  try {
    parseReleaseUrl(address, { allowHttp: target.allowHttp ?? false });
  } catch (error) {
    if (!isOtaError(error, 'MANIFEST_INVALID')) throw error;
    const scheme = target.allowHttp ? 'an http(s)' : 'an https';
    throw new ManifestError(ORDER, [
      {
        path: 'address',
        expected: `${scheme} URL of a release endpoint (<api>/iot/ota/<initId> or <api>/iot/firmwares/<id>/artifact) without credentials or query`,
      },
    ]);
  }
}

/** The `HEAD` the addon sends on every check: the release endpoint, with its key. */
function orderSources(target: Target): WireSource[] {
  const { target: valid, releaseUrl } = resolveTarget(target);
  const headers =
    valid.key === undefined
      ? {}
      : lowerCaseNames(requestHeaders({ credentials: { key: valid.key, scheme: valid.scheme ?? 'Thing' } }));
  return [
    {
      channel: 'http',
      request: { channel: 'http', method: 'HEAD', address: releaseUrl, payload: '', headers },
    },
  ];
}

/**
 * The manifest a `HEAD` response stands for. `204`, `304`, `404` and a release whose version is
 * the committed one are "nothing to install" (`null`). Any other version is an update, a
 * downgrade included: the addon compares versions for inequality only.
 *
 * @throws ManifestError for a malformed response (no status, not a release URL, unreadable
 *   `Version`, `Content-Length` or `Content-Digest`).
 * @throws TransportError for a failed check (`401`/`403` refused key, `400`, `5xx`…), with
 *   `retryable` set as the addon would retry.
 */
function decodeOrder(message: unknown, context: OrderContext<Target>): Conversion<Manifest | null> {
  const { target } = targetOf(context);
  const inbound = checkInbound(message, ORDER);
  if (inbound.status === undefined) {
    throw new ManifestError(ORDER, [{ path: 'status', expected: 'the HTTP status of the HEAD response' }]);
  }
  checkReleaseAddress(inbound.address, target);
  if (NO_ORDER.has(inbound.status)) return { value: null, lost: [] };
  const current = context.current?.version;
  const decision = decideUpdate(
    { status: inbound.status, headers: inbound.headers ?? {} },
    typeof current === 'string' ? current : '',
  );
  if (decision.kind === 'failed') throw decision.error;
  if (decision.kind === 'up-to-date') return { value: null, lost: [] };
  return toCanonical({ url: inbound.address, ...decision.release });
}

/** The heartbeat message carrying `status`, or `[]` when Connhex has no word for its state. */
function encodeStatus(status: UpdateStatus, context: ConnhexStatusContext): WireMessage[] {
  targetOf(context);
  const valid = parseWith(UpdateStatusSchema, status, 'update status');
  const wire = toWireStatus(valid, {
    currentVersion: context.current?.version ?? '',
    ...(context.lastChecked === undefined ? {} : { lastChecked: context.lastChecked }),
  });
  if (wire === null) return [];
  return [{ channel: 'nats', address: OTA_STATUS_SUBJECT, payload: encodeStatusMessage(wire) }];
}

/**
 * The addon's heartbeat of a device at rest: `updated`, with the committed version as both
 * `current_version` and `latest_version`. `[]` when nothing is known to be installed: none of
 * the nine words means "never updated".
 */
function bootReport(current: UpdateRef | null, context: StatusContext<Target>): WireMessage[] {
  targetOf(context);
  if (current === null || current.version === null) return [];
  const payload = encodeStatusMessage({
    current_version: current.version,
    latest_version: current.version,
    status: 'updated',
  });
  return [{ channel: 'nats', address: OTA_STATUS_SUBJECT, payload }];
}

/** The device side of `connhex.protocol`. */
export const device = {
  orderSources,
  decodeOrder,
  encodeStatus,
  bootReport,
} satisfies DeviceCodec<Target>;
