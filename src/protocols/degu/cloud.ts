/**
 * The cloud side of the Degu protocol object: the order an operator publishes into `desired`,
 * its withdrawal, and the reading of the device's `reported` MD5s as a canonical status
 * (docs/protocols/degu.md, "How an order reaches the device" and "Status vocabulary").
 *
 * The service listens on `/update/documents`: AWS publishes it after every accepted update of the
 * shadow, the operator's and the device's alike, with both `desired` and `reported` in it, so one
 * message says which order stands and whether the device runs it. `/update/accepted`, `/update`
 * and `/get/accepted` are read too (a service that gets those instead); the first two hold only
 * what was written, so the order to compare with comes from the tracker (`context.previous`).
 *
 * @module
 */
import { ManifestError } from '../../core/errors.js';
import { isActiveState } from '../../core/states.js';
import type { UpdateStatus } from '../../core/status.js';
import { parseWith } from '../../core/validate.js';
import { type Manifest, type ManifestInput, ManifestSchema } from '../../manifest/schema.js';
import type { CloudCodec, StatusDecodeContext, WireMessage, WireSource } from '../contract.js';
import type { Conversion } from '../conversion.js';
import { encodeStatement, STATEMENT_KEY, signedOrder } from '../signed-statement.js';
import { completeStatus, type PartialStatus } from '../update-status.js';
import type { DeguCurrent, DeguOrder } from './check.js';
import { desiredItems, fromCanonical, orderId } from './codec.js';
import { decodeMessage } from './decode.js';
import { checkInbound } from './inbound.js';
import { itemsOfOrderId } from './order-ref.js';
import { encodeClearDesired } from './report.js';
import { DEGU_ITEMS, type DeguItem, DeguRequestSchema, itemOfTarget, verKey } from './schemas.js';
import { statusFromWire } from './status.js';
import { isSameShadow, parseTarget, type Target } from './target.js';
import { shadowTopic } from './topics.js';

function updateMessage(target: Target, request: unknown): WireMessage {
  return {
    channel: 'mqtt',
    address: shadowTopic(parseTarget(target), 'update'),
    payload: JSON.stringify(request),
    qos: 1,
  };
}

/**
 * The order as `desired` keys. Exclusive: the items the manifest does not name are set to `null`,
 * so an older order for another item (a firmware that never installed) does not ride along; the
 * order in the shadow is then exactly this manifest.
 *
 * A signed manifest also travels whole, as the string `desired.otakit_manifest` (the signed
 * statement's JSON; a string, so an AWS delta carries it whole), which the Degu sensor ignores.
 * Its id must be the order's (`degu:<item>=<md5>,…`) and its artifacts in install order (script,
 * config, firmware), or the device could not match it to the order. An unsigned order leaves
 * `otakit_manifest` as it is: withdraw (or sign) the orders after a signed one.
 * @throws ManifestError when the manifest cannot be a Degu order, or is signed and cannot be
 *   matched, or the order with its statement is over the 8 KB shadow state.
 */
function encodeOrder(manifest: Manifest | ManifestInput, target: Target): Conversion<WireMessage[]> {
  parseTarget(target);
  const conversion = fromCanonical(manifest, { exclusive: true });
  const parsed = parseWith(ManifestSchema, manifest, 'manifest');
  const { statement, lost } = signedOrder(parsed, conversion.lost, {
    what: 'signed manifest for Degu',
    wireVersion: false,
  });
  const request = conversion.value;
  if (statement !== null) {
    const ranks = parsed.artifacts.map((artifact) => DEGU_ITEMS.indexOf(itemOfTarget(artifact.target)!));
    if (ranks.some((rank, index) => index > 0 && rank < ranks[index - 1]!)) {
      throw new ManifestError('signed manifest for Degu', [
        { path: 'artifacts', expected: 'the artifacts in install order: script, config, firmware' },
      ]);
    }
    (request.state.desired as { [key: string]: unknown })[STATEMENT_KEY] = encodeStatement(statement);
    parseWith(DeguRequestSchema, request, 'Degu order request with its signed statement');
  }
  return { value: [updateMessage(target, request)], lost };
}

/** What a status message says: the device's MD5s, and the order, when the message carries one. */
interface ShadowReading {
  reported: DeguCurrent | undefined;
  /** `undefined` when the message does not carry `desired` (a report only); `null` when it is empty. */
  desired: DeguOrder | null | undefined;
  /** Epoch seconds, when the message has a timestamp. */
  timestamp: number | undefined;
}

/** The reading of a message on `kind`, or `null` when that kind never carries a device status. */
function readShadow(kind: string, payload: string | Uint8Array): ShadowReading | null {
  switch (kind) {
    case 'update/documents': {
      const { current, timestamp } = decodeMessage('update/documents', payload);
      return { reported: current.state.reported, desired: current.state.desired ?? null, timestamp };
    }
    case 'get/accepted': {
      const { state, timestamp } = decodeMessage('get/accepted', payload);
      return { reported: state.reported, desired: state.desired ?? null, timestamp };
    }
    case 'update/accepted': {
      const { state, timestamp } = decodeMessage('update/accepted', payload);
      // Without `reported` it is the echo of an order (the operator's write), not a status.
      if (state.reported === undefined || state.reported === null) return null;
      return { reported: patchReported(state.reported), desired: undefined, timestamp };
    }
    case 'update': {
      const { state } = decodeMessage('request', payload);
      if (state.reported === undefined || state.reported === null) return null;
      return { reported: patchReported(state.reported), desired: undefined, timestamp: undefined };
    }
    default:
      return null;
  }
}

/** A `reported` patch without its `null`s (a removed MD5 is no MD5). */
function patchReported(reported: { [key: string]: unknown }): DeguCurrent {
  const out: { [key: string]: string } = {};
  for (const item of DEGU_ITEMS) {
    const value = reported[verKey(item)];
    if (typeof value === 'string') out[verKey(item)] = value;
  }
  return out as DeguCurrent;
}

function isoTime(seconds: number | undefined): string | undefined {
  if (seconds === undefined) return undefined;
  const date = new Date(seconds * 1000);
  if (Number.isNaN(date.getTime())) {
    throw new ManifestError('Degu status message', [
      { path: 'timestamp', expected: 'epoch seconds within the range of a date' },
    ]);
  }
  return date.toISOString();
}

/**
 * The canonical reading: against the order in the message when it carries one, else against the
 * update the tracker follows. A withdrawn or replaced order that the device never ran reads as
 * `canceled`; one it runs as `committed`.
 */
function readStatus(
  reading: ShadowReading,
  previous: StatusDecodeContext<Target>['previous'],
): Omit<PartialStatus, 'at'> {
  const known = previous?.update ?? null;
  const knownItems = itemsOfOrderId(known?.id);
  const knownInSync =
    knownItems !== undefined && statusFromWire(reading.reported, toOrder(knownItems)).status === 'in_sync';
  const following = previous !== null && previous !== undefined && isActiveState(previous.state);
  const ordered = desiredItems(reading.desired);

  if (ordered.length > 0) {
    const id = orderId(ordered);
    // The operator replaced the order the tracker follows: that one ended first.
    if (following && known !== null && known.id !== id) {
      return { state: knownInSync ? 'committed' : 'canceled', updateId: known.id };
    }
    const wire = statusFromWire(reading.reported, reading.desired);
    return { state: wire.state, updateId: wire.updateId, version: wire.version };
  }
  if (knownInSync) return { state: 'committed', updateId: known!.id };
  if (knownItems !== undefined && following) {
    // `desired` holds no order any more: withdrawn. A report alone leaves the order standing.
    return reading.desired === undefined
      ? { state: 'available', updateId: known!.id }
      : { state: 'canceled', updateId: known!.id };
  }
  return { state: 'idle', updateId: null, version: null };
}

function toOrder(items: ReadonlyArray<{ item: DeguItem; md5: string }>): DeguOrder {
  const order: { [key: string]: string } = {};
  for (const { item, md5 } of items) order[verKey(item)] = md5;
  return order as DeguOrder;
}

function decodeStatus(message: unknown, context: StatusDecodeContext<Target>): UpdateStatus | null {
  const address = parseTarget(context?.target);
  const { payload, topic } = checkInbound(message, 'Degu status message');
  if (topic === undefined || !isSameShadow(address, topic)) return null;
  const reading = readShadow(topic.kind, payload);
  if (reading === null) return null;
  const at = isoTime(reading.timestamp);
  const partial: PartialStatus = {
    ...readStatus(reading, context.previous),
    ...(at === undefined ? {} : { at }),
  };
  return completeStatus(partial, context);
}

/** The cloud side: publish {@link CloudCodec.encodeOrder}, subscribe to {@link CloudCodec.statusSources}. */
export const cloud: CloudCodec<Target> = {
  encodeOrder,
  encodeWithdrawal(target): WireMessage[] {
    return [updateMessage(target, encodeClearDesired())];
  },
  statusSources(target): WireSource[] {
    return [{ channel: 'mqtt', filter: shadowTopic(parseTarget(target), 'update/documents'), qos: 1 }];
  },
  decodeStatus,
};
