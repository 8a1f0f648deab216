/**
 * The fleet store in memory: the default, for the demo, a quick start, tests and a single
 * service instance that can afford to forget on restart. Browser-safe.
 *
 * @module
 */
import { StoreError } from '../../core/errors.js';
import type { UpdateState } from '../../core/states.js';
import { emptyCounts, stateFilter } from './counts.js';
import { KeyedLock } from './keyed-lock.js';
import type {
  AnomalyQuery,
  DeviceQuery,
  FleetStore,
  FleetWork,
  FleetWrites,
  HistoryQuery,
  StoredDevice,
} from './store.js';
import type { FleetAnomaly, FleetHistoryEntry, StateCounts } from './types.js';

export interface MemoryFleetStoreOptions {
  /**
   * Transitions kept per device (oldest dropped first).
   * @default 1000
   */
  historyLimit?: number;
  /**
   * Anomalies kept for the whole fleet (oldest dropped first).
   * @default 10_000
   */
  anomalyLimit?: number;
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new StoreError(`MemoryFleetStore option "${name}" must be a positive integer`);
  }
  return value;
}

/**
 * A {@link FleetStore} in memory. Transactions are exclusive per device within this process;
 * a write is applied whole or not at all. Values read through `device()`/`devices()` are copies.
 *
 * @example
 * ```ts
 * const fleet = new Fleet({ store: new MemoryFleetStore({ historyLimit: 200 }) })
 * ```
 */
export class MemoryFleetStore implements FleetStore {
  readonly #devices = new Map<string, StoredDevice>();
  readonly #byState = new Map<UpdateState, Set<string>>();
  readonly #history = new Map<string, FleetHistoryEntry[]>();
  #anomalies: FleetAnomaly[] = [];
  readonly #lock = new KeyedLock();
  readonly #historyLimit: number;
  readonly #anomalyLimit: number;

  constructor(options: MemoryFleetStoreOptions = {}) {
    this.#historyLimit = positiveInteger(options.historyLimit, 1000, 'historyLimit');
    this.#anomalyLimit = positiveInteger(options.anomalyLimit, 10_000, 'anomalyLimit');
  }

  transact<T>(
    deviceIds: readonly string[],
    work: (devices: ReadonlyMap<string, StoredDevice>) => Promise<FleetWork<T>>,
  ): Promise<T> {
    return this.#lock.run(deviceIds, async () => {
      const current = new Map<string, StoredDevice>();
      for (const id of deviceIds) {
        const stored = this.#devices.get(id);
        if (stored !== undefined) current.set(id, stored);
      }
      const { writes, result } = await work(current);
      this.#check(writes, new Set(deviceIds));
      this.#apply(writes);
      return result;
    });
  }

  /** Refuses a write that does not follow the revision read, before anything is applied. */
  #check(writes: FleetWrites, locked: ReadonlySet<string>): void {
    const seen = new Set<string>();
    for (const device of writes.devices) {
      if (!locked.has(device.deviceId) || seen.has(device.deviceId)) {
        throw new StoreError(`Write of device "${device.deviceId}" outside its transaction, or twice in one`);
      }
      seen.add(device.deviceId);
      const stored = this.#devices.get(device.deviceId)?.revision ?? 0;
      if (device.revision !== stored + 1) {
        throw new StoreError(
          `Write of device "${device.deviceId}" at revision ${device.revision}, but revision ${stored} is stored`,
        );
      }
    }
  }

  #apply(writes: FleetWrites): void {
    for (const device of writes.devices) {
      const before = this.#devices.get(device.deviceId);
      if (before !== undefined) this.#byState.get(before.record.state)?.delete(device.deviceId);
      this.#devices.set(device.deviceId, device);
      let ids = this.#byState.get(device.record.state);
      if (ids === undefined) {
        ids = new Set();
        this.#byState.set(device.record.state, ids);
      }
      ids.add(device.deviceId);
    }
    for (const entry of writes.history) {
      let entries = this.#history.get(entry.deviceId);
      if (entries === undefined) {
        entries = [];
        this.#history.set(entry.deviceId, entries);
      }
      entries.push(entry);
      // Trimmed in chunks, so a long history does not cost a copy per transition.
      if (entries.length > this.#historyLimit * 1.25 + 8)
        entries.splice(0, entries.length - this.#historyLimit);
    }
    if (writes.anomalies.length > 0) {
      this.#anomalies.push(...writes.anomalies);
      if (this.#anomalies.length > this.#anomalyLimit * 1.25 + 8) {
        this.#anomalies = this.#anomalies.slice(-this.#anomalyLimit);
      }
    }
  }

  async device(deviceId: string): Promise<StoredDevice | undefined> {
    const stored = this.#devices.get(deviceId);
    return stored === undefined ? undefined : structuredClone(stored);
  }

  async devices(query: DeviceQuery = {}): Promise<StoredDevice[]> {
    const states = stateFilter(query.state);
    let ids: string[];
    if (states === undefined) ids = [...this.#devices.keys()];
    else ids = [...states].flatMap((state) => [...(this.#byState.get(state) ?? [])]);
    const after = query.after;
    if (after !== undefined) ids = ids.filter((id) => id > after);
    ids.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (query.limit !== undefined) ids = ids.slice(0, Math.max(0, query.limit));
    return ids.map((id) => structuredClone(this.#devices.get(id)!));
  }

  async counts(): Promise<StateCounts> {
    const counts = emptyCounts();
    for (const [state, ids] of this.#byState) counts[state] = ids.size;
    return counts;
  }

  async history(deviceId: string, query: HistoryQuery = {}): Promise<FleetHistoryEntry[]> {
    const entries = this.#history.get(deviceId) ?? [];
    const limit = Math.min(query.limit ?? 100, this.#historyLimit);
    return limit <= 0 ? [] : structuredClone(entries.slice(-limit));
  }

  async anomalies(query: AnomalyQuery = {}): Promise<FleetAnomaly[]> {
    const limit = query.limit ?? 100;
    const found: FleetAnomaly[] = [];
    for (let index = this.#anomalies.length - 1; index >= 0 && found.length < limit; index--) {
      const anomaly = this.#anomalies[index]!;
      if (query.deviceId !== undefined && anomaly.deviceId !== query.deviceId) continue;
      if (query.kind !== undefined && anomaly.kind !== query.kind) continue;
      found.push(anomaly);
    }
    return structuredClone(found);
  }

  async close(): Promise<void> {}
}
