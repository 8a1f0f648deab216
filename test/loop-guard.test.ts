import { describe, expect, it } from 'vitest';
import { createUpdateMachine, MemoryStore, type OtaError } from '../src/index.js';
import { createCrashingStore, SimulatedDevice } from '../src/testing/index.js';
import { until } from './support/async.js';
import { CONTENT, manifest } from './support/fixtures.js';

/** Boots the device again and again; each boot dies right after its first write. */
async function bootLoop(options: {
  device: SimulatedDevice;
  durable: MemoryStore;
  installIsIdempotent?: boolean;
  maxPersistedSteps?: number;
}) {
  const { device, durable } = options;
  const errors: OtaError[] = [];
  for (let boot = 1; boot <= 60; boot++) {
    // Each boot gets exactly one more write before it dies: the re-entry of the state it died in.
    const crashing = createCrashingStore(durable, 1);
    const machine = createUpdateMachine({
      id: device.id,
      store: crashing,
      installIsIdempotent: options.installIsIdempotent ?? false,
      ...(options.maxPersistedSteps === undefined ? {} : { maxPersistedSteps: options.maxPersistedSteps }),
      hooks: device.hooks,
    });
    machine.on('error', (error) => errors.push(error));
    void machine.resume().catch(() => {});
    await until(() => crashing.crashed);
    const after = createUpdateMachine({ id: device.id, store: durable, hooks: device.hooks });
    await after.load();
    if (after.snapshot().history.some((entry) => entry.error?.code === 'STATE_LOOP')) {
      return { boots: boot, errors, snapshot: after.snapshot(), finish: () => after.resume() };
    }
  }
  throw new Error('the loop guard never fired');
}

describe('loop guard', () => {
  it('ends a download that dies on every boot in download_failed after 28 persisted steps', async () => {
    const device = new SimulatedDevice({ id: 'looper', content: CONTENT });
    const durable = new MemoryStore();
    // First life: dies right after persisting "downloading" (writes: available, downloading).
    const first = createCrashingStore(durable, 2);
    void createUpdateMachine({ id: device.id, store: first, hooks: device.hooks }).apply(await manifest());
    await until(() => first.crashed);

    const result = await bootLoop({ device, durable });
    // Steps: available (1), downloading (2), then one per boot: the 27th boot would be step 29.
    expect(result.boots).toBe(27);
    const last = result.snapshot.history.at(-1)!;
    expect(last).toMatchObject({ from: 'downloading', to: 'download_failed', error: { code: 'STATE_LOOP' } });
    expect(last.error?.message).toMatch(
      /State looping detected for update u1 \(more than 28 persisted steps/,
    );
    // The next boot reports it and returns to idle: never wedged.
    const outcome = await result.finish();
    expect(outcome).toMatchObject({ state: 'download_failed', error: { code: 'STATE_LOOP' } });
  });

  it('rolls back an install that kills the device on every boot', async () => {
    const device = new SimulatedDevice({ id: 'looper', content: CONTENT });
    const durable = new MemoryStore();
    // First life dies right after persisting "installing" (5th write).
    const first = createCrashingStore(durable, 5);
    void createUpdateMachine({
      id: device.id,
      store: first,
      hooks: device.hooks,
      installIsIdempotent: true,
    }).apply(await manifest());
    await until(() => first.crashed);
    const result = await bootLoop({ device, durable, installIsIdempotent: true, maxPersistedSteps: 10 });
    expect(result.boots).toBe(6);
    expect(result.snapshot.history.at(-1)).toMatchObject({ from: 'installing', to: 'rolling_back' });
    const outcome = await result.finish();
    expect(outcome).toMatchObject({ state: 'rolled_back', error: { code: 'STATE_LOOP' } });
    expect(device.version).toBe('0.0.0');
  });
});
