import { describe, expect, it } from 'vitest';
import { Fleet, MemoryFleetStore } from '../../src/cloud/fleet/index.js';
import { KeyedLock } from '../../src/cloud/fleet/keyed-lock.js';
import { isOtaError } from '../../src/index.js';
import { fleetStoreSuite, status } from './fleet-suite.js';

// A second "instance" of a memory store is the same store: one process, one memory.
fleetStoreSuite('MemoryFleetStore', {
  fresh: async () => {
    const store = new MemoryFleetStore();
    return { store, another: async () => store };
  },
});

describe('MemoryFleetStore', () => {
  it('keeps at most historyLimit transitions per device and anomalyLimit anomalies', async () => {
    const store = new MemoryFleetStore({ historyLimit: 3, anomalyLimit: 2 });
    const fleet = new Fleet({ store });
    for (let round = 0; round < 20; round++) {
      await fleet.ingest('h-1', status('h-1', 'checking', { updateId: null }));
      await fleet.ingest('h-1', status('h-1', 'idle'));
      await fleet.ingest('h-1', { bad: round });
    }
    expect((await fleet.history('h-1', { limit: 100 })).length).toBeLessThanOrEqual(3);
    expect((await fleet.anomalies({ limit: 100 })).length).toBeLessThanOrEqual(2);
    expect(() => new MemoryFleetStore({ historyLimit: 0 })).toThrow(/historyLimit/);
  });

  it('hands out copies: changing what it returned changes nothing stored', async () => {
    const fleet = new Fleet();
    await fleet.ingest('c-1', status('c-1', 'downloading'));
    const device = (await fleet.store.device('c-1'))!;
    device.record.state = 'committed';
    (await fleet.history('c-1'))[0]!.to = 'canceled';
    expect((await fleet.device('c-1'))?.state).toBe('downloading');
    expect((await fleet.history('c-1'))[0]?.to).toBe('downloading');
  });

  it('the keyed lock frees every key once its holders are done', async () => {
    const lock = new KeyedLock();
    const order: string[] = [];
    await Promise.all([
      lock.run(['a', 'b'], async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        order.push('ab');
      }),
      lock.run(['b'], async () => {
        order.push('b');
      }),
      lock.run(['c'], async () => {
        order.push('c');
      }),
    ]);
    expect(order).toEqual(['c', 'ab', 'b']);
    expect(lock.size).toBe(0);
    await expect(lock.run(['a'], async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(lock.size).toBe(0);
  });

  it('refuses bad options with typed errors', () => {
    for (const options of [{ recordHistoryLimit: 0 }, { trackerCacheSize: 1.5 }]) {
      let thrown: unknown;
      try {
        new Fleet(options);
      } catch (error) {
        thrown = error;
      }
      expect(isOtaError(thrown, 'CONFIG')).toBe(true);
    }
  });

  it('a fleet with a tiny tracker cache reloads trackers from the store and stays right', async () => {
    const fleet = new Fleet({ trackerCacheSize: 1 });
    for (const state of ['downloading', 'downloaded', 'verifying'] as const) {
      for (const deviceId of ['k-1', 'k-2', 'k-3']) {
        expect((await fleet.ingest(deviceId, status(deviceId, state))).outcome).toBe('applied');
      }
    }
    expect((await fleet.counts()).verifying).toBe(3);
  });
});
