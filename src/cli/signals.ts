/**
 * Long-running commands (`serve`, `shadow-service`, `watch`) run until SIGINT or SIGTERM, then
 * close what they opened and exit 0.
 *
 * @module
 */

/** Resolves with the signal's name at the first SIGINT or SIGTERM (or when `signal` aborts). */
export function untilSignalled(signal?: AbortSignal): Promise<string> {
  return new Promise((resolve) => {
    const done = (name: string) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      signal?.removeEventListener('abort', onAbort);
      resolve(name);
    };
    const onInt = () => done('SIGINT');
    const onTerm = () => done('SIGTERM');
    const onAbort = () => done('abort');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
