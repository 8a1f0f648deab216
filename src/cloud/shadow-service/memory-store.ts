/**
 * A {@link ShadowStore} in memory: for tests, demos, and services whose shadows may start empty
 * after a restart. Documents are copied on the way in and out, as a real store would, so a caller
 * mutating what it passed or got back cannot change what is stored.
 *
 * @module
 */
import type { ShadowAddress } from '../../protocols/degu/topics.js';
import type { StoredShadow } from './document.js';
import { type ShadowSlot, type ShadowStore, shadowKey } from './store.js';

/**
 * @example
 * ```ts
 * const store = new MemoryShadowStore()
 * const service = createShadowService({ connection, store })
 * ```
 */
export class MemoryShadowStore implements ShadowStore {
  readonly #slots = new Map<string, string>();

  /**
   * The slot of `address`, synchronously (tests and tools). Writes through {@link put} and
   * {@link delete} apply when they are called, so this sees them at once.
   */
  peek(address: ShadowAddress): ShadowSlot | undefined {
    const text = this.#slots.get(shadowKey(address));
    return text === undefined ? undefined : (JSON.parse(text) as ShadowSlot);
  }

  /** How many shadows (and deleted-version memories) are held. */
  get size(): number {
    return this.#slots.size;
  }

  async get(address: ShadowAddress): Promise<ShadowSlot | undefined> {
    return this.peek(address);
  }

  async put(address: ShadowAddress, shadow: StoredShadow): Promise<void> {
    this.#slots.set(shadowKey(address), JSON.stringify({ shadow }));
  }

  async delete(address: ShadowAddress, deletedVersion: number): Promise<void> {
    this.#slots.set(shadowKey(address), JSON.stringify({ deletedVersion }));
  }
}
