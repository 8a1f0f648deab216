/**
 * Issue: when the store was lost while the installer's journal said the new version was
 * installed, resume() started fresh at idle with no committed version: machine and disk
 * disagreed. Rule (documented in docs/state-machine.md): when the store holds no record, resume()
 * calls the `recover` hook, which brings the device back to a state the machine can vouch for;
 * the Node installers' `recover()` rolls an unfinished install back, byte for byte.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createUpdateMachine, MemoryStore } from '../../src/index.js';
import { createFileInstaller, FileStore } from '../../src/node/index.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'otakit-lost-store-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('a lost store', () => {
  it('rolls back an install the machine no longer knows about, so disk and machine agree', async () => {
    const target = join(root, 'app.bin');
    await writeFile(target, 'v1');
    const staged = join(root, 'staged.bin');
    await writeFile(staged, 'v2');
    const installer = createFileInstaller({ target });
    await installer.install(staged);
    expect((await installer.state()).phase).toBe('installed');
    expect(await readFile(target, 'utf8')).toBe('v2');

    // The store directory is gone (a wiped data partition); the journal survived with the target.
    const machine = createUpdateMachine({
      id: 'gw',
      store: new FileStore(join(root, 'state')),
      hooks: {
        download: async () => [],
        install: async () => {},
        recover: async () => {
          await installer.recover();
          return null;
        },
      },
    });
    const outcome = await machine.resume();
    expect(outcome.state).toBe('idle');
    expect(await readFile(target, 'utf8')).toBe('v1');
    expect((await installer.state()).phase).toBe('idle');
    expect(machine.snapshot().current).toBeNull();
  });

  it('adopts the version the recover hook reports as the committed one', async () => {
    const machine = createUpdateMachine({
      id: 'gw',
      store: new MemoryStore(),
      hooks: {
        download: async () => [],
        install: async () => {},
        recover: async () => ({ id: 'u-7', version: '7' }),
      },
    });
    await machine.resume();
    expect(machine.snapshot().current).toEqual({ id: 'u-7', version: '7' });
    // The adopted version is what a re-delivered order is compared with.
    const again = await machine.offer({
      id: 'u-7',
      version: '7',
      artifacts: [{ url: 'https://h/a', target: 'file' }],
    });
    expect(again.ignored).toBe('already_installed');
  });

  it('calls recover only when the store held no record', async () => {
    const store = new MemoryStore();
    const recover = vi.fn(async () => null);
    const hooks = { download: async () => [], install: async () => {}, recover };
    await createUpdateMachine({ id: 'gw', store, hooks }).resume();
    await createUpdateMachine({ id: 'gw', store, hooks }).resume();
    expect(recover).toHaveBeenCalledTimes(1);
  });
});
