/**
 * A package fetched over MQTT in chunks, the way ThingsBoard serves firmware to a device session:
 * publish the chunk size as text on `v2/fw/request/<requestId>/chunk/<n>`, the bytes of chunk `n`
 * come back on `v2/fw/response/<requestId>/chunk/<n>`, and an empty (or short) answer ends the
 * package. Bytes go into a {@link DownloadSink} as they arrive and are hashed on the way; each
 * chunk has its own timeout and retries; a download resumes from what the sink already holds
 * (after a crash, with a file sink), whatever chunk size the earlier attempt used.
 * Browser-safe: only an {@link MqttConnection}, a sink and a hash factory.
 *
 * @example
 * ```ts
 * import { downloadMqttChunks, MemorySink, mqttChunkTopics } from 'otakit'
 *
 * const sink = new MemorySink()
 * const { size, sha256 } = await downloadMqttChunks({
 *   connection,                        // connected with the device token as user name
 *   sink,
 *   topics: mqttChunkTopics('v2/fw'),      // ThingsBoard firmware
 *   chunkSize: 16_384,
 *   expected: { size: 421_320, sha256: '17ae…' },
 * })
 * ```
 *
 * @module
 */
import { abortReason, sleep } from '../core/abort.js';
import { type Clock, systemClock } from '../core/clock.js';
import { IntegrityError, isOtaError, OtaError, TimeoutError, TransportError } from '../core/errors.js';
import { backoffDelay, type RetryPolicy } from '../core/retry.js';
import {
  createWebHash,
  type HashAlgorithm,
  type HashFactory,
  type IncrementalHash,
  updateAll,
} from '../manifest/hash.js';
import type { DownloadSink } from './download-sink.js';
import type { MqttConnection } from './mqtt-connection.js';

/** The topics of a chunked transfer: how to ask for chunk `n`, and where the answers arrive. */
export interface ChunkTopics {
  /** The topic of the request for chunk `index` of the transfer `requestId`. */
  request(requestId: number, index: number): string;
  /** The payload of every request (ThingsBoard: the chunk size as decimal text). */
  requestPayload(chunkSize: number): string | Uint8Array;
  /** The subscription that receives every answer (wildcards allowed). */
  responses: string;
  /** The transfer and chunk an answer is for, or `undefined` when `topic` is no answer. */
  parseResponse(topic: string): { requestId: number; index: number } | undefined;
  /** Where the server reports that it cannot serve a chunk (ThingsBoard: `v2/fw/error`). */
  errors?: string;
}

/** ThingsBoard parses ids and chunk sizes with `Integer.parseInt`. */
const MAX_INT = 2 ** 31 - 1;

/** ThingsBoard's parser of topic numbers: `\d+` within `Integer.parseInt`. */
function topicNumber(level: string | undefined): number | undefined {
  if (level === undefined || !/^\d{1,10}$/.test(level)) return undefined;
  const value = Number(level);
  return value <= MAX_INT ? value : undefined;
}

/**
 * The chunk topics of ThingsBoard's scheme under `prefix`: `<prefix>/request/<id>/chunk/<n>` with
 * the chunk size as decimal text, answers on `<prefix>/response/<id>/chunk/<n>`, errors on
 * `<prefix>/error`. ThingsBoard uses `v2/fw` for firmware and `v2/sw` for software.
 *
 * @example
 * ```ts
 * const topics = mqttChunkTopics('v2/sw') // a ThingsBoard software package
 * ```
 */
export function mqttChunkTopics(prefix = 'v2/fw'): ChunkTopics {
  if (typeof prefix !== 'string' || !/^[^#+]+$/.test(prefix) || prefix.endsWith('/')) {
    throw new OtaError('CONFIG', 'prefix must be a topic without wildcards or a trailing slash');
  }
  const response = `${prefix}/response/`;
  return {
    request: (requestId, index) => `${prefix}/request/${requestId}/chunk/${index}`,
    requestPayload: (chunkSize) => String(chunkSize),
    responses: `${prefix}/response/+/chunk/+`,
    parseResponse(topic) {
      if (typeof topic !== 'string' || !topic.startsWith(response)) return undefined;
      const levels = topic.slice(response.length).split('/');
      if (levels.length !== 3 || levels[1] !== 'chunk') return undefined;
      const requestId = topicNumber(levels[0]);
      const index = topicNumber(levels[2]);
      return requestId === undefined || index === undefined ? undefined : { requestId, index };
    },
    errors: `${prefix}/error`,
  };
}

export interface MqttChunkDownloadOptions {
  /** The device's connection (for ThingsBoard: its access token is the user name). */
  connection: MqttConnection;
  /** Where the bytes go. A sink that can `readBack()` lets a later call resume. */
  sink: DownloadSink;
  /** @default mqttChunkTopics('v2/fw') */
  topics?: ChunkTopics;
  /**
   * Bytes per chunk. ThingsBoard refuses chunks over its `transport.mqtt.max_payload_size`
   * (64 KiB by default) with `PAYLOAD_TOO_LARGE`.
   * @default 16384
   */
  chunkSize?: number;
  /**
   * What the package must be. `size` also says when the transfer is complete; without it the
   * first empty or short chunk ends it. Digests are checked at the end; on a mismatch the sink is
   * discarded and an `IntegrityError` thrown.
   */
  expected?: { size?: number; md5?: string; sha256?: string };
  /** @default ['md5', 'sha256'] */
  hashes?: readonly HashAlgorithm[];
  /** @default createWebHash (browser-safe); `otakit/node` has node:crypto's `createNodeHash` */
  hashFactory?: HashFactory;
  /**
   * Continue after the bytes the sink holds (rehashed from `readBack()`); `false` starts over.
   * @default true
   */
  resume?: boolean;
  /**
   * The transfer's id in the topics. A fresh one per call keeps late answers to an earlier
   * attempt (perhaps with another chunk size) out of this one.
   * @default a random integer from 1 to 2^31 - 1
   */
  requestId?: number;
  /**
   * How long one request waits for its chunk, from the moment it is published (a request made
   * while the broker is away waits in the connection's queue and counts).
   * @default 10000
   */
  chunkTimeoutMs?: number;
  /**
   * Attempts per chunk and the backoff between them. Past them the download fails with a
   * retryable `TransportError`; the next call resumes where it stopped.
   * @default { attempts: 5, baseDelayMs: 500, maxDelayMs: 10000, factor: 2, jitter: 'full' }
   */
  retry?: Partial<RetryPolicy>;
  /**
   * Largest package accepted when `expected.size` is not given.
   * @default 2147483648
   */
  maxBytes?: number;
  signal?: AbortSignal;
  /** After every chunk written: bytes held (including those of an earlier attempt) and the total. */
  onProgress?: (progress: { bytes: number; total: number | null }) => void;
  /** @default systemClock */
  clock?: Clock;
  /** Jitter and the default request id. @default Math.random */
  random?: () => number;
}

export interface MqttChunkDownloadResult {
  size: number;
  md5?: string;
  sha256?: string;
  /** Bytes the sink already held when the call started (0: from the beginning). */
  resumedFrom: number;
  /** Chunk requests published, retries included. */
  requests: number;
}

const DEFAULT_CHUNK_SIZE = 16_384;
const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_BYTES = 2 ** 31;
const DEFAULT_CHUNK_RETRY: RetryPolicy = {
  attempts: 5,
  baseDelayMs: 500,
  maxDelayMs: 10_000,
  factor: 2,
  jitter: 'full',
};

function positiveInteger(value: number | undefined, name: string, fallback: number, max = MAX_INT): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new OtaError('CONFIG', `${name} must be an integer from 1 to ${max}`);
  }
  return value;
}

/**
 * Fetches a package chunk by chunk into `options.sink`, one request in flight at a time.
 *
 * @throws OtaError `CONFIG` naming a bad option; `TransportError` when a chunk did not come
 *   within its attempts (retryable), when the server reported an error (`PAYLOAD_TOO_LARGE` is
 *   not retryable) or sent more than a chunk; `IntegrityError` for a size or digest mismatch (the
 *   sink is then discarded); the abort reason when `signal` aborts.
 */
export async function downloadMqttChunks(
  options: MqttChunkDownloadOptions,
): Promise<MqttChunkDownloadResult> {
  const transfer = new ChunkTransfer(options);
  return transfer.run();
}

/** A request waiting for its answer: its chunk index and how to settle it. */
interface Waiting {
  index: number;
  resolve: (bytes: Uint8Array) => void;
  reject: (error: Error) => void;
}

/** One call of {@link downloadMqttChunks}: its subscription, hashes and offset. */
class ChunkTransfer {
  readonly #options: MqttChunkDownloadOptions;
  readonly #topics: ChunkTopics;
  readonly #chunkSize: number;
  readonly #timeoutMs: number;
  readonly #retry: RetryPolicy;
  readonly #requestId: number;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #size: number | undefined;
  readonly #maxBytes: number;
  readonly #algorithms: readonly HashAlgorithm[];
  #hashes = new Map<HashAlgorithm, IncrementalHash>();
  #offset = 0;
  #requests = 0;
  /** The request waiting for its answer. */
  #waiting: Waiting | undefined;

  constructor(options: MqttChunkDownloadOptions) {
    if (typeof options?.connection?.subscribe !== 'function') {
      throw new OtaError('CONFIG', 'connection must be an MqttConnection');
    }
    if (typeof options.sink?.write !== 'function')
      throw new OtaError('CONFIG', 'sink must be a DownloadSink');
    this.#options = options;
    this.#topics = options.topics ?? mqttChunkTopics('v2/fw');
    this.#chunkSize = positiveInteger(options.chunkSize, 'chunkSize', DEFAULT_CHUNK_SIZE);
    this.#timeoutMs = positiveInteger(options.chunkTimeoutMs, 'chunkTimeoutMs', DEFAULT_TIMEOUT_MS);
    this.#retry = { ...DEFAULT_CHUNK_RETRY, ...options.retry };
    positiveInteger(this.#retry.attempts, 'retry.attempts', 1, 1000);
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#requestId = positiveInteger(
      options.requestId,
      'requestId',
      1 + Math.floor(this.#random() * (MAX_INT - 1)),
    );
    const size = options.expected?.size;
    if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) {
      throw new OtaError('CONFIG', 'expected.size must be a non-negative integer');
    }
    this.#size = size;
    this.#maxBytes = size ?? positiveInteger(options.maxBytes, 'maxBytes', DEFAULT_MAX_BYTES, 2 ** 52);
    this.#algorithms = options.hashes ?? ['md5', 'sha256'];
    this.#hashes = this.#freshHashes();
  }

  async run(): Promise<MqttChunkDownloadResult> {
    const { connection, signal } = this.#options;
    signal?.throwIfAborted();
    const stops: (() => Promise<void>)[] = [];
    const onAbort = () => this.#fail(abortReason(signal!));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // Subscribed before the first request, so no answer can arrive unheard.
      stops.push(
        // QoS 0: a lost answer is asked for again anyway, and without a PUBACK to send for each
        // chunk the next request leaves at once instead of waiting behind it (Nagle's algorithm
        // holds a small write while the previous one is unacknowledged: ~40 ms a chunk on Linux).
        await connection.subscribe(this.#topics.responses, (message) => this.#answer(message), { qos: 0 }),
      );
      if (this.#topics.errors !== undefined) {
        stops.push(
          await connection.subscribe(this.#topics.errors, (message) => this.#serverError(message.payload), {
            qos: 1,
          }),
        );
      }
      const resumedFrom = await this.#prepare();
      await this.#fetchAll();
      await this.#options.sink.flush();
      return { ...(await this.#finish()), resumedFrom, requests: this.#requests };
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.#waiting = undefined;
      for (const hash of this.#hashes.values()) hash.dispose?.();
      await Promise.all(stops.map((stop) => stop().catch(() => {})));
    }
  }

  #freshHashes(): Map<HashAlgorithm, IncrementalHash> {
    const factory = this.#options.hashFactory ?? createWebHash;
    return new Map(this.#algorithms.map((algorithm) => [algorithm, factory(algorithm)]));
  }

  /** Keeps what the sink holds (rebuilding the hashes from it), or empties it. Returns the offset. */
  async #prepare(): Promise<number> {
    const { sink, signal } = this.#options;
    const held = this.#options.resume === false ? 0 : await sink.length();
    if (held === 0 || held > this.#maxBytes || sink.readBack === undefined) {
      await sink.reset();
      return 0;
    }
    let seen = 0;
    for await (const chunk of sink.readBack()) {
      signal?.throwIfAborted();
      await updateAll(this.#hashes.values(), chunk);
      seen += chunk.length;
    }
    if (seen !== held) {
      for (const hash of this.#hashes.values()) hash.dispose?.();
      this.#hashes = this.#freshHashes();
      await sink.reset();
      return 0;
    }
    this.#offset = held;
    this.#options.onProgress?.({ bytes: held, total: this.#size ?? null });
    return held;
  }

  async #fetchAll(): Promise<void> {
    const chunkSize = this.#chunkSize;
    for (;;) {
      if (this.#size !== undefined && this.#offset >= this.#size) return;
      // A resume from a length that is no multiple of this chunk size (the earlier attempt used
      // another, or a crash kept part of a chunk) asks for the chunk holding the offset and
      // keeps its tail: ThingsBoard numbers chunks, not bytes.
      const index = Math.floor(this.#offset / chunkSize);
      const skip = this.#offset - index * chunkSize;
      const bytes = await this.#fetchChunk(index);
      if (bytes.length > chunkSize) {
        throw new TransportError(
          `MQTT chunk ${index}: the server sent ${bytes.length} bytes for a chunk of ${chunkSize}`,
          { retryable: false },
        );
      }
      const part = bytes.subarray(Math.min(skip, bytes.length));
      if (this.#offset + part.length > this.#maxBytes) {
        throw await this.#integrity('size', String(this.#maxBytes), `more than ${this.#maxBytes}`);
      }
      if (part.length > 0) {
        await this.#options.sink.write(part);
        await updateAll(this.#hashes.values(), part);
        this.#offset += part.length;
        this.#options.onProgress?.({ bytes: this.#offset, total: this.#size ?? null });
      }
      // An empty or short chunk is the end of the package (ThingsBoard answers past the end with
      // nothing). With a known size, ending early is a size mismatch, caught by #finish.
      if (bytes.length < chunkSize) return;
    }
  }

  /** One chunk: request, wait, and again after a timeout, within the retry policy. */
  async #fetchChunk(index: number): Promise<Uint8Array> {
    const { connection } = this.#options;
    const topic = this.#topics.request(this.#requestId, index);
    const payload = this.#topics.requestPayload(this.#chunkSize);
    for (let attempt = 1; ; attempt++) {
      this.#options.signal?.throwIfAborted();
      let waiting!: Waiting;
      const answer = new Promise<Uint8Array>((resolve, reject) => {
        waiting = { index, resolve, reject };
      });
      this.#waiting = waiting;
      // The timer and the publish settle this attempt only, never a later one.
      const failThis = (error: Error) => {
        if (this.#waiting === waiting) this.#fail(error);
      };
      const timer = this.#clock.setTimeout(
        () => failThis(new TimeoutError(`MQTT chunk ${index}`, this.#timeoutMs)),
        this.#timeoutMs,
      );
      this.#requests += 1;
      // Not awaited alone: while the broker is away the publish waits in the connection's queue,
      // and the chunk's timeout must still run. A refused publish fails this attempt.
      connection.publish(topic, payload, { qos: 1 }).catch((error: unknown) => failThis(asTransport(error)));
      try {
        return await answer;
      } catch (error) {
        const failure = isOtaError(error) ? error : asTransport(error);
        if (failure.code === 'ABORTED' || !failure.retryable || attempt >= this.#retry.attempts) {
          if (failure.code === 'TIMEOUT') {
            throw new TransportError(`MQTT chunk ${index}: no answer after ${attempt} requests`, {
              cause: failure,
              retryable: true,
            });
          }
          throw failure;
        }
        await sleep(backoffDelay(this.#retry, attempt, this.#random), this.#clock, this.#options.signal);
      } finally {
        this.#clock.clearTimeout(timer);
        this.#waiting = undefined;
      }
    }
  }

  #answer(message: { topic: string; payload: Uint8Array }): void {
    const address = this.#topics.parseResponse(message.topic);
    const waiting = this.#waiting;
    // Answers of another transfer, or late answers to a chunk already taken, are not ours.
    if (address === undefined || address.requestId !== this.#requestId || waiting?.index !== address.index)
      return;
    this.#waiting = undefined;
    waiting.resolve(message.payload);
  }

  #serverError(payload: Uint8Array): void {
    const text = new TextDecoder().decode(payload.subarray(0, 200)).replace(/[^\x20-\x7e]/g, '?');
    // The error topic names no transfer: it concerns the request in flight, if any.
    this.#fail(
      new TransportError(
        text.includes('PAYLOAD_TOO_LARGE')
          ? `MQTT chunk download: the server refused chunks of ${this.#chunkSize} bytes (PAYLOAD_TOO_LARGE): use a smaller chunkSize`
          : `MQTT chunk download: the server reported "${text}"`,
        { retryable: !text.includes('PAYLOAD_TOO_LARGE') },
      ),
    );
  }

  #fail(error: Error): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.reject(error);
  }

  async #finish(): Promise<Omit<MqttChunkDownloadResult, 'resumedFrom' | 'requests'>> {
    const digests: Partial<Record<HashAlgorithm, string>> = {};
    for (const [algorithm, hash] of this.#hashes) digests[algorithm] = await hash.digest();
    this.#hashes.clear();
    const expected = this.#options.expected ?? {};
    if (expected.size !== undefined && this.#offset !== expected.size) {
      throw await this.#integrity('size', String(expected.size), String(this.#offset));
    }
    for (const algorithm of ['sha256', 'md5'] as const) {
      const want = expected[algorithm]?.toLowerCase();
      const got = digests[algorithm];
      if (want !== undefined && got !== undefined && want !== got) {
        throw await this.#integrity(algorithm, want, got);
      }
    }
    return { size: this.#offset, ...digests };
  }

  /** Bytes that are not the package never stay in the sink. */
  async #integrity(algorithm: string, expected: string, actual: string): Promise<IntegrityError> {
    await this.#options.sink.discard().catch(() => {});
    return new IntegrityError('MQTT chunk download', { algorithm, expected, actual });
  }
}

function asTransport(error: unknown): OtaError {
  if (isOtaError(error)) return error;
  return new TransportError(
    `MQTT chunk request failed: ${error instanceof Error ? error.message : String(error)}`,
  );
}
