/**
 * Issue: an update already committed, offered again (a retained MQTT order after a reconnect, an
 * AWS delta re-sent while desired ≠ reported), went to `available` and was installed again.
 * Re-offering the committed update must be a no-op with a typed reason.
 */
import { describe, expect, it, vi } from 'vitest';
import { createUpdateMachine, type ManifestInput, MemoryStore } from '../../src/index.js';

const manifest: ManifestInput = {
  id: 'u-2',
  version: '2.0.0',
  artifacts: [{ url: 'https://example.test/fw.bin', target: 'firmware', sha256: 'a'.repeat(64), size: 3 }],
};

async function committedMachine() {
  const install = vi.fn(async () => {});
  const download = vi.fn(async () => [{ location: 'staged', size: 3, sha256: 'a'.repeat(64) }]);
  const machine = createUpdateMachine({
    id: 'dev',
    store: new MemoryStore(),
    hooks: { download, install },
  });
  await machine.resume();
  const first = await machine.apply(manifest);
  expect(first.state).toBe('committed');
  return { machine, install, download };
}

describe('replayed orders', () => {
  it('offer() of the committed update is a no-op with the reason already_installed', async () => {
    const { machine, download } = await committedMachine();
    const transitions: string[] = [];
    machine.on('transition', ({ to }) => transitions.push(to));
    const outcome = await machine.offer(manifest);
    expect(outcome).toMatchObject({ state: 'idle', ignored: 'already_installed', update: { id: 'u-2' } });
    expect(machine.state).toBe('idle');
    expect(transitions).toEqual([]);
    expect(download).toHaveBeenCalledTimes(1);
  });

  it('apply() of the committed update neither downloads nor installs again', async () => {
    const { machine, download, install } = await committedMachine();
    const outcome = await machine.apply(manifest);
    expect(outcome).toMatchObject({ state: 'idle', ignored: 'already_installed' });
    expect(download).toHaveBeenCalledTimes(1);
    expect(install).toHaveBeenCalledTimes(1);
  });

  it('a different version with the same id is not mistaken for the committed one', async () => {
    const { machine, download } = await committedMachine();
    const outcome = await machine.apply({ ...manifest, version: '2.0.1' });
    expect(outcome.state).toBe('committed');
    expect(outcome).not.toHaveProperty('ignored');
    expect(download).toHaveBeenCalledTimes(2);
  });
});
