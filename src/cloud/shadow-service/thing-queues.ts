/**
 * One queue per thing: tasks of the same thing run one after the other in the order they were
 * queued, tasks of different things run concurrently. AWS applies a thing's shadow requests in
 * order; this keeps that order even when the store answers out of order. A queue is dropped once
 * it is empty, so the memory held follows the things active now, not every thing ever seen.
 *
 * @module
 */
import { OtaError } from '../../core/errors.js';

interface Queue {
  /** Settles when the last queued task has finished. */
  tail: Promise<void>;
  /** Tasks queued and not finished (the running one included). */
  pending: number;
}

export interface ThingQueues {
  /** Queues `task` behind the thing's others; `undefined` when the thing's queue is full. */
  offer<T>(thing: string, task: () => Promise<T>): Promise<T> | undefined;
  /** Queues `task` behind the thing's others, whatever the bound (in-process calls, which wait). */
  enqueue<T>(thing: string, task: () => Promise<T>): Promise<T>;
  /** Settles once every queue is empty. */
  idle(): Promise<void>;
}

export function createThingQueues(bound: number): ThingQueues {
  if (!Number.isInteger(bound) || bound < 1) {
    throw new OtaError('CONFIG', `limits.queuedPerThing must be a positive integer, got ${String(bound)}`);
  }
  const queues = new Map<string, Queue>();

  const enqueue = <T>(thing: string, task: () => Promise<T>): Promise<T> => {
    let queue = queues.get(thing);
    if (queue === undefined) {
      queue = { tail: Promise.resolve(), pending: 0 };
      queues.set(thing, queue);
    }
    const current = queue;
    current.pending++;
    const result = current.tail.then(task);
    current.tail = result.then(
      () => {},
      () => {},
    );
    void current.tail.then(() => {
      current.pending--;
      if (current.pending === 0 && queues.get(thing) === current) queues.delete(thing);
    });
    return result;
  };

  return {
    enqueue,
    offer(thing, task) {
      if ((queues.get(thing)?.pending ?? 0) >= bound) return undefined;
      return enqueue(thing, task);
    },
    async idle() {
      while (queues.size > 0) await Promise.all([...queues.values()].map((queue) => queue.tail));
    },
  };
}
