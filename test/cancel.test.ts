import { describe, expect, it } from 'vitest';
import type { UpdateHooks } from '../src/index.js';
import { createCrashingStore } from '../src/testing/index.js';
import { blockUntilAborted, until } from './support/async.js';
import { manifest, rig } from './support/fixtures.js';

/** A hook that parks in its phase until canceled, and says when it got there. */
function parking(name: keyof UpdateHooks) {
  const state = { entered: false };
  const hook = ({ signal }: { signal: AbortSignal }) => {
    state.entered = true;
    return blockUntilAborted(signal);
  };
  return { state, hooks: { [name]: hook } as Partial<UpdateHooks> };
}

describe('cancel() in every non-terminal state', () => {
  it('idle: nothing to cancel', async () => {
    const { build } = rig();
    const machine = build();
    expect(await machine.cancel()).toBe(false);
    expect(machine.state).toBe('idle');
  });

  it('checking: ends canceled, reported, then idle', async () => {
    const { device, build } = rig();
    const park = parking('check');
    const machine = build(undefined, { hooks: { ...device.hooks, ...park.hooks } });
    const outcome = machine.check();
    await until(() => park.state.entered);
    expect(await machine.cancel('operator said stop')).toBe(true);
    expect(await outcome).toMatchObject({
      state: 'canceled',
      error: { code: 'ABORTED', message: 'operator said stop' },
    });
    expect(machine.state).toBe('idle');
  });

  it('available (offered, not running): ends canceled without downloading', async () => {
    const { device, build } = rig();
    const machine = build();
    await machine.offer(await manifest());
    expect(await machine.cancel()).toBe(true);
    expect(machine.snapshot().lastOutcome?.state).toBe('canceled');
    expect(device.log).toEqual([]);
  });

  it('downloading: the download sees the abort and the update ends canceled', async () => {
    const { device, build } = rig();
    const park = parking('download');
    const machine = build(undefined, { hooks: { ...device.hooks, ...park.hooks } });
    const outcome = machine.apply(await manifest());
    await until(() => park.state.entered);
    await machine.cancel();
    expect((await outcome).state).toBe('canceled');
    expect(device.version).toBe('0.0.0');
  });

  it('downloading, during a retry backoff: cancel does not wait for the backoff', async () => {
    const { device, build } = rig(
      { failDownloads: 5 },
      { retry: { download: { attempts: 5, baseDelayMs: 60_000 } } },
    );
    const machine = build();
    const outcome = machine.apply(await manifest());
    await until(() => device.log.length === 1);
    await machine.cancel();
    expect((await outcome).state).toBe('canceled');
  });

  it('downloaded (persisted before a crash, not resumed): ends canceled', async () => {
    const { device, store, build } = rig();
    // Writes: available, downloading, downloaded.
    const crashing = createCrashingStore(store, 3);
    void build(crashing).apply(await manifest());
    await until(() => crashing.crashed);
    const machine = build(store);
    await machine.load();
    expect(machine.state).toBe('downloaded');
    expect(await machine.cancel()).toBe(true);
    expect(machine.snapshot().lastOutcome?.state).toBe('canceled');
    expect(device.log).not.toContain('install:u1');
  });

  it('verifying: ends canceled, nothing installed', async () => {
    const { device, build } = rig();
    const park = parking('verify');
    const machine = build(undefined, { hooks: { ...device.hooks, ...park.hooks } });
    const outcome = machine.apply(await manifest());
    await until(() => park.state.entered);
    await machine.cancel();
    expect((await outcome).state).toBe('canceled');
    expect(device.log).not.toContain('install:u1');
  });

  it('installing: goes through rolling_back, never leaves a half install', async () => {
    const { device, build } = rig();
    let entered = false;
    const machine = build(undefined, {
      hooks: {
        ...device.hooks,
        install: async (context) => {
          await device.hooks.install(context); // half of the work is done...
          entered = true;
          return blockUntilAborted(context.signal); // ...when the cancel arrives
        },
      },
    });
    const seen: string[] = [];
    machine.on('transition', ({ to }) => seen.push(to));
    const outcome = machine.apply(await manifest());
    await until(() => entered);
    expect(device.version).toBe('1.0.0');
    await machine.cancel();
    expect(await outcome).toMatchObject({ state: 'rolled_back', error: { code: 'ABORTED' } });
    expect(seen.slice(-3)).toEqual(['rolling_back', 'rolled_back', 'idle']);
    expect(device.version).toBe('0.0.0');
  });

  it('installed, waiting for a reboot: rolls back', async () => {
    const { device, build } = rig({ rebootOnInstall: true });
    const machine = build();
    const first = await machine.apply(await manifest());
    expect(first).toMatchObject({ state: 'installed', rebootRequired: true });
    expect(machine.state).toBe('installed');
    expect(await machine.cancel()).toBe(true);
    expect(machine.snapshot().lastOutcome?.state).toBe('rolled_back');
    expect(device.version).toBe('0.0.0');
  });

  it('installed, during the health check: rolls back', async () => {
    const { device, build } = rig();
    const park = parking('healthCheck');
    const machine = build(undefined, { hooks: { ...device.hooks, ...park.hooks } });
    const outcome = machine.apply(await manifest());
    await until(() => park.state.entered);
    await machine.cancel();
    expect((await outcome).state).toBe('rolled_back');
    expect(device.version).toBe('0.0.0');
  });

  it('rolling_back: the rollback is not interrupted, it runs to its end', async () => {
    const { device, build } = rig({ unhealthy: true });
    let release: () => void = () => {};
    let rolling = false;
    let sawAbort = false;
    const machine = build(undefined, {
      hooks: {
        ...device.hooks,
        rollback: async (context) => {
          rolling = true;
          await new Promise<void>((resolve) => {
            release = resolve;
          });
          sawAbort = context.signal.aborted;
          return device.hooks.rollback!(context);
        },
      },
    });
    const outcome = machine.apply(await manifest());
    await until(() => rolling);
    const canceled = machine.cancel();
    release();
    expect(await canceled).toBe(true);
    expect(await outcome).toMatchObject({ state: 'rolled_back', error: { code: 'HEALTH_CHECK' } });
    expect(sawAbort).toBe(false);
    expect(device.version).toBe('0.0.0');
  });

  it('an AbortSignal passed to apply() cancels like cancel()', async () => {
    const { device, build } = rig();
    const park = parking('download');
    const machine = build(undefined, { hooks: { ...device.hooks, ...park.hooks } });
    const controller = new AbortController();
    const outcome = machine.apply(await manifest(), { signal: controller.signal });
    await until(() => park.state.entered);
    controller.abort();
    expect((await outcome).state).toBe('canceled');
  });
});
