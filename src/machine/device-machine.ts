/**
 * The update machine in the device role: it runs the application's hooks through the canonical
 * states, persisting each state before its side effect, and resumes after a crash from the last
 * state it really reached.
 *
 * @module
 */

import { abortReason } from '../core/abort.js';
import { AbortError, InstallError, isOtaError, OtaError, StateError, toOtaError } from '../core/errors.js';
import type { RetryPolicy } from '../core/retry.js';
import {
  type ActiveState,
  canTransition,
  failureStateFor,
  isActiveState,
  isTerminalState,
  type TerminalState,
  type UpdateState,
} from '../core/states.js';
import { type UpdateRef, UpdateRefSchema, type UpdateStatus } from '../core/status.js';
import type { JsonValue } from '../core/store.js';
import { parseWith } from '../core/validate.js';
import { isManifestExpired, type Manifest, type ManifestInput, parseManifest } from '../manifest/schema.js';
import type { SignedRoot, SignedRootInput, TrustRoot } from '../manifest/trust-root.js';
import type { HookContext, HookName, UpdateHooks } from './hooks.js';
import { type EnterOptions, MachineBase, type MachineCommonOptions } from './machine-base.js';
import { DEFAULT_RETRIES, DEFAULT_TIMEOUTS, PhaseRunner, type PhaseTimeouts } from './phase-runner.js';
import {
  type MachineRecord,
  type StagedArtifact,
  StagedArtifactSchema,
  type UpdateOutcome,
} from './record.js';
import type { TrustGate } from './trust-gate.js';
import { verifyStaged } from './verify-staged.js';

export interface DeviceMachineOptions extends MachineCommonOptions {
  role?: 'device';
  hooks: UpdateHooks;
  /** Per-phase time budgets in ms, merged over the defaults (`Infinity` disables one). */
  timeouts?: Partial<PhaseTimeouts>;
  /** Per-phase retry budgets, merged over the defaults. */
  retry?: { [K in HookName]?: Partial<RetryPolicy> };
  /**
   * Loop guard: persisted steps one update may take before it is ended as looping (a device
   * that crashes in the same state on every boot). Same default as Mender.
   * @default 28
   */
  maxPersistedSteps?: number;
  /**
   * Run `install` again after a crash during installing, instead of rolling back.
   * @default false
   */
  installIsIdempotent?: boolean;
  /**
   * Let the default verify step accept artifacts whose manifest carries no digest.
   * @default false
   */
  allowUnverified?: boolean;
  /**
   * Least time between two `progress` events, in ms (a change of 1 % or more, or the last byte,
   * is always reported).
   * @default 100
   */
  progressIntervalMs?: number;
  /** Random source for backoff jitter, injectable for deterministic tests. @default Math.random */
  random?: () => number;
  /**
   * Signed orders: refuse, in `available` and before the download hook is called, any order that
   * is unsigned or badly signed under `trust.root`, below the anti-rollback floor, bound to
   * another device type or id, or (by default) carrying an artifact without a digest. A refusal
   * ends in `verify_failed` with a `TrustError` (code `TRUST`, with `reason` and `field`). The
   * floor (raised at each commit) and a root adopted by `rotateTrustRoot()` are persisted in the
   * record. An expired order (`expiresAt`) is refused just before the gate, with or without it:
   * `check_failed` with `MANIFEST_EXPIRED`. Make it with
   * `createTrustGate({ root, deviceType, compareVersions, … })`.
   */
  trust?: TrustGate;
}

export interface OperationOptions {
  /** Aborting it is the same as calling `cancel()`. */
  signal?: AbortSignal;
}

/** Extra persisted steps a rollback may take after the loop guard fired. */
const ROLLBACK_HEADROOM = 3;

interface Run {
  controller: AbortController;
  done: Promise<unknown>;
}

const NOTHING: ReadonlySet<UpdateState> = new Set();
const UNTIL_AVAILABLE: ReadonlySet<UpdateState> = new Set(['available']);

export class DeviceUpdateMachine extends MachineBase {
  readonly role = 'device' as const;
  readonly #hooks: UpdateHooks;
  readonly #phases: PhaseRunner;
  readonly #maxSteps: number;
  readonly #installIsIdempotent: boolean;
  readonly #allowUnverified: boolean;
  readonly #progressIntervalMs: number;
  readonly #trust: TrustGate | undefined;
  // Reports and rollbacks must finish even when the update is canceled: they get this signal.
  readonly #lifetime = new AbortController();
  #run: Run | undefined;

  constructor(options: DeviceMachineOptions) {
    super(options);
    if (typeof options.hooks?.download !== 'function' || typeof options.hooks.install !== 'function') {
      throw new OtaError('CONFIG', 'A device machine needs at least the "download" and "install" hooks');
    }
    this.#hooks = options.hooks;
    const retries = { ...DEFAULT_RETRIES };
    for (const [name, policy] of Object.entries(options.retry ?? {}) as [HookName, Partial<RetryPolicy>][]) {
      retries[name] = { ...retries[name], ...policy };
    }
    this.#phases = new PhaseRunner({
      machineId: this.id,
      clock: this.clock,
      logger: this.logger,
      timeouts: { ...DEFAULT_TIMEOUTS, ...options.timeouts },
      retries,
      random: options.random ?? Math.random,
    });
    this.#maxSteps = options.maxPersistedSteps ?? 28;
    this.#installIsIdempotent = options.installIsIdempotent ?? false;
    this.#allowUnverified = options.allowUnverified ?? false;
    this.#progressIntervalMs = options.progressIntervalMs ?? 100;
    if (options.trust !== undefined && typeof options.trust.check !== 'function') {
      throw new OtaError('CONFIG', 'Option "trust" takes createTrustGate({ root, … }), not plain options');
    }
    this.#trust = options.trust;
  }

  /**
   * The trust state a `trust`-configured machine works with: the version of the root in force
   * and the anti-rollback floor; `undefined` without the `trust` option. Call after `load()`.
   */
  get trust(): { rootVersion: number; floor: string | null } | undefined {
    if (this.#trust === undefined) return undefined;
    const state = this.loaded ? this.record.trust : undefined;
    return { rootVersion: this.#trust.root(state).version, floor: state?.floor ?? null };
  }

  /**
   * Adopts a new trust root (key rotation, revocation): accepted only if its version is greater
   * than the root in force and it is signed by a threshold of that root's keys and a threshold of
   * its own. Persisted before it resolves, so a restart keeps it. Rejects with a `TrustError`
   * (`root_rejected`) and changes nothing otherwise; needs the `trust` option and a machine that
   * is not busy.
   *
   * @example
   * ```ts
   * await machine.rotateTrustRoot(await fetchSignedRoot())
   * ```
   */
  rotateTrustRoot(
    signedRoot: SignedRoot | SignedRootInput,
    options: OperationOptions = {},
  ): Promise<TrustRoot> {
    return this.#exclusive(options, async () => {
      const gate = this.#trust;
      if (gate === undefined) throw new OtaError('CONFIG', 'rotateTrustRoot() needs the "trust" option');
      const trust = await gate.rotate(this.record.trust, signedRoot, this.clock.now());
      await this.persist({ ...this.record, trust, updatedAt: new Date(this.clock.now()).toISOString() });
      const root = gate.root(trust);
      this.logger.info('otakit trust root rotated', { machine: this.id, version: root.version });
      return root;
    });
  }

  /** Whether an operation (check, apply, resume, cancel) is running right now. */
  get busy(): boolean {
    return this.#run !== undefined;
  }

  /**
   * Asks the `check` hook for an update. Ends in `available` (the manifest is kept, call
   * `apply()`), `idle` (nothing new), or `check_failed`/`canceled` (reported, then back to idle).
   */
  check(options: OperationOptions = {}): Promise<UpdateOutcome> {
    return this.#exclusive(options, async (run) => {
      this.#requireCheckHook();
      this.#requireState(['idle'], 'check()');
      await this.#go('checking', { update: null, manifest: null });
      return this.#drive(run, UNTIL_AVAILABLE);
    });
  }

  /** Checks, and applies what it finds, in one run. */
  runOnce(options: OperationOptions = {}): Promise<UpdateOutcome> {
    return this.#exclusive(options, async (run) => {
      this.#requireCheckHook();
      this.#requireState(['idle'], 'runOnce()');
      await this.#go('checking', { update: null, manifest: null });
      return this.#drive(run, NOTHING);
    });
  }

  /**
   * Accepts a pushed update order (a shadow delta, a retained MQTT order): `idle` → `available`.
   * Invalid input throws a `ManifestError` and changes nothing.
   */
  async offer(manifest: ManifestInput | Manifest, options: OperationOptions = {}): Promise<UpdateOutcome> {
    const parsed = parseManifest(manifest);
    return this.#exclusive(options, async () => {
      const replay = this.#replayOf(parsed);
      if (replay !== undefined) return replay;
      this.#requireState(['idle'], 'offer()');
      await this.#go('available', { update: { id: parsed.id, version: parsed.version }, manifest: parsed });
      return this.#outcome('available');
    });
  }

  /**
   * Runs an update to its end: the offered one, or `manifest` (which is offered first). Resolves
   * with the outcome (`committed`, a failure state, or `installed` with `rebootRequired`); an
   * update failing is an outcome, not an exception. Rejects only for misuse (wrong state, invalid
   * manifest) or when the store itself fails.
   */
  async apply(manifest?: ManifestInput | Manifest, options: OperationOptions = {}): Promise<UpdateOutcome> {
    const parsed = manifest === undefined ? undefined : parseManifest(manifest);
    return this.#exclusive(options, async (run) => {
      const replay = parsed === undefined ? undefined : this.#replayOf(parsed);
      if (replay !== undefined) return replay;
      if (parsed !== undefined && this.record.state === 'idle') {
        await this.#go('available', { update: { id: parsed.id, version: parsed.version }, manifest: parsed });
      } else if (parsed !== undefined && this.record.update?.id !== parsed.id) {
        throw new StateError(`apply() with a new manifest needs an idle machine; it is ${this.record.state}`);
      }
      this.#requireState(['available'], 'apply()');
      return this.#drive(run, NOTHING);
    });
  }

  /**
   * Continues from whatever state was persisted, after a restart or a reboot: a download resumes,
   * an interrupted install rolls back (or installs again if `installIsIdempotent`), an installed
   * update is health-checked and committed or rolled back, an ended update is reported again and
   * returns to idle. In `idle` it does nothing. Call it once at start-up.
   */
  resume(options: OperationOptions = {}): Promise<UpdateOutcome> {
    return this.#exclusive(options, async (run) => {
      if (this.unrecorded) await this.#recover(run.controller.signal);
      const { state } = this.record;
      if (state === 'idle') return this.#outcome('idle');
      if (state === 'installing' && !this.#installIsIdempotent) {
        const reason = new InstallError('Install was interrupted by a restart');
        this.raise(reason);
        await this.#go(
          this.#hooks.rollback ? 'rolling_back' : 'install_failed',
          { lastError: reason.toJSON() },
          {
            error: reason.toJSON(),
          },
        );
      } else if (isActiveState(state)) {
        // Re-entering counts as a step: a device that dies in the same state on every boot
        // eventually trips the loop guard instead of looping forever.
        await this.#go(state, { awaitingReboot: false }, { resumed: true });
      } else {
        await this.#report(this.record.state, this.record.state);
      }
      return this.#drive(run, NOTHING);
    });
  }

  /**
   * Cancels the current update. Before installing began it ends in `canceled`; after, the machine
   * rolls back (a half-installed update is never left behind); a rollback under way runs to its
   * end. Resolves `true` once the machine has settled, `false` if there was nothing to cancel.
   */
  async cancel(reason = 'Update canceled'): Promise<boolean> {
    const run = this.#run;
    if (run !== undefined) {
      run.controller.abort(new AbortError(reason));
      await run.done.catch(() => {});
      // The joined operation may have ended without acting on the abort: one refused before it
      // began (apply() of another update while one is offered) leaves the pending update as it
      // was. Fall through and cancel that update, or the next resume() would install it.
      if (this.#run !== undefined) return this.cancel(reason);
    }
    await this.load();
    // A terminal state still persisted (a power cut kept the update from reaching idle, and the
    // joined operation was refused) means nothing was canceled: resume() finishes it.
    if (!isActiveState(this.record.state)) return run !== undefined && !isTerminalState(this.record.state);
    // Nothing runs, but an update is pending (offered, or persisted and not yet resumed).
    await this.#exclusive({}, (pending) => {
      pending.controller.abort(new AbortError(reason));
      return this.#drive(pending, NOTHING);
    });
    return true;
  }

  /** Stops timers and aborts whatever runs; the machine object should not be used after. */
  dispose(): void {
    this.#run?.controller.abort(new AbortError('Machine disposed'));
    this.#lifetime.abort(new AbortError('Machine disposed'));
    this.removeAllListeners();
  }

  async #exclusive<T>(options: OperationOptions, body: (run: Run) => Promise<T>): Promise<T> {
    if (this.#run !== undefined) {
      throw new StateError(`Machine "${this.id}" is busy; wait for the running operation or cancel() it`);
    }
    const controller = new AbortController();
    const run: Run = { controller, done: Promise.resolve() };
    this.#run = run;
    const onAbort = () => controller.abort(options.signal?.reason ?? new AbortError());
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    const done = (async () => {
      await this.load();
      return body(run);
    })();
    run.done = done;
    try {
      return await done;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      this.#run = undefined;
    }
  }

  #requireCheckHook(): void {
    if (this.#hooks.check === undefined) {
      throw new OtaError(
        'CONFIG',
        'This machine has no "check" hook; deliver updates with offer() or apply()',
      );
    }
  }

  #requireState(allowed: UpdateState[], operation: string): void {
    const { state } = this.record;
    if (allowed.includes(state)) return;
    const hint = state === 'idle' ? '' : ' (call resume() at start-up to finish a persisted update)';
    throw new StateError(`${operation} needs state ${allowed.join(' or ')}, machine is ${state}${hint}`, {
      from: state,
    });
  }

  /** Lets the `recover` hook reconcile the device with an empty store, then records the result. */
  async #recover(signal: AbortSignal): Promise<void> {
    let adopted: UpdateRef | null = null;
    if (this.#hooks.recover !== undefined) {
      try {
        adopted =
          (await this.#hooks.recover({ signal, machineId: this.id, attempt: 1, logger: this.logger })) ??
          null;
      } catch (thrown) {
        throw toOtaError(thrown, 'INSTALL');
      }
      if (adopted !== null) adopted = UpdateRefSchema.parse(adopted);
    }
    // Persisted even when nothing was adopted: the next start finds a record and does not recover again.
    await this.persist({
      ...this.record,
      current: adopted,
      updatedAt: new Date(this.clock.now()).toISOString(),
    });
  }

  /**
   * The no-op outcome for an order of the update already committed, or `undefined`. Platforms
   * re-deliver orders as a matter of course (a retained MQTT message after every reconnect, an
   * AWS delta after every accepted report while desired ≠ reported): installing again would be
   * wrong, and failing would make every agent special-case it.
   */
  #replayOf(manifest: Manifest): UpdateOutcome | undefined {
    const { current, state } = this.record;
    if (current === null || current.id !== manifest.id || current.version !== manifest.version)
      return undefined;
    if (state !== 'idle') return undefined;
    this.logger.info('otakit order ignored: already installed', {
      machine: this.id,
      update: manifest.id,
      version: manifest.version,
    });
    return {
      state: 'idle',
      update: current,
      error: null,
      rebootRequired: false,
      ignored: 'already_installed',
    };
  }

  #outcome(state: UpdateOutcome['state'], record: MachineRecord = this.record): UpdateOutcome {
    return {
      state,
      update: record.update,
      error: state === 'idle' || state === 'available' ? null : record.lastError,
      rebootRequired: state === 'installed' && record.awaitingReboot,
    };
  }

  /** Executes the side effect of each state in turn until the update ends or must wait. */
  async #drive(run: Run, stopAt: ReadonlySet<UpdateState>): Promise<UpdateOutcome> {
    for (;;) {
      const { state, awaitingReboot } = this.record;
      if (state === 'idle') return this.#outcome('idle');
      if (isTerminalState(state)) return this.#finish(state);
      const canceled = run.controller.signal.aborted && state !== 'rolling_back';
      if (!canceled && stopAt.has(state)) return this.#outcome(state as 'available');
      if (!canceled && state === 'installed' && awaitingReboot) return this.#outcome('installed');
      try {
        if (canceled) throw abortReason(run.controller.signal);
        await this.#step(state, run.controller.signal);
      } catch (thrown) {
        // The store failing is not the update failing: keep the last persisted state so a later
        // resume() continues, and let the caller see the STORE error.
        if (isOtaError(thrown, 'STORE')) throw thrown;
        await this.#fail(state, thrown, run.controller.signal);
      }
    }
  }

  /** The side effect of one active state, ending with the transition to the next state. */
  async #step(state: ActiveState, signal: AbortSignal): Promise<void> {
    switch (state) {
      case 'checking':
        return this.#stepCheck(signal);
      case 'available': {
        const manifest = this.#manifest();
        if (isManifestExpired(manifest, this.clock.now())) {
          throw new OtaError(
            'MANIFEST_EXPIRED',
            `Update ${manifest.id} expired at ${manifest.expiresAt} (expiresAt)`,
          );
        }
        await this.#trust?.check(manifest, {
          state: this.record.trust,
          current: this.record.current?.version ?? null,
          now: this.clock.now(),
          machineId: this.id,
        });
        return void (await this.#go('downloading', { staged: null, checkpoint: null, progress: null }));
      }
      case 'downloading':
        return this.#stepDownload(signal);
      case 'downloaded':
        return void (await this.#go('verifying'));
      case 'verifying':
        await this.#phases.run('verify', signal, (context) => this.#verify(context));
        return void (await this.#go('installing', { installStarted: true }));
      case 'installing': {
        const result = await this.#phases.run('install', signal, (context) =>
          this.#hooks.install({ ...context, manifest: this.#manifest(), staged: this.#staged() }),
        );
        return void (await this.#go('installed', { awaitingReboot: result?.reboot === true }));
      }
      case 'installed':
        return this.#stepHealthAndCommit(signal);
      case 'rolling_back':
        return this.#stepRollback();
    }
  }

  async #stepCheck(signal: AbortSignal): Promise<void> {
    const found = await this.#phases.run('check', signal, (context) =>
      this.#hooks.check!({ ...context, current: this.record.current }),
    );
    if (found === null || found === undefined) return void (await this.#go('idle'));
    const manifest = parseManifest(found);
    const { current } = this.record;
    if (current !== null && current.id === manifest.id && current.version === manifest.version) {
      return void (await this.#go('idle'));
    }
    await this.#go('available', { update: { id: manifest.id, version: manifest.version }, manifest });
  }

  async #stepDownload(signal: AbortSignal): Promise<void> {
    const manifest = this.#manifest();
    const resumed = this.record.checkpoint !== null || this.record.history.at(-1)?.resumed === true;
    const staged = await this.#phases.run('download', signal, async (context) => {
      const report = this.#progressReporter(manifest.id);
      // An attempt abandoned at its deadline may still be running: it must not overwrite the
      // checkpoint or the progress of the attempt that replaced it.
      const result = await this.#hooks.download({
        ...context,
        manifest,
        resume: resumed || context.attempt > 1,
        checkpoint: this.record.checkpoint,
        saveCheckpoint: async (data) => {
          if (!context.signal.aborted) await this.#saveCheckpoint(data);
        },
        onProgress: (progress) => {
          if (!context.signal.aborted) report(progress);
        },
      });
      return parseWith(
        StagedArtifactSchema.array().length(manifest.artifacts.length),
        result,
        'download result',
      );
    });
    await this.#go('downloaded', { staged, checkpoint: null });
  }

  async #stepHealthAndCommit(signal: AbortSignal): Promise<void> {
    const context = { manifest: this.#manifest(), staged: this.#staged() };
    const healthy = await this.#phases.run('healthCheck', signal, async (hookContext) =>
      this.#hooks.healthCheck ? this.#hooks.healthCheck({ ...hookContext, ...context }) : true,
    );
    if (healthy === false) throw new OtaError('HEALTH_CHECK', 'The health check failed after installing');
    if (this.#hooks.commit) {
      await this.#phases.run('commit', signal, (hookContext) =>
        this.#hooks.commit!({ ...hookContext, ...context }),
      );
    }
    // The floor rises in the same write as `committed`: never before the update really took.
    const trust = this.#trust?.committed(this.record.trust, context.manifest);
    await this.#go('committed', {
      current: this.record.update,
      installStarted: false,
      awaitingReboot: false,
      ...(trust === undefined ? {} : { trust }),
    });
  }

  async #stepRollback(): Promise<void> {
    const { rollback } = this.#hooks;
    if (rollback === undefined)
      throw new InstallError('No rollback hook to undo the install', { code: 'ROLLBACK' });
    // Not tied to cancel(): stopping a rollback half way would leave a mix of versions.
    await this.#phases.run('rollback', this.#lifetime.signal, (context) =>
      rollback({
        ...context,
        manifest: this.#manifest(),
        staged: this.record.staged,
        reason: this.record.lastError,
      }),
    );
    await this.#go('rolled_back', { installStarted: false, awaitingReboot: false });
  }

  async #verify(context: HookContext): Promise<void> {
    const manifest = this.#manifest();
    const staged = this.#staged();
    if (this.#hooks.verify === undefined) {
      return verifyStaged(manifest, staged, { allowUnverified: this.#allowUnverified });
    }
    const accepted = await this.#hooks.verify({ ...context, manifest, staged });
    if (accepted === false) throw new OtaError('INTEGRITY', `The verify hook refused update ${manifest.id}`);
  }

  /** Routes a failure of `state` to the state the update must go to next. */
  async #fail(state: ActiveState, thrown: unknown, signal: AbortSignal): Promise<void> {
    const canceled = signal.aborted && state !== 'rolling_back';
    let error = canceled ? toOtaError(abortReason(signal), 'ABORTED') : toOtaError(thrown, 'STATE');
    let target: UpdateState;
    if (state === 'rolling_back') {
      const reason = this.record.lastError;
      error = new InstallError(
        `Rollback failed${reason ? ` after ${reason.code}` : ''}: ${error.message}; the device may hold a mix of versions`,
        { code: 'ROLLBACK', cause: error },
      );
      target = 'install_failed';
    } else if (state === 'installing' || state === 'installed') {
      target = this.#hooks.rollback ? 'rolling_back' : 'install_failed';
    } else if (canceled) {
      target = 'canceled';
    } else if (state === 'available' && isOtaError(error, 'TRUST')) {
      // A refused signature or policy is a verification failure: the platform hears its
      // verify/integrity failure word, though no byte was fetched.
      target = 'verify_failed';
    } else {
      target = failureStateFor(state);
    }
    this.raise(error);
    const serialized = error.toJSON();
    await this.#go(target, { lastError: serialized }, { error: serialized });
  }

  /** Ends an update: record the outcome, return to idle. The terminal state was reported on entry. */
  async #finish(state: TerminalState): Promise<UpdateOutcome> {
    const outcome = this.#outcome(state);
    await this.#go('idle', {
      lastOutcome: outcome,
      update: null,
      manifest: null,
      staged: null,
      checkpoint: null,
      installStarted: false,
      awaitingReboot: false,
      progress: null,
    });
    return outcome;
  }

  /**
   * The one way a device machine changes state: check legality, apply the loop guard, persist,
   * then report. Entering the state it is in (`resumed`) is how a restart is recorded.
   */
  async #go(to: UpdateState, patch: Partial<MachineRecord> = {}, options: EnterOptions = {}): Promise<void> {
    const { state: from, steps, installStarted } = this.record;
    if (!options.resumed && !canTransition(from, to)) {
      throw new StateError(`Illegal transition ${from} -> ${to}`, { from, to });
    }
    let nextSteps = from === 'idle' ? 0 : steps;
    if (to === 'idle') nextSteps = 0;
    if (isActiveState(to)) {
      nextSteps += 1;
      const limit = to === 'rolling_back' ? this.#maxSteps + ROLLBACK_HEADROOM : this.#maxSteps;
      if (nextSteps > limit) return this.#breakLoop(from, to, installStarted);
    }
    // Leaving idle starts a new operation: the error of the one before is not its error.
    const fresh = from === 'idle' && to !== 'idle' && !options.resumed ? { lastError: null } : {};
    await this.enter(to, { ...fresh, ...patch, steps: nextSteps }, options);
    await this.#report(to, from);
  }

  /** The loop guard fired: end the update in the failure state of its phase (rolling back first if needed). */
  async #breakLoop(from: UpdateState, attempted: UpdateState, installStarted: boolean): Promise<void> {
    const update = this.record.update?.id ?? '(none)';
    const error = new OtaError(
      'STATE_LOOP',
      `State looping detected for update ${update} (more than ${this.#maxSteps} persisted steps, entering ${attempted}); breaking out`,
    );
    this.raise(error);
    const target =
      installStarted && this.#hooks.rollback && from !== 'rolling_back' && attempted !== 'rolling_back'
        ? 'rolling_back'
        : isActiveState(from)
          ? failureStateFor(from)
          : 'install_failed';
    const serialized = error.toJSON();
    await this.enter(target, { lastError: serialized, steps: this.record.steps + 1 }, { error: serialized });
    await this.#report(target, from);
  }

  /** Sends the status through the `report` hook. A failed report is logged and emitted, never fatal. */
  async #report(state: UpdateState, previous: UpdateState): Promise<void> {
    const record = this.record;
    const status: UpdateStatus = {
      machineId: this.id,
      updateId: record.update?.id ?? null,
      version: record.update?.version ?? null,
      state,
      previous,
      at: record.updatedAt,
      progress: record.progress,
      error: isTerminalState(state) || state === 'rolling_back' ? record.lastError : null,
    };
    const { report } = this.#hooks;
    if (report === undefined) return;
    try {
      await this.#phases.run('report', this.#lifetime.signal, (context) => report({ ...context, status }));
      this.notify('report', { machineId: this.id, status, delivered: true, error: null });
    } catch (thrown) {
      const error = toOtaError(thrown, 'REPORT');
      this.raise(error);
      this.notify('report', { machineId: this.id, status, delivered: false, error: error.toJSON() });
    }
  }

  async #saveCheckpoint(data: JsonValue): Promise<void> {
    if (this.record.state !== 'downloading') {
      throw new StateError(
        `saveCheckpoint() is only valid while downloading, machine is ${this.record.state}`,
      );
    }
    await this.persist({
      ...this.record,
      checkpoint: data,
      updatedAt: new Date(this.clock.now()).toISOString(),
    });
  }

  #progressReporter(updateId: string) {
    let first: { at: number; bytes: number } | undefined;
    let lastEmit = Number.NEGATIVE_INFINITY;
    let lastFraction = -1;
    return ({
      bytes,
      total = null,
      artifact,
    }: {
      bytes: number;
      total?: number | null;
      artifact?: number;
    }) => {
      const now = this.clock.now();
      first ??= { at: now, bytes };
      const fraction = total ? bytes / total : -1;
      const due =
        now - lastEmit >= this.#progressIntervalMs || fraction - lastFraction >= 0.01 || bytes === total;
      if (!due) return;
      const elapsed = now - first.at;
      const bytesPerSecond = elapsed > 0 ? ((bytes - first.bytes) * 1000) / elapsed : 0;
      lastEmit = now;
      lastFraction = fraction;
      this.setProgress({ bytes, total, bytesPerSecond });
      this.notify('progress', {
        machineId: this.id,
        updateId,
        bytes,
        total,
        bytesPerSecond,
        artifact: artifact ?? null,
      });
    };
  }

  #manifest(): Manifest {
    const { manifest } = this.record;
    if (manifest === null)
      throw new StateError(`Machine "${this.id}" has no manifest in state ${this.record.state}`);
    return manifest;
  }

  #staged(): StagedArtifact[] {
    const { staged } = this.record;
    if (staged === null)
      throw new StateError(`Machine "${this.id}" has nothing staged in state ${this.record.state}`);
    return staged;
  }
}
