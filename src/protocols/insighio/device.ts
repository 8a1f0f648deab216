/**
 * The device side of the insigh.io contract: the console's retained SenML order in, the device's
 * `e` = 1/2/3 status (and the empty payload that clears the order) out. Built on the message
 * codec (`messages.ts`), the canonical conversion (`codec.ts`) and the publications
 * (`publish.ts`); see docs/protocols/insighIo.md for the wire details.
 *
 * @module
 */
import { ManifestError } from '../../core/errors.js';
import { type UpdateStatus, UpdateStatusSchema } from '../../core/status.js';
import { parseWith } from '../../core/validate.js';
import { decodeJson } from '../../core/wire.js';
import type { Manifest } from '../../manifest/schema.js';
import type { DeviceCodec, OrderContext, StatusContext, WireMessage, WireSource } from '../contract.js';
import type { Conversion } from '../conversion.js';
import { applyStatement, STATEMENT_KEY } from '../signed-statement.js';
import { type CanonicalContext, toCanonical } from './codec.js';
import { checkInbound } from './inbound.js';
import { LIMITS } from './limits.js';
import { decodeMessage } from './messages.js';
import { reportPublications } from './publish.js';
import { resolvePack, SenmlPackSchema } from './senml.js';
import { parseTarget, type Target } from './target.js';
import { controlSubscription, OTA_SUBTOPIC } from './topics.js';
import { toWireMessage } from './wire.js';

const WHAT = 'insigh.io OTA order';

/**
 * Stands in for the device key while the download URL is built: `toCanonical` drops `dk` from
 * the manifest URL (the key is added on the wire only, by `downloadAuth`), so the real key is
 * never needed here and can never end up in a persisted manifest.
 */
const KEY_LEFT_OUT = 'left-out';

/** No order in this message: a retained order cleared, a status echoed, another control subtopic. */
function noOrder(): Conversion<Manifest | null> {
  return { value: null, lost: [] };
}

/** The `CanonicalContext` of a target (without its key, see {@link KEY_LEFT_OUT}). */
function canonicalContext(target: Target): CanonicalContext {
  const context: CanonicalContext = {
    deviceId: target.deviceId,
    controlChannelId: target.controlChannelId,
    deviceKey: KEY_LEFT_OUT,
  };
  if (target.baseUrl !== undefined) context.baseUrl = target.baseUrl;
  if (target.allowInsecureHttp !== undefined) context.allowInsecureHttp = target.allowInsecureHttp;
  return context;
}

/**
 * The firmware's words for a download that failed for want of space (the reference checks
 * space before downloading); any other failure gets the default message of its state.
 */
function messageFor(status: UpdateStatus): { message?: string } {
  if (status.state === 'download_failed' && status.error?.name === 'InsufficientSpaceError') {
    return { message: 'not enough space' };
  }
  return {};
}

/**
 * The signed statement record of an order (`{"n":"otakit_manifest","vs":"<base64url>"}`) and its
 * path in the pack, or `undefined` when the order has none. Called on a payload `decodeMessage`
 * already accepted (bounded, valid SenML).
 */
function statementRecord(payload: string | Uint8Array): { value: unknown } | undefined {
  const pack = parseWith(
    SenmlPackSchema,
    decodeJson(payload, { what: WHAT, maxBytes: LIMITS.maxMessageBytes }),
    WHAT,
  );
  const records = resolvePack(pack, WHAT).filter((record) => record.name === STATEMENT_KEY);
  if (records.length === 0) return undefined;
  if (records.length > 1) {
    throw new ManifestError(WHAT, [
      { path: `[${records[1]!.index}].n`, expected: `one record named "${STATEMENT_KEY}" only` },
    ]);
  }
  const record = records[0]!;
  return { value: record.vs ?? null };
}

/** The device side of {@link protocol}. */
export const device: DeviceCodec<Target> = {
  /**
   * Every control subtopic of the device, `channels/<cc>/messages/<did>/#`, as the firmware
   * subscribes; messages on subtopics other than `ota` decode to no order.
   */
  orderSources(target: Target): WireSource[] {
    return [{ channel: 'mqtt', filter: controlSubscription(parseTarget(target)), qos: 1 }];
  },

  /**
   * The manifest of an `e` = 0 order on the device's OTA topic (one `package` artifact, no
   * digest, the download URL without `dk`); `null` for an empty payload (the order cleared), a
   * status (the device's own echo) and any other control subtopic. Nothing is ever lost.
   *
   * An order with an `otakit_manifest` record (a signed manifest, base64url) decodes to that
   * signed manifest, once it is found to describe the same file (file id, URL without `dk`, size,
   * target, name); else a `ManifestError` naming the statement field, e.g. `otakit_manifest.artifacts[0].size`.
   */
  decodeOrder(message, context: OrderContext<Target>): Conversion<Manifest | null> {
    const target = parseTarget((context as Partial<OrderContext<Target>> | null)?.target);
    const inbound = checkInbound(message, target, WHAT);
    if (inbound.topic.subtopic !== OTA_SUBTOPIC) return noOrder();
    const decoded = decodeMessage(inbound.payload);
    if (decoded.kind !== 'order') return noOrder();
    const decoding = toCanonical(decoded.order, canonicalContext(target));
    const statement = statementRecord(inbound.payload);
    if (statement === undefined) return decoding;
    return applyStatement(decoding, statement.value, {
      encoding: 'base64url',
      wireVersion: false,
      wireOnlyParams: ['dk'],
    });
  },

  /**
   * `e` = 1 for `committed`, `e` = 3 for `canceled`, `e` = 2 with the firmware's message for a
   * failure, each non-retained (QoS 1) on the OTA topic, followed (after success, an apply
   * failure, a rollback or a cancel) by the empty retained payload that clears the order. `[]`
   * for the intermediate states, which insigh.io has no word for, and for a status without an
   * update id.
   * @throws ManifestError for an invalid status or an update id that is not a file id.
   */
  encodeStatus(status: UpdateStatus, context: StatusContext<Target>): WireMessage[] {
    const target = parseTarget((context as Partial<StatusContext<Target>> | null)?.target);
    const valid = parseWith(UpdateStatusSchema, status, 'update status');
    return reportPublications(target, valid, messageFor(valid)).map(toWireMessage);
  },

  /**
   * Always `[]`: an insigh.io device announces nothing OTA-related at boot (the firmware's
   * post-update statistics upload is a device-statistics message, not an update status).
   */
  bootReport(_current, context: StatusContext<Target>): WireMessage[] {
    parseTarget((context as Partial<StatusContext<Target>> | null)?.target);
    return [];
  },
};
