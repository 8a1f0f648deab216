/**
 * Degu's status vocabulary against the canonical states (docs/protocols/degu.md, "Status
 * vocabulary").
 *
 * Degu has no status field. The device's only message is the boot report of its MD5s, and the
 * only thing it says about an order is whether each reported `*_ver` now matches the desired one.
 * That is the whole wire vocabulary: `in_sync` (every item of the order matches: the update took
 * effect) and `out_of_sync` (some item differs: the order is still pending). Progress and failure
 * are silent: a failed download, a bad digest, a failed install all look like a device that has
 * not updated yet, and a tracker can only call them failed after a timeout of its own.
 *
 * @module
 */

import type { UpdateState } from '../../core/states.js';
import type { UpdateStatus } from '../../core/status.js';
import type { Manifest } from '../../manifest/schema.js';
import type { Conversion, StatusMapping } from '../conversion.js';
import type { DeguCompatOptions, DeguCurrent, DeguOrder } from './check.js';
import { desiredItems, orderId, orderVersion } from './codec.js';
import { type EncodeRequestOptions, encodeReport } from './report.js';
import {
  DEGU_ITEMS,
  type DeguBootReport,
  type DeguBootRequest,
  type DeguItem,
  itemOfTarget,
  verKey,
} from './schemas.js';

/** The Degu wire vocabulary: whether the reported MD5s match the order. */
export const DEGU_STATUSES = ['in_sync', 'out_of_sync'] as const;
export type DeguStatus = (typeof DEGU_STATUSES)[number];

const SILENT = 'Degu reports nothing between boots: the device sends its MD5s only at start-up';
const FAILURE =
  'Degu has no failure vocabulary: after a failure the device keeps reporting the old MD5s, which reads as out_of_sync (still pending)';

/**
 * The mapping. `in_sync` reads as `committed` (the next report matches: success) and
 * `out_of_sync` as `available` (the order is pending). Written from the canonical side, `idle`
 * and `committed` both report the current MD5s (`in_sync`); `idle` reads back as `committed`,
 * its documented near-equivalent (a tracker without a pending order takes it as idle, see
 * {@link statusFromWire}). Every other state has no wire value.
 */
export const statusMapping: StatusMapping<DeguStatus> = {
  system: 'degu',
  toCanonical: { in_sync: 'committed', out_of_sync: 'available' },
  fromCanonical: {
    idle: 'in_sync',
    checking: null,
    available: 'out_of_sync',
    downloading: null,
    downloaded: null,
    verifying: null,
    installing: null,
    installed: null,
    committed: 'in_sync',
    rolling_back: null,
    check_failed: null,
    download_failed: null,
    verify_failed: null,
    install_failed: null,
    rolled_back: null,
    canceled: null,
  },
  notes: {
    checking: `${SILENT} (the check is a CoAP exchange with the gateway)`,
    downloading: `${SILENT} (the gateway downloads; the sensor pulls CoAP blocks)`,
    downloaded: SILENT,
    verifying: `${SILENT}; the reference device does not even verify`,
    installing: SILENT,
    installed: `${SILENT}: after installing it reboots, and the next boot report is the success (in_sync)`,
    rolling_back: SILENT,
    check_failed: FAILURE,
    download_failed: FAILURE,
    verify_failed: FAILURE,
    install_failed: FAILURE,
    rolled_back: `${FAILURE}; an MCUboot revert reports the old firmware MD5`,
    canceled: 'Degu has no cancel: an operator can only replace or clear the order in desired',
  },
};

/** The states a mapped status reads back as, when not itself (documented near-equivalents). */
export const NEAR_EQUIVALENTS: Readonly<Partial<Record<UpdateState, UpdateState>>> = { idle: 'committed' };

/** One item of an order against the report. */
export interface DeguItemStatus {
  item: DeguItem;
  /** The MD5 the order asks for (lowercase unless `strictCompat`). */
  expected: string;
  /** What the device reports, `undefined` when it reports nothing for this item. */
  reported: string | undefined;
  match: boolean;
}

/** What a tracker learns from one report. */
export interface DeguStatusReading {
  /** `null` when there is no order to compare with. */
  status: DeguStatus | null;
  /** The canonical state: `idle` without an order, else per {@link statusMapping}. */
  state: UpdateState;
  /** The manifest's id, or for a `desired` order its derived id ({@link orderId}); `null` without an order. */
  updateId: string | null;
  /** The manifest's version, or for a `desired` order {@link orderVersion}; `null` without an order. */
  version: string | null;
  items: DeguItemStatus[];
}

function isManifest(order: Manifest | DeguOrder | null | undefined): order is Manifest {
  return (
    typeof order === 'object' && order !== null && 'artifacts' in order && Array.isArray(order.artifacts)
  );
}

function orderItems(order: Manifest | DeguOrder | null | undefined): Array<{ item: DeguItem; md5: string }> {
  if (order === null || order === undefined) return [];
  if (isManifest(order)) {
    return DEGU_ITEMS.flatMap((item) => {
      const artifact = order.artifacts.find((a) => itemOfTarget(a.target) === item);
      return artifact?.md5 === undefined ? [] : [{ item, md5: artifact.md5 }];
    });
  }
  return desiredItems(order);
}

/**
 * Reads a device's report against the order it was given (a canonical manifest, or the
 * `desired` section): the fields a tracker needs to build an `UpdateStatus`.
 *
 * @example
 * ```ts
 * const reading = statusFromWire(report.state.reported, manifest)
 * tracker.ingest({ machineId, at, previous, updateId: reading.updateId, version: reading.version, state: reading.state })
 * ```
 */
export function statusFromWire(
  reported: DeguCurrent | null | undefined,
  order: Manifest | DeguOrder | null | undefined,
  options: DeguCompatOptions = {},
): DeguStatusReading {
  const strict = options.strictCompat === true;
  const wanted = orderItems(order);
  if (wanted.length === 0) return { status: null, state: 'idle', updateId: null, version: null, items: [] };
  const items = wanted.map(({ item, md5 }): DeguItemStatus => {
    const expected = strict ? md5 : md5.toLowerCase();
    const have = reported?.[verKey(item)] ?? undefined;
    const match = have !== undefined && (strict ? have === expected : have.toLowerCase() === expected);
    return { item, expected, reported: have, match };
  });
  const status: DeguStatus = items.every((entry) => entry.match) ? 'in_sync' : 'out_of_sync';
  const manifest = isManifest(order) ? order : undefined;
  return {
    status,
    state: statusMapping.toCanonical[status],
    updateId: manifest?.id ?? orderId(wanted),
    version: manifest?.version ?? orderVersion(wanted),
    items,
  };
}

/**
 * What a Degu device publishes for a canonical status: the boot report of what it now runs, for
 * the states Degu can express (`idle`, `available`, `committed`), or `null` (publish nothing) for
 * the others, with the reason in `lost`. The report says the same thing in every expressible
 * state — the MD5s — so `installed` must describe the files actually installed. An error, a
 * progress or an update id in the status is always lost.
 */
export function statusToWire(
  status: Pick<UpdateStatus, 'state'> & Partial<Pick<UpdateStatus, 'error' | 'progress'>>,
  installed: DeguBootReport,
  options: EncodeRequestOptions = {},
): Conversion<DeguBootRequest | null> {
  const wire = statusMapping.fromCanonical[status.state];
  const lost = [];
  if (status.error !== undefined && status.error !== null) {
    lost.push({ field: 'error', reason: 'Degu reports no errors' });
  }
  if (status.progress !== undefined && status.progress !== null) {
    lost.push({ field: 'progress', reason: 'Degu reports no progress' });
  }
  if (wire === null) {
    lost.push({ field: 'state', reason: statusMapping.notes?.[status.state] ?? 'not expressible in Degu' });
    return { value: null, lost };
  }
  return { value: encodeReport(installed, options), lost };
}
