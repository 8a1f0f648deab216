import { afterEach, describe, expect, it } from 'vitest';
import { MemoryRolloutStore } from '../../../src/cloud/rollout/memory-store.js';
import {
  createRolloutOrchestrator,
  type RolloutOrchestrator,
} from '../../../src/cloud/rollout/orchestrator.js';
import type { RolloutPlanInput } from '../../../src/cloud/rollout/plan.js';
import { ManifestError } from '../../../src/core/errors.js';
import { ManualClock } from '../../../src/testing/manual-clock.js';
import { deviceIds, manifest, modelFleet, previousManifest } from './model-fleet.js';

const open: RolloutOrchestrator[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((orchestrator) => orchestrator.close()));
});

function setup(clock = new ManualClock(), pollMs = 1_000) {
  const model = modelFleet(clock);
  const store = new MemoryRolloutStore();
  const orchestrator = createRolloutOrchestrator({
    store,
    fleet: model.fleet,
    dispatcher: model.dispatcher,
    clock,
    pollMs,
  });
  open.push(orchestrator);
  return { clock, model, store, orchestrator };
}

/** Advances the clock a step at a time until the rollout is in one of `states` (or `limitMs` passed). */
async function runUntil(
  clock: ManualClock,
  orchestrator: RolloutOrchestrator,
  id: string,
  states: string[],
  limitMs = 3_600_000,
  stepMs = 1_000,
) {
  for (let spent = 0; spent <= limitMs; spent += stepMs) {
    const snapshot = await orchestrator.snapshot(id);
    const { dispatching, in_progress, rolling_back, pending, retry_wait } = snapshot.totals;
    const final = ['completed', 'aborted', 'cancelled'].includes(snapshot.state);
    const underWay = dispatching + in_progress + rolling_back + (final ? pending + retry_wait : 0);
    if (states.includes(snapshot.state) && underWay === 0) return snapshot;
    await clock.advance(stepMs);
  }
  throw new Error(`rollout ${id} not in ${states.join('/')} after ${limitMs} ms`);
}

const plan = (overrides: Partial<RolloutPlanInput> = {}): RolloutPlanInput => ({
  id: 'r1',
  manifest,
  devices: deviceIds(20),
  ...overrides,
});

describe('rollout orchestrator: waves', () => {
  it('orders wave after wave, each device once, and completes', async () => {
    const { clock, model, orchestrator } = setup();
    const waves: Array<{ wave: number; phase: string; at: number }> = [];
    orchestrator.on('wave', ({ wave, phase }) => waves.push({ wave, phase, at: clock.now() }));
    await orchestrator.start(
      plan({ waves: [{ name: 'canary', count: 1 }, { percent: 25 }, { percent: 100 }] }),
    );
    const done = await runUntil(clock, orchestrator, 'r1', ['completed']);
    expect(done.totals.succeeded).toBe(20);
    expect(done.waves.map((wave) => [wave.name, wave.size])).toEqual([
      ['canary', 1],
      ['wave 2', 4],
      ['wave 3', 15],
    ]);
    for (const id of deviceIds(20)) expect(model.installs.get(id)).toEqual(['fw-2.0']);
    // No device of a wave was ordered before the wave before it settled.
    const settledAt = (wave: number) =>
      waves.find((each) => each.wave === wave && each.phase === 'settled')!.at;
    const firstOrder = (ids: string[]) => Math.min(...ids.map((id) => model.orders.get(id)![0]!.at));
    expect(firstOrder(deviceIds(20).slice(1, 5))).toBeGreaterThanOrEqual(settledAt(0));
    expect(firstOrder(deviceIds(20).slice(5))).toBeGreaterThanOrEqual(settledAt(1));
  });

  it('waits the soak time of a wave before the next', async () => {
    const { clock, model, orchestrator } = setup();
    await orchestrator.start(
      plan({ devices: deviceIds(4), waves: [{ count: 1, soakMs: 600_000 }, { percent: 100 }] }),
    );
    await clock.advance(60_000);
    expect(model.orders.size).toBe(1);
    await clock.advance(500_000);
    expect(model.orders.size).toBe(1);
    await clock.advance(60_000);
    expect(model.orders.size).toBe(4);
  });
});

describe('rollout orchestrator: pacing', () => {
  it('orders at most the fixed rate', async () => {
    const { clock, model, orchestrator } = setup();
    await orchestrator.start(plan({ devices: deviceIds(12), pace: { perMinute: 6 } }));
    await runUntil(clock, orchestrator, 'r1', ['completed'], 3_600_000, 5_000);
    const times = [...model.orders.values()].map((list) => list[0]!.at).sort((a, b) => a - b);
    // One token at the start, then one every 10 s.
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(100_000);
    for (let index = 1; index < times.length; index++)
      expect(times[index]! - times[index - 1]!).toBeGreaterThanOrEqual(5_000);
  });

  it('ramps up exponentially as devices succeed', async () => {
    const { clock, orchestrator } = setup();
    await orchestrator.start(
      plan({
        devices: deviceIds(60),
        pace: { ramp: { basePerMinute: 2, factor: 2, every: 5, maxPerMinute: 60 } },
      }),
    );
    expect((await orchestrator.snapshot('r1')).pace.perMinute).toBe(2);
    expect((await runUntilCount(clock, orchestrator, 5)).pace.perMinute).toBe(4);
    expect((await runUntilCount(clock, orchestrator, 10)).pace.perMinute).toBe(8);
    const done = await runUntil(clock, orchestrator, 'r1', ['completed'], 7_200_000, 5_000);
    expect(done.pace.perMinute).toBe(60);
  });

  it('keeps at most maxInFlight devices under way', async () => {
    const { clock, orchestrator } = setup();
    let most = 0;
    orchestrator.on('device', async () => {
      const snapshot = await orchestrator.snapshot('r1');
      most = Math.max(most, snapshot.totals.dispatching + snapshot.totals.in_progress);
    });
    await orchestrator.start(plan({ maxInFlight: 3 }));
    await runUntil(clock, orchestrator, 'r1', ['completed']);
    expect(most).toBe(3);
  });
});

async function runUntilCount(clock: ManualClock, orchestrator: RolloutOrchestrator, succeeded: number) {
  for (let spent = 0; spent < 3_600_000; spent += 1_000) {
    const snapshot = await orchestrator.snapshot('r1');
    if (snapshot.totals.succeeded >= succeeded) return snapshot;
    await clock.advance(1_000);
  }
  throw new Error('never reached');
}

describe('rollout orchestrator: thresholds', () => {
  it('pauses when the failure rate reaches the threshold, and resumes on the failures after', async () => {
    const { clock, model, orchestrator } = setup();
    const ids = deviceIds(40);
    for (const id of ids.slice(0, 4)) model.behave(id, { outcome: 'install_failed' });
    const thresholds: unknown[] = [];
    orchestrator.on('threshold', (event) => thresholds.push(event));
    await orchestrator.start(
      plan({
        devices: ids,
        waves: [{ count: 10 }, { percent: 100 }],
        thresholds: [{ failureRate: 0.3, minSample: 10, action: 'pause' }],
      }),
    );
    const paused = await runUntil(clock, orchestrator, 'r1', ['paused']);
    expect(paused.reason).toMatchObject({ kind: 'threshold', threshold: 0, sample: 10 });
    expect(paused.failures).toEqual({ install_failed: 4 });
    expect(paused.totals.pending).toBe(30);
    expect(thresholds).toHaveLength(1);
    await clock.advance(600_000);
    expect((await orchestrator.snapshot('r1')).totals.pending).toBe(30);
    await orchestrator.resume('r1');
    const done = await runUntil(clock, orchestrator, 'r1', ['completed']);
    expect(done.totals).toMatchObject({ succeeded: 36, failed: 4 });
  });

  it('counts only the failure kinds a threshold names, per wave', async () => {
    const { clock, model, orchestrator } = setup();
    const ids = deviceIds(20);
    for (const id of ids.slice(0, 3)) model.behave(id, { outcome: 'download_failed' });
    model.behave(ids[10]!, { outcome: 'verify_failed' });
    await orchestrator.start(
      plan({
        devices: ids,
        waves: [{ count: 10 }, { percent: 100 }],
        maxInFlight: 2,
        thresholds: [
          { failureRate: 0.1, minSample: 5, kinds: ['verify_failed'], scope: 'wave', action: 'abort' },
        ],
      }),
    );
    const aborted = await runUntil(clock, orchestrator, 'r1', ['aborted']);
    expect(aborted.failures).toMatchObject({ download_failed: 3, verify_failed: 1 });
    expect(aborted.reason?.kind).toBe('threshold');
    expect(aborted.totals.skipped).toBeGreaterThan(0);
  });

  it('aborts and rolls back the devices that took the update', async () => {
    const { clock, model, orchestrator } = setup();
    const ids = deviceIds(10);
    for (const id of ids.slice(5)) model.behave(id, { outcome: 'install_failed' });
    await orchestrator.start(
      plan({
        devices: ids,
        rollback: previousManifest,
        thresholds: [{ failureRate: 0.4, minSample: 10, action: 'abort', rollback: true }],
      }),
    );
    const done = await runUntil(clock, orchestrator, 'r1', ['aborted']);
    expect(done.totals).toMatchObject({ rolled_back: 5, failed: 5, succeeded: 0 });
    for (const id of ids.slice(0, 5)) expect(model.installs.get(id)).toEqual(['fw-2.0', 'fw-1.0']);
    for (const id of ids.slice(5)) expect(model.installs.get(id)).toBeUndefined();
  });
});

describe('rollout orchestrator: timeouts and retries', () => {
  it('times out a silent device, retries with backoff, and settles it', async () => {
    const { clock, model, orchestrator } = setup();
    const ids = deviceIds(3);
    model.behave(ids[0]!, { outcome: 'silent', failingAttempts: 1 });
    model.behave(ids[1]!, { outcome: 'install_failed', failingAttempts: 2 });
    model.behave(ids[2]!, { outcome: 'silent' });
    await orchestrator.start(
      plan({
        devices: ids,
        deviceTimeoutMs: 60_000,
        retry: { attempts: 3, backoffMs: 30_000, factor: 2 },
      }),
    );
    const done = await runUntil(clock, orchestrator, 'r1', ['completed']);
    expect(done.totals).toMatchObject({ succeeded: 2, timed_out: 1 });
    expect(done.failures).toEqual({ timed_out: 1 });
    const times = model.orders.get(ids[1]!)!.map((order) => order.at);
    expect(times).toHaveLength(3);
    // 30 s then 60 s of backoff after each failure (reported 5 s after its order).
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(35_000);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(65_000);
    expect(model.orders.get(ids[2]!)).toHaveLength(3);
    const [device] = await orchestrator.devices('r1', { state: 'timed_out' });
    expect(device).toMatchObject({
      deviceId: ids[2],
      attempts: 3,
      failure: 'timed_out',
      error: { code: 'TIMEOUT' },
    });
  });

  it('settles a device only with the update it was ordered, not the rollback manifest', async () => {
    const { clock, model, orchestrator } = setup();
    model.behave('dev-0000', { outcome: 'silent' });
    await orchestrator.start(
      plan({ devices: deviceIds(1), rollback: previousManifest, deviceTimeoutMs: 60_000 }),
    );
    await clock.advance(1_000);
    // The device rebooted into the old version and says so: that is not the rollout's update.
    const at = () => new Date(clock.now()).toISOString();
    const status = (state: string, previous: string) => ({
      machineId: 'dev-0000',
      updateId: 'fw-1.0',
      version: '1.0.0',
      state,
      previous,
      at: at(),
    });
    await model.fleet.ingest('dev-0000', status('available', 'idle'));
    await model.fleet.ingest('dev-0000', status('committed', 'installed'));
    await clock.advance(1_000);
    expect((await orchestrator.snapshot('r1')).totals).toMatchObject({ in_progress: 1, succeeded: 0 });
    const done = await runUntil(clock, orchestrator, 'r1', ['completed']);
    expect(done.totals).toMatchObject({ timed_out: 1, succeeded: 0 });
  });

  it('counts an order that cannot be sent as a dispatch failure', async () => {
    const { clock, model, orchestrator } = setup();
    model.unreachable.add('dev-0000');
    await orchestrator.start(plan({ devices: deviceIds(2) }));
    const done = await runUntil(clock, orchestrator, 'r1', ['completed']);
    expect(done.failures).toEqual({ dispatch_failed: 1 });
    expect(done.totals.succeeded).toBe(1);
  });
});

describe('rollout orchestrator: maintenance windows and schedule', () => {
  it('orders only inside the window, a day-long plan in simulated time', async () => {
    // 2026-01-01 is a Thursday; the clock starts at midnight UTC.
    const { clock, model, orchestrator } = setup(
      new ManualClock(Date.parse('2026-01-01T00:00:00Z')),
      600_000,
    );
    await orchestrator.start(
      plan({
        devices: deviceIds(30),
        pace: { perMinute: 1 },
        windows: [{ start: '02:00', end: '02:10', timeZone: 'UTC' }],
      }),
    );
    const opening = await orchestrator.snapshot('r1');
    expect(opening.window).toEqual({ open: false, nextOpensAt: '2026-01-01T02:00:00.000Z' });
    await clock.advance(2 * 3_600_000 - 60_000);
    expect(model.orders.size).toBe(0);
    const done = await runUntil(clock, orchestrator, 'r1', ['completed'], 4 * 86_400_000, 300_000);
    const hours = [...model.orders.values()].map((list) => new Date(list[0]!.at));
    for (const at of hours) {
      expect(at.getUTCHours()).toBe(2);
      expect(at.getUTCMinutes()).toBeLessThan(10);
    }
    expect(new Set(hours.map((at) => at.getUTCDate())).size).toBe(3);
    expect(done.totals.succeeded).toBe(30);
  });

  it('follows a window in a named time zone', async () => {
    const { clock, model, orchestrator } = setup(
      new ManualClock(Date.parse('2026-07-01T00:00:00Z')),
      600_000,
    );
    // 03:00 in Rome is 01:00 UTC in summer.
    await orchestrator.start(
      plan({ devices: deviceIds(1), windows: [{ start: '03:00', end: '04:00', timeZone: 'Europe/Rome' }] }),
    );
    await clock.advance(3_600_000 - 60_000);
    expect(model.orders.size).toBe(0);
    await clock.advance(120_000);
    expect(model.orders.size).toBe(1);
  });

  it('starts at startAt', async () => {
    const { clock, model, orchestrator } = setup(new ManualClock(), 600_000);
    const startAt = new Date(clock.now() + 3_600_000).toISOString();
    await orchestrator.start(plan({ devices: deviceIds(1), startAt }));
    expect((await orchestrator.snapshot('r1')).state).toBe('scheduled');
    await clock.advance(3_599_000);
    expect(model.orders.size).toBe(0);
    await clock.advance(2_000);
    expect(model.orders.size).toBe(1);
  });
});

describe('rollout orchestrator: operators', () => {
  it('pauses, resumes and cancels', async () => {
    const { clock, model, orchestrator } = setup();
    const states: string[] = [];
    orchestrator.on('state', ({ to }) => states.push(to));
    await orchestrator.start(plan({ pace: { perMinute: 6 } }));
    await clock.advance(30_000);
    const paused = await orchestrator.pause('r1', 'night shift');
    expect(paused.reason).toMatchObject({ kind: 'operator', message: 'night shift' });
    const ordered = model.orders.size;
    await clock.advance(600_000);
    expect(model.orders.size).toBe(ordered);
    await orchestrator.resume('r1');
    await clock.advance(30_000);
    expect(model.orders.size).toBeGreaterThan(ordered);
    await orchestrator.cancel('r1');
    const done = await runUntil(clock, orchestrator, 'r1', ['cancelled']);
    expect(done.totals.skipped + done.totals.succeeded).toBe(20);
    expect(done.totals.skipped).toBeGreaterThan(0);
    expect(states).toEqual(['running', 'paused', 'running', 'cancelled']);
    expect(model.orders.size).toBe(done.totals.succeeded);
  });

  it('continues after a restart where the rollout stood', async () => {
    const clock = new ManualClock();
    const model = modelFleet(clock);
    const store = new MemoryRolloutStore();
    const first = createRolloutOrchestrator({
      store,
      fleet: model.fleet,
      dispatcher: model.dispatcher,
      clock,
    });
    await first.start(plan({ pace: { perMinute: 12 }, waves: [{ count: 2 }, { percent: 100 }] }));
    await clock.advance(60_000);
    await first.close();
    const before = model.orders.size;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(20);
    const second = createRolloutOrchestrator({
      store,
      fleet: model.fleet,
      dispatcher: model.dispatcher,
      clock,
    });
    open.push(second);
    await second.run();
    const done = await runUntil(clock, second, 'r1', ['completed']);
    expect(done.totals.succeeded).toBe(20);
    for (const id of deviceIds(20)) expect(model.installs.get(id)).toEqual(['fw-2.0']);
  });

  it('settles the devices a cancelled rollout left under way, after a restart too', async () => {
    const clock = new ManualClock();
    const model = modelFleet(clock);
    const store = new MemoryRolloutStore();
    const ids = deviceIds(3);
    for (const id of ids) model.behave(id, { outcome: 'silent' });
    const first = createRolloutOrchestrator({
      store,
      fleet: model.fleet,
      dispatcher: model.dispatcher,
      clock,
    });
    await first.start(plan({ devices: ids, deviceTimeoutMs: 120_000, pace: { perMinute: 6 } }));
    await clock.advance(15_000);
    await first.cancel('r1');
    await first.close();
    const second = createRolloutOrchestrator({
      store,
      fleet: model.fleet,
      dispatcher: model.dispatcher,
      clock,
    });
    open.push(second);
    await second.run();
    const done = await runUntil(clock, second, 'r1', ['cancelled']);
    expect(done.totals.timed_out).toBe(model.orders.size);
    expect(done.totals.timed_out + done.totals.skipped).toBe(3);
    expect(done.totals.skipped).toBeGreaterThan(0);
  });

  it('refuses a bad plan naming the field, and a second rollout with one id', async () => {
    const { orchestrator } = setup();
    const refusal = await orchestrator
      .start({ ...plan(), waves: [{ count: 0 }], thresholds: [{ failureRate: 2 }] } as never)
      .catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(ManifestError);
    const paths = (refusal as ManifestError).issues.map((issue) => issue.path);
    expect(paths).toEqual(expect.arrayContaining(['waves[0].count', 'thresholds[0].failureRate']));
    const rollbackMissing = await orchestrator
      .start(plan({ thresholds: [{ failureRate: 0.1, action: 'abort', rollback: true }] }))
      .catch((error: unknown) => error);
    expect((rollbackMissing as ManifestError).issues.map((issue) => issue.path)).toContain('rollback');
    await orchestrator.start(plan());
    await expect(orchestrator.start(plan())).rejects.toMatchObject({ code: 'STATE' });
    await expect(orchestrator.start(plan({ id: 'dupes', devices: ['a', 'a'] }))).rejects.toBeInstanceOf(
      ManifestError,
    );
  });
});
