/**
 * The Exosite publisher: orders an update by writing a device's `config_otau` through the device
 * state API (`exosite.protocol.cloud.encodeOrder`, a `PATCH`), withdraws it with an empty value,
 * and follows what the devices write: each `otau_in` status goes into a {@link Fleet}, each
 * write back of `config_otau` is an acknowledgement (`acknowledged` event).
 *
 * Statuses come from the write feed of otakit's local Murano service (every write, in order,
 * long-polled), or, against any device state API such as Murano's own, from {@link sync} (the
 * latest `otau_in` only). Browser-safe: it needs an HTTP {@link Channel} whose base URL is the
 * API host and whose headers carry `Authorization: Bearer <token>`.
 *
 * @example
 * ```ts
 * const publisher = createExositePublisher({
 *   http: httpChannel({ baseUrl: origin, headers: { authorization: `Bearer ${managementToken}` } }),
 * })
 * publisher.on('status', ({ target, result }) => console.log(target.identity, result.state))
 * await publisher.watch(target)
 * await publisher.publish(target, manifest)
 * ```
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { OtaError, TransportError, toOtaError } from '../../core/errors.js';
import { type Logger, noopLogger } from '../../core/logger.js';
import type { Manifest, ManifestInput } from '../../manifest/schema.js';
import type { InboundMessage, WireMessage } from '../../protocols/contract.js';
import { CONFIG_OTAU, OTAU_IN } from '../../protocols/exosite/alias.js';
import { decodeResourceState, identityStatePath } from '../../protocols/exosite/identity-state.js';
import { protocol } from '../../protocols/exosite/protocol.js';
import { checkedTarget, type Target } from '../../protocols/exosite/target.js';
import type { Channel, StopListening } from '../../transport/channel.js';
import type { Fleet } from '../fleet/fleet.js';
import type { FleetIngestResult } from '../fleet/types.js';
import { type PublishOptions, type PublishResult, UpdatePublisher } from '../publisher.js';
import { decodeFeedPage, type FeedEvent, feedRequest } from './feed.js';

export interface ExositePublisherOptions {
  /** To the API host (`baseUrl`), with `Authorization: Bearer <token>` in its headers. */
  http: Channel;
  /** @default a new `Fleet` on the memory store */
  fleet?: Fleet;
  /**
   * Feed position to resume after, per product id: what {@link ExositePublisher.positions}
   * returned before a restart (persist it with the fleet). Writes at or before it are not read again.
   * @default 0 (every write the service still holds)
   */
  positions?: Readonly<Record<string, number>>;
  /** How long the service may hold one feed request (`Request-Timeout`). @default 25_000 */
  pollWaitMs?: number;
  /** Delay before asking again after a failed feed request, doubled up to `maxDelayMs`. */
  backoff?: { baseDelayMs?: number; maxDelayMs?: number };
  /** @default noopLogger */
  logger?: Logger;
}

/** A device wrote `config_otau` back: it received the order (or an older one, if `current` is false). */
export interface ExositeAcknowledgement {
  target: Target;
  /** The value the device wrote back. */
  value: string;
  /** Whether it is what the platform set now (the order is in sync). */
  current: boolean;
}

/** One status, as the fleet took it. */
export interface ExositeStatusEvent {
  target: Target;
  message: InboundMessage;
  result: FleetIngestResult;
}

export interface ExositePublisherEvents {
  status: [event: ExositeStatusEvent];
  acknowledged: [ack: ExositeAcknowledgement];
  /** A feed request failed (it is retried) or a status could not be stored. */
  error: [error: OtaError];
}

/** What {@link ExositePublisher.sync} read of one device. */
export interface ExositeSync {
  /** What the platform set in `config_otau` (`''`: no order). */
  set: string;
  /** What the device wrote back last. */
  acknowledged: string | undefined;
  /** Whether the device acknowledged the current value. */
  inSync: boolean;
  /** The latest `otau_in`, as the fleet took it, or `null` when the device wrote none. */
  status: FleetIngestResult | null;
}

interface FeedLoop {
  controller: AbortController;
  done: Promise<void>;
}

const key = (target: Target) => `${target.productId}\n${target.identity}`;

/** Publishes Exosite OTAUs and follows the devices' writes; see the module's example. */
export class ExositePublisher extends EventEmitter<ExositePublisherEvents> {
  readonly fleet: Fleet;
  readonly #updates: UpdatePublisher<Target>;
  readonly #http: Channel;
  readonly #logger: Logger;
  readonly #waitMs: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #positions = new Map<string, number>();
  readonly #watched = new Map<string, { target: Target; deviceId: string | undefined; count: number }>();
  readonly #loops = new Map<string, FeedLoop>();
  /** What the platform set last per device, to tell a current acknowledgement from an old one. */
  readonly #set = new Map<string, string>();

  constructor(options: ExositePublisherOptions) {
    super();
    this.#http = options.http;
    this.#updates = new UpdatePublisher({
      protocol,
      channels: { http: options.http },
      ...(options.fleet === undefined ? {} : { fleet: options.fleet }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
    this.fleet = this.#updates.fleet;
    this.#logger = options.logger ?? noopLogger;
    this.#waitMs = options.pollWaitMs ?? 25_000;
    this.#baseDelayMs = options.backoff?.baseDelayMs ?? 200;
    this.#maxDelayMs = options.backoff?.maxDelayMs ?? 10_000;
    for (const [productId, position] of Object.entries(options.positions ?? {})) {
      if (!Number.isSafeInteger(position) || position < 0) {
        throw new OtaError('CONFIG', 'Invalid Exosite feed position: expected a whole number >= 0');
      }
      this.#positions.set(productId, position);
    }
    this.#updates.on('status', (event) => this.emit('status', event));
  }

  /**
   * Writes the order of `manifest` to the device's `config_otau`.
   * @throws ManifestError for a manifest Exosite cannot carry; TransportError when the API refused
   *   it (`401`: the management token) or did not answer.
   */
  async publish(
    target: Target,
    manifest: Manifest | ManifestInput,
    options: PublishOptions = {},
  ): Promise<PublishResult> {
    const result = await this.#updates.publish(target, manifest, options);
    this.#remember(target, result.messages);
    return result;
  }

  /** Writes an empty `config_otau`: the device drops an order it has not started (and cancels one it has). */
  async withdraw(target: Target, options: PublishOptions = {}): Promise<WireMessage[]> {
    const messages = await this.#updates.withdraw(target, options);
    this.#remember(target, messages);
    return messages;
  }

  /**
   * Follows `target`'s writes on the service's write feed (one long poll per product, shared by
   * its devices). Resolves at once; the returned function stops following this device.
   */
  async watch(target: Target, options: PublishOptions = {}): Promise<StopListening> {
    const checked = checkedTarget(target);
    const id = key(checked);
    const entry = this.#watched.get(id) ?? { target: checked, deviceId: options.deviceId, count: 0 };
    entry.count += 1;
    this.#watched.set(id, entry);
    if (!this.#loops.has(checked.productId)) this.#startLoop(checked.productId);
    let stopped = false;
    return async () => {
      if (stopped) return;
      stopped = true;
      entry.count -= 1;
      if (entry.count === 0) this.#watched.delete(id);
      const productWatched = [...this.#watched.values()].some(
        (each) => each.target.productId === checked.productId,
      );
      if (!productWatched) await this.#stopLoop(checked.productId);
    };
  }

  /**
   * Reads the device's state (`GET …/state`, the protocol's status source; works against any
   * device state API): the latest `otau_in` goes into the fleet, and the `config_otau` values
   * tell whether the device acknowledged the order.
   */
  async sync(target: Target, options: PublishOptions = {}): Promise<ExositeSync> {
    const checked = checkedTarget(target);
    const [source] = protocol.cloud.statusSources(checked);
    if (source?.channel !== 'http') throw new OtaError('CONFIG', 'Exosite statuses are read over HTTP');
    const message = await this.#http.send(source.request, options.signal ? { signal: options.signal } : {});
    if (message === undefined)
      throw new TransportError('Exosite device state: no answer', { retryable: true });
    const status = message.status ?? 200;
    if (status !== 200) {
      throw new TransportError(`Exosite device state: HTTP ${status}`, {
        status,
        retryable: status >= 500 || status === 429,
      });
    }
    const config = decodeResourceState(message.payload, CONFIG_OTAU);
    const result =
      decodeResourceState(message.payload, OTAU_IN)?.reported === undefined
        ? null
        : await this.#updates.ingest(checked, message, options);
    const set = config?.set ?? '';
    return { set, acknowledged: config?.reported, inSync: config?.reported === set, status: result };
  }

  /** The feed position reached per product id: pass it as `positions` after a restart. */
  positions(): Record<string, number> {
    return Object.fromEntries(this.#positions);
  }

  /** Stops following every device. The channel and the fleet stay open: they are the caller's. */
  async close(): Promise<void> {
    this.#watched.clear();
    await Promise.all([...this.#loops.keys()].map((productId) => this.#stopLoop(productId)));
    await this.#updates.close();
  }

  #remember(target: Target, messages: WireMessage[]): void {
    for (const message of messages) {
      const value = (JSON.parse(String(message.payload)) as Record<string, string>)[CONFIG_OTAU];
      if (value !== undefined) this.#set.set(key(checkedTarget(target)), value);
    }
  }

  #startLoop(productId: string): void {
    const controller = new AbortController();
    const done = this.#run(productId, controller.signal).catch((error: unknown) => {
      if (!controller.signal.aborted) this.#report(toOtaError(error, 'TRANSPORT', true));
    });
    this.#loops.set(productId, { controller, done });
  }

  async #stopLoop(productId: string): Promise<void> {
    const loop = this.#loops.get(productId);
    if (loop === undefined) return;
    this.#loops.delete(productId);
    loop.controller.abort();
    await loop.done;
  }

  async #run(productId: string, signal: AbortSignal): Promise<void> {
    let delay = this.#baseDelayMs;
    while (!signal.aborted) {
      const after = this.#positions.get(productId) ?? 0;
      let answer: InboundMessage | undefined;
      try {
        answer = await this.#http.send(feedRequest({ productId, after, waitMs: this.#waitMs }), { signal });
        const status = answer?.status ?? 0;
        if (status !== 200) {
          throw new TransportError(`Exosite write feed: HTTP ${status}`, {
            status,
            retryable: status !== 401 && status !== 403,
          });
        }
      } catch (error) {
        if (signal.aborted) return;
        this.#report(toOtaError(error, 'TRANSPORT', true));
        await sleep(delay, signal);
        delay = Math.min(delay * 2, this.#maxDelayMs);
        continue;
      }
      delay = this.#baseDelayMs;
      const page = decodeFeedPage(answer!.payload);
      for (const event of page.events) {
        if (signal.aborted) return;
        await this.#take(productId, event);
        this.#positions.set(productId, event.seq);
      }
      // After the page, not before: the state's latest status is then a duplicate, never older
      // than a status of the page still to come.
      if (page.gap) await this.#catchUp(productId);
      if (page.events.length === 0) this.#positions.set(productId, page.next);
    }
  }

  /** Writes were dropped before they were read: the latest state of each watched device stands in. */
  async #catchUp(productId: string): Promise<void> {
    this.#logger.warn('otakit exosite publisher: write feed gap, reading device states', { productId });
    for (const { target, deviceId } of this.#watched.values()) {
      if (target.productId !== productId) continue;
      await this.sync(target, deviceId === undefined ? {} : { deviceId }).catch((error: unknown) =>
        this.#report(toOtaError(error, 'TRANSPORT', true)),
      );
    }
  }

  async #take(productId: string, event: FeedEvent): Promise<void> {
    const watched = this.#watched.get(`${productId}\n${event.identity}`);
    if (watched === undefined) return;
    const { target, deviceId } = watched;
    if (event.alias === CONFIG_OTAU) {
      const set = this.#set.get(key(target));
      this.emit('acknowledged', {
        target,
        value: event.value,
        current: set === undefined || set === event.value,
      });
      return;
    }
    if (event.alias !== OTAU_IN) return;
    // The write as the state API would show it right after: the codec stamps it with `timestamp`.
    const message: InboundMessage = {
      address: identityStatePath(target.productId, target.identity),
      status: 200,
      payload: JSON.stringify({ [OTAU_IN]: { reported: event.value, timestamp: event.timestamp } }),
    };
    try {
      await this.#updates.ingest(target, message, deviceId === undefined ? {} : { deviceId });
    } catch (error) {
      this.#report(toOtaError(error, 'STORE', true));
    }
  }

  #report(error: OtaError): void {
    this.#logger.warn('otakit exosite publisher: feed', { code: error.code, message: error.message });
    // An `error` event without listeners would throw (EventEmitter semantics in Node); here it must not.
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Creates an {@link ExositePublisher}. */
export function createExositePublisher(options: ExositePublisherOptions): ExositePublisher {
  return new ExositePublisher(options);
}
