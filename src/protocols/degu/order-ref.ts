/**
 * Reading an update reference back into the Degu items it names. A Degu order has no id of its
 * own, so the canonical id is derived from the items and their MD5s (`orderId`, e.g.
 * `degu:script_user=4f3e…,firmware_system=c4ff…`). The device's status is nothing but the MD5s
 * of what it runs, so this is how the protocol object turns "the device runs update X" into a
 * `reported` document, and "the tracker follows update X" into the MD5s to compare a report with.
 *
 * @module
 */
import type { UpdateRef } from '../../core/status.js';
import type { DeguCurrent } from './check.js';
import { DEGU_ITEMS, type DeguItem, verKey } from './schemas.js';

const ITEM_ENTRY = /^([a-z_]+)=([0-9a-f]{32})$/;

/**
 * The items and MD5s a Degu order id names, in install order; `undefined` for any other id
 * (a manifest id chosen by a person, a malformed or repeated item, an order of nothing).
 *
 * @example
 * ```ts
 * itemsOfOrderId('degu:script_user=4f3e01b7dc12348ebbd1acfe11ef6328')
 * // [{ item: 'script_user', md5: '4f3e01b7dc12348ebbd1acfe11ef6328' }]
 * ```
 */
export function itemsOfOrderId(id: unknown): Array<{ item: DeguItem; md5: string }> | undefined {
  if (typeof id !== 'string' || !id.startsWith('degu:') || id.length > 200) return undefined;
  const items: Array<{ item: DeguItem; md5: string }> = [];
  let lastIndex = -1;
  for (const entry of id.slice('degu:'.length).split(',')) {
    const match = ITEM_ENTRY.exec(entry);
    const index = match === null ? -1 : DEGU_ITEMS.indexOf(match[1] as DeguItem);
    // Install order, each item once: exactly what orderId writes.
    if (match === null || index <= lastIndex) return undefined;
    lastIndex = index;
    items.push({ item: DEGU_ITEMS[index]!, md5: match[2]! });
  }
  return items;
}

/**
 * The `reported` MD5s of a device that runs `update` (for the items that update named; the other
 * items are unknown, so absent). Empty for `null` or an id that is not a Degu order id.
 */
export function reportedOfUpdate(update: Pick<UpdateRef, 'id'> | null | undefined): DeguCurrent {
  const reported: { [key: string]: string } = {};
  for (const { item, md5 } of itemsOfOrderId(update?.id) ?? []) reported[verKey(item)] = md5;
  return reported as DeguCurrent;
}
