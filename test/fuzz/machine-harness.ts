/**
 * A device update machine wired for fuzzing: hooks that act on a simulated device and can be
 * told to fail, throw, refuse, cancel or crash at their next call; a store that can "lose power"
 * right after a write; restarts (a new machine over the same durable store); and the invariants,
 * checked on every write, every hook call, every report and after every operation.
 */
import {
  canTransition,
  createUpdateMachine,
  type DeviceUpdateMachine,
  isOtaError,
  isTerminalState,
  type JsonValue,
  type ManifestInput,
  MemoryStore,
  OtaError,
  type StateStore,
  StoreError,
  TransportError,
  UPDATE_STATES,
  type UpdateOutcome,
  type UpdateState,
  UpdateStatusSchema,
} from '../../src/index.js';
import { MachineRecordSchema, UpdateOutcomeSchema } from '../../src/machine/record.js';
import { countCase } from './runs.js';
import { describeError } from './support.js';

export const MACHINE_ID = 'fuzz-device';
export const STORE_KEY = `otakit/machine/${MACHINE_ID}`;

export const UPDATE_IDS = ['a', 'b', 'c', 'expired'] as const;
export type UpdateId = (typeof UPDATE_IDS)[number];

const VERSIONS: Record<UpdateId, string> = { a: '1.0.0', b: '2.0.0', c: '3.0.0', expired: '4.0.0' };
const NOW = Date.UTC(2026, 11, 5, 12);

function sha(id: string): string {
  return id.charCodeAt(0).toString(16).padStart(2, '0').repeat(32);
}

export function manifestOf(id: UpdateId): ManifestInput {
  return {
    id,
    version: VERSIONS[id],
    artifacts: [{ url: `https://cdn.example.test/${id}.bin`, size: 4, sha256: sha(id), target: 'firmware' }],
    ...(id === 'expired' ? { expiresAt: '2000-01-01T00:00:00Z' } : {}),
  };
}

export const HOOKS = [
  'check',
  'download',
  'verify',
  'install',
  'healthCheck',
  'commit',
  'rollback',
  'report',
] as const;
export type Hook = (typeof HOOKS)[number];

/**
 * What a hook does at its next call. `throw`: a plain Error; `retryable`: a retryable OtaError;
 * `false`: resolves false (verify, healthCheck refuse); `reboot`: install asks for a reboot;
 * `crash`: the process dies before the hook's effect; `crashAfter`: the effect happens, then the
 * process dies before the hook returns; `cancel`: `cancel()` is called while the hook runs;
 * `bad`: download returns something that is not a staged artifact list; `none`: check finds nothing.
 */
export type Fault =
  | 'throw'
  | 'fatal'
  | 'retryable'
  | 'false'
  | 'reboot'
  | 'crash'
  | 'crashAfter'
  | 'cancel'
  | 'bad'
  | 'none';

export const FAULTS_OF: Record<Hook, readonly Fault[]> = {
  check: ['throw', 'fatal', 'retryable', 'crash', 'cancel', 'none', 'bad'],
  download: ['throw', 'fatal', 'retryable', 'crash', 'cancel', 'bad'],
  verify: ['throw', 'fatal', 'false', 'crash', 'cancel'],
  install: ['throw', 'fatal', 'reboot', 'crash', 'crashAfter', 'cancel'],
  healthCheck: ['throw', 'fatal', 'false', 'crash', 'cancel'],
  commit: ['throw', 'fatal', 'retryable', 'crash', 'crashAfter', 'cancel'],
  rollback: ['throw', 'fatal', 'retryable', 'crash', 'crashAfter'],
  report: ['throw', 'fatal', 'retryable'],
};

/** The state a hook may run in (the state persisted when it is called). */
const HOOK_STATE: Record<Exclude<Hook, 'report'>, UpdateState> = {
  check: 'checking',
  download: 'downloading',
  verify: 'verifying',
  install: 'installing',
  healthCheck: 'installed',
  commit: 'installed',
  rollback: 'rolling_back',
};

/** One update, from the machine leaving idle to its return there (it may span restarts). */
interface Attempt {
  update: string | null;
  installs: number;
  restartsSinceInstall: number;
  verified: boolean;
  healthy: boolean;
  commitResolved: boolean;
}

class Crash extends Error {
  override name = 'SimulatedCrash';
}

interface RecordLike {
  state: UpdateState;
  update: { id: string; version: string | null } | null;
  current: { id: string; version: string | null } | null;
  awaitingReboot: boolean;
}

export interface HarnessOptions {
  installIsIdempotent: boolean;
  maxPersistedSteps: number;
  /** Whether the machine has a `check` hook (runOnce/check) */
  withCheck: boolean;
}

export class MachineHarness {
  readonly durable = new MemoryStore();
  readonly options: HarnessOptions;
  readonly log: string[] = [];
  /** Simulated power loss: from here on nothing is written and no hook has an effect. */
  dead = false;
  /** Writes left before the power goes (the last one completes). */
  crashAfterWrites: number | undefined;
  machine: DeviceUpdateMachine;
  generation = 0;
  readonly faults = new Map<Hook, Fault[]>();
  /** What `check` finds next. */
  checkResult: UpdateId | null = null;
  /** The update the device runs, and what a rollback restores. */
  active: string | null = null;
  backup: string | null | undefined;
  /** A rollback failed or the machine gave up mid-install: the device may hold a mix. */
  mixed = false;
  #persisted: RecordLike | undefined;
  #attempt: Attempt | null = null;
  #pendingCancel: Promise<boolean> | undefined;
  readonly #store: StateStore;

  constructor(options: HarnessOptions) {
    this.options = options;
    this.#store = {
      get: async (key) => {
        if (this.dead) throw new StoreError('power lost');
        return this.durable.get(key);
      },
      put: async (key, value) => {
        if (this.dead) throw new StoreError('power lost');
        this.#onWrite(value);
        await this.durable.put(key, value);
        if (this.crashAfterWrites !== undefined && --this.crashAfterWrites <= 0) this.#die('after a write');
      },
      delete: async (key) => {
        if (this.dead) throw new StoreError('power lost');
        await this.durable.delete(key);
      },
    };
    this.machine = this.#build();
  }

  violation(message: string): never {
    throw new Error(`invariant broken: ${message}\nlog:\n  ${this.log.slice(-60).join('\n  ')}`);
  }

  #die(where: string): void {
    this.dead = true;
    this.crashAfterWrites = undefined;
    countCase('  (power losses)');
    this.log.push(`power lost ${where}`);
  }

  /** A new process: the old machine is gone, a new one reads the same durable store. */
  restart(): void {
    this.machine.dispose();
    this.dead = false;
    this.crashAfterWrites = undefined;
    this.generation += 1;
    if (this.#attempt !== null) this.#attempt.restartsSinceInstall += 1;
    this.machine = this.#build();
    this.log.push(`restart #${this.generation}`);
  }

  #onWrite(value: JsonValue): void {
    const parsed = MachineRecordSchema.safeParse(value);
    if (!parsed.success)
      this.violation(`persisted record does not parse: ${parsed.error.message.slice(0, 500)}`);
    const record = parsed.data;
    const from = this.#persisted?.state ?? 'idle';
    const to = record.state;
    if (!UPDATE_STATES.includes(to)) this.violation(`unknown state ${to}`);
    if (from !== to && !canTransition(from, to))
      this.violation(`persisted ${from} -> ${to}, not in the transition table`);
    if (from === 'idle' && to !== 'idle') {
      this.#attempt = {
        update: record.update?.id ?? null,
        installs: 0,
        restartsSinceInstall: 0,
        verified: false,
        healthy: false,
        commitResolved: false,
      };
    }
    const attempt = this.#attempt;
    if (attempt !== null && record.update !== null) attempt.update = record.update.id;
    if (to === 'committed' && from !== 'committed') {
      if (attempt === null || !attempt.commitResolved || attempt.update !== record.update?.id) {
        this.violation(`committed persisted for ${record.update?.id} before its commit hook resolved`);
      }
    }
    if (to === 'install_failed') this.mixed = true;
    // The old version is kept (for a rollback) until the machine has recorded the commit.
    if (to === 'committed') this.backup = undefined;
    if (to === 'idle') this.#attempt = null;
    if (from !== to && (isTerminalState(to) || to === 'rolling_back')) countCase(`  (writes entering ${to})`);
    this.log.push(
      `persist ${from} -> ${to} (update ${record.update?.id ?? '-'}, current ${record.current?.id ?? '-'})`,
    );
    this.#persisted = record;
  }

  #nextFault(hook: Hook): Fault | undefined {
    return this.faults.get(hook)?.shift();
  }

  /** Common to every hook call: the machine calling is the live one, in the hook's state. */
  #enterHook(hook: Exclude<Hook, 'report'>, generation: number, updateId: string | null): void {
    this.log.push(`hook ${hook} (${updateId ?? '-'})`);
    if (generation !== this.generation) this.violation(`${hook} hook of a disposed machine ran`);
    const state = this.#persisted?.state ?? 'idle';
    if (state !== HOOK_STATE[hook]) {
      this.violation(`${hook} hook ran with the persisted state ${state} (expected ${HOOK_STATE[hook]})`);
    }
    if (hook !== 'check' && (this.#attempt === null || this.#attempt.update !== updateId)) {
      this.violation(
        `${hook} hook for ${updateId} outside an update of it (attempt ${JSON.stringify(this.#attempt)})`,
      );
    }
  }

  /** Applies a fault that ends the hook now; returns the fault for the hook to handle the rest. */
  #fault(hook: Hook, signal: AbortSignal): Fault | undefined {
    const fault = this.#nextFault(hook);
    if (fault === undefined) return undefined;
    this.log.push(`  fault ${hook}: ${fault}`);
    switch (fault) {
      case 'throw':
        throw new Error(`${hook} failed (injected)`);
      case 'fatal':
        throw new OtaError('INSTALL', `${hook} failed for good (injected)`);
      case 'retryable':
        throw new TransportError(`${hook} failed, retryable (injected)`);
      case 'crash':
        this.#die(`in ${hook}`);
        throw new Crash(`${hook}: power lost`);
      case 'cancel': {
        this.#pendingCancel = this.machine.cancel(`canceled during ${hook}`);
        if (signal.aborted) throw signal.reason;
        throw new Error(`${hook}: cancel did not abort the hook's signal`);
      }
      default:
        return fault;
    }
  }

  #build(): DeviceUpdateMachine {
    const generation = this.generation;
    let clock = NOW;
    const hooks = {
      check: async ({ signal }: { signal: AbortSignal }) => {
        this.#enterHook('check', generation, null);
        const fault = this.#fault('check', signal);
        if (fault === 'none') return null;
        if (fault === 'bad') return { id: '', artifacts: 'nothing' } as never;
        return this.checkResult === null ? null : manifestOf(this.checkResult);
      },
      download: async (context: {
        signal: AbortSignal;
        manifest: { id: string };
        saveCheckpoint: (data: JsonValue) => Promise<void>;
        onProgress: (progress: { bytes: number; total?: number | null }) => void;
      }) => {
        const id = context.manifest.id;
        this.#enterHook('download', generation, id);
        const fault = this.#fault('download', context.signal);
        if (this.dead) throw new Crash('dead');
        await context.saveCheckpoint({ bytes: 2 });
        context.onProgress({ bytes: 4, total: 4 });
        if (fault === 'bad') return [{ location: '', size: -1 }] as never;
        return [{ location: `/staged/${id}`, size: 4, sha256: sha(id) }];
      },
      verify: async ({ signal, manifest }: { signal: AbortSignal; manifest: { id: string } }) => {
        this.#enterHook('verify', generation, manifest.id);
        const fault = this.#fault('verify', signal);
        if (fault === 'false') return false;
        this.#attempt!.verified = true;
        return true;
      },
      install: async ({
        signal,
        manifest,
      }: {
        signal: AbortSignal;
        manifest: { id: string; version: string };
      }) => {
        const id = manifest.id;
        this.#enterHook('install', generation, id);
        const attempt = this.#attempt!;
        if (!attempt.verified) this.violation(`install of ${id} before its verify resolved true`);
        const current = this.#persisted?.current;
        if (current?.id === id && current.version === manifest.version) {
          this.violation(`install of ${id} while it is the committed update`);
        }
        const fault = this.#fault('install', signal);
        // The effect: the device now runs the new update.
        if (this.backup === undefined) this.backup = this.active;
        this.active = id;
        if (fault === 'crashAfter') {
          this.#die('after install');
          throw new Crash('install done, power lost');
        }
        attempt.installs += 1;
        if (attempt.installs > 1) countCase('  (idempotent installs re-run after a restart)');
        if (attempt.installs > 1 && !(this.options.installIsIdempotent && attempt.restartsSinceInstall > 0)) {
          this.violation(`update ${id} installed successfully ${attempt.installs} times in one update`);
        }
        attempt.restartsSinceInstall = 0;
        attempt.healthy = false;
        return fault === 'reboot' ? { reboot: true } : undefined;
      },
      healthCheck: async ({ signal, manifest }: { signal: AbortSignal; manifest: { id: string } }) => {
        this.#enterHook('healthCheck', generation, manifest.id);
        const attempt = this.#attempt!;
        const fault = this.#fault('healthCheck', signal);
        if (fault === 'false') return false;
        attempt.healthy = true;
        return true;
      },
      commit: async ({ signal, manifest }: { signal: AbortSignal; manifest: { id: string } }) => {
        this.#enterHook('commit', generation, manifest.id);
        const attempt = this.#attempt!;
        if (attempt.installs < 1)
          this.violation(`commit of ${manifest.id} with no completed install in this update`);
        if (!attempt.healthy) this.violation(`commit of ${manifest.id} without a passed health check`);
        const fault = this.#fault('commit', signal);
        if (fault === 'crashAfter') {
          this.#die('after commit');
          throw new Crash('commit done, power lost');
        }
        attempt.commitResolved = true;
      },
      rollback: async ({ signal, manifest }: { signal: AbortSignal; manifest: { id: string } }) => {
        this.#enterHook('rollback', generation, manifest.id);
        const fault = this.#fault('rollback', signal);
        if (this.backup !== undefined) this.active = this.backup;
        this.backup = undefined;
        const attempt = this.#attempt!;
        attempt.installs = 0;
        attempt.healthy = false;
        if (fault === 'crashAfter') {
          this.#die('after rollback');
          throw new Crash('rollback done, power lost');
        }
      },
      report: async ({ signal, status }: { signal: AbortSignal; status: unknown }) => {
        if (this.dead) throw new Crash('dead');
        if (generation !== this.generation) this.violation('report hook of a disposed machine ran');
        const parsed = UpdateStatusSchema.safeParse(status);
        if (!parsed.success) this.violation(`reported status does not validate: ${JSON.stringify(status)}`);
        const reported = parsed.data;
        this.log.push(`report ${reported.state} (${reported.updateId ?? '-'})`);
        const persisted = this.#persisted?.state ?? 'idle';
        if (reported.state !== persisted)
          this.violation(`reported ${reported.state} while ${persisted} is persisted`);
        if (reported.state === 'committed') {
          const attempt = this.#attempt;
          if (attempt === null || !attempt.commitResolved || attempt.update !== reported.updateId) {
            this.violation(`success reported for ${reported.updateId} before its commit hook resolved`);
          }
        }
        this.#fault('report', signal);
      },
    };
    if (!this.options.withCheck) delete (hooks as { check?: unknown }).check;
    const retry = Object.fromEntries(HOOKS.map((hook) => [hook, { baseDelayMs: 0, maxDelayMs: 0 }]));
    const machine = createUpdateMachine({
      id: MACHINE_ID,
      store: this.#store,
      // Time moves on by a millisecond a call; timers never fire (no hook hangs), zero delays need none.
      clock: { now: () => clock++, setTimeout: () => 0, clearTimeout: () => {} },
      hooks: hooks as never,
      retry,
      random: () => 0.5,
      installIsIdempotent: this.options.installIsIdempotent,
      maxPersistedSteps: this.options.maxPersistedSteps,
      progressIntervalMs: 0,
    });
    machine.on('transition', (event) => {
      if (!UPDATE_STATES.includes(event.to)) this.violation(`transition event to unknown state ${event.to}`);
      if (!event.resumed && !canTransition(event.from, event.to)) {
        this.violation(`transition event ${event.from} -> ${event.to} not in the table`);
      }
    });
    return machine;
  }

  /** Runs one operation and checks what it returned, what it threw, and the invariants after it. */
  operate(name: string, operation: () => Promise<UpdateOutcome | boolean>): Promise<void> {
    return this.operateTogether([[name, operation]]);
  }

  /**
   * Starts the operations at once (all but one are refused as busy, or join the running one, as
   * `cancel()` does), then checks each answer and the invariants once all have settled.
   */
  async operateTogether(operations: [string, () => Promise<UpdateOutcome | boolean>][]): Promise<void> {
    const name = operations.map(([label]) => label).join(' + ');
    this.log.push(`> ${name}`);
    const before = this.#persisted?.state ?? 'idle';
    let resolved = false;
    const settledAll = await Promise.allSettled(operations.map(([, operation]) => operation()));
    for (const [index, settled] of settledAll.entries()) {
      const label = operations[index]![0];
      if (settled.status === 'fulfilled') {
        const result = settled.value;
        if (typeof result === 'boolean') {
          // cancel(): true once it settled an update, false when there was none (nothing changed).
          if (result) resolved = true;
          this.log.push(`  = ${label}: ${result}`);
          continue;
        }
        resolved = true;
        const parsed = UpdateOutcomeSchema.safeParse(result);
        if (!parsed.success)
          this.violation(`${label} resolved an outcome that does not validate: ${JSON.stringify(result)}`);
        this.log.push(
          `  = ${label}: ${result.state}${result.rebootRequired ? ' (reboot)' : ''}${result.ignored ? ` (${result.ignored})` : ''}`,
        );
      } else {
        const error: unknown = settled.reason;
        if (!isOtaError(error)) this.violation(`${label} threw ${describeError(error)}, not an OtaError`);
        if (error.message.trim() === '') this.violation(`${label} threw ${error.code} with an empty message`);
        if (error.code === 'STORE' && !this.dead)
          this.violation(`${label} threw STORE without a store failure: ${error.message}`);
        this.log.push(`  ! ${label}: ${error.code}: ${error.message.slice(0, 120)}`);
      }
    }
    if (this.#pendingCancel !== undefined) {
      const cancel = this.#pendingCancel;
      this.#pendingCancel = undefined;
      try {
        await cancel;
      } catch (error) {
        if (!isOtaError(error)) this.violation(`cancel() threw ${describeError(error)}`);
      }
    }
    if (this.machine.busy) this.violation(`${name} settled but the machine is still busy`);
    if (this.dead) return;
    const record = MachineRecordSchema.safeParse(await this.durable.get(STORE_KEY));
    const stored = record.success ? record.data : undefined;
    if (stored === undefined) {
      if ((await this.durable.get(STORE_KEY)) !== undefined) this.violation('stored record does not parse');
      return;
    }
    const state = stored.state;
    if (resolved) {
      const settled =
        state === 'idle' || state === 'available' || (state === 'installed' && stored.awaitingReboot);
      if (!settled) this.violation(`${name} resolved and left the machine in ${state}`);
    }
    // Refused operations (wrong state, busy, invalid manifest) change nothing.
    if (!resolved && before !== state)
      this.violation(`${name} was refused but moved the machine from ${before} to ${state}`);
    if (this.machine.snapshot().state !== state) {
      this.violation(`snapshot says ${this.machine.snapshot().state}, store says ${state}`);
    }
    if (state === 'idle' && !this.mixed) {
      // An ended update leaves the device running the committed update, or what it ran before.
      const runs = stored.current?.id ?? null;
      if (this.active !== runs)
        this.violation(
          `idle with current ${runs ?? 'none'} but the device runs ${this.active ?? 'nothing new'}`,
        );
    }
  }
}
