/**
 * Where rollouts are kept: one interface, a memory implementation here and a PostgreSQL one in
 * `otakit/pg`. Several orchestrator instances share one store; it is what makes them agree.
 *
 * Two kinds of writes keep them from stepping on each other:
 * - a **step** holds the rollout exclusively (in PostgreSQL `SELECT … FOR UPDATE SKIP LOCKED` on
 *   the rollout row: an instance that finds it held skips this round) and claims devices with
 *   `FOR UPDATE SKIP LOCKED`; only a step moves the rollout itself (wave, pace, state);
 * - a **settle** changes device rows outside any step, compare-and-set on each row's revision,
 *   so a status handled twice (by two instances, or replayed) changes a device once.
 *
 * @module
 */
import type { RolloutCounts, RolloutDevice, RolloutDeviceState, RolloutRecord } from './types.js';

/** Which devices a step claims: due ones in given states, in plan order. */
export interface RolloutClaim {
  states: readonly RolloutDeviceState[];
  /** Only devices due at or before this epoch ms (`dueAt` set and ≤). */
  dueBy?: number;
  /** Only devices of waves up to this index. */
  maxWave?: number;
  limit: number;
}

/** What a step can do with the rollout it holds. */
export interface RolloutStepContext {
  /** Devices per wave and state, and final failures per kind, as of now in this step. */
  counts(): Promise<RolloutCounts>;
  /**
   * Locks and returns up to `limit` devices matching `claim`, in plan order, skipping devices
   * another transaction holds. They stay locked until the step ends: write them with `write`.
   */
  claim(claim: RolloutClaim): Promise<RolloutDevice[]>;
  /** Writes devices claimed in this step (each with `revision` one above the one read). */
  write(devices: readonly RolloutDevice[]): Promise<void>;
}

/** One compare-and-set of a device row outside a step. */
export interface RolloutDeviceChange {
  /** The row as read; applied only if the stored revision is still this one. */
  expected: RolloutDevice;
  /** The new row (its `revision` must be `expected.revision + 1`). */
  next: RolloutDevice;
}

export interface RolloutDeviceQuery {
  state?: RolloutDeviceState | readonly RolloutDeviceState[];
  wave?: number;
  /** Only devices whose plan position is after this one (paging). */
  afterPosition?: number;
  /** @default every device */
  limit?: number;
}

export interface RolloutStore {
  /**
   * Stores a new rollout and its devices (positions 0…n-1 in the order given).
   * @throws StoreError `CONFLICT`-like (code `STATE`) when a rollout with this id exists.
   */
  create(rollout: RolloutRecord, devices: readonly RolloutDevice[]): Promise<void>;
  rollout(id: string): Promise<RolloutRecord | undefined>;
  /** Rollouts, newest first; only those in `states` when given. */
  rollouts(query?: { states?: readonly RolloutRecord['state'][] }): Promise<RolloutRecord[]>;
  /**
   * Holds the rollout, runs `work`, writes the record it returns (`null`: unchanged; else with
   * `revision` one above) and the devices it wrote, all or nothing. With `wait: false` (the
   * orchestrator's rounds) resolves `{ held: true }` at once, doing nothing, when another
   * transaction holds the rollout; with `wait: true` (an operator's pause) it waits its turn.
   * Resolves `{ held: false, result }` after running `work`; `undefined` result when no rollout has the id.
   */
  step<T>(
    id: string,
    options: { wait: boolean },
    work: (
      rollout: RolloutRecord,
      context: RolloutStepContext,
    ) => Promise<{ rollout: RolloutRecord | null; result: T }>,
  ): Promise<{ held: true } | { held: false; found: false } | { held: false; found: true; result: T }>;
  /** Applies each change whose expected revision still holds; returns the rows applied. */
  settle(id: string, changes: readonly RolloutDeviceChange[]): Promise<RolloutDevice[]>;
  /** Devices by id (those not in the rollout are absent). */
  devicesById(id: string, deviceIds: readonly string[]): Promise<Map<string, RolloutDevice>>;
  /** Devices in plan order. */
  devices(id: string, query?: RolloutDeviceQuery): Promise<RolloutDevice[]>;
  counts(id: string): Promise<RolloutCounts>;
  /** Releases what the store holds. Idempotent. */
  close(): Promise<void>;
}
