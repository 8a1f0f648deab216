/**
 * The cloud side of the Connhex contract. An order is a release published at the device's
 * release endpoint (a `PUT` of the release as JSON, for the server that answers the device's
 * `HEAD`); a withdrawal removes it (`DELETE`); statuses are the `heartbeat.ota.service` payloads.
 * See docs/protocols/connhex.md.
 *
 * @module
 */
import * as z from 'zod';
import { UpdateRefSchema, UpdateStateSchema, type UpdateStatus } from '../../core/status.js';
import { parseWith } from '../../core/validate.js';
import { type Manifest, type ManifestInput, ManifestSchema } from '../../manifest/schema.js';
import type { CloudCodec, StatusDecodeContext, WireMessage, WireSource } from '../contract.js';
import type { Conversion } from '../conversion.js';
import { encodeStatement, STATEMENT_KEY, signedOrder } from '../signed-statement.js';
import { completeStatus, type PartialStatus } from '../update-status.js';
import { fromCanonical } from './codec.js';
import { checkInbound, isEmptyPayload } from './inbound.js';
import { decodeStatusMessage, fromWireStatus } from './status.js';
import { resolveTarget, type Target } from './target.js';

/**
 * Publishes `manifest` as the release of `target`: `PUT <release URL>` with the release as JSON
 * (the `release` JSON schema). The server behind the endpoint answers the device's `HEAD` with
 * its headers and serves (or redirects to) the `.zip` on `GET`. Lost, besides what
 * `fromCanonical` lists: the artifact URL when it is not the release endpoint itself, since the
 * device only ever asks its endpoint.
 *
 * A signed manifest also travels whole: the release JSON gets an `otakit_manifest` member (the
 * signed statement's JSON, as a string), which the release server keeps with the release and
 * serves at `<release URL>.otakit.json` for devices to fetch before downloading. Its artifact
 * URL must be the device's release endpoint (one device's `/iot/ota/<initId>`, or a firmware's
 * `/iot/firmwares/<id>/artifact`, which all its devices share) and its id the version.
 */
function encodeOrder(manifest: Manifest | ManifestInput, target: Target): Conversion<WireMessage[]> {
  const { releaseUrl } = resolveTarget(target);
  const conversion = fromCanonical(manifest);
  const release = conversion.value;
  if (release.url !== releaseUrl) {
    conversion.lost.push({
      field: 'artifacts[0].url',
      reason: 'a Connhex device downloads from its own release endpoint, which must serve this artifact',
    });
  }
  const { statement, lost } = signedOrder(parseWith(ManifestSchema, manifest, 'manifest'), conversion.lost, {
    what: 'signed manifest for Connhex',
  });
  const message: WireMessage = {
    channel: 'http',
    method: 'PUT',
    address: releaseUrl,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(
      statement === null ? release : { ...release, [STATEMENT_KEY]: encodeStatement(statement) },
    ),
  };
  return { value: [message], lost };
}

/**
 * Removes the release of `target`: the device endpoint then answers `404` (no firmware), the
 * artifact endpoint `204` (nothing eligible), which the device reads as "no order".
 */
function encodeWithdrawal(target: Target): WireMessage[] {
  const { releaseUrl } = resolveTarget(target);
  return [{ channel: 'http', method: 'DELETE', address: releaseUrl, payload: '' }];
}

/** The NATS subject the device's OTA heartbeat arrives on. */
function statusSources(target: Target): WireSource[] {
  return [{ channel: 'nats', subject: resolveTarget(target).statusSubject }];
}

const STATUS = 'Connhex OTA status message';

/** The parts of the decode context the codec reads, checked so a bad one is a typed error. */
const DecodeContextSchema = z.object({
  machineId: z.string().min(1),
  previous: z.object({ state: UpdateStateSchema, update: UpdateRefSchema.nullable() }).nullable().optional(),
  at: z.string().optional(),
});

/**
 * The update id and version a payload speaks of. Connhex has no update id: the release version
 * stands in (as in the manifest `toCanonical` builds). A check is about no update yet; an idle
 * heartbeat names only what is installed; a periodic re-check during an update leaves both to
 * the tracker.
 */
function updateOf(
  word: string,
  fields: ReturnType<typeof fromWireStatus>,
): Pick<PartialStatus, 'updateId' | 'version'> {
  if (fields.state === 'checking') return { updateId: null, version: null };
  if (fields.state === 'idle') return { updateId: null, version: fields.currentVersion ?? fields.version };
  if (word === 'checking' || fields.version === null) return {};
  return { updateId: fields.version, version: fields.version };
}

/**
 * The status one heartbeat payload reports, or `null` when the message is not an OTA status
 * (another service's heartbeat, an empty message). `updated` reads as `committed` only while
 * the tracker followed an update (`context.previous`), else as `idle` ("up to date"); with no
 * `previous` at all the plain mapping applies.
 *
 * @throws ManifestError (`MANIFEST_INVALID`) for a payload that is not a valid status.
 */
function decodeStatus(message: unknown, context: StatusDecodeContext<Target>): UpdateStatus | null {
  const { statusSubject } = resolveTarget(
    typeof context === 'object' && context !== null ? (context as { target?: unknown }).target : undefined,
  );
  parseWith(DecodeContextSchema, context, 'Connhex status decode context');
  const inbound = checkInbound(message, STATUS);
  if (inbound.address !== statusSubject || isEmptyPayload(inbound.payload)) return null;
  const wire = decodeStatusMessage(inbound.payload);
  const fields =
    context.previous === undefined
      ? fromWireStatus(wire)
      : fromWireStatus(wire, { previous: context.previous?.state ?? null });
  return completeStatus(
    { state: fields.state, ...updateOf(wire.status, fields), error: fields.error },
    context,
  );
}

/** The cloud side of `connhex.protocol`. */
export const cloud = {
  encodeOrder,
  encodeWithdrawal,
  statusSources,
  decodeStatus,
} satisfies CloudCodec<Target>;
