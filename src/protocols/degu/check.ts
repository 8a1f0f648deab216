/**
 * The Degu update decision (`check_update`; docs/protocols/degu.md, "The update decision"): for
 * each item whose `*_ver` is present in `desired`, compare it with the MD5 the device runs; any
 * difference flags the item. Absent `*_ver` keys are skipped, and the URL is never compared (the
 * device never reports it).
 *
 * @module
 */
import { DEGU_ITEMS, type DeguItem, type DeguVerKey, verKey } from './schemas.js';

/**
 * The keys of `desired` the decision reads. Decoded `desired` sections ({@link DeguDesired}) fit,
 * and so does a plain object literal.
 */
export type DeguOrder = { readonly [K in DeguItem | DeguVerKey]?: string | null | undefined };

/** The keys of `reported` the decision reads ({@link DeguReported}, {@link DeguBootReport} fit). */
export type DeguCurrent = { readonly [K in DeguVerKey]?: string | null | undefined };

/** Options of the Degu decision and of everything built on it. */
export interface DeguCompatOptions {
  /**
   * Reproduce the reference firmware exactly: a case-sensitive `strcmp` of the digests (an
   * uppercase desired MD5 then means a reboot loop, D6), and items flagged even without a URL.
   * Hardened (default): digests compare case-insensitively and are returned lowercase; an item
   * without a URL is skipped and listed in `skipped`.
   * @default false
   */
  strictCompat?: boolean;
}

/** An item the device would update. */
export interface DeguUpdateItem {
  item: DeguItem;
  /** The download URL from `desired`; `undefined` only in `strictCompat` mode. */
  url: string | undefined;
  /** The desired MD5 (lowercase unless `strictCompat`). */
  md5: string;
  /** What the device reports now, `"none"` for a missing file; `undefined` when not reported. */
  reportedMd5: string | undefined;
}

/** An item whose MD5 differs but which cannot be updated. */
export interface DeguSkippedItem {
  item: DeguItem;
  reason: string;
}

/** The result of {@link checkUpdate}. */
export interface DeguCheck {
  /** What `degu.check_update()` returns: whether any item is flagged. */
  update: boolean;
  /** The flagged items, in install order (script → config → firmware). */
  items: DeguUpdateItem[];
  /** Items whose MD5 differs but that cannot be updated (hardened mode only). */
  skipped: DeguSkippedItem[];
}

/**
 * Decides which items to update.
 *
 * @example
 * ```ts
 * checkUpdate({ script_user: url, script_user_ver: 'c19c…' }, { script_user_ver: '4f3e…' })
 * // { update: true, items: [{ item: 'script_user', url, md5: 'c19c…', reportedMd5: '4f3e…' }], skipped: [] }
 * ```
 */
export function checkUpdate(
  desired: DeguOrder | null | undefined,
  reported: DeguCurrent | null | undefined,
  options: DeguCompatOptions = {},
): DeguCheck {
  const strict = options.strictCompat === true;
  const items: DeguUpdateItem[] = [];
  const skipped: DeguSkippedItem[] = [];
  for (const item of DEGU_ITEMS) {
    const key = verKey(item);
    const want = desired?.[key];
    if (want === undefined || want === null) continue;
    const have = reported?.[key] ?? undefined;
    const differs = strict ? want !== have : want.toLowerCase() !== have?.toLowerCase();
    if (!differs) continue;
    const url = desired?.[item] ?? undefined;
    if (url === undefined && !strict) {
      skipped.push({
        item,
        reason: `${key} differs from the reported MD5 but ${item} gives no URL to download`,
      });
      continue;
    }
    items.push({ item, url, md5: strict ? want : want.toLowerCase(), reportedMd5: have });
  }
  return { update: items.length > 0, items, skipped };
}
