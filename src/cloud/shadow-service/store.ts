/**
 * Where the shadow service keeps its shadows. A store holds, per shadow, either the document
 * (state, metadata, version, timestamp) or the version a deleted one had reached: AWS keeps
 * counting across a delete, so a shadow created again continues from there. The service writes
 * to the store before it publishes an `/accepted` answer, so every answer a client saw survives a
 * restart on the same store.
 *
 * The service handles one thing's requests one at a time, so a store never sees two concurrent
 * calls for the same shadow from one service; it need not lock. Two services on one store would
 * race: run one service per store.
 *
 * @module
 */
import type { ShadowAddress } from '../../protocols/degu/topics.js';
import type { StoredShadow } from './document.js';

/** What a store holds for one shadow. */
export type ShadowSlot =
  | { shadow: StoredShadow; deletedVersion?: undefined }
  | { shadow?: undefined; deletedVersion: number };

export interface ShadowStore {
  /** The shadow (or the memory of a deleted one); `undefined` when it never existed. */
  get(address: ShadowAddress): Promise<ShadowSlot | undefined>;
  /** Stores `shadow`, replacing the one before and any deleted version. Durable once resolved. */
  put(address: ShadowAddress, shadow: StoredShadow): Promise<void>;
  /** Removes the shadow and remembers `deletedVersion` in its place. Durable once resolved. */
  delete(address: ShadowAddress, deletedVersion: number): Promise<void>;
}

/**
 * The key of a shadow, unique across classic and named shadows: `<thing>` or `<thing>~<shadow>`
 * (`~` is in neither name's alphabet).
 */
export function shadowKey(address: ShadowAddress): string {
  return address.shadowName === undefined ? address.thingName : `${address.thingName}~${address.shadowName}`;
}
