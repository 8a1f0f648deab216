/**
 * Matching answers to requests by `clientToken`, as AWS intends: every request carries a token
 * of its own, the service echoes it on `/accepted` or `/rejected`, and the answer settles the one
 * request that sent it. Answers to other clients' requests (the response topics are shared by
 * everyone subscribed to the shadow) carry other tokens and are left alone.
 *
 * @module
 */
import { abortReason } from '../../core/abort.js';
import type { Clock } from '../../core/clock.js';
import { TimeoutError } from '../../core/errors.js';

/**
 * Client tokens `<prefix>-<n>`: unique per client (the prefix is random unless given), short
 * (AWS allows 64 bytes), and free of anything secret.
 */
export function clientTokens(prefix: string): () => string {
  let counter = 0;
  return () => `${prefix}-${(++counter).toString(36)}`;
}

/** A random token prefix: 12 hex characters from `random`. */
export function randomTokenPrefix(random: () => number): string {
  let prefix = '';
  for (let index = 0; index < 12; index++) prefix += Math.floor(random() * 16).toString(16);
  return prefix;
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** Requests waiting for their answer, by client token. */
export class PendingRequests<T> {
  readonly #waiting = new Map<string, Waiter<T>>();
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  get size(): number {
    return this.#waiting.size;
  }

  /**
   * Registers `token` and resolves with its answer; rejects with a `TimeoutError` (`what` names
   * the request) after `timeoutMs`, or with the signal's reason when it aborts. Register before
   * publishing: an answer can arrive before `publish` resolves.
   */
  wait(token: string, what: string, timeoutMs: number, signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const done = () => {
        this.#waiting.delete(token);
        this.#clock.clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => {
        done();
        reject(abortReason(signal!));
      };
      const timer = this.#clock.setTimeout(() => {
        done();
        reject(new TimeoutError(what, timeoutMs));
      }, timeoutMs);
      this.#waiting.set(token, {
        resolve: (value) => {
          done();
          resolve(value);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      });
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Whether `token` is one of ours and still waits. */
  has(token: unknown): token is string {
    return typeof token === 'string' && this.#waiting.has(token);
  }

  resolve(token: string, value: T): void {
    this.#waiting.get(token)?.resolve(value);
  }

  reject(token: string, error: unknown): void {
    this.#waiting.get(token)?.reject(error);
  }

  /** Rejects every waiting request (the client closed). */
  rejectAll(error: unknown): void {
    for (const waiter of [...this.#waiting.values()]) waiter.reject(error);
  }
}

/** At most `limit` requests in flight; the others wait their turn (AWS answers 429 beyond 10). */
export function inFlightLimit(limit: number): <T>(work: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: Array<() => void> = [];
  return async <T>(work: () => Promise<T>): Promise<T> => {
    if (active >= limit) await new Promise<void>((resolve) => queue.push(resolve));
    active++;
    try {
      return await work();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}
