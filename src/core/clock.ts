/**
 * Time, injected. Every timeout, backoff and timestamp in otakit goes through a {@link Clock},
 * so tests drive time with `ManualClock` from `otakit/testing` instead of fake-timer hacks.
 *
 * @module
 */

/** An opaque timer handle; whatever the clock's `setTimeout` returns. */
export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The real clock of the host (browser or Node). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => globalThis.setTimeout(callback, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof setTimeout>),
};
