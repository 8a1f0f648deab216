/**
 * A store that "loses power": after a chosen number of successful writes it never answers
 * again, exactly like a process that died right after persisting. Build a new machine over the
 * inner store and call `resume()` to test recovery.
 *
 * @module
 */
import type { JsonValue, StateStore } from '../core/store.js';

export interface CrashingStore extends StateStore {
  /** Writes that completed (and are durable in the inner store). */
  readonly writes: number;
  readonly crashed: boolean;
  /** Loses power now: from here on, nothing is read or written, and no call returns. */
  crash(): void;
}

const never = () => new Promise<never>(() => {});

/**
 * @param inner - the durable store that survives the crash.
 * @param crashAfterWrites - how many `put`s succeed before everything hangs (`Infinity`: only
 *   when `crash()` is called).
 */
export function createCrashingStore(
  inner: StateStore,
  crashAfterWrites = Number.POSITIVE_INFINITY,
): CrashingStore {
  let writes = 0;
  let crashed = false;
  return {
    get writes() {
      return writes;
    },
    get crashed() {
      return crashed;
    },
    crash() {
      crashed = true;
    },
    get: (key) => (crashed ? never() : inner.get(key)),
    async put(key: string, value: JsonValue) {
      if (crashed) return never();
      await inner.put(key, value);
      writes += 1;
      if (writes >= crashAfterWrites) {
        crashed = true;
        return never();
      }
    },
    delete: (key) => (crashed ? never() : inner.delete(key)),
  };
}
