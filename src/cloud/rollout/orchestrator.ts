/**
 * The rollout orchestrator: runs staged rollouts over any publisher, on a {@link RolloutStore}
 * several instances may share. Each instance runs rounds (see `round.ts`) for the rollouts it
 * knows, learns outcomes from its {@link Fleet} (the statuses it ingests, e.g. its share of an
 * MQTT 5 shared subscription) and settles them with compare-and-set. Whatever one instance
 * started, another finishes: the store holds every decision, claims expire, timeouts are
 * rechecked against the fleet.
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { type Clock, systemClock, type TimerHandle } from '../../core/clock.js';
import { OtaError, toOtaError } from '../../core/errors.js';
import { type Logger, noopLogger } from '../../core/logger.js';
import { FAILURE_STATES, type UpdateState } from '../../core/states.js';
import type { FleetTransitionEvent } from '../fleet/events.js';
import type { Fleet } from '../fleet/fleet.js';
import type { RolloutDispatcher } from './dispatcher.js';
import type { RolloutEvents } from './events.js';
import { afterOutcome, type DeviceOutcome, isUpdateOf, type UpdateKind } from './outcome.js';
import { type NormalizedRolloutPlan, normalizePlan, type RolloutPlanInput } from './plan.js';
import { type FleetView, type RoundEvents, type RoundResult, runRound } from './round.js';
import { type RolloutSnapshot, rolloutSnapshot } from './snapshot.js';
import type { RolloutDeviceChange, RolloutDeviceQuery, RolloutStore } from './store.js';
import { baselineOf } from './thresholds.js';
import { FINAL_ROLLOUT_STATES, type RolloutDevice, type RolloutRecord, type RolloutState } from './types.js';

export interface RolloutOrchestratorOptions {
  /** Where rollouts live; instances sharing one store share its rollouts. */
  store: RolloutStore;
  /** Where device statuses arrive: its `transition` events settle devices. */
  fleet: Fleet;
  /** Sends the orders. */
  dispatcher: RolloutDispatcher;
  /** @default systemClock */
  clock?: Clock;
  /** @default noopLogger */
  logger?: Logger;
  /** Names this instance in claims. @default a random id */
  instanceId?: string;
  /** Longest wait between rounds (another instance's progress is seen at this pace). @default 1 000 */
  pollMs?: number;
  /** How long a claim to send an order holds before another instance re-sends it. @default 60 000 */
  leaseMs?: number;
  /** Orders sent at once. @default 64 */
  dispatchConcurrency?: number;
  /** Devices handled per round at most. @default 2 000 */
  roundSize?: number;
  /** How often `run()` looks for rollouts other instances created. @default 5 × pollMs */
  discoverMs?: number;
  /** Outcomes are gathered this long and settled in one write. @default 5 */
  settleDelayMs?: number;
}

export interface CancelOptions {
  /** Shown as the reason. */
  message?: string;
  /** Withdraw the orders of devices still under way (with a dispatcher that can). @default false */
  withdraw?: boolean;
}

/** A rollout's rounds in this instance. */
interface Runner {
  timer: TimerHandle | undefined;
  timerAt: number;
  running: boolean;
  again: boolean;
  done: boolean;
}

const ACTIVE_STATES: readonly RolloutState[] = ['scheduled', 'running', 'paused', 'rolling_back'];
const STOPPED_STATES: readonly RolloutState[] = ['aborted', 'cancelled'];
const randomId = () => `instance-${Math.random().toString(36).slice(2, 10)}`;

function whole(value: number | undefined, fallback: number, name: string, minimum = 1): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < minimum) {
    throw new OtaError(
      'CONFIG',
      `Rollout orchestrator option "${name}" must be an integer of at least ${minimum}`,
    );
  }
  return value;
}

/**
 * Runs staged rollouts: waves, pacing, thresholds, timeouts, retries, maintenance windows,
 * pause / resume / cancel, all persisted in its store.
 *
 * @example
 * ```ts
 * const orchestrator = createRolloutOrchestrator({ store: new MemoryRolloutStore(), fleet, dispatcher })
 * orchestrator.on('state', ({ to }) => console.log('rollout', to))
 * await orchestrator.start({ id: 'fw-2', manifest, devices, waves: [{ count: 1 }, { percent: 25 }, { percent: 100 }] })
 * await orchestrator.waitFor('fw-2')
 * ```
 */
export class RolloutOrchestrator extends EventEmitter<RolloutEvents> {
  readonly store: RolloutStore;
  readonly fleet: Fleet;
  readonly instanceId: string;
  readonly #dispatcher: RolloutDispatcher;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #pollMs: number;
  readonly #leaseMs: number;
  readonly #concurrency: number;
  readonly #roundSize: number;
  readonly #discoverMs: number;
  readonly #settleDelayMs: number;
  readonly #runners = new Map<string, Runner>();
  /** Stopped rollouts this instance saw through to their last device: not followed again. */
  readonly #settled = new Set<string>();
  /** Plans of the rollouts this instance follows, for matching fleet transitions. */
  readonly #plans = new Map<string, NormalizedRolloutPlan>();
  readonly #outcomes = new Map<string, Map<string, Array<{ outcome: DeviceOutcome; tries: number }>>>();
  #flushTimer: TimerHandle | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #discoverTimer: TimerHandle | undefined;
  #sending = new Set<Promise<void>>();
  #lifetime = new AbortController();
  #running = false;
  readonly #onTransition = (event: FleetTransitionEvent) => this.#observe(event);

  constructor(options: RolloutOrchestratorOptions) {
    super();
    this.store = options.store;
    this.fleet = options.fleet;
    this.#dispatcher = options.dispatcher;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? noopLogger;
    this.instanceId = options.instanceId ?? randomId();
    this.#pollMs = whole(options.pollMs, 1_000, 'pollMs');
    this.#leaseMs = whole(options.leaseMs, 60_000, 'leaseMs');
    this.#concurrency = whole(options.dispatchConcurrency, 64, 'dispatchConcurrency');
    this.#roundSize = whole(options.roundSize, 2_000, 'roundSize');
    this.#discoverMs = whole(options.discoverMs, this.#pollMs * 5, 'discoverMs');
    this.#settleDelayMs = whole(options.settleDelayMs, 5, 'settleDelayMs', 0);
  }

  /**
   * Follows every active rollout of the store (those another instance or an earlier run of this
   * service started) and, from now on, those created later. Idempotent.
   */
  async run(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#lifetime = new AbortController();
    this.fleet.on('transition', this.#onTransition);
    await this.#discover();
  }

  /**
   * Creates a rollout from `plan` and runs it (calls `run()` if needed).
   * @throws ManifestError naming each wrong field of the plan (nothing is stored).
   * @throws OtaError `STATE` when a rollout with this id exists.
   */
  async start(plan: RolloutPlanInput): Promise<RolloutSnapshot> {
    const { plan: normalized, devices } = normalizePlan(plan);
    const now = this.#clock.now();
    const at = new Date(now).toISOString();
    const record: RolloutRecord = {
      format: 'otakit.rollout/1',
      id: normalized.id,
      plan: normalized,
      state: 'scheduled',
      wave: 0,
      waveStartedAt: null,
      waveSettledAt: null,
      tokens: 0,
      refilledAt: null,
      reason: null,
      baseline: null,
      createdAt: at,
      updatedAt: at,
      finishedAt: null,
      revision: 1,
    };
    const rows: RolloutDevice[] = [];
    let position = 0;
    for (const [wave, { size }] of normalized.waves.entries()) {
      for (let index = 0; index < size; index++, position++) {
        rows.push({
          deviceId: devices[position]!,
          wave,
          position,
          state: 'pending',
          attempts: 0,
          owner: null,
          dueAt: null,
          failure: null,
          error: null,
          updatedAt: now,
          revision: 1,
        });
      }
    }
    await this.store.create(record, rows);
    this.#logger.info('otakit rollout created', { rollout: record.id, devices: rows.length });
    await this.run();
    this.#follow(record);
    return this.snapshot(record.id);
  }

  /** Stops ordering new devices; devices already ordered still settle. */
  pause(id: string, message = 'paused by an operator'): Promise<RolloutSnapshot> {
    return this.#command(id, (record) =>
      record.state === 'running' || record.state === 'scheduled' ? { to: 'paused', message } : null,
    );
  }

  /** Resumes a paused rollout (paused by an operator or a threshold: the threshold is checked again). */
  resume(id: string): Promise<RolloutSnapshot> {
    return this.#command(id, (record) =>
      record.state === 'paused' ? { to: 'running', message: null } : null,
    );
  }

  /** Cancels: nobody new is ordered, waiting devices are skipped. */
  async cancel(id: string, options: CancelOptions = {}): Promise<RolloutSnapshot> {
    const snapshot = await this.#command(id, (record) =>
      FINAL_ROLLOUT_STATES.includes(record.state)
        ? null
        : { to: 'cancelled', message: options.message ?? 'cancelled by an operator' },
    );
    const withdraw = this.#dispatcher.withdraw?.bind(this.#dispatcher);
    if (options.withdraw && withdraw !== undefined) {
      const underWay = await this.store.devices(id, { state: ['dispatching', 'in_progress'] });
      await this.#pool(underWay, async (device) => {
        await withdraw(device.deviceId, { rolloutId: id, signal: this.#lifetime.signal }).catch(
          (error: unknown) => this.#failed('withdraw', error),
        );
      });
    }
    return snapshot;
  }

  /** The rollout as a dashboard draws it; `undefined` when no rollout has the id. */
  async snapshot(id: string): Promise<RolloutSnapshot>;
  async snapshot(id: string): Promise<RolloutSnapshot | undefined> {
    const [record, counts] = await Promise.all([this.store.rollout(id), this.store.counts(id)]);
    if (record === undefined) return undefined;
    return rolloutSnapshot(record, counts, this.#clock.now());
  }

  /** Every rollout of the store, newest first (optionally only in `states`). */
  async list(states?: readonly RolloutState[]): Promise<RolloutSnapshot[]> {
    const records = await this.store.rollouts(states === undefined ? {} : { states });
    return Promise.all(
      records.map(async (record) =>
        rolloutSnapshot(record, await this.store.counts(record.id), this.#clock.now()),
      ),
    );
  }

  /** A rollout's devices, in plan order. */
  devices(id: string, query?: RolloutDeviceQuery): Promise<RolloutDevice[]> {
    return this.store.devices(id, query);
  }

  /**
   * Resolves with the snapshot once the rollout is in one of `states` (by default any final one)
   * and, for a final state, no device is still under way. Checks at every change this instance
   * makes and every `pollMs` (changes made by other instances).
   */
  async waitFor(
    id: string,
    states: readonly RolloutState[] = FINAL_ROLLOUT_STATES,
    options: { signal?: AbortSignal } = {},
  ): Promise<RolloutSnapshot> {
    for (;;) {
      options.signal?.throwIfAborted();
      const snapshot = await this.snapshot(id);
      if (snapshot === undefined) throw new OtaError('STATE', `No rollout has the id "${id}"`);
      const underWay =
        snapshot.totals.pending +
        snapshot.totals.dispatching +
        snapshot.totals.in_progress +
        snapshot.totals.retry_wait +
        snapshot.totals.rolling_back;
      const final = FINAL_ROLLOUT_STATES.includes(snapshot.state);
      if (states.includes(snapshot.state) && (!final || underWay === 0)) return snapshot;
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#clock.clearTimeout(timer);
          this.off('state', done);
          this.off('device', done);
          options.signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = this.#clock.setTimeout(done, this.#pollMs);
        this.once('state', done);
        this.once('device', done);
        options.signal?.addEventListener('abort', done, { once: true });
      });
    }
  }

  /**
   * Stops this instance: no more rounds; orders being sent finish, outcomes gathered are settled.
   * The rollouts stay in the store for the other instances (or the next run).
   */
  async close(): Promise<void> {
    this.#running = false;
    this.fleet.off('transition', this.#onTransition);
    if (this.#discoverTimer !== undefined) this.#clock.clearTimeout(this.#discoverTimer);
    for (const runner of this.#runners.values()) {
      runner.done = true;
      if (runner.timer !== undefined) this.#clock.clearTimeout(runner.timer);
    }
    this.#runners.clear();
    // Orders being sent are cut short: their devices stay claimed, and the lease hands them to
    // whichever instance runs the rollout next (a device ignores an order it already has).
    this.#lifetime.abort(new OtaError('ABORTED', 'The rollout orchestrator closed'));
    await Promise.allSettled([...this.#sending]);
    await this.#flush();
  }

  // --- Rounds ---------------------------------------------------------------------------------

  async #discover(): Promise<void> {
    if (!this.#running) return;
    try {
      for (const record of await this.store.rollouts({ states: ACTIVE_STATES })) this.#follow(record);
      // A rollout cancelled or aborted lately may still have devices under way: their outcomes
      // and timeouts still settle them, whichever instance (or restart) is left to see them.
      const now = this.#clock.now();
      for (const record of await this.store.rollouts({ states: STOPPED_STATES })) {
        const finished = record.finishedAt === null ? now : Date.parse(record.finishedAt);
        const recent = now - finished <= record.plan.deviceTimeoutMs + this.#leaseMs;
        if (recent && !this.#runners.has(record.id) && !this.#settled.has(record.id)) {
          this.#follow(record);
        }
      }
    } catch (error) {
      this.#failed('discover', error);
    }
    if (this.#running)
      this.#discoverTimer = this.#clock.setTimeout(() => void this.#discover(), this.#discoverMs);
  }

  #follow(record: RolloutRecord): void {
    this.#plans.set(record.id, record.plan);
    if (!this.#runners.has(record.id)) {
      this.#runners.set(record.id, {
        timer: undefined,
        timerAt: 0,
        running: false,
        again: false,
        done: false,
      });
    }
    this.#kick(record.id, 0);
  }

  /** Runs a round of `id` in `delay` ms (sooner if one is already planned sooner). */
  #kick(id: string, delay: number): void {
    const runner = this.#runners.get(id);
    if (runner === undefined || runner.done || !this.#running) return;
    if (runner.running) {
      if (delay === 0) runner.again = true;
      else this.#plan(runner, id, delay);
      return;
    }
    this.#plan(runner, id, delay);
  }

  #plan(runner: Runner, id: string, delay: number): void {
    const at = this.#clock.now() + delay;
    if (runner.timer !== undefined) {
      if (runner.timerAt <= at) return;
      this.#clock.clearTimeout(runner.timer);
    }
    runner.timerAt = at;
    runner.timer = this.#clock.setTimeout(() => {
      runner.timer = undefined;
      void this.#round(id, runner);
    }, delay);
  }

  async #round(id: string, runner: Runner): Promise<void> {
    if (runner.done || runner.running) return;
    runner.running = true;
    runner.again = false;
    let next: number | null = this.#pollMs;
    try {
      const now = this.#clock.now();
      const outcome = await this.store.step(id, { wait: false }, async (record, context) => {
        this.#plans.set(id, record.plan);
        const result = await runRound({
          rollout: record,
          context,
          now,
          instanceId: this.instanceId,
          leaseMs: this.#leaseMs,
          pollMs: this.#pollMs,
          chunk: this.#roundSize,
          fleetView: (deviceIds) => this.#fleetView(deviceIds),
        });
        return { rollout: result.rollout, result };
      });
      if ('result' in outcome) {
        const result: RoundResult = outcome.result;
        this.#emitRound(result.events);
        if (result.dispatch.length > 0) this.#send(id, result.dispatch);
        next = result.wakeAt === null ? null : Math.max(0, result.wakeAt - this.#clock.now());
      } else if (!outcome.held) {
        next = null; // the rollout is gone from the store
      }
    } catch (error) {
      this.#failed('round', error);
    } finally {
      runner.running = false;
    }
    if (next === null) {
      runner.done = true;
      this.#runners.delete(id);
      this.#settled.add(id);
      return;
    }
    this.#kick(id, runner.again ? 0 : next);
  }

  async #command(
    id: string,
    decide: (record: RolloutRecord) => { to: RolloutState; message: string | null } | null,
  ): Promise<RolloutSnapshot> {
    const outcome = await this.store.step(id, { wait: true }, async (record, context) => {
      const change = decide(record);
      if (change === null) return { rollout: null, result: null };
      const at = new Date(this.#clock.now()).toISOString();
      const resumedFromThreshold = change.to === 'running' && record.reason?.kind === 'threshold';
      const next: RolloutRecord = {
        ...structuredClone(record),
        baseline: resumedFromThreshold ? baselineOf(await context.counts(), record.wave) : record.baseline,
        state: change.to,
        reason: change.message === null ? null : { kind: 'operator', message: change.message, at },
        updatedAt: at,
        finishedAt: FINAL_ROLLOUT_STATES.includes(change.to) ? at : record.finishedAt,
        revision: record.revision + 1,
      };
      return { rollout: next, result: { from: record.state, record: next } };
    });
    if (!('result' in outcome)) throw new OtaError('STATE', `No rollout has the id "${id}"`);
    if (outcome.result !== null) {
      const { from, record } = outcome.result;
      this.#emit('state', {
        rolloutId: id,
        from,
        to: record.state,
        reason: record.reason,
        at: record.updatedAt,
      });
      this.#follow(record);
    }
    return this.snapshot(id);
  }

  // --- Orders ---------------------------------------------------------------------------------

  #send(id: string, orders: RoundResult['dispatch']): void {
    const sending = this.#pool(orders, async ({ device, manifest }) => {
      try {
        await this.#dispatcher.dispatch(device.deviceId, manifest, {
          rolloutId: id,
          signal: this.#lifetime.signal,
        });
        if (device.state === 'dispatching')
          this.#enqueue(id, device.deviceId, { kind: 'dispatched', attempt: device.attempts });
      } catch (thrown) {
        if (this.#lifetime.signal.aborted) return;
        const error = toOtaError(thrown, 'TRANSPORT');
        this.#logger.warn('otakit rollout: order not sent', {
          rollout: id,
          device: device.deviceId,
          code: error.code,
        });
        this.#enqueue(id, device.deviceId, {
          kind: 'failed',
          of: device.state === 'rolling_back' ? 'rollback' : 'update',
          failure: 'dispatch_failed',
          error: { code: error.code, message: error.message },
        });
      }
    });
    this.#sending.add(sending);
    void sending.finally(() => this.#sending.delete(sending));
  }

  async #pool<T>(items: readonly T[], work: (item: T) => Promise<void>): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < items.length) await work(items[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, items.length) }, worker));
  }

  // --- Outcomes -------------------------------------------------------------------------------

  #observe(event: FleetTransitionEvent): void {
    const committed = event.to === 'committed';
    if (!committed && !(FAILURE_STATES as readonly UpdateState[]).includes(event.to)) return;
    const error = event.error === null ? null : { code: event.error.code, message: event.error.message };
    const outcome = (of: UpdateKind | 'unknown'): DeviceOutcome =>
      committed
        ? { kind: 'succeeded', of: of === 'unknown' ? 'update' : of }
        : { kind: 'failed', of, failure: event.to as (typeof FAILURE_STATES)[number], error };
    for (const [id, plan] of this.#plans) {
      if (event.update === null) {
        // Some platforms name no update in a failure (ThingsBoard's FAILED): it is about the
        // order under way, if the device has one of this rollout (a row not waiting ignores it).
        if (!committed) this.#enqueue(id, event.deviceId, outcome('unknown'));
        continue;
      }
      if (isUpdateOf(plan, event.update, false)) this.#enqueue(id, event.deviceId, outcome('update'));
      if (isUpdateOf(plan, event.update, true)) this.#enqueue(id, event.deviceId, outcome('rollback'));
    }
  }

  #enqueue(id: string, deviceId: string, outcome: DeviceOutcome, tries = 0): void {
    let perRollout = this.#outcomes.get(id);
    if (perRollout === undefined) {
      perRollout = new Map();
      this.#outcomes.set(id, perRollout);
    }
    const list = perRollout.get(deviceId);
    if (list === undefined) perRollout.set(deviceId, [{ outcome, tries }]);
    else list.push({ outcome, tries });
    if (this.#flushTimer === undefined) {
      this.#flushTimer = this.#clock.setTimeout(() => {
        this.#flushTimer = undefined;
        void this.#flush();
      }, this.#settleDelayMs);
    }
  }

  /** Settles what was gathered: one read and one compare-and-set write per rollout. */
  #flush(): Promise<void> {
    this.#flushing = this.#flushing.then(async () => {
      const batches = [...this.#outcomes];
      this.#outcomes.clear();
      for (const [id, perDevice] of batches) {
        try {
          await this.#settle(id, perDevice);
        } catch (error) {
          this.#failed('settle', error);
          // Keep them: the next flush tries again.
          for (const [deviceId, list] of perDevice)
            for (const item of list) this.#enqueue(id, deviceId, item.outcome, item.tries + 1);
        }
      }
    });
    return this.#flushing;
  }

  async #settle(
    id: string,
    perDevice: Map<string, Array<{ outcome: DeviceOutcome; tries: number }>>,
  ): Promise<void> {
    const plan = this.#plans.get(id);
    if (plan === undefined) return;
    const rows = await this.store.devicesById(id, [...perDevice.keys()]);
    const now = this.#clock.now();
    const changes: RolloutDeviceChange[] = [];
    for (const [deviceId, list] of perDevice) {
      const expected = rows.get(deviceId);
      if (expected === undefined) continue;
      let current = expected;
      for (const { outcome } of list) current = afterOutcome(current, outcome, plan, now) ?? current;
      if (current !== expected)
        changes.push({ expected, next: { ...current, revision: expected.revision + 1 } });
    }
    if (changes.length === 0) return;
    const applied = await this.store.settle(id, changes);
    const appliedIds = new Set(applied.map((device) => device.deviceId));
    for (const change of changes) {
      const deviceId = change.expected.deviceId;
      if (appliedIds.has(deviceId)) {
        this.#emit('device', {
          rolloutId: id,
          deviceId,
          from: change.expected.state,
          to: change.next.state,
          device: change.next,
        });
        continue;
      }
      // Another writer moved the row (a round holding it, another instance): read it again.
      for (const item of perDevice.get(deviceId) ?? []) {
        if (item.tries < 20) this.#enqueue(id, deviceId, item.outcome, item.tries + 1);
      }
    }
    if (applied.length > 0) this.#kick(id, 0);
  }

  async #fleetView(deviceIds: readonly string[]): Promise<Map<string, FleetView>> {
    const views = new Map<string, FleetView>();
    const devices = await Promise.all(deviceIds.map((deviceId) => this.fleet.device(deviceId)));
    for (const device of devices) {
      if (device === undefined) continue;
      views.set(device.deviceId, {
        state: device.state,
        update: device.update,
        error: device.lastError ?? null,
      });
    }
    return views;
  }

  // --- Events ---------------------------------------------------------------------------------

  #emitRound(events: RoundEvents): void {
    for (const event of events.threshold) this.#emit('threshold', event);
    for (const event of events.state) this.#emit('state', event);
    for (const event of events.wave) this.#emit('wave', event);
    if (this.listenerCount('device') > 0) for (const event of events.device) this.#emit('device', event);
  }

  #failed(what: string, error: unknown): void {
    const failure = toOtaError(error, 'STORE', true);
    this.#logger.warn(`otakit rollout: ${what} failed`, { code: failure.code, message: failure.message });
    if (this.listenerCount('error') > 0) this.emit('error', failure);
  }

  /** A listener that throws is logged, never allowed to stop a rollout. */
  #emit<E extends keyof RolloutEvents>(event: E, ...args: Parameters<RolloutEvents[E]>): void {
    try {
      (this.emit as (event: E, ...args: Parameters<RolloutEvents[E]>) => boolean)(event, ...args);
    } catch (listenerError) {
      this.#logger.error('otakit rollout listener threw', { event, message: String(listenerError) });
    }
  }
}

/** Creates a {@link RolloutOrchestrator}. */
export function createRolloutOrchestrator(options: RolloutOrchestratorOptions): RolloutOrchestrator {
  return new RolloutOrchestrator(options);
}
