/**
 * The fleet's tracker machines, one per device, kept in memory while they are in use (least
 * recently used dropped first). A tracker persists into a {@link TrackerSlot}'s bound store, which
 * the fleet fills from the fleet store inside a transaction and reads back after the tracker has
 * run: the tracker keeps its own rules (legality, duplicates, history), the fleet store decides
 * what is durable.
 *
 * @module
 */
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { JsonValue, StateStore } from '../../core/store.js';
import type { MachineRecord } from '../../machine/record.js';
import { TrackerUpdateMachine } from '../../machine/tracker-machine.js';
import type { FleetProgressEvent, FleetTransitionEvent } from './events.js';
import type { FleetHistoryEntry } from './types.js';

/** A store holding one record, the one the transaction read; the tracker's writes land here. */
class BoundStore implements StateStore {
  record: MachineRecord | undefined;

  constructor(record: MachineRecord | undefined) {
    this.record = record;
  }

  async get(): Promise<JsonValue | undefined> {
    return this.record as unknown as JsonValue | undefined;
  }

  async put(_key: string, value: JsonValue): Promise<void> {
    this.record = value as unknown as MachineRecord;
  }

  async delete(): Promise<void> {
    this.record = undefined;
  }
}

/** Where a slot's tracker reports, during one transaction: events to emit, history to store. */
export interface EventSink {
  transitions: FleetTransitionEvent[];
  progress: FleetProgressEvent[];
  history: FleetHistoryEntry[];
}

/** One device's tracker, the record it stands on, and the revision that record had in the store. */
export class TrackerSlot {
  readonly tracker: TrackerUpdateMachine;
  readonly #store: BoundStore;
  /** The store revision of the record the tracker was loaded from (or last wrote). */
  revision: number;
  /** Where events go while a transaction runs the tracker; `undefined` otherwise. */
  sink: EventSink | undefined;

  constructor(
    deviceId: string,
    stored: { revision: number; record: MachineRecord } | undefined,
    options: { clock: Clock; logger: Logger; historyLimit: number },
  ) {
    this.#store = new BoundStore(stored?.record);
    this.revision = stored?.revision ?? 0;
    this.tracker = new TrackerUpdateMachine({
      id: deviceId,
      store: this.#store,
      clock: options.clock,
      logger: options.logger,
      historyLimit: options.historyLimit,
    });
    // The tracker's event objects go to these listeners only, so they are extended in place
    // rather than copied (this runs for every status).
    this.tracker.on('transition', (event) => {
      const sink = this.sink;
      if (sink === undefined) return;
      const transition = event as FleetTransitionEvent;
      transition.deviceId = deviceId;
      sink.transitions.push(transition);
      const entry: FleetHistoryEntry = {
        deviceId,
        from: event.from,
        to: event.to,
        at: event.at,
        updateId: event.update?.id ?? null,
      };
      if (event.skipped.length > 0) entry.skipped = event.skipped;
      if (event.error !== null) entry.error = event.error;
      sink.history.push(entry);
    });
    this.tracker.on('progress', (event) => {
      const progress = event as FleetProgressEvent;
      progress.deviceId = deviceId;
      this.sink?.progress.push(progress);
    });
  }

  /** The record as the tracker last persisted it (or as loaded); `undefined` for a new device. */
  get record(): MachineRecord | undefined {
    return this.#store.record;
  }

  /** Records what the tracker holds but did not persist (progress of a repeated state). */
  set record(record: MachineRecord) {
    this.#store.record = record;
  }
}

/** Least-recently-used trackers by device id. */
export class TrackerCache {
  readonly #slots = new Map<string, TrackerSlot>();
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** The slot of `deviceId`, refreshed (so it is dropped last). */
  get(deviceId: string): TrackerSlot | undefined {
    const slot = this.#slots.get(deviceId);
    if (slot !== undefined) {
      this.#slots.delete(deviceId);
      this.#slots.set(deviceId, slot);
    }
    return slot;
  }

  set(deviceId: string, slot: TrackerSlot): void {
    this.#slots.delete(deviceId);
    this.#slots.set(deviceId, slot);
    if (this.#slots.size > this.#limit) {
      const oldest = this.#slots.keys().next().value;
      if (oldest !== undefined) this.#slots.delete(oldest);
    }
  }

  /** Forgets a device's tracker (its record may no longer be what the store holds). */
  delete(deviceId: string): void {
    this.#slots.delete(deviceId);
  }

  get size(): number {
    return this.#slots.size;
  }
}
