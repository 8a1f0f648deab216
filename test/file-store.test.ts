import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createUpdateMachine, isOtaError } from '../src/index.js';
import { FileStore } from '../src/node/index.js';
import { bundled } from './support/bundle.js';
import { manifest, rig } from './support/fixtures.js';

let directory: string;
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'otakit-store-'));
});
afterEach(async () => {
  await rm(directory, { recursive: true, force: true });
});

describe('FileStore', () => {
  it('stores, reads, replaces and deletes JSON values under any key', async () => {
    const store = new FileStore(directory);
    expect(await store.get('otakit/machine/a.b')).toBeUndefined();
    await store.put('otakit/machine/a.b', { state: 'idle', list: [1, 2] });
    await store.put('../escape', 1);
    expect(await store.get('otakit/machine/a.b')).toEqual({ state: 'idle', list: [1, 2] });
    await store.put('otakit/machine/a.b', { state: 'downloading' });
    expect(await store.get('otakit/machine/a.b')).toEqual({ state: 'downloading' });
    await store.delete('otakit/machine/a.b');
    await store.delete('otakit/machine/a.b'); // deleting twice is fine
    expect(await store.get('otakit/machine/a.b')).toBeUndefined();
    // Keys never escape the directory.
    expect((await readdir(directory)).sort()).toEqual(['%2E%2E%2Fescape.json']);
  });

  it('reports invalid JSON as a STORE error and leaves the file for inspection', async () => {
    const store = new FileStore(directory);
    await store.put('k', 1);
    const [file] = await readdir(directory);
    await writeFile(join(directory, file!), '{"torn');
    await expect(store.get('k')).rejects.toSatisfy((error: unknown) => isOtaError(error, 'STORE'));
    expect(await readFile(join(directory, file!), 'utf8')).toBe('{"torn');
  });

  it('reports an unwritable directory as a STORE error', async () => {
    const file = join(directory, 'not-a-directory');
    await writeFile(file, '');
    await expect(new FileStore(file).put('k', 1)).rejects.toMatchObject({ code: 'STORE' });
  });

  it('keeps a machine across process restarts', async () => {
    const { device } = rig();
    const first = createUpdateMachine({ id: 'dev-1', store: new FileStore(directory), hooks: device.hooks });
    await first.offer(await manifest());
    const second = createUpdateMachine({ id: 'dev-1', store: new FileStore(directory), hooks: device.hooks });
    await second.load();
    expect(second.snapshot().update).toEqual({ id: 'u1', version: '1.0.0' });
    expect((await second.resume()).state).toBe('committed');
  });

  it('after SIGKILL mid-write, the key holds a whole value at least as new as the last acknowledged one', async () => {
    const child = spawn(
      process.execPath,
      [await bundled(join(import.meta.dirname, 'support/file-store-writer.ts')), directory],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let acknowledged = 0;
    await new Promise<void>((resolve, reject) => {
      child.on('error', reject);
      child.stdout.on('data', (chunk: Buffer) => {
        const numbers = chunk.toString().trim().split('\n').map(Number);
        acknowledged = Math.max(acknowledged, ...numbers);
        if (acknowledged >= 40) {
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    await new Promise((resolve) => child.on('exit', resolve));
    const value = (await new FileStore(directory).get('otakit/machine/dev')) as {
      sequence: number;
      padding: string;
    };
    expect(value.sequence).toBeGreaterThanOrEqual(acknowledged);
    expect(value.padding.length).toBe(20_000 + (value.sequence % 7) * 1_000);
    // The next store over the directory sweeps temp files a killed writer left behind.
    await new FileStore(directory).put('other', 1);
    expect((await readdir(directory)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });
});
