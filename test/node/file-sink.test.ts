import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
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

interface HandlePrototype {
  datasync(): Promise<void>;
  sync(): Promise<void>;
  write(...args: unknown[]): Promise<{ bytesWritten: number }>;
}

/** The prototype of node:fs/promises' FileHandle, to watch its syncs. */
async function fileHandlePrototype(): Promise<HandlePrototype> {
  const handle = await open(join(directory, 'probe'), 'w');
  await handle.close();
  return Object.getPrototypeOf(handle);
}

const ioError = (syscall: string) =>
  Object.assign(new Error(`EIO: i/o error, ${syscall}`), { code: 'EIO', errno: -5, syscall });

/** Descriptors this process holds open on `path`. */
function openDescriptors(path: string): number {
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === path) count += 1;
    } catch {
      // closed meanwhile
    }
  }
  return count;
}

/** `count` chunks of `size` bytes, each filled with its own value. */
const numbered = (count: number, size: number) =>
  Array.from({ length: count }, (_, index) => new Uint8Array(size).fill(index + 1));

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
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 40) },
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
    // The failure is reported again by flush, which closes the descriptor.
    await expect(sink.flush()).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(openDescriptors('/dev/full')).toBe(0);
  });

  it('after a failed batch write, never writes later bytes behind the lost ones (the file stays a prefix)', async () => {
    const prototype = await fileHandlePrototype();
    const original = prototype.write;
    let calls = 0;
    vi.spyOn(prototype, 'write').mockImplementation(function (this: unknown, ...args: unknown[]) {
      calls += 1;
      return calls === 2 ? Promise.reject(ioError('write')) : original.apply(this, args);
    });
    const path = join(directory, 'gap.bin');
    const sink = new FileSink(path, { fsync: false, batchBytes: 4096 });
    const chunks = numbered(5, 4096); // one batch each; the second batch is lost
    const failures: unknown[] = [];
    for (const chunk of chunks) await sink.write(chunk).catch((error: unknown) => failures.push(error));
    await sink.flush().catch((error: unknown) => failures.push(error));
    expect(failures.length).toBeGreaterThan(0);
    expect(failures[0]).toMatchObject({ code: 'EIO' });
    vi.restoreAllMocks();
    // What is on disk must be a prefix of what was handed over: a resumed download trusts it.
    const held = await readFile(path);
    expect(Buffer.compare(held, Buffer.concat(chunks).subarray(0, held.length))).toBe(0);
    expect(await sink.length()).toBe(held.length);
    expect(openDescriptors(path)).toBe(0);
  });

  it('reports a failed write until flush (flush never claims durable bytes that were lost), then works again', async () => {
    const prototype = await fileHandlePrototype();
    const original = prototype.write;
    let calls = 0;
    vi.spyOn(prototype, 'write').mockImplementation(function (this: unknown, ...args: unknown[]) {
      calls += 1;
      return calls === 1 ? Promise.reject(ioError('write')) : original.apply(this, args);
    });
    const path = join(directory, 'sticky.bin');
    const sink = new FileSink(path, { fsync: false, batchBytes: 4096 });
    await sink.write(new Uint8Array(4096)); // its batch fails in the background
    await expect(sink.write(new Uint8Array(4096))).rejects.toMatchObject({ code: 'EIO' });
    await expect(sink.flush()).rejects.toMatchObject({ code: 'EIO' });
    expect(openDescriptors(path)).toBe(0);
    // Reported and closed: the sink starts over cleanly.
    await sink.reset();
    await sink.write(new Uint8Array(100).fill(7));
    await sink.flush();
    expect([...(await readFile(path))]).toEqual(Array(100).fill(7));
  });

  it('a failed background datasync surfaces, the descriptor is closed, and discard removes the file', async () => {
    const prototype = await fileHandlePrototype();
    vi.spyOn(prototype, 'datasync').mockImplementation(() => Promise.reject(ioError('fdatasync')));
    const path = join(directory, 'datasync.bin');
    const sink = new FileSink(path, { batchBytes: 4096, syncEveryBytes: 8192 });
    const failures: unknown[] = [];
    for (const chunk of numbered(8, 4096))
      await sink.write(chunk).catch((error: unknown) => failures.push(error));
    await expect(sink.flush()).rejects.toMatchObject({ code: 'EIO', syscall: 'fdatasync' });
    for (const failure of failures) expect(failure).toMatchObject({ syscall: 'fdatasync' });
    expect(openDescriptors(path)).toBe(0);
    await sink.discard();
    expect(existsSync(path)).toBe(false);
  });

  it('discard and reset right after a write never let the batch being written come back', async () => {
    const discarded = join(directory, 'deep', 'discarded.bin');
    const sink = new FileSink(discarded, { fsync: false, batchBytes: 4096 });
    await sink.write(new Uint8Array(4096).fill(1)); // a full batch: its write (mkdir, open) is under way
    await sink.discard();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(existsSync(discarded)).toBe(false);
    expect(openDescriptors(discarded)).toBe(0);

    const reset = join(directory, 'deep', 'reset.bin');
    const again = new FileSink(reset, { fsync: false, batchBytes: 4096 });
    await again.write(new Uint8Array(4096).fill(1));
    await again.reset();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await again.length()).toBe(0);
    await again.write(new Uint8Array([9]));
    await again.flush();
    expect([...(await readFile(reset))]).toEqual([9]);
  });

  it('length and readBack report exactly the bytes handed to write, before any flush', async () => {
    const path = join(directory, 'partial.bin');
    const sink = new FileSink(path, { fsync: false, batchBytes: 4096 });
    const chunks = [randomBytes(5000), randomBytes(10), randomBytes(4086), randomBytes(1)];
    let total = 0;
    for (const chunk of chunks) {
      await sink.write(chunk);
      total += chunk.length;
      expect(await sink.length()).toBe(total);
    }
    const back: Buffer[] = [];
    for await (const chunk of sink.readBack()) back.push(Buffer.from(chunk));
    expect(Buffer.compare(Buffer.concat(back), Buffer.concat(chunks))).toBe(0);
    expect(openDescriptors(path)).toBe(0);
  });

  it('flush makes the file durable and present even with nothing written since the last close', async () => {
    const prototype = await fileHandlePrototype();
    const sync = vi.spyOn(prototype, 'sync');
    // Bytes held from before (an earlier process killed before its flush), read back by a resume
    // that then finds the server has nothing more to send (416): flush must still fsync them.
    const path = join(directory, 'held-before.bin');
    const before = new FileSink(path, { fsync: false });
    await before.write(randomBytes(10_000));
    for await (const _ of before.readBack()) {
      // closes the descriptor without a sync
    }
    const resumed = new FileSink(path);
    expect(await resumed.length()).toBe(10_000);
    for await (const _ of resumed.readBack()) {
      // rebuilding the hashes
    }
    await resumed.flush();
    expect(sync).toHaveBeenCalledTimes(1);
    // An empty download is an empty file, not a missing one.
    const empty = join(directory, 'sub', 'empty.bin');
    const sink = new FileSink(empty);
    await sink.reset();
    await sink.flush();
    expect((await readFile(empty)).length).toBe(0);
  });
});
