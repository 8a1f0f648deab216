/**
 * A {@link ShadowStore} on any {@link StateStore}, the key-value persistence the rest of otakit
 * already uses (the atomic `FileStore` of `otakit/node`, a store of your own on Redis or a
 * database). Each shadow is one value: its address and either the document or the version a
 * deleted one reached. What comes back is validated, so a damaged value is a typed
 * `StoreError` naming the shadow, never a crash halfway through a request.
 *
 * @module
 */
import * as z from 'zod';
import { StoreError } from '../../core/errors.js';
import type { JsonValue, StateStore } from '../../core/store.js';
import type { ShadowAddress } from '../../protocols/degu/topics.js';
import type { StoredShadow } from './document.js';
import { type ShadowSlot, type ShadowStore, shadowKey } from './store.js';

const SectionSchema = z.record(z.string(), z.json()).optional();

const StoredShadowSchema = z.object({
  state: z.object({ desired: SectionSchema, reported: SectionSchema }),
  metadata: z.object({ desired: SectionSchema, reported: SectionSchema }),
  version: z.number().int().positive(),
  timestamp: z.number().int().nonnegative(),
});

const RecordSchema = z.object({
  thingName: z.string(),
  shadowName: z.string().optional(),
  shadow: StoredShadowSchema.optional(),
  deletedVersion: z.number().int().positive().optional(),
});

export interface StateShadowStoreOptions {
  /**
   * The store key of a shadow. Must be unique per address; a file-backed store needs a key
   * that is safe on a case-insensitive file system (see `createFileShadowStore` in `otakit/node`).
   * @default `shadow/<thing>` or `shadow/<thing>~<shadow>`
   */
  key?: (address: ShadowAddress) => string;
}

/**
 * @example
 * ```ts
 * import { FileStore } from 'otakit/node'
 * const store = stateShadowStore(new FileStore('/var/lib/shadows'))
 * ```
 */
export function stateShadowStore(store: StateStore, options: StateShadowStoreOptions = {}): ShadowStore {
  const keyOf = options.key ?? ((address: ShadowAddress) => `shadow/${shadowKey(address)}`);
  const describe = (address: ShadowAddress) =>
    address.shadowName === undefined
      ? `the classic shadow of "${address.thingName}"`
      : `shadow "${address.shadowName}" of "${address.thingName}"`;
  const recordOf = (address: ShadowAddress, body: { shadow: StoredShadow } | { deletedVersion: number }) =>
    ({
      thingName: address.thingName,
      ...(address.shadowName === undefined ? {} : { shadowName: address.shadowName }),
      ...body,
    }) as unknown as JsonValue;

  return {
    async get(address) {
      const value = await store.get(keyOf(address));
      if (value === undefined) return undefined;
      const parsed = RecordSchema.safeParse(value);
      const record = parsed.success ? parsed.data : undefined;
      if (
        record === undefined ||
        record.thingName !== address.thingName ||
        record.shadowName !== address.shadowName ||
        (record.shadow === undefined) === (record.deletedVersion === undefined)
      ) {
        throw new StoreError(
          `The stored record of ${describe(address)} is damaged: expected its address and either a shadow document (state, metadata, version, timestamp) or a deletedVersion`,
        );
      }
      return record.shadow !== undefined
        ? ({ shadow: record.shadow as StoredShadow } satisfies ShadowSlot)
        : { deletedVersion: record.deletedVersion! };
    },
    put: (address, shadow) => store.put(keyOf(address), recordOf(address, { shadow })),
    delete: (address, deletedVersion) => store.put(keyOf(address), recordOf(address, { deletedVersion })),
  };
}
