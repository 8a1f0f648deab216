import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileSink } from '../../src/node/index.js';

let directory: string;
beforeEach(async () => {
  directory = await mkdtemp(join(tmpdir(), 'otakit-file-sink-'));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(directory, { recursive: true, force: true });
});

/** The prototype of node:fs/promises' FileHandle, to watch its syncs. */
async function fileHandlePrototype(): Promise<{ datasync(): Promise<void>; sync(): Promise<void> }> {
  const handle = await open(join(directory, 'probe'), 'w');
  await handle.close();
  return Object.getPrototypeOf(handle);
}

describe('FileSink', () => {
  it('writes every byte in order across batch boundaries, whatever the chunking', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 40_000 }), { maxLength: 20 }),
        fc.integer({ min: 1024, max: 20_000 }),
        async (sizes, batchBytes) => {
          const path = join(directory, 'out.bin');
          const sink = new FileSink(path, { fsync: false, batchBytes });
          await sink.reset();
          const chunks = sizes.map((size) => randomBytes(size));
          for (const chunk of chunks) await sink.write(chunk);
          expect(await sink.length()).toBe(sizes.reduce((sum, size) => sum + size, 0));
          await sink.flush();
          expect(Buffer.compare(await readFile(path), Buffer.concat(chunks))).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("lets the caller reuse a chunk's memory as soon as write settles", async () => {
    const path = join(directory, 'reuse.bin');
    const sink = new FileSink(path, { fsync: false, batchBytes: 64 * 1024 });
    const buffer = new Uint8Array(100_000);
    const expected = createHash('sha256');
    for (let round = 0; round < 30; round++) {
      buffer.fill(round + 1);
      expected.update(buffer);
      await sink.write(buffer);
    }
    buffer.fill(0);
    await sink.flush();
    expect(
      createHash('sha256')
        .update(await readFile(path))
        .digest('hex'),
    ).toBe(expected.digest('hex'));
  });

  it('reads back what it holds, so a resumed download can rebuild its hashes', async () => {
    const path = join(directory, 'held.bin');
    const bytes = randomBytes(3 * 1024 * 1024 + 7);
    const sink = new FileSink(path, { fsync: false });
    await sink.write(bytes);
    await sink.flush();
    const back: Buffer[] = [];
    for await (const chunk of new FileSink(path).readBack()) back.push(Buffer.from(chunk));
    expect(Buffer.compare(Buffer.concat(back), bytes)).toBe(0);
  });

  it('syncs in the background while the download runs, not all at the end', async () => {
    const prototype = await fileHandlePrototype();
    const datasync = vi.spyOn(prototype, 'datasync');
    const sink = new FileSink(join(directory, 'synced.bin'), {
      batchBytes: 16 * 1024,
      syncEveryBytes: 64 * 1024,
    });
    const chunk = randomBytes(8 * 1024);
    for (let index = 0; index < 128; index++) await sink.write(chunk); // 1 MiB
    await sink.flush();
    expect(datasync.mock.calls.length).toBeGreaterThanOrEqual(14); // ~1 MiB / 64 KiB, one at a time
    expect(datasync.mock.calls.length).toBeLessThanOrEqual(16);
  });

  it('does not sync at all with fsync: false, and only on flush with syncEveryBytes: Infinity', async () => {
    const prototype = await fileHandlePrototype();
    const datasync = vi.spyOn(prototype, 'datasync');
    const sync = vi.spyOn(prototype, 'sync');
    const chunk = randomBytes(64 * 1024);
    const loose = new FileSink(join(directory, 'loose.bin'), { fsync: false, syncEveryBytes: 1024 });
    for (let index = 0; index < 32; index++) await loose.write(chunk);
    await loose.flush();
    expect(datasync).not.toHaveBeenCalled();
    expect(sync).not.toHaveBeenCalled();
    const atEnd = new FileSink(join(directory, 'at-end.bin'), { syncEveryBytes: Number.POSITIVE_INFINITY });
    for (let index = 0; index < 32; index++) await atEnd.write(chunk);
    await atEnd.flush();
    expect(datasync).not.toHaveBeenCalled();
    expect(sync).toHaveBeenCalledTimes(1);
  });

  it('reports a failing disk (ENOSPC) instead of losing bytes silently', async () => {
    // /dev/full accepts the open and fails every write with ENOSPC. Never discard() it.
    const sink = new FileSink('/dev/full', { fsync: false, batchBytes: 4096 });
    const chunk = new Uint8Array(4096);
    const writes = (async () => {
      for (let index = 0; index < 4; index++) await sink.write(chunk);
      await sink.flush();
    })();
    await expect(writes).rejects.toMatchObject({ code: 'ENOSPC' });
  });
});
