/**
 * What device machines and trackers share: loading and persisting the record, the history,
 * the snapshot and the typed events. Persist first, then emit: a listener never sees a state
 * that a crash could take back.
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { type Clock, systemClock } from '../core/clock.js';
import { type OtaError, type SerializedOtaError, StoreError } from '../core/errors.js';
import { type Logger, noopLogger } from '../core/logger.js';
import { protoKeyPath } from '../core/proto-key.js';
import type { UpdateState } from '../core/states.js';
import type { Progress } from '../core/status.js';
import { type JsonValue, MemoryStore, type StateStore } from '../core/store.js';
import { safeParseWith } from '../core/validate.js';
import type { UpdateMachineEvents } from './events.js';
import {
  type HistoryEntry,
  type MachineRecord,
  MachineRecordSchema,
  type MachineRole,
  type UpdateSnapshot,
} from './record.js';

export interface MachineCommonOptions {
  /** Identifies the device (or the device a tracker follows). Also the store key. */
  id: string;
  /**
   * Where transitions are persisted.
   * @default new MemoryStore()
   */
  store?: StateStore;
  /** @default systemClock */
  clock?: Clock;
  /** @default noopLogger */
  logger?: Logger;
  /**
   * Transitions kept in the history (oldest dropped first).
   * @default 100
   */
  historyLimit?: number;
}

/** The store key a machine with this id uses. */
export function machineStoreKey(id: string): string {
  return `otakit/machine/${id}`;
}

export interface EnterOptions {
  resumed?: boolean;
  skipped?: UpdateState[];
  error?: SerializedOtaError | null;
}

export abstract class MachineBase extends EventEmitter<UpdateMachineEvents> {
  readonly id: string;
  abstract readonly role: MachineRole;
  protected readonly store: StateStore;
  protected readonly clock: Clock;
  protected readonly logger: Logger;
  readonly #historyLimit: number;
  #record: MachineRecord | undefined;
  #writes: Promise<void> = Promise.resolve();
  #loading: Promise<MachineRecord> | undefined;
  #unrecorded = false;

  constructor(options: MachineCommonOptions) {
    super();
    if (typeof options.id !== 'string' || options.id.length === 0) {
      throw new StoreError('Machine option "id" must be a non-empty string');
    }
    this.id = options.id;
    this.store = options.store ?? new MemoryStore();
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? noopLogger;
    this.#historyLimit = options.historyLimit ?? 100;
  }

  /** The current record; throws if `load()` has not completed. */
  protected get record(): MachineRecord {
    if (this.#record === undefined) throw new StoreError(`Machine "${this.id}" used before load()`);
    return this.#record;
  }

  /**
   * The store held no record for this machine when it loaded (a first start, or a lost store),
   * and nothing has been persisted since.
   */
  protected get unrecorded(): boolean {
    return this.#unrecorded;
  }

  protected get loaded(): boolean {
    return this.#record !== undefined;
  }

  /**
   * Reads the persisted record (or starts a fresh one). Idempotent. A corrupt record is reported
   * as a `STORE` error and left untouched, so nothing is lost by trying.
   */
  async load(): Promise<UpdateSnapshot> {
    await this.ensureLoaded();
    return this.snapshot();
  }

  /**
   * {@link load} without building a snapshot: the per-status path of a tracker needs the record,
   * and a snapshot copies the whole history.
   */
  protected async ensureLoaded(): Promise<void> {
    if (this.#record === undefined) {
      this.#loading ??= this.#read();
      try {
        this.#record = await this.#loading;
      } finally {
        this.#loading = undefined;
      }
    }
  }

  async #read(): Promise<MachineRecord> {
    let stored: JsonValue | undefined;
    try {
      stored = await this.store.get(machineStoreKey(this.id));
    } catch (cause) {
      throw new StoreError(`Reading the state of machine "${this.id}" failed`, { cause, retryable: true });
    }
    if (stored === undefined) {
      this.#unrecorded = true;
      return this.#freshRecord();
    }
    const poisoned = protoKeyPath(stored, '$', Number.POSITIVE_INFINITY);
    if (poisoned !== undefined) {
      // zod would rebuild the object without it, silently: refuse instead, so a tampered store
      // is noticed rather than half-believed.
      throw new StoreError(`Stored state of machine "${this.id}" holds a "__proto__" key at ${poisoned}`);
    }
    const parsed = safeParseWith(MachineRecordSchema, stored, 'persisted machine record');
    if (!parsed.success) {
      throw new StoreError(`Stored state of machine "${this.id}" is corrupt: ${parsed.error.message}`, {
        cause: parsed.error,
      });
    }
    if (parsed.data.machineId !== this.id) {
      throw new StoreError(
        `Stored state under machine "${this.id}" belongs to machine "${parsed.data.machineId.slice(0, 128)}"`,
      );
    }
    if (parsed.data.role !== this.role) {
      throw new StoreError(
        `Stored state of machine "${this.id}" belongs to a ${parsed.data.role}, not a ${this.role}`,
      );
    }
    return parsed.data;
  }

  #freshRecord(): MachineRecord {
    return {
      format: 'otakit.machine/1',
      machineId: this.id,
      role: this.role,
      state: 'idle',
      update: null,
      current: null,
      manifest: null,
      staged: null,
      checkpoint: null,
      steps: 0,
      installStarted: false,
      awaitingReboot: false,
      lastError: null,
      lastOutcome: null,
      progress: null,
      history: [],
      updatedAt: new Date(this.clock.now()).toISOString(),
    };
  }

  /**
   * Writes `next` durably, then makes it the current record. On failure nothing changes. Writes
   * are queued, one at a time, so two writers (a checkpoint and a transition) never interleave.
   */
  protected persist(next: MachineRecord): Promise<void> {
    const write = this.#writes.then(async () => {
      try {
        await this.store.put(machineStoreKey(this.id), next as unknown as JsonValue);
      } catch (cause) {
        throw new StoreError(`Persisting the state of machine "${this.id}" failed`, {
          cause,
          retryable: true,
        });
      }
      this.#record = next;
      this.#unrecorded = false;
    });
    this.#writes = write.catch(() => {});
    return write;
  }

  /**
   * Persists a transition to `to` with `patch` applied, then emits `transition`. The caller has
   * already checked legality; this is the single place a state changes.
   */
  protected async enter(to: UpdateState, patch: Partial<MachineRecord> = {}, options: EnterOptions = {}) {
    const current = this.record;
    const at = new Date(this.clock.now()).toISOString();
    const next: MachineRecord = { ...current, ...patch, state: to, updatedAt: at };
    const entry: HistoryEntry = { from: current.state, to, at, updateId: next.update?.id ?? null };
    if (options.resumed) entry.resumed = true;
    if (options.skipped && options.skipped.length > 0) entry.skipped = options.skipped;
    if (options.error) entry.error = options.error;
    next.history = [...current.history, entry].slice(-this.#historyLimit);
    await this.persist(next);
    this.logger.debug('otakit transition', {
      machine: this.id,
      from: entry.from,
      to,
      update: entry.updateId,
    });
    this.notify('transition', {
      machineId: this.id,
      from: entry.from,
      to,
      at,
      update: next.update,
      resumed: options.resumed ?? false,
      skipped: options.skipped ?? [],
      error: options.error ?? null,
    });
    return next;
  }

  /** Updates the in-memory progress; it is persisted with the next transition. */
  protected setProgress(progress: Progress | null): void {
    if (this.#record !== undefined) this.#record = { ...this.#record, progress };
  }

  /**
   * Emits an event. A listener that throws is logged, never allowed to break the machine: the
   * transition it listens to is already persisted.
   */
  protected notify<E extends keyof UpdateMachineEvents>(
    event: E,
    ...args: Parameters<UpdateMachineEvents[E]>
  ): void {
    try {
      (this.emit as (event: E, ...args: Parameters<UpdateMachineEvents[E]>) => boolean)(event, ...args);
    } catch (listenerError) {
      this.logger.error('otakit listener threw', { machine: this.id, event, message: String(listenerError) });
    }
  }

  /** Logs an error and emits it as an `error` event. */
  protected raise(error: OtaError): void {
    this.logger.warn('otakit error', { machine: this.id, code: error.code, message: error.message });
    this.notify('error', error);
  }

  /** The current state. */
  get state(): UpdateState {
    return this.#record?.state ?? 'idle';
  }

  /** A plain JSON object describing the machine, for dashboards (see `UpdateSnapshotSchema`). */
  snapshot(): UpdateSnapshot {
    const record = this.#record ?? this.#freshRecord();
    return {
      machineId: this.id,
      role: this.role,
      state: record.state,
      update: record.update,
      current: record.current,
      progress: record.progress,
      history: record.history.map((entry) => ({ ...entry })),
      lastError: record.lastError,
      lastOutcome: record.lastOutcome,
      awaitingReboot: record.awaitingReboot,
      steps: record.steps,
      updatedAt: record.updatedAt,
    };
  }
}
