/**
 * For the rollouts over each platform's real cloud side (platforms.test.ts): an orchestrator on a
 * memory store, a driver for a `ManualClock` that lets due timers fire without moving time (so a
 * device timeout happens only when a test says so, never because a busy machine was slow), waits
 * that poll for a condition, a log of the orders the simulated devices heard interleaved with the
 * rollout's wave events, and the checks every platform's rollout ends with.
 */
import { expect } from 'vitest';
import type { Fleet } from '../../../src/cloud/fleet/fleet.js';
import type { RolloutDispatcher } from '../../../src/cloud/rollout/dispatcher.js';
import { MemoryRolloutStore } from '../../../src/cloud/rollout/memory-store.js';
import {
  createRolloutOrchestrator,
  type RolloutOrchestrator,
} from '../../../src/cloud/rollout/orchestrator.js';
import type { RolloutSnapshot } from '../../../src/cloud/rollout/snapshot.js';
import type { RolloutFailureKind, RolloutState } from '../../../src/cloud/rollout/types.js';
import type { Manifest } from '../../../src/manifest/schema.js';
import type { FleetSimulator } from '../../../src/testing/index.js';
import type { ManualClock } from '../../../src/testing/manual-clock.js';
import { sleep } from '../../support/system-services.js';

/** Limit of every wait: it only catches a hang, never a slow machine. */
export const WAIT = 45_000;

/** Closers, run in reverse order of registration. */
export class Cleanups {
  readonly #list: Array<() => Promise<unknown> | unknown> = [];
  add(cleanup: () => Promise<unknown> | unknown): void {
    this.#list.push(cleanup);
  }
  async run(): Promise<void> {
    for (const cleanup of this.#list.splice(0).reverse()) {
      try {
        await cleanup();
      } catch {
        // A closer that fails must not hide the test's own failure, nor stop the others.
      }
    }
  }
}

/**
 * Drives a `ManualClock` for an orchestrator that talks to real brokers and servers: timers due
 * now (rounds kicked with delay 0, settles with `settleDelayMs: 0`) fire as they are set, but time
 * moves only in `advance`. Advances never overlap (two at once could move the clock backwards).
 */
export class ClockDriver {
  readonly clock: ManualClock;
  #chain: Promise<void> = Promise.resolve();
  #stopped = false;
  readonly #loop: Promise<void>;

  constructor(clock: ManualClock) {
    this.clock = clock;
    this.#loop = this.#pump();
  }

  #serial(work: () => Promise<void>): Promise<void> {
    const next = this.#chain.then(work);
    this.#chain = next.catch(() => {});
    return next;
  }

  async #pump(): Promise<void> {
    while (!this.#stopped) {
      await this.#serial(() => this.clock.advance(0));
      await sleep(2);
    }
  }

  /** Moves the clock `ms` forward, firing what falls due on the way. */
  advance(ms: number): Promise<void> {
    return this.#serial(() => this.clock.advance(ms));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
  }
}

/** An orchestrator on a memory store; on a `ManualClock` its settles are not delayed. */
export function orchestratorOf(
  cleanups: Cleanups,
  options: { fleet: Fleet; dispatcher: RolloutDispatcher; clock?: ManualClock },
): RolloutOrchestrator {
  const orchestrator = createRolloutOrchestrator({
    store: new MemoryRolloutStore(),
    fleet: options.fleet,
    dispatcher: options.dispatcher,
    ...(options.clock === undefined
      ? { pollMs: 50 }
      : { clock: options.clock, pollMs: 1_000, settleDelayMs: 0 }),
  });
  cleanups.add(() => orchestrator.close());
  return orchestrator;
}

/** Polls `read` until `ok` holds; fails with `what` of the last value instead of hanging. */
export async function eventually<T>(
  read: () => Promise<T>,
  ok: (value: T) => boolean,
  what: (value: T) => string,
  timeoutMs = WAIT,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what(value)}`);
    await sleep(5);
  }
}

const UNDER_WAY = ['pending', 'dispatching', 'in_progress', 'retry_wait', 'rolling_back'] as const;

/** Devices not yet settled (pending, ordered, waiting for a retry). */
export const underWay = (snapshot: RolloutSnapshot) =>
  UNDER_WAY.reduce((sum, state) => sum + snapshot.totals[state], 0);

/** The snapshot once the rollout is in `state` with nobody under way (for a final state). */
export function rolloutIn(
  orchestrator: RolloutOrchestrator,
  id: string,
  state: RolloutState,
): Promise<RolloutSnapshot> {
  const final = state === 'completed' || state === 'aborted' || state === 'cancelled';
  return eventually(
    () => orchestrator.snapshot(id),
    (snapshot) => snapshot.state === state && (!final || underWay(snapshot) === 0),
    (snapshot) => `rollout ${id} ${state}: ${summary(snapshot)}`,
  );
}

/** A snapshot in one line, for failure messages. */
export function summary(snapshot: RolloutSnapshot): string {
  const totals = Object.entries(snapshot.totals).filter(([, n]) => n > 0);
  return `${snapshot.state} (wave ${snapshot.wave.index}) ${JSON.stringify(Object.fromEntries(totals))} failures ${JSON.stringify(snapshot.failures)}`;
}

/**
 * One ordered log of what the simulated devices heard (`order <device>`) and of the rollout's
 * waves (`wave <n> started|settled`): the staging as it happened on the wire.
 */
export function sequenceOf<T>(orchestrator: RolloutOrchestrator, sim: FleetSimulator<T>): string[] {
  const log: string[] = [];
  orchestrator.on('wave', ({ wave, phase }) => log.push(`wave ${wave} ${phase}`));
  sim.on('order', ({ deviceId }) => log.push(`order ${deviceId}`));
  return log;
}

/**
 * Every device of wave n heard its first order after wave n−1 settled, and each wave's devices
 * heard one after that wave started: nobody was ordered before their turn.
 */
export function expectStaged(log: readonly string[], waves: readonly (readonly string[])[]): void {
  for (const [index, devices] of waves.entries()) {
    const started = log.indexOf(`wave ${index} started`);
    const settled = log.indexOf(`wave ${index} settled`);
    expect(started, `wave ${index} started in ${JSON.stringify(log)}`).toBeGreaterThanOrEqual(0);
    expect(settled, `wave ${index} settled in ${JSON.stringify(log)}`).toBeGreaterThan(started);
    const previousSettled = index === 0 ? -1 : log.indexOf(`wave ${index - 1} settled`);
    for (const device of devices) {
      const first = log.indexOf(`order ${device}`);
      expect(first, `${device} ordered in ${JSON.stringify(log)}`).toBeGreaterThan(
        Math.max(started, previousSettled),
      );
      expect(first, `${device} ordered before its wave settled`).toBeLessThan(settled);
    }
  }
}

export interface RolloutExpectation {
  /** Devices that must end `succeeded`, committed in the fleet, installed exactly once. */
  healthy: readonly string[];
  /** Devices that must end failed (or timed out) with this kind, never installed. */
  failing: Readonly<Record<string, RolloutFailureKind>>;
  /** The update id the simulated devices count installs under (per device, where it differs). */
  installedAs: string | ((deviceId: string) => string);
  /** The plan's `reportedAs`, when the platform renames the update. */
  reportedAs?: { updateId?: string; version?: string };
}

/**
 * The end every platform's rollout must reach: completed, each healthy device `succeeded` in the
 * rollout, `committed` with this update in the fleet and installed exactly once; each failing one
 * settled with its kind and never installed.
 */
export async function expectRolledOut<T>(
  orchestrator: RolloutOrchestrator,
  id: string,
  fleet: Fleet,
  sim: FleetSimulator<T>,
  manifest: Manifest,
  expected: RolloutExpectation,
): Promise<RolloutSnapshot> {
  const snapshot = await orchestrator.snapshot(id);
  expect(snapshot.state, summary(snapshot)).toBe('completed');
  const kinds = Object.values(expected.failing);
  expect(snapshot.totals).toMatchObject({
    succeeded: expected.healthy.length,
    failed: kinds.filter((kind) => kind !== 'timed_out').length,
    timed_out: kinds.filter((kind) => kind === 'timed_out').length,
    pending: 0,
    dispatching: 0,
    in_progress: 0,
    retry_wait: 0,
    skipped: 0,
  });
  const byKind: Record<string, number> = {};
  for (const kind of kinds) byKind[kind] = (byKind[kind] ?? 0) + 1;
  expect(snapshot.failures).toEqual(byKind);
  const rows = new Map((await orchestrator.devices(id)).map((row) => [row.deviceId, row]));
  expect(rows.size).toBe(expected.healthy.length + kinds.length);
  for (const device of expected.healthy) {
    expect(rows.get(device), device).toMatchObject({ state: 'succeeded', attempts: 1, failure: null });
    const seen = await fleet.device(device);
    expect(seen?.state, device).toBe('committed');
    // The fleet's update is the one rolled out: by the manifest's id or version, or as renamed.
    const { id: updateId, version } = seen?.update ?? {};
    expect(
      [manifest.id, expected.reportedAs?.updateId].includes(updateId) ||
        [manifest.version, expected.reportedAs?.version].includes(version ?? undefined),
      `${device}'s update ${JSON.stringify(seen?.update)}`,
    ).toBe(true);
  }
  for (const [device, kind] of Object.entries(expected.failing)) {
    expect(rows.get(device), device).toMatchObject({
      state: kind === 'timed_out' ? 'timed_out' : 'failed',
      failure: kind,
      attempts: 1,
    });
  }
  const installedAs = expected.installedAs;
  const all = [...expected.healthy, ...Object.keys(expected.failing)];
  const installs = Object.fromEntries(
    all.map((device) => [
      device,
      sim.installCounts(typeof installedAs === 'string' ? installedAs : installedAs(device)).get(device),
    ]),
  );
  expect(installs).toEqual(
    Object.fromEntries(all.map((device) => [device, expected.healthy.includes(device) ? 1 : 0])),
  );
  expect(sim.size).toBe(all.length);
  // Nothing else was installed either (no device took an update twice under another name).
  expect([...sim.installCounts().values()].reduce((sum, n) => sum + n, 0)).toBe(expected.healthy.length);
  return snapshot;
}

/** `data:` URL of a text file, so a manifest carries the files a platform's publisher packs. */
export const dataUrl = (text: string) => `data:text/plain;base64,${Buffer.from(text).toString('base64')}`;

/** The bytes of a `data:` URL made by {@link dataUrl}. */
export function dataOf(url: string): Buffer {
  const match = /^data:[^,]*;base64,(.*)$/.exec(url);
  if (match === null) throw new Error(`not a base64 data: URL: ${url.slice(0, 40)}`);
  return Buffer.from(match[1]!, 'base64');
}

/**
 * Advances the driven clock `stepMs` at a time (rounds run between steps, as they would every
 * `pollMs`) until `ok` holds for the rollout's snapshot, at most `limitMs` of clock time.
 */
export async function advanceUntil(
  driver: ClockDriver,
  orchestrator: RolloutOrchestrator,
  id: string,
  ok: (snapshot: RolloutSnapshot) => boolean,
  limitMs: number,
  stepMs = 1_000,
): Promise<RolloutSnapshot> {
  for (let spent = 0; ; spent += stepMs) {
    const snapshot = await orchestrator.snapshot(id);
    if (ok(snapshot)) return snapshot;
    if (spent > limitMs)
      throw new Error(`rollout ${id} after ${limitMs} ms of clock time: ${summary(snapshot)}`);
    await driver.advance(stepMs);
  }
}
