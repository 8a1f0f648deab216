/**
 * The rollout store in memory: for one service instance, tests, dry runs and the simulator.
 * Browser-safe. Steps on one rollout are exclusive; settles are compare-and-set on revisions, and
 * one that touches a device a step holds waits for the step to end, then compares (as an UPDATE
 * waits on a PostgreSQL row lock): it misses if the step wrote the device, applies if not.
 *
 * @module
 */
import { ManifestError, OtaError, StoreError } from '../../core/errors.js';
import { copyCounts, countDevice, emptyCounts } from './counts.js';
import type {
  RolloutClaim,
  RolloutDeviceChange,
  RolloutDeviceQuery,
  RolloutStepContext,
  RolloutStore,
} from './store.js';
import type { RolloutCounts, RolloutDevice, RolloutDeviceState, RolloutRecord } from './types.js';

interface Held {
  record: RolloutRecord;
  /** Devices by plan position. */
  devices: RolloutDevice[];
  byId: Map<string, number>;
  /** Positions per state, for claims that do not walk every device. */
  byState: Map<RolloutDeviceState, Set<number>>;
  /** The highest position added to each state's set, and the sets no longer in plan order. */
  tail: Map<RolloutDeviceState, number>;
  unordered: Set<RolloutDeviceState>;
  counts: RolloutCounts;
  /** Positions locked by the step running now. */
  locked: Set<number>;
  /** The step running now, and those waiting their turn. */
  busy: boolean;
  waiting: Array<() => void>;
  /** Settles waiting for the running step to release its devices. */
  released: Array<() => void>;
  createdSeq: number;
}

const copyDevice = (device: RolloutDevice): RolloutDevice => ({
  ...device,
  error: device.error === null ? null : { ...device.error },
});

const copyRecord = (record: RolloutRecord): RolloutRecord => structuredClone(record);

/**
 * A {@link RolloutStore} in memory.
 *
 * @example
 * ```ts
 * const orchestrator = createRolloutOrchestrator({ store: new MemoryRolloutStore(), fleet, dispatcher })
 * ```
 */
export class MemoryRolloutStore implements RolloutStore {
  readonly #rollouts = new Map<string, Held>();
  #seq = 0;
  #closed = false;

  async create(rollout: RolloutRecord, devices: readonly RolloutDevice[]): Promise<void> {
    this.#open();
    if (this.#rollouts.has(rollout.id)) {
      throw new OtaError('STATE', `A rollout with id "${rollout.id}" exists already`);
    }
    checkDevices(devices);
    const held: Held = {
      record: copyRecord(rollout),
      devices: [],
      byId: new Map(),
      byState: new Map(),
      tail: new Map(),
      unordered: new Set(),
      counts: emptyCounts(rollout.plan.waves.length),
      locked: new Set(),
      busy: false,
      waiting: [],
      released: [],
      createdSeq: ++this.#seq,
    };
    for (const device of devices) this.#put(held, copyDevice(device));
    this.#rollouts.set(rollout.id, held);
  }

  async rollout(id: string): Promise<RolloutRecord | undefined> {
    const held = this.#rollouts.get(id);
    return held === undefined ? undefined : copyRecord(held.record);
  }

  async rollouts(query: { states?: readonly RolloutRecord['state'][] } = {}): Promise<RolloutRecord[]> {
    return [...this.#rollouts.values()]
      .filter((held) => query.states === undefined || query.states.includes(held.record.state))
      .sort((a, b) => b.createdSeq - a.createdSeq)
      .map((held) => copyRecord(held.record));
  }

  async step<T>(
    id: string,
    options: { wait: boolean },
    work: (
      rollout: RolloutRecord,
      context: RolloutStepContext,
    ) => Promise<{ rollout: RolloutRecord | null; result: T }>,
  ): Promise<{ held: true } | { held: false; found: false } | { held: false; found: true; result: T }> {
    this.#open();
    const held = this.#rollouts.get(id);
    if (held === undefined) return { held: false, found: false };
    if (held.busy) {
      if (!options.wait) return { held: true };
      await new Promise<void>((resolve) => held.waiting.push(resolve));
    }
    held.busy = true;
    const staged = new Map<number, RolloutDevice>();
    try {
      const context: RolloutStepContext = {
        counts: async () => {
          const counts = copyCounts(held.counts);
          // What this step wrote so far counts as written.
          for (const device of staged.values()) {
            countDevice(counts, held.devices[device.position]!, -1);
            countDevice(counts, device, 1);
          }
          return counts;
        },
        claim: async (claim) => this.#claim(held, claim, staged),
        write: async (devices) => {
          for (const device of devices) {
            if (!held.locked.has(device.position)) {
              throw new StoreError(`Rollout step wrote device "${device.deviceId}" without claiming it`);
            }
            staged.set(device.position, copyDevice(device));
          }
        },
      };
      const { rollout, result } = await work(copyRecord(held.record), context);
      if (rollout !== null && rollout.revision !== held.record.revision + 1) {
        throw new StoreError(
          `Rollout "${id}" written with revision ${rollout.revision}, expected ${held.record.revision + 1}`,
        );
      }
      // All or nothing: nothing above touched the stored rows.
      for (const device of staged.values()) this.#put(held, device);
      if (rollout !== null) held.record = copyRecord(rollout);
      return { held: false, found: true, result };
    } finally {
      held.locked.clear();
      for (const release of held.released.splice(0)) release();
      // Handed straight to the next waiting step: a step arriving meanwhile must not slip in.
      const next = held.waiting.shift();
      if (next === undefined) held.busy = false;
      else next();
    }
  }

  async settle(id: string, changes: readonly RolloutDeviceChange[]): Promise<RolloutDevice[]> {
    this.#open();
    const held = this.#rollouts.get(id);
    if (held === undefined) return [];
    const holds = () =>
      changes.some(({ expected }) => {
        const position = held.byId.get(expected.deviceId);
        return position !== undefined && held.locked.has(position);
      });
    while (holds()) await new Promise<void>((resolve) => held.released.push(resolve));
    const applied: RolloutDevice[] = [];
    for (const { expected, next } of changes) {
      const position = held.byId.get(expected.deviceId);
      if (position === undefined) continue;
      const current = held.devices[position]!;
      if (current.revision !== expected.revision || next.revision !== expected.revision + 1) continue;
      this.#put(held, copyDevice({ ...next, position, wave: current.wave }));
      applied.push(copyDevice(held.devices[position]!));
    }
    return applied;
  }

  async devicesById(id: string, deviceIds: readonly string[]): Promise<Map<string, RolloutDevice>> {
    const held = this.#rollouts.get(id);
    const found = new Map<string, RolloutDevice>();
    if (held === undefined) return found;
    for (const deviceId of deviceIds) {
      const position = held.byId.get(deviceId);
      if (position !== undefined) found.set(deviceId, copyDevice(held.devices[position]!));
    }
    return found;
  }

  async devices(id: string, query: RolloutDeviceQuery = {}): Promise<RolloutDevice[]> {
    const held = this.#rollouts.get(id);
    if (held === undefined) return [];
    const states = query.state === undefined ? undefined : new Set([query.state].flat());
    const out: RolloutDevice[] = [];
    const limit = query.limit ?? Number.POSITIVE_INFINITY;
    for (let position = (query.afterPosition ?? -1) + 1; position < held.devices.length; position++) {
      if (out.length >= limit) break;
      const device = held.devices[position]!;
      if (states !== undefined && !states.has(device.state)) continue;
      if (query.wave !== undefined && device.wave !== query.wave) continue;
      out.push(copyDevice(device));
    }
    return out;
  }

  async counts(id: string): Promise<RolloutCounts> {
    const held = this.#rollouts.get(id);
    return held === undefined ? emptyCounts(0) : copyCounts(held.counts);
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #open(): void {
    if (this.#closed) throw new StoreError('The rollout store is closed');
  }

  #claim(held: Held, claim: RolloutClaim, staged: Map<number, RolloutDevice>): RolloutDevice[] {
    const positions: number[] = [];
    for (const state of new Set(claim.states)) {
      // A set in plan order (devices entered it in order): its first `limit` matches are its candidates.
      const ordered = !held.unordered.has(state);
      let found = 0;
      for (const position of held.byState.get(state) ?? []) {
        if (ordered && found >= claim.limit) break;
        if (held.locked.has(position) || staged.has(position)) continue;
        const device = held.devices[position]!;
        if (claim.maxWave !== undefined && device.wave > claim.maxWave) continue;
        if (claim.dueBy !== undefined && (device.dueAt === null || device.dueAt > claim.dueBy)) continue;
        positions.push(position);
        found += 1;
      }
    }
    positions.sort((a, b) => a - b);
    const chosen = positions.slice(0, claim.limit);
    for (const position of chosen) held.locked.add(position);
    return chosen.map((position) => copyDevice(held.devices[position]!));
  }

  #put(held: Held, device: RolloutDevice): void {
    const previous = held.devices[device.position];
    if (previous !== undefined) countDevice(held.counts, previous, -1);
    held.devices[device.position] = device;
    held.byId.set(device.deviceId, device.position);
    countDevice(held.counts, device, 1);
    if (previous?.state === device.state) return;
    if (previous !== undefined) {
      const set = held.byState.get(previous.state)!;
      set.delete(device.position);
      if (set.size === 0) {
        held.tail.delete(previous.state);
        held.unordered.delete(previous.state);
      }
    }
    let set = held.byState.get(device.state);
    if (set === undefined) {
      set = new Set();
      held.byState.set(device.state, set);
    }
    // A device entering a state behind one already in it puts the set out of plan order.
    const tail = held.tail.get(device.state) ?? -1;
    if (device.position < tail) held.unordered.add(device.state);
    else held.tail.set(device.state, device.position);
    set.add(device.position);
  }
}

/**
 * Devices as `create` takes them: positions 0…n-1 in the order given, each id once (what a
 * PostgreSQL primary key would refuse is refused here too, instead of corrupting the store).
 */
export function checkDevices(devices: readonly RolloutDevice[]): void {
  const ids = new Set<string>();
  for (const [index, device] of devices.entries()) {
    if (device.position !== index) {
      throw new ManifestError('rollout devices', [
        { path: `[${index}].position`, expected: `${index} (the order given)` },
      ]);
    }
    if (ids.has(device.deviceId)) {
      throw new ManifestError('rollout devices', [
        { path: `[${index}].deviceId`, expected: 'unique device ids' },
      ]);
    }
    ids.add(device.deviceId);
  }
}
