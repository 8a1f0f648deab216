/**
 * The AWS IoT Device Shadow client over MQTT, on any {@link MqttConnection} (`connectMqtt` of
 * `otakit/mqtt`, or your own binding), as AWS IoT Core documents it:
 *
 * - `get`, `update` and `delete` each carry a `clientToken` of their own, and resolve with the
 *   answer that echoes it (`/accepted`), or reject with a {@link ShadowRejectedError} holding the
 *   AWS code and message (`/rejected`), or a `TimeoutError` after `timeoutMs`;
 * - the `/accepted` and `/rejected` topics of an operation are subscribed (once) before its first
 *   request is published, never the `shadow/#` wildcard AWS advises against;
 * - `onDelta` and `onDocuments` stream `/update/delta` and `/update/documents`; a delta whose
 *   `version` is not newer than the last one seen (in a delta or a `get` answer) is stale and
 *   dropped: QoS 1 delivers twice, and nothing orders messages across a reconnect;
 * - an update made with `version` that meets a 409 "Version conflict" reads the shadow afresh and
 *   tries once more at its version;
 * - at most `maxInFlight` requests wait for answers at a time (AWS answers 429 beyond 10 per
 *   connection).
 *
 * Classic shadows (`$aws/things/<thing>/shadow/…`) and named ones (`…/shadow/name/<name>/…`).
 *
 * @example
 * ```ts
 * import { createShadowClient } from 'otakit'
 * import { connectMqtt } from 'otakit/mqtt'
 *
 * const shadow = createShadowClient({ connection: await connectMqtt(url), thingName: 'gw-7' })
 * await shadow.onDelta((delta) => console.log('desired changed', delta.state))
 * await shadow.update({ reported: { firmware: '1.2.0' } })
 * const { state, version } = await shadow.get()
 * ```
 *
 * @module
 */
import { abortReason } from '../../core/abort.js';
import { type Clock, systemClock } from '../../core/clock.js';
import { ManifestError, type OtaError, TransportError, toOtaError } from '../../core/errors.js';
import { isRecord } from '../../core/record.js';
import { parseWith } from '../../core/validate.js';
import { decodeShadowMessage } from '../../protocols/degu/decode.js';
import {
  type ShadowDeleteAccepted,
  type ShadowDelta,
  type ShadowDocuments,
  type ShadowGetAccepted,
  ShadowRequestSchema,
  type ShadowUpdateAccepted,
} from '../../protocols/degu/shadow-schemas.js';
import type { MqttConnection, MqttMessage } from '../mqtt-connection.js';
import { updateWithConflictRetry } from './conflict.js';
import { clientTokens, inFlightLimit, PendingRequests, randomTokenPrefix } from './correlation.js';
import { describeShadow, ShadowRejectedError } from './errors.js';
import { type ShadowTopicSet, shadowTopicSet } from './topics.js';
import type {
  ShadowAddress,
  ShadowOperation,
  ShadowOperations,
  ShadowRequestOptions,
  ShadowRequestState,
  ShadowUpdateOptions,
} from './types.js';

export interface ShadowClientOptions {
  /** The MQTT connection (it stays the caller's: `close()` only unsubscribes). */
  connection: MqttConnection;
  /** The AWS IoT thing (1–128 characters of letters, digits, `:`, `_`, `-`). */
  thingName: string;
  /** A named shadow; absent for the classic shadow. */
  shadowName?: string;
  /**
   * How long a request waits for its answer, in ms.
   * @default 10000
   */
  timeoutMs?: number;
  /**
   * Start of every client token (`<prefix>-<n>`, at most 64 bytes in all). Make it unique per
   * client: answers are matched by token on topics every client of the shadow shares.
   * @default 12 random hex characters
   */
  clientTokenPrefix?: string;
  /**
   * Requests waiting for an answer at once; more wait their turn.
   * @default 10 (AWS answers 429 to more in flight on one connection)
   */
  maxInFlight?: number;
  /** @default 1 */
  qos?: 0 | 1;
  /** Called with every pushed message (delta, documents) that could not be decoded. */
  onError?: (error: OtaError) => void;
  /** @default systemClock */
  clock?: Clock;
  /** Random source of the token prefix. @default Math.random */
  random?: () => number;
}

/** Options of {@link ShadowClient.onDelta}. */
export interface DeltaStreamOptions {
  /** Called with each delta dropped as stale (its version is not newer than the last seen). */
  onStale?: (delta: ShadowDelta) => void;
}

export interface ShadowClient extends ShadowOperations {
  /** Every topic of this shadow. */
  readonly topics: ShadowTopicSet;
  /**
   * The highest shadow version seen in any answer or pushed document, for an optimistic update
   * (`update(state, { version: shadow.version })`); `undefined` before the first.
   */
  readonly version: number | undefined;
  /**
   * Calls `handler` with each new `/update/delta` (stale ones are dropped). Resolves once the
   * subscription is active, with a function that removes this handler.
   */
  onDelta(handler: (delta: ShadowDelta) => void, options?: DeltaStreamOptions): Promise<() => Promise<void>>;
  /** Calls `handler` with each `/update/documents` (previous and current shadow after every update). */
  onDocuments(handler: (documents: ShadowDocuments) => void): Promise<() => Promise<void>>;
  /** Unsubscribes everything and rejects the requests still waiting. The connection stays open. */
  close(): Promise<void>;
}

type Answer<O extends ShadowOperation> = O extends 'get'
  ? ShadowGetAccepted
  : O extends 'update'
    ? ShadowUpdateAccepted
    : ShadowDeleteAccepted;

const DEFAULT_TIMEOUT_MS = 10_000;
const decoder = new TextDecoder();

/** Parses a payload only to read its `clientToken`; `undefined` when it is not a JSON object. */
function readJson(payload: Uint8Array): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(decoder.decode(payload));
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** A pushed stream (delta or documents): one subscription, shared by every handler. */
interface Stream<T> {
  handlers: Set<(value: T) => void>;
  subscribed: Promise<() => Promise<void>> | undefined;
}

class MqttShadowClient implements ShadowClient {
  readonly address: ShadowAddress;
  readonly topics: ShadowTopicSet;
  readonly #connection: MqttConnection;
  readonly #timeoutMs: number;
  readonly #qos: 0 | 1;
  readonly #onError: ((error: OtaError) => void) | undefined;
  readonly #nextToken: () => string;
  readonly #limit: <T>(work: () => Promise<T>) => Promise<T>;
  readonly #pending: { [O in ShadowOperation]: PendingRequests<Answer<O>> };
  readonly #answers = new Map<ShadowOperation, Promise<Array<() => Promise<void>>>>();
  readonly #delta: Stream<ShadowDelta> = { handlers: new Set(), subscribed: undefined };
  readonly #documents: Stream<ShadowDocuments> = { handlers: new Set(), subscribed: undefined };
  readonly #staleHandlers = new Map<(delta: ShadowDelta) => void, (delta: ShadowDelta) => void>();
  #version: number | undefined;
  /** The newest version whose `desired` a caller has seen whole: the staleness bar of deltas. */
  #deltaVersion: number | undefined;
  #closed = false;

  constructor(options: ShadowClientOptions) {
    this.address =
      options.shadowName === undefined
        ? { thingName: options.thingName }
        : { thingName: options.thingName, shadowName: options.shadowName };
    this.topics = shadowTopicSet(this.address);
    this.#connection = options.connection;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(Number.isFinite(this.#timeoutMs) && this.#timeoutMs > 0)) {
      throw new ManifestError('shadow client options', [
        { path: 'timeoutMs', expected: 'a positive number' },
      ]);
    }
    this.#qos = options.qos ?? 1;
    this.#onError = options.onError;
    const prefix = options.clientTokenPrefix ?? randomTokenPrefix(options.random ?? Math.random);
    // The longest token (prefix + "-" + a counter in base 36) must stay within AWS's 64 bytes.
    if (new TextEncoder().encode(prefix).length > 48) {
      throw new ManifestError('shadow client options', [
        { path: 'clientTokenPrefix', expected: 'at most 48 bytes (client tokens are limited to 64)' },
      ]);
    }
    this.#nextToken = clientTokens(prefix);
    const maxInFlight = options.maxInFlight ?? 10;
    if (!(Number.isInteger(maxInFlight) && maxInFlight > 0)) {
      throw new ManifestError('shadow client options', [
        { path: 'maxInFlight', expected: 'a positive integer' },
      ]);
    }
    this.#limit = inFlightLimit(maxInFlight);
    const clock = options.clock ?? systemClock;
    this.#pending = {
      get: new PendingRequests(clock),
      update: new PendingRequests(clock),
      delete: new PendingRequests(clock),
    };
  }

  get version(): number | undefined {
    return this.#version;
  }

  get(options: ShadowRequestOptions = {}): Promise<ShadowGetAccepted> {
    return this.#request('get', {}, options);
  }

  update(state: ShadowRequestState, options: ShadowUpdateOptions = {}): Promise<ShadowUpdateAccepted> {
    return updateWithConflictRetry(
      state,
      options,
      ({ state: attemptState, version }) => {
        const body = version === undefined ? { state: attemptState } : { state: attemptState, version };
        // Refused here, naming the field, rather than by the service after a round trip.
        parseWith(ShadowRequestSchema, body, 'shadow update request');
        return this.#request('update', body, options);
      },
      (getOptions) => this.get(getOptions),
    );
  }

  delete(options: ShadowRequestOptions = {}): Promise<ShadowDeleteAccepted> {
    return this.#request('delete', {}, options);
  }

  onDelta(handler: (delta: ShadowDelta) => void, options: DeltaStreamOptions = {}) {
    if (options.onStale !== undefined) this.#staleHandlers.set(handler, options.onStale);
    return this.#listen(this.#delta, this.topics.all['update/delta'], handler, (message) => {
      const delta = decodeShadowMessage('update/delta', message.payload);
      this.#seen(delta.version);
      if (this.#deltaVersion !== undefined && delta.version <= this.#deltaVersion) {
        for (const [owner, onStale] of this.#staleHandlers)
          if (this.#delta.handlers.has(owner)) onStale(delta);
        return undefined;
      }
      this.#deltaVersion = delta.version;
      return delta;
    });
  }

  onDocuments(handler: (documents: ShadowDocuments) => void) {
    return this.#listen(this.#documents, this.topics.all['update/documents'], handler, (message) => {
      const documents = decodeShadowMessage('update/documents', message.payload);
      this.#seen(documents.current.version);
      return documents;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closed = new TransportError(`The client of ${describeShadow(this.address)} was closed`, {
      retryable: false,
    });
    for (const pending of Object.values(this.#pending)) pending.rejectAll(closed);
    const stops: Array<() => Promise<void>> = [];
    for (const answers of this.#answers.values()) stops.push(...(await answers.catch(() => [])));
    for (const stream of [this.#delta, this.#documents] as Stream<unknown>[]) {
      stream.handlers.clear();
      if (stream.subscribed !== undefined) stops.push(await stream.subscribed.catch(() => async () => {}));
    }
    this.#answers.clear();
    await Promise.all(stops.map((stop) => stop().catch(() => {})));
  }

  #seen(version: number): void {
    if (this.#version === undefined || version > this.#version) this.#version = version;
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new TransportError(`The client of ${describeShadow(this.address)} is closed`, {
        retryable: false,
      });
    }
  }

  /** Adds `handler` to a pushed stream, subscribing the topic with the first handler. */
  async #listen<T>(
    stream: Stream<T>,
    topic: string,
    handler: (value: T) => void,
    decode: (message: MqttMessage) => T | undefined,
  ): Promise<() => Promise<void>> {
    this.#assertOpen();
    stream.handlers.add(handler);
    stream.subscribed ??= this.#connection.subscribe(
      topic,
      (message) => {
        let value: T | undefined;
        try {
          value = decode(message);
        } catch (error) {
          this.#onError?.(toOtaError(error, 'MANIFEST_INVALID'));
          return;
        }
        if (value === undefined) return;
        for (const each of [...stream.handlers]) each(value);
      },
      { qos: this.#qos },
    );
    try {
      await stream.subscribed;
    } catch (error) {
      stream.handlers.delete(handler);
      stream.subscribed = undefined;
      throw error;
    }
    return async () => {
      stream.handlers.delete(handler);
      this.#staleHandlers.delete(handler as never);
      if (stream.handlers.size > 0 || stream.subscribed === undefined) return;
      const subscribed = stream.subscribed;
      stream.subscribed = undefined;
      await (await subscribed)();
    };
  }

  /** Subscribes the `/accepted` and `/rejected` topics of `operation`, once. */
  #subscribeAnswers(operation: ShadowOperation): Promise<unknown> {
    let answers = this.#answers.get(operation);
    if (answers === undefined) {
      const { accepted, rejected } = this.topics.operations[operation];
      answers = Promise.all([
        this.#connection.subscribe(accepted, (message) => this.#onAnswer(operation, true, message), {
          qos: this.#qos,
        }),
        this.#connection.subscribe(rejected, (message) => this.#onAnswer(operation, false, message), {
          qos: this.#qos,
        }),
      ]);
      this.#answers.set(operation, answers);
      // A refused subscription is tried again by the next request.
      answers.catch(() => {
        if (this.#answers.get(operation) === answers) this.#answers.delete(operation);
      });
    }
    return answers;
  }

  #onAnswer(operation: ShadowOperation, accepted: boolean, message: MqttMessage): void {
    const json = readJson(message.payload);
    const token = json?.clientToken;
    const pending = this.#pending[operation] as PendingRequests<unknown>;
    const ours = pending.has(token);
    try {
      if (accepted) {
        const answer = decodeShadowMessage(`${operation}/accepted`, json);
        this.#seen(answer.version);
        if (
          operation === 'get' &&
          (this.#deltaVersion === undefined || answer.version > this.#deltaVersion)
        ) {
          // The whole shadow at this version: a delta up to it says nothing new.
          this.#deltaVersion = answer.version;
        }
        if (ours) pending.resolve(token, answer);
      } else if (ours) {
        const error = decodeShadowMessage('rejected', json);
        pending.reject(token, new ShadowRejectedError(operation, this.address, error));
      }
    } catch (error) {
      // An answer to someone else's request that does not decode is not our business.
      if (ours) pending.reject(token, error);
    }
  }

  #request<O extends ShadowOperation>(
    operation: O,
    body: object,
    options: ShadowRequestOptions,
  ): Promise<Answer<O>> {
    return this.#limit(async () => {
      this.#assertOpen();
      if (options.signal?.aborted) throw abortReason(options.signal);
      await this.#subscribeAnswers(operation);
      // Closed while subscribing: nothing was sent, and nothing would be answered.
      this.#assertOpen();
      const token = this.#nextToken();
      const pending = this.#pending[operation] as PendingRequests<Answer<O>>;
      // Registered before publishing: the answer may arrive before `publish` resolves.
      const answer = pending.wait(
        token,
        `Shadow ${operation} of ${describeShadow(this.address)}`,
        options.timeoutMs ?? this.#timeoutMs,
        options.signal,
      );
      this.#connection
        .publish(this.topics.operations[operation].request, JSON.stringify({ ...body, clientToken: token }), {
          qos: this.#qos,
        })
        .catch((error: unknown) => pending.reject(token, toOtaError(error, 'TRANSPORT', true)));
      return answer;
    });
  }
}

/**
 * Creates a shadow client; see the module's example.
 * @throws ManifestError naming `thingName`, `shadowName` or an option that breaks the rules.
 */
export function createShadowClient(options: ShadowClientOptions): ShadowClient {
  return new MqttShadowClient(options);
}
