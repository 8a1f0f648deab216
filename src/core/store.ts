/**
 * Persistence, pluggable. The update machine writes every transition to a {@link StateStore}
 * before it starts the transition's side effect, so a crash at any moment resumes from a state
 * the machine really reached. `MemoryStore` lives here (browser-safe); the atomic file store is in
 * `otakit/node`.
 *
 * @module
 */

/** Values stored are plain JSON. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export interface StateStore {
  /** The value stored under `key`, or `undefined` when there is none. */
  get(key: string): Promise<JsonValue | undefined>;
  /** Stores `value` under `key`. Must be durable when the promise resolves. */
  put(key: string, value: JsonValue): Promise<void>;
  delete(key: string): Promise<void>;
}

/**
 * A store in memory. Values are copied on the way in and out, so a caller mutating an object it
 * passed or got back cannot change what is stored (as with a real store).
 */
export class MemoryStore implements StateStore {
  readonly #entries = new Map<string, string>();

  async get(key: string): Promise<JsonValue | undefined> {
    const text = this.#entries.get(key);
    return text === undefined ? undefined : (JSON.parse(text) as JsonValue);
  }

  async put(key: string, value: JsonValue): Promise<void> {
    this.#entries.set(key, JSON.stringify(value));
  }

  async delete(key: string): Promise<void> {
    this.#entries.delete(key);
  }

  /** The keys held, for inspection in tests and tools. */
  keys(): string[] {
    return [...this.#entries.keys()];
  }
}
