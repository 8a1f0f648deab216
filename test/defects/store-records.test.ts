/**
 * Issue: a store record whose machineId differs from the machine's, or that carries a
 * `__proto__` key, loaded without complaint. Both are refused with a StoreError, and the record
 * is left as it was (nothing is lost by trying).
 */
import { describe, expect, it } from 'vitest';
import { createUpdateMachine, MemoryStore } from '../../src/index.js';
import { machineStoreKey } from '../../src/machine/machine-base.js';

async function storedRecordOf(id: string) {
  const store = new MemoryStore();
  const machine = createUpdateMachine({
    id,
    store,
    hooks: { download: async () => [], install: async () => {} },
  });
  await machine.resume();
  await machine.offer({ id: 'u', version: '1', artifacts: [{ url: 'https://h/a', target: 'file' }] });
  return { store, record: (await store.get(machineStoreKey(id))) as Record<string, unknown> };
}

describe('stored records', () => {
  it("refuses a record of another machine's id", async () => {
    const { record } = await storedRecordOf('dev-a');
    const store = new MemoryStore();
    await store.put(machineStoreKey('dev-b'), { ...record, machineId: 'dev-a' } as never);
    const machine = createUpdateMachine({
      id: 'dev-b',
      store,
      hooks: { download: async () => [], install: async () => {} },
    });
    await expect(machine.resume()).rejects.toMatchObject({ code: 'STORE', name: 'StoreError' });
    expect(((await store.get(machineStoreKey('dev-b'))) as { machineId: string }).machineId).toBe('dev-a');
  });

  it.each([
    ['at the top', (json: string) => json.replace('{', '{"__proto__":{"polluted":true},')],
    ['in the manifest', (json: string) => json.replace('"artifacts":', '"__proto__":{"x":1},"artifacts":')],
  ])('refuses a record with a __proto__ key %s', async (_where, inject) => {
    const { record } = await storedRecordOf('dev-c');
    const tampered = JSON.parse(inject(JSON.stringify(record)));
    expect(JSON.stringify(tampered)).toContain('__proto__');
    const store = new MemoryStore();
    await store.put(machineStoreKey('dev-c'), tampered);
    const machine = createUpdateMachine({
      id: 'dev-c',
      store,
      hooks: { download: async () => [], install: async () => {} },
    });
    await expect(machine.resume()).rejects.toMatchObject({ code: 'STORE' });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
