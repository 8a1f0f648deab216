/**
 * Long-running commands (`serve`, `shadow-service`, `watch`) run until SIGINT or SIGTERM, then
 * close what they opened and exit 0.
 *
 * @module
 */

/**
 * Resolves with the signal's name at the first SIGINT or SIGTERM (or when `signal` aborts). Call
 * it before printing the line that says the command is ready: whoever reads that line may signal
 * at once, and a signal with no listener yet kills the process without its cleanup.
 */
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
