import { describe, expect, it } from 'vitest';
import {
  createUpdateMachine,
  MemoryStore,
  type OtaError,
  type TransitionEvent,
  type UpdateStatus,
  type UpdateStatusInput,
} from '../src/index.js';
import { manifest, rig } from './support/fixtures.js';

function status(state: UpdateStatus['state'], extra: Partial<UpdateStatusInput> = {}): UpdateStatusInput {
  return {
    machineId: 'dev-1',
    updateId: 'u1',
    version: '1.0.0',
    state,
    previous: null,
    at: '2026-01-01T00:00:00.000Z',
    ...extra,
  };
}

describe('tracker role', () => {
  it('follows a device machine through its reports and ends with the same history', async () => {
    const tracker = createUpdateMachine({ id: 'dev-1', role: 'tracker' });
    const { device, build } = rig({ unhealthy: true });
    const machine = build(undefined, {
      hooks: {
        ...device.hooks,
        report: async ({ status: reported }) => {
          // What a protocol would carry: JSON over the wire.
          const result = await tracker.ingest(JSON.parse(JSON.stringify(reported)));
          if (!result.accepted) throw result.error;
        },
      },
    });
    const deviceSeen: string[] = [];
    const trackerSeen: string[] = [];
    machine.on('transition', (event) => deviceSeen.push(`${event.from}->${event.to}`));
    tracker.on('transition', (event) => trackerSeen.push(`${event.from}->${event.to}`));
    await machine.apply(await manifest());
    expect(trackerSeen).toEqual(deviceSeen);
    const snapshot = tracker.snapshot();
    expect(snapshot.role).toBe('tracker');
    expect(snapshot.state).toBe('idle');
    expect(snapshot.lastOutcome).toMatchObject({ state: 'rolled_back', error: { code: 'HEALTH_CHECK' } });
    expect(snapshot.history.map((entry) => entry.to)).toEqual(
      machine.snapshot().history.map((entry) => entry.to),
    );
  });

  it('follows a retry of the same update after a failure, through an implied idle', async () => {
    const tracker = createUpdateMachine({ id: 'dev-1', role: 'tracker' });
    await tracker.ingest(status('downloading'));
    await tracker.ingest(
      status('download_failed', {
        error: { name: 'TransportError', code: 'DOWNLOAD', message: 'reset', retryable: true },
      }),
    );
    // Connhex's update id is the version: the retry repeats it.
    const retry = await tracker.ingest(status('downloading'));
    expect(retry).toMatchObject({ accepted: true, state: 'downloading', skipped: ['idle', 'available'] });
    expect(await tracker.ingest(status('committed'))).toMatchObject({ accepted: true, state: 'committed' });
  });

  it('takes an idle heartbeat carrying a version as no news, not as an illegal idle -> idle', async () => {
    const tracker = createUpdateMachine({ id: 'dev-1', role: 'tracker' });
    const errors: unknown[] = [];
    tracker.on('error', (event) => errors.push(event));
    expect(await tracker.ingest(status('idle', { updateId: '0.0.3' }))).toMatchObject({
      accepted: true,
      duplicate: true,
    });
    expect(errors).toEqual([]);
    expect(tracker.state).toBe('idle');
  });

  it('infers the states a device did not report, and says which', async () => {
    const tracker = createUpdateMachine({ id: 'dev-1', role: 'tracker' });
    const events: TransitionEvent[] = [];
    tracker.on('transition', (event) => events.push(event));
    expect(await tracker.ingest(status('available'))).toMatchObject({ accepted: true, skipped: [] });
    const result = await tracker.ingest(status('committed'));
    expect(result).toMatchObject({
      accepted: true,
      state: 'committed',
      skipped: ['downloading', 'downloaded', 'verifying', 'installing', 'installed'],
    });
    expect(events.at(-1)?.skipped).toHaveLength(5);
    expect(tracker.snapshot().current).toEqual({ id: 'u1', version: '1.0.0' });
  });

  it('refuses an illegal transition with a STATE error and keeps its state', async () => {
    const tracker = createUpdateMachine({ id: 'dev-1', role: 'tracker' });
    const errors: OtaError[] = [];
    tracker.on('error', (error) => errors.push(error));
    await tracker.ingest(status('installing'));
    const result = await tracker.ingest(status('downloading'));
    expect(result.accepted).toBe(false);
    if (!result.accepted)
      expect(result.error.message).toBe('Illegal reported transition installing -> downloading');
    expect(tracker.state).toBe('installing');
    expect(errors.map((error) => error.code)).toEqual(['STATE']);
    // Cancel is not possible once installing began.
    expect((await tracker.ingest(status('canceled'))).accepted).toBe(false);
  });

  it('refuses malformed statuses with MANIFEST_INVALID naming the field, without throwing', async () => {
    const tracker = createUpdateMachine({ id: 'dev-1', role: 'tracker' });
    for (const bad of [
      null,
      'downloading',
      42,
      { ...status('downloading'), state: 'exploding' },
      { state: 'idle' },
    ]) {
      const result = await tracker.ingest(bad);
      expect(result.accepted).toBe(false);
      if (!result.accepted) expect(result.error.code).toBe('MANIFEST_INVALID');
    }
    const result = await tracker.ingest({ ...status('downloading'), state: 'exploding' });
    if (!result.accepted)
      expect(result.error.message).toMatch(/^Invalid update status: state: expected one of "idle"/);
    expect(tracker.state).toBe('idle');
  });

  it('adopts the update id a device names only at the end (ThingsBoard reports it with UPDATED)', async () => {
    const tracker = createUpdateMachine({ id: 'dev-1', role: 'tracker' });
    await tracker.ingest(status('downloading', { updateId: null, version: null }));
    await tracker.ingest(status('installing', { updateId: null, version: null }));
    const result = await tracker.ingest(status('committed', { updateId: 'fw:f@1.2', version: '1.2' }));
    expect(result.accepted).toBe(true);
    expect(tracker.snapshot()).toMatchObject({
      state: 'committed',
      current: { id: 'fw:f@1.2', version: '1.2' },
    });
    // Once known, another id is a different update and is refused mid-way.
    await tracker.ingest(status('downloading', { updateId: 'u2' }));
    const other = await tracker.ingest(status('installing', { updateId: 'u3' }));
    expect(other.accepted).toBe(false);
  });

  it('adopts the update id first reported after checking (the check did not know it yet)', async () => {
    const tracker = createUpdateMachine({ id: 'dev-1', role: 'tracker' });
    expect((await tracker.ingest(status('checking', { updateId: null, version: null }))).accepted).toBe(true);
    expect((await tracker.ingest(status('available', { updateId: 'u7', version: '7' }))).accepted).toBe(true);
    expect(tracker.snapshot().update).toEqual({ id: 'u7', version: '7' });
    // Once adopted, another id is refused.
    expect((await tracker.ingest(status('downloading', { updateId: 'u8' }))).accepted).toBe(false);
  });

  it('refuses a status for another machine or another update in flight', async () => {
    const tracker = createUpdateMachine({ id: 'dev-1', role: 'tracker' });
    expect((await tracker.ingest(status('available', { machineId: 'dev-2' }))).accepted).toBe(false);
    await tracker.ingest(status('downloading'));
    expect((await tracker.ingest(status('downloading', { updateId: 'u2' }))).accepted).toBe(false);
    expect(tracker.snapshot().update?.id).toBe('u1');
  });

  it('treats repeated statuses as duplicates and takes their progress', async () => {
    const tracker = createUpdateMachine({ id: 'dev-1', role: 'tracker' });
    const progress: number[] = [];
    tracker.on('progress', (event) => progress.push(event.bytes));
    await tracker.ingest(status('downloading'));
    const again = await tracker.ingest(
      status('downloading', { progress: { bytes: 500, total: 1000, bytesPerSecond: 50 } }),
    );
    expect(again).toMatchObject({ accepted: true, duplicate: true });
    expect(progress).toEqual([500]);
    expect(tracker.snapshot().progress).toEqual({ bytes: 500, total: 1000, bytesPerSecond: 50 });
    expect(tracker.snapshot().history).toHaveLength(1);
  });

  it('starts a new update after an ended one, through an implied idle', async () => {
    const tracker = createUpdateMachine({ id: 'dev-1', role: 'tracker' });
    await tracker.ingest(status('committed', { previous: 'installed' }));
    const next = await tracker.ingest(status('downloading', { updateId: 'u2', version: '2.0.0' }));
    expect(next).toMatchObject({ accepted: true, skipped: ['idle', 'available'] });
    expect(tracker.snapshot().update).toEqual({ id: 'u2', version: '2.0.0' });
  });

  it('applies concurrent statuses one at a time, in arrival order', async () => {
    const tracker = createUpdateMachine({ id: 'dev-1', role: 'tracker' });
    const results = await Promise.all(
      (['available', 'downloading', 'downloaded', 'verifying'] as const).map((state) =>
        tracker.ingest(status(state)),
      ),
    );
    expect(results.every((result) => result.accepted)).toBe(true);
    expect(tracker.snapshot().history.map((entry) => entry.to)).toEqual([
      'available',
      'downloading',
      'downloaded',
      'verifying',
    ]);
  });

  it('persists what it tracked: a new tracker over the same store continues', async () => {
    const store = new MemoryStore();
    const first = createUpdateMachine({ id: 'dev-1', role: 'tracker', store });
    await first.ingest(status('downloading'));
    const second = createUpdateMachine({ id: 'dev-1', role: 'tracker', store });
    await second.load();
    expect(second.state).toBe('downloading');
    expect((await second.ingest(status('downloaded'))).accepted).toBe(true);
  });

  it('will not load a device record as a tracker', async () => {
    const store = new MemoryStore();
    const { device } = rig();
    await createUpdateMachine({ id: 'dev-1', store, hooks: device.hooks }).offer(await manifest());
    await expect(createUpdateMachine({ id: 'dev-1', role: 'tracker', store }).load()).rejects.toMatchObject({
      code: 'STORE',
    });
  });

  it('reset() forgets a stuck update', async () => {
    const tracker = createUpdateMachine({ id: 'dev-1', role: 'tracker' });
    await tracker.ingest(status('installing'));
    expect((await tracker.reset()).state).toBe('idle');
    expect((await tracker.ingest(status('available', { updateId: 'u9' }))).accepted).toBe(true);
  });
});
