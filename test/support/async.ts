/** Lets pending promise chains run. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Ticks until `condition` holds; fails loudly instead of hanging. */
export async function until(condition: () => boolean, what = 'condition', maxTicks = 2_000): Promise<void> {
  for (let count = 0; count < maxTicks; count++) {
    if (condition()) return;
    await tick();
  }
  throw new Error(`Timed out waiting for ${what}`);
}

/** A hook body that never finishes on its own: it only rejects when its signal aborts. */
export function blockUntilAborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/**
 * Polls `condition` (which may be async, e.g. a look at the file system) every `intervalMs` until
 * it holds. The timeout only catches a hang: it is generous, and a busy machine merely polls longer.
 */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  what = 'condition',
  { timeoutMs = 15_000, intervalMs = 5 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
