/**
 * The one helper for "run these async operations one at a time, in call order": a tracker
 * applies a device's statuses in arrival order, an installer's `commit()` waits for a running
 * `install()`, two download attempts of one update never write one file together.
 *
 * @module
 */

/** Runs operations given to the returned function one at a time, in call order. A failure does
 * not stop the queue: the next operation runs after it either way. */
export function serialize(): <T>(operation: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(operation: () => Promise<T>): Promise<T> => {
    const result = tail.then(operation, operation);
    tail = result.catch(() => {});
    return result;
  };
}

/**
 * Like {@link serialize}, with one queue per key; a key's queue is forgotten once it is empty,
 * so a long-lived process does not keep one entry per key it ever saw.
 */
export function serializeByKey(): <T>(key: string, operation: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<unknown>>();
  return async <T>(key: string, operation: () => Promise<T>): Promise<T> => {
    const previous = tails.get(key) ?? Promise.resolve();
    const result = previous.then(operation, operation);
    const tail = result.catch(() => {});
    tails.set(key, tail);
    try {
      return await result;
    } finally {
      if (tails.get(key) === tail) tails.delete(key);
    }
  };
}
