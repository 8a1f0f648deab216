/**
 * node:crypto hashing in worker threads, so hashing runs beside the download instead of after
 * each chunk: one worker per algorithm (MD5 and SHA-256 then run in parallel), shared by every
 * download of the process, with bounded memory in flight (back-pressure when a worker lags).
 *
 * @module
 */
import { Worker } from 'node:worker_threads';
import type { HashAlgorithm, HashFactory, IncrementalHash } from '../manifest/hash.js';

// Plain CommonJS evaluated in the worker: no file to locate after bundling.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const sessions = new Map();
parentPort.on('message', (message) => {
  if (message.type === 'update') {
    let hash = sessions.get(message.id);
    if (hash === undefined) {
      hash = createHash(message.algorithm);
      sessions.set(message.id, hash);
    }
    hash.update(new Uint8Array(message.buffer, message.offset, message.length));
    parentPort.postMessage({ type: 'ack', id: message.id, length: message.length });
  } else if (message.type === 'drop') {
    sessions.delete(message.id);
  } else if (message.type === 'digest') {
    const hash = sessions.get(message.id) ?? createHash(message.algorithm);
    sessions.delete(message.id);
    parentPort.postMessage({ type: 'digest', id: message.id, hex: hash.digest('hex') });
  }
});
`;

/** Bytes a session may have queued in its worker before `update` waits. */
const MAX_IN_FLIGHT = 4 * 1024 * 1024;
/** Bytes gathered before they are copied and sent to the worker. */
const BATCH_BYTES = 1024 * 1024;

interface Session {
  inFlight: number;
  waiting: (() => void) | undefined;
  digest: ((hex: string) => void) | undefined;
  /** Set when the worker died: every pending and later call rejects with it. */
  failure: Error | undefined;
  fail: ((error: Error) => void) | undefined;
}

class HashWorker {
  readonly #worker: Worker;
  readonly #sessions = new Map<number, Session>();

  constructor(onDeath: () => void) {
    this.#worker = new Worker(WORKER_SOURCE, { eval: true });
    this.#worker.unref(); // an idle hash worker must never keep the process alive
    // A worker that dies (an algorithm the runtime lacks, out of memory) fails its sessions
    // instead of leaving them waiting, and is replaced on next use.
    const die = (error: Error) => {
      onDeath();
      for (const session of this.#sessions.values()) {
        session.failure = error;
        session.fail?.(error);
        session.waiting?.();
      }
      this.#sessions.clear();
    };
    this.#worker.on('error', (error) => die(error));
    this.#worker.on('exit', (code) => die(new Error(`hash worker exited with code ${code}`)));
    this.#worker.on('message', (message: { type: string; id: number; length?: number; hex?: string }) => {
      const session = this.#sessions.get(message.id);
      if (session === undefined) return;
      if (message.type === 'ack') {
        session.inFlight -= message.length ?? 0;
        if (session.inFlight <= MAX_IN_FLIGHT / 2) {
          const wake = session.waiting;
          session.waiting = undefined;
          wake?.();
        }
      } else if (message.type === 'digest') {
        this.#sessions.delete(message.id);
        if (this.#sessions.size === 0) this.#worker.unref();
        session.digest?.(message.hex ?? '');
      }
    });
  }

  open(id: number): Session {
    const session: Session = {
      inFlight: 0,
      waiting: undefined,
      digest: undefined,
      failure: undefined,
      fail: undefined,
    };
    this.#sessions.set(id, session);
    this.#worker.ref(); // pending digests keep the process alive until they arrive
    return session;
  }

  post(message: Record<string, unknown>, transfer: ArrayBuffer[] = []): void {
    this.#worker.postMessage(message, transfer);
  }

  close(id: number): void {
    if (!this.#sessions.delete(id)) return;
    this.post({ type: 'drop', id });
    if (this.#sessions.size === 0) this.#worker.unref();
  }
}

const workers = new Map<HashAlgorithm, HashWorker>();
let nextId = 1;

/** A {@link HashFactory} whose hashes run in worker threads (one per algorithm, shared). */
export const createWorkerHash: HashFactory = (algorithm) => {
  let worker = workers.get(algorithm);
  if (worker === undefined) {
    const created = new HashWorker(() => {
      if (workers.get(algorithm) === created) workers.delete(algorithm);
    });
    worker = created;
    workers.set(algorithm, worker);
  }
  const hashWorker = worker;
  const id = nextId++;
  const session = hashWorker.open(id);
  // Chunks are gathered into 1 MiB batches: one copy and one message per batch, not per chunk.
  let batch: Uint8Array[] = [];
  let batchBytes = 0;
  const send = () => {
    if (batchBytes === 0) return;
    const buffer = new Uint8Array(batchBytes);
    let offset = 0;
    for (const part of batch) {
      buffer.set(part, offset);
      offset += part.length;
    }
    batch = [];
    batchBytes = 0;
    session.inFlight += buffer.length;
    hashWorker.post(
      { type: 'update', id, algorithm, buffer: buffer.buffer, offset: 0, length: buffer.length },
      [buffer.buffer],
    );
  };
  const hash: IncrementalHash = {
    async update(chunk) {
      if (session.failure) throw session.failure;
      batch.push(chunk);
      batchBytes += chunk.byteLength;
      if (batchBytes < BATCH_BYTES) return;
      send();
      if (session.inFlight > MAX_IN_FLIGHT) {
        await new Promise<void>((resolve) => {
          session.waiting = resolve;
        });
        if (session.failure) throw session.failure;
      }
    },
    digest() {
      if (session.failure) return Promise.reject(session.failure);
      send();
      return new Promise<string>((resolve, reject) => {
        session.digest = resolve;
        session.fail = reject;
        hashWorker.post({ type: 'digest', id, algorithm });
      });
    },
    dispose() {
      batch = [];
      batchBytes = 0;
      hashWorker.close(id);
    },
  };
  return hash;
};
