/**
 * A clock you move by hand, so tests of timeouts and backoff run in microseconds and never flake.
 *
 * @module
 */
import type { Clock, TimerHandle } from '../core/clock.js';

interface Timer {
  at: number;
  seq: number;
  callback: () => void;
}

/** Lets pending promise chains run (they may register new timers) before time moves on. */
function settle(): Promise<void> {
  return new Promise((resolve) => globalThis.setTimeout(resolve, 0));
}

/**
 * @example
 * ```ts
 * const clock = new ManualClock()
 * const machine = createUpdateMachine({ id: 'd', clock, hooks, timeouts: { download: 5_000 } })
 * const outcome = machine.apply(manifest)
 * await clock.advance(5_000) // the download hook times out
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<number, Timer>();

  constructor(start = Date.parse('2026-01-01T00:00:00.000Z')) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const seq = ++this.#seq;
    this.#timers.set(seq, { at: this.#now + Math.max(0, ms), seq, callback });
    return seq;
  }

  clearTimeout(handle: TimerHandle): void {
    this.#timers.delete(handle as number);
  }

  /** Timers not yet fired. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due in order, and letting promise
   * chains run between timers (so a timer registered by a callback fires too if it is due).
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      await settle();
      const next = this.#nextDue(target);
      if (next === undefined) break;
      this.#timers.delete(next.seq);
      this.#now = next.at;
      next.callback();
    }
    this.#now = target;
    await settle();
  }

  /** Fires timers one after another until none is left (or `limit` fired), however far ahead. */
  async runAll(limit = 10_000): Promise<void> {
    for (let fired = 0; fired < limit; fired++) {
      await settle();
      const next = this.#nextDue(Number.POSITIVE_INFINITY);
      if (next === undefined) return;
      this.#timers.delete(next.seq);
      this.#now = Math.max(this.#now, next.at);
      next.callback();
    }
    throw new Error(
      `ManualClock.runAll: more than ${limit} timers fired; is something rescheduling forever?`,
    );
  }

  #nextDue(limit: number): Timer | undefined {
    let next: Timer | undefined;
    for (const timer of this.#timers.values()) {
      if (timer.at > limit) continue;
      if (next === undefined || timer.at < next.at || (timer.at === next.at && timer.seq < next.seq))
        next = timer;
    }
    return next;
  }
}
