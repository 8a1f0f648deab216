import { describe, expect, it } from 'vitest';
import { waitFor } from '../src/index.js';
import { ManualClock } from '../src/testing/index.js';
import { manifest, rig } from './support/fixtures.js';

describe('waitFor', () => {
  it('resolves at once when the machine is already there', async () => {
    const { build } = rig();
    const machine = build();
    await machine.load();
    expect((await waitFor(machine, 'idle')).state).toBe('idle');
  });

  it('resolves on the first matching transition, by state, list or predicate', async () => {
    const { build } = rig();
    const machine = build();
    const installing = waitFor(machine, 'installing');
    const ended = waitFor(machine, ['committed', 'rolled_back']);
    const downloadedBytes = waitFor(
      machine,
      (snapshot) => snapshot.state === 'downloaded' && snapshot.steps > 0,
    );
    await machine.apply(await manifest());
    expect((await installing).update?.id).toBe('u1');
    expect((await ended).state).toBe('committed');
    expect((await downloadedBytes).state).toBe('downloaded');
    expect(machine.listenerCount('transition')).toBe(0);
  });

  it('rejects with TIMEOUT on its clock, and cleans up', async () => {
    const { build } = rig();
    const machine = build();
    const clock = new ManualClock();
    const waiting = expect(waitFor(machine, 'committed', { timeout: 1_000, clock })).rejects.toMatchObject({
      code: 'TIMEOUT',
    });
    await clock.advance(1_000);
    await waiting;
    expect(machine.listenerCount('transition')).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejects when its signal aborts', async () => {
    const { build } = rig();
    const machine = build();
    const controller = new AbortController();
    const waiting = waitFor(machine, 'committed', { signal: controller.signal });
    controller.abort(new Error('page closed'));
    await expect(waiting).rejects.toThrow('page closed');
    expect(machine.listenerCount('progress')).toBe(0);
  });
});
