/**
 * node:crypto hashing in a worker thread, beside the download instead of after each chunk. MD5
 * cannot be parallelised within one stream and runs at ~700 MB/s per core, slower than a fast
 * link: on a machine with a second core, hashing it there lets the download go at the speed of
 * the slower of the two instead of their sum.
 *
 * Bytes cross over through a ring buffer in shared memory (one copy, no message per chunk, no
 * allocation): `update` copies into the ring and returns, waiting only when the ring is full,
 * so memory stays fixed at the ring's size however far the worker lags.
 *
 * @module
 */
import { Worker } from 'node:worker_threads';
import type { HashAlgorithm, HashFactory, IncrementalHash } from '../manifest/hash.js';
import { createNodeHash } from './hash.js';

/** Bytes of the ring between the download and one hash worker. */
const RING_BYTES = 4 * 1024 * 1024;

// Slots of the control array. Positions count bytes modulo 2^32 (Int32 wrap-around), so the
// bytes held are always `(written - read) | 0`, at most the ring's size.
const WRITTEN = 0;
const READ = 1;
const STATE = 2;
/** Bumped on every event the worker must see (bytes written, finish, drop): it waits on this. */
const SIGNAL = 3;
// STATE is 0 while bytes keep coming.
const FINISH = 1;
const DROP = 2;

// Plain CommonJS evaluated in the worker: no file to locate after bundling.
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { ring: ringMemory, control: controlMemory, algorithm } = workerData;
const ring = new Uint8Array(ringMemory);
const control = new Int32Array(controlMemory);
const hash = createHash(algorithm);
let read = 0;
for (;;) {
  const signal = Atomics.load(control, ${SIGNAL});
  const written = Atomics.load(control, ${WRITTEN});
  if (written !== read) {
    const held = (written - read) | 0;
    const start = (read >>> 0) % ring.length;
    const first = Math.min(held, ring.length - start);
    hash.update(ring.subarray(start, start + first));
    if (held > first) hash.update(ring.subarray(0, held - first));
    read = (read + held) | 0;
    Atomics.store(control, ${READ}, read);
    Atomics.notify(control, ${READ});
    continue;
  }
  const state = Atomics.load(control, ${STATE});
  if (state === ${DROP}) break;
  // Bytes are published before the finish flag: re-read them so none written just before it is missed.
  if (state === ${FINISH} && Atomics.load(control, ${WRITTEN}) === read) {
    parentPort.postMessage(hash.digest('hex'));
    break;
  }
  Atomics.wait(control, ${SIGNAL}, signal);
}
`;

// In Node since 16; TypeScript's lib has it from ES2024 only.
const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      array: Int32Array,
      index: number,
      value: number,
    ): { async: boolean; value: Promise<string> | string };
  }
).waitAsync;

class RingHash implements IncrementalHash {
  readonly #worker: Worker;
  readonly #ring = new Uint8Array(new SharedArrayBuffer(RING_BYTES));
  readonly #control = new Int32Array(new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT));
  #written = 0;
  #failure: Error | undefined;
  #disposed = false;
  /** Settles (rejecting) when the worker dies: anything waiting on it must not wait forever. */
  readonly #death: Promise<never>;
  readonly #digest: Promise<string>;

  constructor(algorithm: HashAlgorithm) {
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { ring: this.#ring.buffer, control: this.#control.buffer, algorithm },
    });
    this.#worker.unref(); // only a pending digest or a full ring keeps the process alive
    this.#digest = new Promise<string>((resolve) => this.#worker.once('message', resolve));
    this.#death = new Promise<never>((_, reject) => {
      const die = (error: Error) => {
        this.#failure ??= error;
        reject(this.#failure);
      };
      this.#worker.once('error', die);
      this.#worker.once('exit', (code) => die(new Error(`hash worker exited with code ${code}`)));
    });
    this.#death.catch(() => {}); // observed through #failure and the races below
    this.#digest.catch(() => {});
  }

  async update(chunk: Uint8Array): Promise<void> {
    for (let copied = 0; copied < chunk.length; ) {
      // Disposed while this update waited for room: stop feeding a worker whose hash is dropped.
      if (this.#disposed) return;
      if (this.#failure) throw this.#failure;
      const read = Atomics.load(this.#control, READ);
      const free = RING_BYTES - ((this.#written - read) | 0);
      if (free === 0) {
        try {
          await this.#whileFull(read);
        } catch (error) {
          if (this.#disposed) return; // the worker left because it was told to
          throw error;
        }
        continue;
      }
      const start = (this.#written >>> 0) % RING_BYTES;
      const count = Math.min(free, chunk.length - copied, RING_BYTES - start);
      this.#ring.set(chunk.subarray(copied, copied + count), start);
      copied += count;
      this.#written = (this.#written + count) | 0;
      Atomics.store(this.#control, WRITTEN, this.#written);
      this.#signal();
    }
  }

  async digest(): Promise<string> {
    // Whether the worker still runs is a race: answer the same whatever its timing.
    if (this.#disposed) throw new Error('digest() after dispose()');
    if (this.#failure) throw this.#failure;
    Atomics.store(this.#control, STATE, FINISH);
    this.#signal();
    this.#worker.ref();
    try {
      return await Promise.race([this.#digest, this.#death]);
    } finally {
      this.#worker.unref();
    }
  }

  dispose(): void {
    this.#disposed = true;
    Atomics.store(this.#control, STATE, DROP);
    this.#signal();
  }

  #signal(): void {
    Atomics.add(this.#control, SIGNAL, 1);
    Atomics.notify(this.#control, SIGNAL);
  }

  /** Waits until the worker has consumed past `read` (or died). */
  async #whileFull(read: number): Promise<void> {
    const wait = waitAsync(this.#control, READ, read);
    if (!wait.async) return;
    this.#worker.ref();
    try {
      await Promise.race([wait.value, this.#death]);
    } finally {
      this.#worker.unref();
    }
  }
}

/** A {@link HashFactory} whose every hash runs in a worker thread of its own. */
export const createWorkerHash: HashFactory = (algorithm) => new RingHash(algorithm);

/**
 * A {@link HashFactory} that hashes `algorithms` in worker threads and the others inline with
 * node:crypto. Offload the slowest: MD5 everywhere; SHA-256 too on CPUs without SHA extensions.
 *
 * @example
 * ```ts
 * await downloadArtifact({ url, sink, hashFactory: hashInWorkers(['md5']), fetch: nodeFetch })
 * ```
 */
export function hashInWorkers(algorithms: readonly HashAlgorithm[]): HashFactory {
  return (algorithm) =>
    algorithms.includes(algorithm) ? new RingHash(algorithm) : createNodeHash(algorithm);
}
