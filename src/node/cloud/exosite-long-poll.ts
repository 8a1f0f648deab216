/**
 * Long polls held by the local Murano service: a request waits until the platform sets the
 * resource it watches, or until its `Request-Timeout` passes (then `304`), as Murano's device API
 * does. One waiter list serves the device API's polls on `config_otau` and the write feed's polls.
 *
 * @module
 */
import type { ServerResponse } from 'node:http';

interface Waiter<Value> {
  key: string;
  answer: (value: Value) => void;
}

/** Requests waiting for a value under a key (a device and alias, or a product's feed). */
export class LongPolls<Value> {
  #waiters: Waiter<Value>[] = [];

  /**
   * Holds `response` until {@link wake} gives a value for `key` (then `answer` writes it) or
   * `timeoutMs` passes (then `onTimeout`). A closed connection drops the waiter.
   */
  hold(
    key: string,
    response: ServerResponse,
    timeoutMs: number,
    answer: (value: Value) => void,
    onTimeout: () => void,
  ): void {
    const waiter: Waiter<Value> = {
      key,
      answer: (value) => {
        clearTimeout(timer);
        answer(value);
      },
    };
    const drop = () => {
      this.#waiters = this.#waiters.filter((entry) => entry !== waiter);
    };
    const timer = setTimeout(() => {
      drop();
      onTimeout();
    }, timeoutMs);
    response.on('close', () => {
      clearTimeout(timer);
      drop();
    });
    this.#waiters.push(waiter);
  }

  /** Answers every request waiting on `key`; returns how many there were. */
  wake(key: string, value: Value): number {
    const woken = this.#waiters.filter((waiter) => waiter.key === key);
    this.#waiters = this.#waiters.filter((waiter) => waiter.key !== key);
    for (const waiter of woken) waiter.answer(value);
    return woken.length;
  }

  /** Answers the oldest request waiting on `key`, if any. */
  wakeOne(key: string, value: Value): boolean {
    const index = this.#waiters.findIndex((waiter) => waiter.key === key);
    if (index === -1) return false;
    const [waiter] = this.#waiters.splice(index, 1);
    waiter!.answer(value);
    return true;
  }
}
