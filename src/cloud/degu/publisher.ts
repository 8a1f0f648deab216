/**
 * The Degu publisher (docs/cloud/degu.md): pushes an update to Degu devices through their AWS IoT
 * Device Shadows and watches it land.
 *
 * - `publish(things, manifest)` writes the order into each shadow's `desired` (the messages of
 *   `degu.protocol.cloud.encodeOrder`: an item's URL and `*_ver` MD5, the other items set to
 *   `null`), one thing at a time or many at once, with a result per thing;
 * - every accepted update of a watched shadow (`/update/documents` over MQTT, a `get` over REST)
 *   is read by `degu.protocol.cloud.decodeStatus` into the fleet: `available` while the reported
 *   MD5s differ from the order, `committed` once every item of the order matches;
 * - on success it may remove the finished order from `desired` (`clearDesiredOnSuccess`), with an
 *   update made at the shadow version that showed the success, so an order written meanwhile is
 *   never cleared.
 *
 * Degu devices report nothing but their MD5s: a failed download, a corrupt artifact or a device
 * that is off all look the same (the order stays `available`). `waitForSuccess` therefore ends
 * with `pending` after its timeout, naming the items whose MD5s still differ.
 *
 * @example
 * ```ts
 * import { createDeguPublisher, mqttShadows } from 'otakit'
 *
 * const publisher = createDeguPublisher({ shadow: mqttShadows(connection), clearDesiredOnSuccess: true })
 * const written = await publisher.publish(['A1B2C3D4E5F60718', 'A1B2C3D4E5F60719'], manifest)
 * const results = await publisher.waitForSuccess(written.map((each) => each.target), { timeoutMs: 600_000 })
 * ```
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { abortReason } from '../../core/abort.js';
import { ManifestError, OtaError, toOtaError } from '../../core/errors.js';
import { type Logger, noopLogger } from '../../core/logger.js';
import { isTerminalState } from '../../core/states.js';
import type { Manifest, ManifestInput } from '../../manifest/schema.js';
import type { DeguOrder } from '../../protocols/degu/check.js';
import { desiredItems, orderId } from '../../protocols/degu/codec.js';
import { itemsOfOrderId } from '../../protocols/degu/order-ref.js';
import { protocol as deguProtocol, type Target } from '../../protocols/degu/protocol.js';
import type { DeguItem } from '../../protocols/degu/schemas.js';
import { statusFromWire } from '../../protocols/degu/status.js';
import { isShadowRejected } from '../../transport/shadow/errors.js';
import type { ShadowRequestState } from '../../transport/shadow/types.js';
import { Fleet } from '../fleet/fleet.js';
import type { DeviceSnapshot } from '../fleet/types.js';
import { UpdatePublisher } from '../publisher.js';
import {
  clearableItems,
  clearingPatch,
  readingOfDocuments,
  readingOfGet,
  type ShadowReading,
} from './reading.js';
import { runEach } from './run-each.js';
import type {
  DeguCallOptions,
  DeguPublisherEvents,
  DeguPublisherOptions,
  DeguReadResult,
  DeguVersions,
  DeguWaitOptions,
  DeguWaitResult,
  DeguWriteResult,
} from './types.js';
import { waitForEnds } from './wait.js';

export type {
  DeguCallOptions,
  DeguClearedEvent,
  DeguPublisherEvents,
  DeguPublisherOptions,
  DeguReadResult,
  DeguStaleEvent,
  DeguSuccessEvent,
  DeguVersions,
  DeguWaitOptions,
  DeguWaitResult,
  DeguWriteResult,
} from './types.js';

import type { DeguShadow, DeguShadowFactory } from './shadows.js';
import { addressOf, type DeguThing, type DeguThings, deviceIdOf, toTargets } from './targets.js';

/** What the publisher keeps per watched shadow. */
interface Watched {
  target: Target;
  /** Stops the documents stream; `undefined` for a shadow read by polling. */
  stop: (() => Promise<void>) | undefined;
}

const DEFAULT_POLL_MS = 5000;

/** Publishes Degu orders into Device Shadows and follows the devices in a fleet. */
export class DeguPublisher extends EventEmitter<DeguPublisherEvents> {
  readonly fleet: Fleet;
  readonly #statuses: UpdatePublisher<Target>;
  readonly #shadow: DeguShadow | DeguShadowFactory;
  readonly #clearOnSuccess: boolean;
  readonly #pollMs: number;
  readonly #concurrency: number;
  readonly #logger: Logger;
  readonly #clients = new Map<string, DeguShadow>();
  readonly #watched = new Map<string, Promise<Watched>>();
  /** The newest shadow version read per device: the staleness bar. */
  readonly #newest = new Map<string, number>();
  /** The last reading per device, for the items a `pending` wait names. */
  readonly #readings = new Map<string, ShadowReading>();
  /** The order this publisher last wrote per device. */
  readonly #ordered = new Map<string, string>();
  /** Readings of one device are applied one after the other, in arrival order. */
  readonly #lanes = new Map<string, Promise<void>>();
  readonly #stopReconnect: (() => void) | undefined;
  #pollTimer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(options: DeguPublisherOptions) {
    super();
    this.#shadow = options.shadow;
    this.fleet = options.fleet ?? new Fleet();
    this.#logger = options.logger ?? noopLogger;
    this.#statuses = new UpdatePublisher<Target>({
      protocol: deguProtocol,
      channels: {},
      fleet: this.fleet,
      logger: this.#logger,
    });
    this.#statuses.on('status', (event) => this.emit('status', event));
    this.#clearOnSuccess = options.clearDesiredOnSuccess ?? false;
    this.#pollMs = positive(options.pollIntervalMs, DEFAULT_POLL_MS, 'pollIntervalMs');
    this.#concurrency = positive(options.concurrency, 16, 'concurrency');
    if (typeof this.#shadow === 'function' && this.#shadow.onReconnect !== undefined) {
      // Documents published while the connection was down are lost: read every watched shadow.
      this.#stopReconnect = this.#shadow.onReconnect(() => {
        const targets = [...this.#watched.keys()].map((id) => this.#targetOf(id)).filter(isTarget);
        if (targets.length > 0) void this.refresh(targets).catch((error) => this.#problem(error));
      });
    }
  }

  /**
   * Writes the order for `manifest` into the `desired` state of each thing, after subscribing to
   * its documents (so no report is missed). Never throws for one thing's failure: each result
   * says what happened.
   * @throws ManifestError before anything is sent, for a manifest Degu cannot carry (an artifact
   *   without MD5, a target other than script/config/firmware) or an invalid thing name.
   */
  async publish(
    things: DeguThings,
    manifest: Manifest | ManifestInput,
    options: DeguCallOptions = {},
  ): Promise<DeguWriteResult[]> {
    const targets = toTargets(things);
    // Encoded once for all (the order does not depend on the thing): a bad manifest throws here.
    const { value: messages, lost } = deguProtocol.cloud.encodeOrder(manifest, targets[0]!);
    const state = requestState(messages[0]!.payload);
    const updateId = orderId(desiredItems(state.desired as DeguOrder));
    return runEach(targets, this.#concurrency, options.signal, async (target) => {
      const deviceId = deviceIdOf(target);
      try {
        await this.#watch(target);
        const accepted = await this.#client(target).update(state, signalOption(options.signal));
        this.#ordered.set(deviceId, updateId);
        this.#logger.info('otakit degu publisher: order written', {
          deviceId,
          update: updateId,
          version: accepted.version,
        });
        await this.#afterWrite(target);
        return { target, deviceId, ok: true, updateId, version: accepted.version, lost, error: null };
      } catch (error) {
        return { target, deviceId, ok: false, updateId, version: null, lost, error: failure(error) };
      }
    });
  }

  /**
   * Removes the Degu order from `desired` on each thing (all three items' keys set to `null`,
   * `degu.protocol.cloud.encodeWithdrawal`). A device that has not run it yet then reads as
   * `canceled`; one that did stays `committed`.
   */
  async withdraw(things: DeguThings, options: DeguCallOptions = {}): Promise<DeguWriteResult[]> {
    const targets = toTargets(things);
    return runEach(targets, this.#concurrency, options.signal, async (target) => {
      const deviceId = deviceIdOf(target);
      try {
        const [message] = deguProtocol.cloud.encodeWithdrawal(target);
        const accepted = await this.#client(target).update(
          requestState(message!.payload),
          signalOption(options.signal),
        );
        this.#ordered.delete(deviceId);
        await this.#afterWrite(target);
        return {
          target,
          deviceId,
          ok: true,
          updateId: null,
          version: accepted.version,
          lost: [],
          error: null,
        };
      } catch (error) {
        return {
          target,
          deviceId,
          ok: false,
          updateId: null,
          version: null,
          lost: [],
          error: failure(error),
        };
      }
    });
  }

  /**
   * The MD5s a device reports (its `*_ver` keys, and `firmware_ver`), read from its shadow;
   * `null` when the thing has no shadow yet. Nothing goes into the fleet: see `refresh`.
   * @throws ShadowRejectedError, TimeoutError, TransportError when the shadow cannot be read.
   */
  async currentVersions(thing: DeguThing, options: DeguCallOptions = {}): Promise<DeguVersions | null> {
    const [target] = toTargets(thing);
    try {
      const answer = await this.#client(target!).get(signalOption(options.signal));
      const reported = (answer.state.reported ?? {}) as Record<string, unknown>;
      const versions: { [key: string]: string } = {};
      for (const key of ['script_user_ver', 'config_user_ver', 'firmware_system_ver', 'firmware_ver']) {
        if (typeof reported[key] === 'string') versions[key] = reported[key];
      }
      return versions as DeguVersions;
    } catch (error) {
      if (isShadowRejected(error, 404)) return null;
      throw error;
    }
  }

  /**
   * Starts following each thing: subscribes to its `/update/documents` when the client pushes
   * them (else reads it every `pollIntervalMs`), then reads the whole shadow once, so a report
   * made before (while no publisher listened) counts. `publish` and `waitForSuccess` watch the
   * things they are given; a thing stays watched until `unwatch` or `close`.
   */
  async watch(things: DeguThings): Promise<void> {
    const targets = toTargets(things);
    await runEach(targets, this.#concurrency, undefined, (target) => this.#watch(target));
  }

  /** Stops following these things (their shadow clients stay until `close`). */
  async unwatch(things: DeguThings): Promise<void> {
    for (const target of toTargets(things)) {
      const id = deviceIdOf(target);
      const watched = this.#watched.get(id);
      this.#watched.delete(id);
      const stop = (await watched?.catch(() => undefined))?.stop;
      await stop?.().catch(() => {});
    }
  }

  /**
   * Reads each thing's shadow and gives it to the fleet (what polling does, on demand: after a
   * restart, after a reconnect, from a cron). Per thing, the device as the fleet then has it.
   */
  async refresh(things: DeguThings, options: DeguCallOptions = {}): Promise<DeguReadResult[]> {
    const targets = toTargets(things);
    return runEach(targets, this.#concurrency, options.signal, async (target) => {
      const deviceId = deviceIdOf(target);
      let error: OtaError | null = null;
      try {
        await this.#read(target, options.signal);
      } catch (thrown) {
        error = failure(thrown);
      }
      return { target, deviceId, device: await this.fleet.device(deviceId), error };
    });
  }

  /**
   * Waits until each thing's order has ended: `committed` when the device reports every MD5 of
   * it, `canceled` when it was withdrawn or replaced, `pending` when `timeoutMs` ran out first.
   * Watches the things (so it works after a restart, on a fleet that already follows them).
   * @throws the signal's reason when aborted.
   */
  async waitForSuccess(things: DeguThings, options: DeguWaitOptions): Promise<DeguWaitResult[]> {
    const targets = toTargets(things);
    const timeoutMs = positive(options.timeoutMs, undefined, 'timeoutMs');
    const signal = options.signal;
    if (signal?.aborted) throw abortReason(signal);
    await this.watch(targets);
    const expected = new Map<string, string | null>();
    for (const target of targets) {
      const id = deviceIdOf(target);
      const known = options.updateId ?? this.#ordered.get(id) ?? (await this.fleet.device(id))?.update?.id;
      expected.set(id, known ?? null);
    }
    return waitForEnds({
      fleet: this.fleet,
      targets,
      expected,
      timeoutMs,
      signal,
      result: (target, device, updateId, outcome) => this.#waitResult(target, device, updateId, outcome),
    });
  }

  /** Stops every watch and the polling, and closes the shadow clients a factory made. The fleet stays open. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopReconnect?.();
    if (this.#pollTimer !== undefined) clearTimeout(this.#pollTimer);
    const watched = [...this.#watched.values()];
    this.#watched.clear();
    for (const each of watched) await (await each.catch(() => undefined))?.stop?.().catch(() => {});
    await Promise.allSettled([...this.#lanes.values()]);
    await this.#statuses.close();
    if (typeof this.#shadow === 'function') {
      await Promise.allSettled([...this.#clients.values()].map((client) => client.close?.()));
    }
    this.#clients.clear();
  }

  #waitResult(
    target: Target,
    device: DeviceSnapshot | undefined,
    updateId: string | null,
    outcome: DeguWaitResult['outcome'],
  ): DeguWaitResult {
    const deviceId = deviceIdOf(target);
    const reading = this.#readings.get(deviceId);
    const order = itemsOfOrderId(updateId) ?? [];
    const orderState: { [key: string]: string } = {};
    for (const { item, md5 } of order) orderState[`${item}_ver`] = md5;
    const items =
      outcome === 'pending' ? statusFromWire(reading?.reported, orderState as DeguOrder).items : [];
    return { target, deviceId, outcome, state: device?.state ?? null, updateId, items };
  }

  /** The client of one shadow: the single one given, or the factory's (made once). */
  #client(target: Target): DeguShadow {
    if (this.#closed) throw new OtaError('CONFIG', 'The Degu publisher is closed');
    const id = deviceIdOf(target);
    const shadow = this.#shadow;
    if (typeof shadow !== 'function') {
      const address = shadow.address;
      if (address.thingName !== target.thingName || address.shadowName !== target.shadowName) {
        throw new OtaError(
          'CONFIG',
          `This Degu publisher has the shadow client of "${address.thingName}" only: give it a factory`,
        );
      }
      return shadow;
    }
    let client = this.#clients.get(id);
    if (client === undefined) {
      client = shadow(addressOf(target));
      this.#clients.set(id, client);
    }
    return client;
  }

  #targetOf(deviceId: string): Target | undefined {
    const client = this.#clients.get(deviceId);
    if (client !== undefined) return client.address;
    if (typeof this.#shadow !== 'function' && deviceIdOf(this.#shadow.address) === deviceId) {
      return this.#shadow.address;
    }
    return undefined;
  }

  /** Subscribes (or schedules polling) once per thing, then reads the shadow once. */
  #watch(target: Target): Promise<Watched> {
    const id = deviceIdOf(target);
    let watched = this.#watched.get(id);
    if (watched === undefined) {
      watched = this.#startWatching(target);
      this.#watched.set(id, watched);
      watched.catch(() => {
        if (this.#watched.get(id) === watched) this.#watched.delete(id);
      });
    }
    return watched;
  }

  async #startWatching(target: Target): Promise<Watched> {
    const client = this.#client(target);
    let stop: Watched['stop'];
    if (client.onDocuments !== undefined) {
      stop = await client.onDocuments((documents) => {
        this.#accept(target, readingOfDocuments(addressOf(target), documents));
      });
    } else {
      this.#schedulePoll();
    }
    try {
      await this.#read(target, undefined);
    } catch (error) {
      // The stream is up: a failed first read is reported, not fatal.
      this.#problem(error);
    }
    return { target, stop };
  }

  /** After a write: a shadow that pushes nothing is read now, so the fleet sees the order. */
  async #afterWrite(target: Target): Promise<void> {
    if (this.#client(target).onDocuments !== undefined) return;
    await this.#read(target, undefined).catch((error) => this.#problem(error));
  }

  /** One `get`, applied like a pushed document (a 404 is a thing without a shadow: nothing to read). */
  async #read(target: Target, signal: AbortSignal | undefined): Promise<void> {
    let reading: ShadowReading;
    try {
      reading = readingOfGet(addressOf(target), await this.#client(target).get(signalOption(signal)));
    } catch (error) {
      if (isShadowRejected(error, 404)) return;
      throw error;
    }
    await this.#accept(target, reading);
  }

  #schedulePoll(): void {
    if (this.#pollTimer !== undefined || this.#closed) return;
    this.#pollTimer = setTimeout(() => {
      if (this.#closed) return;
      const targets: Target[] = [];
      for (const id of this.#watched.keys()) {
        const target = this.#targetOf(id);
        if (target !== undefined && this.#client(target).onDocuments === undefined) targets.push(target);
      }
      void runEach(targets, this.#concurrency, undefined, (target) =>
        this.#read(target, undefined).catch((error) => this.#problem(error)),
      ).finally(() => {
        this.#pollTimer = undefined;
        // Polling stops by itself once no watched shadow needs it (unwatched, or closed).
        if (targets.length > 0) this.#schedulePoll();
      });
    }, this.#pollMs);
  }

  /** Queues a reading behind the ones of the same device. */
  #accept(target: Target, reading: ShadowReading): Promise<void> {
    const id = deviceIdOf(target);
    const lane = (this.#lanes.get(id) ?? Promise.resolve())
      .then(() => this.#apply(target, reading))
      .catch((error) => this.#problem(error));
    this.#lanes.set(id, lane);
    void lane.then(() => {
      if (this.#lanes.get(id) === lane) this.#lanes.delete(id);
    });
    return lane;
  }

  async #apply(target: Target, reading: ShadowReading): Promise<void> {
    const deviceId = deviceIdOf(target);
    const newest = this.#newest.get(deviceId);
    if (newest !== undefined && reading.version <= newest) {
      this.emit('stale', { target, deviceId, version: reading.version, newest });
      return;
    }
    let result = await this.#statuses.ingest(target, reading.message, { deviceId });
    // Only once stored: after a store failure the next read of this version is not stale.
    this.#newest.set(deviceId, reading.version);
    this.#readings.set(deviceId, reading);
    let device = await this.fleet.device(deviceId);
    const ordered = desiredItems(reading.desired as DeguOrder);
    if (
      ordered.length > 0 &&
      result.outcome === 'applied' &&
      device !== undefined &&
      isTerminalState(device.state) &&
      device.update?.id !== orderId(ordered)
    ) {
      // One document ended the order the fleet followed (replaced) and carries the next one:
      // read once more, now against the ended order, to follow the new one.
      result = await this.#statuses.ingest(target, reading.message, { deviceId });
      device = await this.fleet.device(deviceId);
    }
    if (device?.state !== 'committed' || device.update === null) return;
    const updateId = device.update.id;
    if (result.outcome === 'applied') {
      this.#logger.info('otakit degu publisher: success', { deviceId, update: updateId });
      this.emit('success', { target, deviceId, updateId, version: reading.version });
    }
    const installed = itemsOfOrderId(updateId);
    if (this.#clearOnSuccess && installed !== undefined)
      await this.#clear(target, installed, updateId, reading);
  }

  /**
   * Removes the finished order from `desired`, conditional on the version that showed the
   * success. A 409 means the shadow moved on: read afresh, clear only what is still this order.
   */
  async #clear(
    target: Target,
    installed: ReadonlyArray<{ item: DeguItem; md5: string }>,
    updateId: string,
    reading: ShadowReading,
  ): Promise<void> {
    let items = clearableItems(installed, reading.desired, reading.reported);
    if (items.length === 0) return;
    let nothingLeft = false;
    try {
      const accepted = await this.#client(target).update(
        { desired: clearingPatch(items) },
        {
          version: reading.version,
          onConflict: (fresh): ShadowRequestState | null => {
            items = clearableItems(installed, fresh.state.desired, fresh.state.reported);
            nothingLeft = items.length === 0;
            return nothingLeft ? null : { desired: clearingPatch(items) };
          },
        },
      );
      const deviceId = deviceIdOf(target);
      this.#logger.info('otakit degu publisher: order cleared', { deviceId, update: updateId });
      this.emit('cleared', { target, deviceId, updateId, items, version: accepted.version });
    } catch (error) {
      if (nothingLeft && isShadowRejected(error, 409)) return; // a newer order, or cleared already
      throw error;
    }
  }

  #problem(error: unknown): void {
    const failure = toOtaError(error, 'TRANSPORT', true);
    this.#logger.warn('otakit degu publisher: background step failed', {
      code: failure.code,
      message: failure.message,
    });
    // An `error` event without listeners would throw (EventEmitter semantics in Node); here it must not.
    if (this.listenerCount('error') > 0) this.emit('error', failure);
  }
}

/** Creates a {@link DeguPublisher}; see the module's example. */
export function createDeguPublisher(options: DeguPublisherOptions): DeguPublisher {
  return new DeguPublisher(options);
}

/** The `state` of a request document the protocol encoded. */
function requestState(payload: string): ShadowRequestState {
  return (JSON.parse(payload) as { state: ShadowRequestState }).state;
}

function signalOption(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal === undefined ? {} : { signal };
}

function failure(error: unknown): OtaError {
  return toOtaError(error, 'TRANSPORT', true);
}

function isTarget(value: Target | undefined): value is Target {
  return value !== undefined;
}

function positive(value: number | undefined, fallback: number | undefined, name: string): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ManifestError('Degu publisher options', [{ path: name, expected: 'a positive number' }]);
  }
  return value;
}
