/**
 * Exclusive access to several keys at once, in one process (the memory fleet store's
 * per-device lock).
 *
 * @module
 */

/**
 * Runs work holding a set of keys. A caller queues behind every current holder of any of its
 * keys in one synchronous step, so the waits always follow arrival order: two callers can never
 * wait on each other (no deadlock), whatever order their keys come in.
 */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<void>>();

  async run<T>(keys: readonly string[], work: () => Promise<T>): Promise<T> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const waits: Promise<void>[] = [];
    // One key (a single status) is the common case: no set to build.
    const unique = keys.length === 1 ? keys : new Set(keys);
    for (const key of unique) {
      const tail = this.#tails.get(key);
      if (tail !== undefined) waits.push(tail);
      this.#tails.set(key, held);
    }
    try {
      if (waits.length > 0) await Promise.all(waits);
      return await work();
    } finally {
      release();
      for (const key of unique) if (this.#tails.get(key) === held) this.#tails.delete(key);
    }
  }

  /** Keys held or waited for right now (for tests: 0 once everything has finished). */
  get size(): number {
    return this.#tails.size;
  }
}
