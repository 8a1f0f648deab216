/**
 * Runs async operations one at a time, in call order. An installer's steps assume nobody else
 * moves its files in between, so a `commit()` issued while an `install()` runs waits for it.
 *
 * @module
 */
export function serialize(): <T>(operation: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(operation: () => Promise<T>): Promise<T> => {
    const result = tail.then(operation, operation);
    tail = result.catch(() => {});
    return result;
  };
}
