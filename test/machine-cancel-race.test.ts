/**
 * Found by the machine fuzzer (test/fuzz/machine.fuzz.ts), shrunk: `cancel()` called while
 * another operation holds the machine joins that operation. When that operation is refused before
 * doing anything (here `apply()` of another manifest while one is offered), `cancel()` still
 * resolves `true` ("the machine has settled") and the offered update is not canceled: it stays
 * `available` and a later `apply()`/`resume()` installs the update the caller canceled.
 *
 * Fixed: after joining an operation, `cancel()` cancels an update still pending itself.
 */
import { describe, expect, it } from 'vitest';
import { createUpdateMachine, type ManifestInput, MemoryStore } from '../src/index.js';

const order = (id: string): ManifestInput => ({
  id,
  version: '1.0.0',
  artifacts: [{ url: `https://cdn.example.test/${id}.bin`, size: 4, target: 'firmware' }],
});

describe('device machine: cancel() racing a refused operation', () => {
  it('cancels the offered update when it resolves true', async () => {
    const machine = createUpdateMachine({
      id: 'dev-cancel-race',
      store: new MemoryStore(),
      hooks: { download: async () => [{ location: '/staged/a', size: 4 }], install: async () => {} },
      allowUnverified: true,
    });
    await machine.offer(order('a'));
    const [applied, canceled] = await Promise.allSettled([machine.apply(order('b')), machine.cancel()]);
    expect(applied.status).toBe('rejected');
    expect(canceled).toEqual({ status: 'fulfilled', value: true });
    // What cancel() promised: the update is over, not waiting to be applied.
    expect(machine.snapshot().state).toBe('idle');
    expect(machine.snapshot().lastOutcome?.state).toBe('canceled');
    machine.dispose();
  });
});
