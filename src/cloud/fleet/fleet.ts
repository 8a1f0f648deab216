/**
 * A fleet: one tracker machine per device, fed by the statuses devices report, over a
 * {@link FleetStore}. It answers what a back end and a dashboard ask: where is each device, how
 * many are in each state, what did this one go through, which ones said something impossible.
 *
 * Every status is applied inside a store transaction that holds the device: the fleet reads the
 * stored record, runs the device's tracker on it (the tracker in memory is reused while the
 * store's revision says nobody else wrote the device), and writes the new record, the
 * transitions and the anomalies together. So several service instances can share one store,
 * and a restarted service starts from what is stored.
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { type Clock, systemClock } from '../../core/clock.js';
import { ManifestError, OtaError, toOtaError } from '../../core/errors.js';
import { type Logger, noopLogger } from '../../core/logger.js';
import type { UpdateState } from '../../core/states.js';
import type { MachineRecord, UpdateSnapshot } from '../../machine/record.js';
import type { InboundMessage, Protocol } from '../../protocols/contract.js';
import { anomalyFor } from './anomaly.js';
import { type DeviceIdOf, defaultDeviceIdOf } from './device-id.js';
import type { FleetEvents } from './events.js';
import { MemoryFleetStore } from './memory-store.js';
import { deviceSnapshot } from './snapshot.js';
import type { AnomalyQuery, DeviceQuery, FleetStore, HistoryQuery, StoredDevice } from './store.js';
import { type EventSink, TrackerCache, TrackerSlot } from './tracker-cache.js';
import type {
  DeviceSnapshot,
  FleetAnomaly,
  FleetHistoryEntry,
  FleetIngestResult,
  FleetSnapshot,
  StateCounts,
} from './types.js';

export interface FleetOptions {
  /**
   * Where devices, their history and anomalies are kept. Several fleets (service instances) may
   * share one store; the fleet never closes it.
   * @default new MemoryFleetStore()
   */
  store?: FleetStore;
  /** @default systemClock */
  clock?: Clock;
  /** @default noopLogger */
  logger?: Logger;
  /**
   * Transitions kept in each device's record (its snapshot's `history`). The full history is in
   * the store (`fleet.history()`); a short one here keeps every write small.
   * @default 16
   */
  recordHistoryLimit?: number;
  /**
   * Device trackers kept in memory between statuses (least recently used dropped first). A
   * device whose tracker was dropped is reloaded from the store, which costs a validation of its
   * record.
   * @default 10_000
   */
  trackerCacheSize?: number;
  /**
   * The device id of a protocol target, for `ingestMessage` without `deviceId`.
   * @default Degu `thingName`, Connhex `initId`, insigh.io `deviceId`, Exosite `identity`
   */
  deviceIdOf?: DeviceIdOf;
}

/** The part of a protocol the fleet uses: its name and its cloud side. */
export type FleetProtocol<Target = unknown> = Pick<
  Protocol<string, string | number, Target>,
  'name' | 'cloud'
>;

export interface IngestMessageOptions {
  /** The device the message is about. @default `deviceIdOf(protocol.name, target)` */
  deviceId?: string;
}

/** One item of `ingestBatch`: a status, or a wire message to decode. */
export type FleetBatchItem =
  | { deviceId: string; status: unknown }
  // biome-ignore lint/suspicious/noExplicitAny: any protocol's target; each item is checked by its codec
  | { protocol: FleetProtocol<any>; target: unknown; message: InboundMessage; deviceId?: string };

/** What the fleet does for one item, inside a transaction. */
interface Job {
  deviceId: string;
  status?: unknown;
  protocol?: FleetProtocol<unknown>;
  target?: unknown;
  message?: InboundMessage;
}

/** One device touched by a transaction. */
interface Touch {
  slot: TrackerSlot;
  /** The revision read under the lock. */
  revision: number;
  protocol: string | null;
  changed: boolean;
}

/** What a transaction will store, and emit once it is stored. */
interface Pending extends EventSink {
  anomalies: FleetAnomaly[];
}

const DEVICE_ID_LIMIT = 256;

function checkDeviceId(deviceId: unknown): string {
  if (typeof deviceId !== 'string' || deviceId.length === 0 || deviceId.length > DEVICE_ID_LIMIT) {
    throw new ManifestError('fleet device id', [
      { path: 'deviceId', expected: `a non-empty string of at most ${DEVICE_ID_LIMIT} characters` },
    ]);
  }
  return deviceId;
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new OtaError('CONFIG', `Fleet option "${name}" must be a positive integer`);
  }
  return value;
}

/** A tracker's in-memory state as a record to store (what a repeated state changed: progress). */
function recordOf(snapshot: UpdateSnapshot, base: MachineRecord | undefined): MachineRecord {
  return {
    format: 'otakit.machine/1',
    manifest: null,
    staged: null,
    checkpoint: null,
    installStarted: false,
    ...base,
    machineId: snapshot.machineId,
    role: 'tracker',
    state: snapshot.state,
    update: snapshot.update,
    current: snapshot.current,
    progress: snapshot.progress,
    history: snapshot.history,
    lastError: snapshot.lastError,
    lastOutcome: snapshot.lastOutcome,
    awaitingReboot: snapshot.awaitingReboot,
    steps: snapshot.steps,
    updatedAt: snapshot.updatedAt,
  };
}

/**
 * Tracks a fleet of devices from the statuses they report.
 *
 * @example
 * ```ts
 * const fleet = new Fleet()                      // memory store; PostgresFleetStore from 'otakit/pg'
 * fleet.on('transition', ({ deviceId, to }) => console.log(deviceId, to))
 * await fleet.ingestMessage(connhex.protocol, target, natsMessage)
 * const { counts } = await fleet.snapshot()
 * ```
 */
export class Fleet extends EventEmitter<FleetEvents> {
  readonly store: FleetStore;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #trackers: TrackerCache;
  readonly #historyLimit: number;
  readonly #deviceIdOf: DeviceIdOf;
  #nowMs = Number.NaN;
  #nowIso = '';

  constructor(options: FleetOptions = {}) {
    super();
    this.store = options.store ?? new MemoryFleetStore();
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? noopLogger;
    this.#historyLimit = positiveInteger(options.recordHistoryLimit, 16, 'recordHistoryLimit');
    this.#trackers = new TrackerCache(positiveInteger(options.trackerCacheSize, 10_000, 'trackerCacheSize'));
    this.#deviceIdOf = options.deviceIdOf ?? defaultDeviceIdOf;
  }

  /**
   * Applies a status a device reported (an {@link UpdateStatus}, e.g. what a protocol's
   * `cloud.decodeStatus` returned). Never throws for what the device sent: a malformed status or
   * an illegal transition is refused, recorded as an anomaly (`outcome: 'refused'`) and emitted as
   * `anomaly`. Throws only for a bad `deviceId` (`ManifestError`) or a store failure (`StoreError`).
   */
  async ingest(deviceId: string, status: unknown): Promise<FleetIngestResult> {
    const [result] = await this.#transact([{ deviceId: checkDeviceId(deviceId), status }]);
    return result!;
  }

  /**
   * Decodes a wire message with the protocol's cloud side (giving it what the tracker knows of
   * the device as `previous`) and applies the status it holds. A message that holds no status
   * is `ignored`; one the codec refuses is recorded as an `invalid_status` anomaly.
   *
   * @throws OtaError `CONFIG` when no `deviceId` is given and the target names none (ThingsBoard).
   */
  async ingestMessage<Target>(
    protocol: FleetProtocol<Target>,
    target: Target,
    message: InboundMessage,
    options: IngestMessageOptions = {},
  ): Promise<FleetIngestResult> {
    const job = this.#messageJob(protocol as FleetProtocol<unknown>, target, message, options.deviceId);
    const [result] = await this.#transact([job]);
    return result!;
  }

  /**
   * Applies many statuses and messages in one store transaction (one round of writes in
   * PostgreSQL), in order: statuses of one device are applied in the order given. Results come
   * back in the same order. All or nothing: a store failure applies none of them.
   */
  async ingestBatch(items: readonly FleetBatchItem[]): Promise<FleetIngestResult[]> {
    const jobs = items.map((item): Job => {
      if ('message' in item) return this.#messageJob(item.protocol, item.target, item.message, item.deviceId);
      return { deviceId: checkDeviceId(item.deviceId), status: item.status };
    });
    return jobs.length === 0 ? [] : this.#transact(jobs);
  }

  /** Forgets what a device was doing (re-flashed by hand, replaced) and tracks it as idle. */
  async reset(deviceId: string): Promise<DeviceSnapshot | undefined> {
    checkDeviceId(deviceId);
    await this.#transact([{ deviceId }], true);
    return this.device(deviceId);
  }

  /** One device, or `undefined` when the fleet never stored it. */
  async device(deviceId: string): Promise<DeviceSnapshot | undefined> {
    const stored = await this.store.device(checkDeviceId(deviceId));
    return stored === undefined ? undefined : deviceSnapshot(stored);
  }

  /** Counts by state and the devices asked for (every device by default), ordered by id. */
  async snapshot(query: DeviceQuery = {}): Promise<FleetSnapshot> {
    const [counts, devices] = await Promise.all([this.store.counts(), this.store.devices(query)]);
    const total = Object.values(counts).reduce((sum, count) => sum + count, 0);
    const full = query.limit !== undefined && devices.length === query.limit && devices.length > 0;
    return {
      at: this.#now(),
      total,
      counts,
      devices: devices.map(deviceSnapshot),
      next: full ? devices[devices.length - 1]!.deviceId : null,
    };
  }

  /** Devices per state. */
  counts(): Promise<StateCounts> {
    return this.store.counts();
  }

  /** Devices in a state (or states), for a dashboard's filtered list. */
  async devicesIn(
    state: UpdateState | readonly UpdateState[],
    query: Omit<DeviceQuery, 'state'> = {},
  ): Promise<DeviceSnapshot[]> {
    return (await this.store.devices({ ...query, state })).map(deviceSnapshot);
  }

  /** A device's transitions, oldest first (the newest `limit`). */
  history(deviceId: string, query?: HistoryQuery): Promise<FleetHistoryEntry[]> {
    return this.store.history(checkDeviceId(deviceId), query);
  }

  /** Refused statuses, newest first. */
  anomalies(query?: AnomalyQuery): Promise<FleetAnomaly[]> {
    return this.store.anomalies(query);
  }

  #messageJob(
    protocol: FleetProtocol<unknown>,
    target: unknown,
    message: InboundMessage,
    deviceId: string | undefined,
  ): Job {
    const id = deviceId ?? this.#deviceIdOf(protocol.name, target);
    if (id === undefined) {
      throw new OtaError(
        'CONFIG',
        `Fleet cannot tell which device a ${protocol.name} target is: pass { deviceId } to ingestMessage`,
      );
    }
    return { deviceId: checkDeviceId(id), protocol, target, message };
  }

  #now(): string {
    // Formatting a date costs more than the rest of a duplicate status: reuse it within a millisecond.
    const now = this.#clock.now();
    if (now !== this.#nowMs) {
      this.#nowMs = now;
      this.#nowIso = new Date(now).toISOString();
    }
    return this.#nowIso;
  }

  async #transact(jobs: readonly Job[], reset = false): Promise<FleetIngestResult[]> {
    const touched = new Map<string, Touch>();
    const pending: Pending = { transitions: [], progress: [], history: [], anomalies: [] };
    let results: FleetIngestResult[];
    try {
      results = await this.store.transact(
        jobs.map((job) => job.deviceId),
        async (stored) => {
          const done: FleetIngestResult[] = [];
          for (const job of jobs) {
            const touch = this.#touch(job.deviceId, stored, touched);
            done.push(
              reset ? await this.#reset(job.deviceId, touch, pending) : await this.#run(job, touch, pending),
            );
          }
          const devices: StoredDevice[] = [];
          for (const [deviceId, touch] of touched) {
            const record = touch.slot.record;
            if (!touch.changed || record === undefined) continue;
            devices.push({ deviceId, revision: touch.revision + 1, protocol: touch.protocol, record });
          }
          return {
            writes: { devices, history: pending.history, anomalies: pending.anomalies },
            result: done,
          };
        },
      );
    } catch (error) {
      // The trackers may have moved past what the store holds: reload them next time.
      for (const deviceId of touched.keys()) this.#trackers.delete(deviceId);
      throw error;
    }
    for (const touch of touched.values()) if (touch.changed) touch.slot.revision = touch.revision + 1;
    this.#emitAll(pending, touched);
    return results;
  }

  /** The device's tracker, on the record just read (a new one when another writer moved it). */
  #touch(deviceId: string, stored: ReadonlyMap<string, StoredDevice>, touched: Map<string, Touch>): Touch {
    let touch = touched.get(deviceId);
    if (touch !== undefined) return touch;
    const current = stored.get(deviceId);
    const revision = current?.revision ?? 0;
    let slot = this.#trackers.get(deviceId);
    if (slot === undefined || slot.revision !== revision) {
      slot = new TrackerSlot(deviceId, current, {
        clock: this.#clock,
        logger: this.#logger,
        historyLimit: this.#historyLimit,
      });
      this.#trackers.set(deviceId, slot);
    }
    touch = { slot, revision, protocol: current?.protocol ?? null, changed: false };
    touched.set(deviceId, touch);
    return touch;
  }

  async #run(job: Job, touch: Touch, pending: Pending): Promise<FleetIngestResult> {
    const { deviceId } = job;
    const slot = touch.slot;
    const before = slot.record;
    const at = this.#now();
    const protocol = job.protocol?.name ?? null;
    let status = job.status;
    if (job.protocol !== undefined) {
      try {
        status = job.protocol.cloud.decodeStatus(job.message!, {
          target: job.target,
          machineId: deviceId,
          previous: before === undefined ? null : { state: before.state, update: before.update },
          at,
        });
      } catch (thrown) {
        const error = toOtaError(thrown, 'MANIFEST_INVALID');
        return this.#refused(
          deviceId,
          anomalyFor({ deviceId, error, record: before, status: undefined, protocol, at }),
          pending,
        );
      }
      if (status === null) {
        return { deviceId, outcome: 'ignored', state: before?.state ?? 'idle', skipped: [], anomaly: null };
      }
    }
    const progressBefore = pending.progress.length;
    slot.sink = pending;
    let result: Awaited<ReturnType<typeof slot.tracker.ingest>>;
    try {
      result = await slot.tracker.ingest(status);
    } finally {
      slot.sink = undefined;
    }
    if (!result.accepted) {
      return this.#refused(
        deviceId,
        anomalyFor({ deviceId, error: result.error, record: before, status, protocol, at }),
        pending,
      );
    }
    // A repeated state persists nothing in the tracker, but its progress (or a first sighting of
    // the device) is news for a dashboard and for the other instances: store what it holds.
    if (result.duplicate && (pending.progress.length > progressBefore || slot.record === undefined)) {
      slot.record = recordOf(slot.tracker.snapshot(), slot.record);
    }
    if (slot.record !== before || (protocol !== null && protocol !== touch.protocol)) touch.changed = true;
    if (protocol !== null) touch.protocol = protocol;
    return {
      deviceId,
      outcome: result.duplicate ? 'duplicate' : 'applied',
      state: result.state,
      skipped: result.skipped,
      anomaly: null,
    };
  }

  #refused(deviceId: string, anomaly: FleetAnomaly, pending: Pending): FleetIngestResult {
    pending.anomalies.push(anomaly);
    return { deviceId, outcome: 'refused', state: anomaly.from, skipped: [], anomaly };
  }

  async #reset(deviceId: string, touch: Touch, pending: Pending): Promise<FleetIngestResult> {
    const slot = touch.slot;
    const before = slot.record;
    slot.sink = pending;
    try {
      await slot.tracker.reset();
    } finally {
      slot.sink = undefined;
    }
    if (slot.record !== before) touch.changed = true;
    return {
      deviceId,
      outcome: touch.changed ? 'applied' : 'duplicate',
      state: 'idle',
      skipped: [],
      anomaly: null,
    };
  }

  #emitAll(pending: Pending, touched: ReadonlyMap<string, Touch>): void {
    for (const event of pending.transitions) this.#emit('transition', event);
    for (const event of pending.progress) this.#emit('progress', event);
    for (const anomaly of pending.anomalies) this.#emit('anomaly', anomaly);
    if (this.listenerCount('device') === 0) return;
    for (const [deviceId, touch] of touched) {
      const record = touch.slot.record;
      if (!touch.changed || record === undefined) continue;
      this.#emit(
        'device',
        deviceSnapshot({ deviceId, revision: touch.slot.revision, protocol: touch.protocol, record }),
      );
    }
  }

  /** A listener that throws is logged, never allowed to break ingestion: the change is stored. */
  #emit<E extends keyof FleetEvents>(event: E, ...args: Parameters<FleetEvents[E]>): void {
    try {
      (this.emit as (event: E, ...args: Parameters<FleetEvents[E]>) => boolean)(event, ...args);
    } catch (listenerError) {
      this.#logger.error('otakit fleet listener threw', { event, message: String(listenerError) });
    }
  }
}
