/**
 * One reading of a thing's shadow, as the Degu publisher takes it: the Degu keys of `desired`
 * (the order) and `reported` (the MD5s the device runs) at one shadow version, and the same
 * reading as the wire message the protocol's `cloud.decodeStatus` reads into a canonical status.
 * Pushed `/update/documents` and `get` answers both become readings, so MQTT and REST feed the
 * fleet the same way.
 *
 * @module
 */
import type { InboundMessage } from '../../protocols/contract.js';
import type { DeguCurrent, DeguOrder } from '../../protocols/degu/check.js';
import type { JsonObject } from '../../protocols/degu/json.js';
import { type DeguOrderState, orderState, reportedState } from '../../protocols/degu/memory.js';
import { DEGU_ITEMS, type DeguItem, verKey } from '../../protocols/degu/schemas.js';
import type { ShadowDocuments, ShadowGetAccepted } from '../../protocols/degu/shadow-schemas.js';
import { type ShadowAddress, shadowTopic } from '../../protocols/degu/topics.js';

/** A thing's shadow at one version, as far as Degu is concerned. */
export interface ShadowReading {
  /** The shadow version this reading is of: a reading not newer than the last one is stale. */
  version: number;
  /** The Degu keys of `desired` (URLs and `*_ver` MD5s). */
  desired: DeguOrderState;
  /** The `*_ver` MD5s of `reported` (`none` for a missing file). */
  reported: { [K in keyof DeguCurrent]?: string };
  /** The same reading as the protocol decodes it. */
  message: InboundMessage;
}

/** A pushed `/update/documents` (the shadow after an accepted update). */
export function readingOfDocuments(address: ShadowAddress, documents: ShadowDocuments): ShadowReading {
  const { state, version } = documents.current;
  return {
    version,
    desired: orderState(state.desired as DeguOrder | undefined),
    reported: reportedState(state.reported as DeguCurrent | undefined),
    message: { address: shadowTopic(address, 'update/documents'), payload: JSON.stringify(documents) },
  };
}

/** A `get` answer (the whole shadow). */
export function readingOfGet(address: ShadowAddress, answer: ShadowGetAccepted): ShadowReading {
  return {
    version: answer.version,
    desired: orderState(answer.state.desired as DeguOrder | undefined),
    reported: reportedState(answer.state.reported as DeguCurrent | undefined),
    message: { address: shadowTopic(address, 'get/accepted'), payload: JSON.stringify(answer) },
  };
}

/**
 * The items of a finished order that may leave `desired`: those whose desired `*_ver` is still
 * the installed MD5 and that the device reports running. An item ordered anew since (another MD5)
 * stays, and so does one the device does not report yet.
 */
export function clearableItems(
  installed: ReadonlyArray<{ item: DeguItem; md5: string }>,
  desired: JsonObject | DeguOrderState | null | undefined,
  reported: JsonObject | ShadowReading['reported'] | null | undefined,
): DeguItem[] {
  const same = (value: unknown, md5: string) => typeof value === 'string' && value.toLowerCase() === md5;
  return installed
    .filter(({ item, md5 }) => same(desired?.[verKey(item)], md5) && same(reported?.[verKey(item)], md5))
    .map(({ item }) => item);
}

/** The `desired` patch that removes `items` (URL and `*_ver`), in install order. */
export function clearingPatch(items: readonly DeguItem[]): { [key: string]: null } {
  const patch: { [key: string]: null } = {};
  for (const item of DEGU_ITEMS) {
    if (!items.includes(item)) continue;
    patch[item] = null;
    patch[verKey(item)] = null;
  }
  return patch;
}
