/**
 * What the Degu device side remembers between orders (docs/protocols/degu.md, "Deltas, versions
 * and what the device remembers"). An AWS shadow delta carries only desired keys that differ
 * from `reported`, and a `version`; so `decodeOrder` keeps the version of the last shadow
 * document it read, the Degu keys of the desired state it knows, and the `*_ver` MD5s the last
 * `/get/accepted` reported, as plain JSON the agent persists (`OrderDecoding.memory`).
 *
 * @module
 */
import * as z from 'zod';
import type { JsonValue } from '../../core/store.js';
import type { Loss } from '../conversion.js';
import { STATEMENT_KEY, STATEMENT_LIMITS } from '../signed-statement.js';
import type { DeguCurrent, DeguOrder } from './check.js';
import { DEGU_ITEMS, DeguUrlSchema, Md5Schema, ReportedMd5Schema, verKey } from './schemas.js';
import { VersionSchema } from './shadow-schemas.js';

/**
 * The Degu keys of `desired`, each a string: what an order is made of; and the signed statement
 * of a signed order (`otakit_manifest`, JSON text), which travels beside them.
 */
export type DeguOrderState = { [K in keyof DeguOrder]?: string } & { otakit_manifest?: string };

/** What the device side remembers. */
export interface DeguMemory {
  /** The shadow `version` of the last document read (a delta or `/get/accepted`). */
  version: number;
  /** The desired state as known: URL keys and `*_ver` MD5s. */
  desired: DeguOrderState;
  /** The `*_ver` MD5s the last `/get/accepted` reported. */
  reported: { [K in keyof DeguCurrent]?: string };
}

const MemorySchema = z.strictObject({
  version: VersionSchema,
  desired: z.strictObject({
    script_user: DeguUrlSchema.optional(),
    script_user_ver: Md5Schema.optional(),
    config_user: DeguUrlSchema.optional(),
    config_user_ver: Md5Schema.optional(),
    firmware_system: DeguUrlSchema.optional(),
    firmware_system_ver: Md5Schema.optional(),
    otakit_manifest: z.string().max(STATEMENT_LIMITS.maxBytes).optional(),
  }),
  reported: z.strictObject({
    script_user_ver: ReportedMd5Schema.optional(),
    config_user_ver: ReportedMd5Schema.optional(),
    firmware_system_ver: ReportedMd5Schema.optional(),
  }),
});

/**
 * The remembered state passed back in `OrderContext.memory`. Nothing remembered (a first start,
 * or `null` after the shadow was found missing) is `undefined`. Memory that is not Degu memory
 * (a store written by something else, a hand-edited file) is ignored, listed in `lost`, and
 * replaced by the next decoding: a bad store must not keep a device from its orders.
 */
export function readMemory(memory: JsonValue | undefined): { memory: DeguMemory | undefined; lost: Loss[] } {
  if (memory === undefined || memory === null) return { memory: undefined, lost: [] };
  const parsed = MemorySchema.safeParse(memory);
  if (parsed.success) return { memory: parsed.data as DeguMemory, lost: [] };
  return {
    memory: undefined,
    lost: [
      { field: 'memory', reason: 'the remembered shadow state is not Degu memory: ignored, and replaced' },
    ],
  };
}

/** The memory as plain JSON (keys in install order, nothing undefined). */
export function memoryJson(memory: DeguMemory): JsonValue {
  return {
    version: memory.version,
    desired: { ...memory.desired },
    reported: { ...memory.reported },
  };
}

/**
 * The Degu keys of a decoded `desired` section or delta (and the signed statement, when it is a
 * string of at most `STATEMENT_LIMITS.maxBytes` characters), without `null`s and other apps' keys.
 */
export function orderState(section: DeguOrder | null | undefined): DeguOrderState {
  const out: { [key: string]: string } = {};
  for (const item of DEGU_ITEMS) {
    for (const key of [item, verKey(item)] as const) {
      const value = section?.[key];
      if (typeof value === 'string') out[key] = value;
    }
  }
  const statement = (section as { [key: string]: unknown } | null | undefined)?.[STATEMENT_KEY];
  if (typeof statement === 'string' && statement.length <= STATEMENT_LIMITS.maxBytes) {
    out[STATEMENT_KEY] = statement;
  }
  return out as DeguOrderState;
}

/** The `*_ver` keys of a decoded `reported` section. */
export function reportedState(section: DeguCurrent | null | undefined): DeguMemory['reported'] {
  const out: { [key: string]: string } = {};
  for (const item of DEGU_ITEMS) {
    const value = section?.[verKey(item)];
    if (typeof value === 'string') out[verKey(item)] = value;
  }
  return out as DeguMemory['reported'];
}

/**
 * The desired state a delta stands for, given what was remembered:
 *
 * - an item the delta names (by URL or by `*_ver`) takes the delta's keys, and the key it lacks
 *   from memory: the URL a `*_ver`-only delta leaves out (the device never reports URLs, so they
 *   rarely change), or the `*_ver` that equals `reported` and so is not in the delta;
 * - an item the delta does not name is kept from memory when the delta carries no URL at all (an
 *   update that wrote only MD5s), and dropped otherwise: the device never reports a URL, so every
 *   URL still in `desired` differs from `reported` and shows in a delta that lists the whole
 *   difference; an item missing from such a delta was removed (as `encodeOrder` removes the items
 *   an order does not name);
 * - the signed statement (`otakit_manifest`) follows the URLs: the delta's when it carries one,
 *   else none when the delta carries a URL (the device never reports it, so a statement still in
 *   `desired` would be in such a delta), else the remembered one.
 */
export function mergeDelta(remembered: DeguOrderState | undefined, delta: DeguOrderState): DeguOrderState {
  const carriesUrl = DEGU_ITEMS.some((item) => delta[item] !== undefined);
  const out: { [key: string]: string } = {};
  for (const item of DEGU_ITEMS) {
    const keys = [item, verKey(item)] as const;
    const named = keys.some((key) => delta[key] !== undefined);
    if (!named && carriesUrl) continue;
    for (const key of keys) {
      const value = delta[key] ?? remembered?.[key];
      if (value !== undefined) out[key] = value;
    }
  }
  const statement = delta[STATEMENT_KEY] ?? (carriesUrl ? undefined : remembered?.[STATEMENT_KEY]);
  if (statement !== undefined) out[STATEMENT_KEY] = statement;
  return out as DeguOrderState;
}
