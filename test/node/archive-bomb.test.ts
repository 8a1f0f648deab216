/**
 * Decompression bombs: 1 GiB of zeros in about 1 MB of gzip or zip (built here without ever
 * holding the zeros), extracted with the limits on and with some of them lifted. Each test
 * samples the process's resident memory while it runs: streaming means the growth stays far
 * under the 200 MB ceiling even while hundreds of megabytes go through.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type ArchiveLimits, extractArchive, isArchiveError } from '../../src/node/archive/index.js';
import { GiB, gzipTarBomb, listTree, MiB, sandbox, zipBomb } from '../support/archives.js';

const RSS_CEILING = 200 * MiB;

// Counts the bytes every decompressor the extraction creates is given and gives back: how far a
// bomb got is measured in bytes, not in milliseconds (which depend on how busy the machine is).
const inflated = vi.hoisted(() => ({ input: 0, output: 0 }));
vi.mock('node:zlib', async (importOriginal) => {
  const zlib = await importOriginal<typeof import('node:zlib')>();
  const counted =
    <A extends unknown[]>(create: (...args: A) => import('node:stream').Transform) =>
    (...args: A) => {
      const stream = create(...args);
      const write = stream.write.bind(stream) as (chunk: Uint8Array, ...rest: unknown[]) => boolean;
      stream.write = ((chunk: Uint8Array, ...rest: unknown[]) => {
        inflated.input += chunk.length;
        return write(chunk, ...rest);
      }) as typeof stream.write;
      const push = stream.push.bind(stream);
      stream.push = (chunk: unknown, encoding?: BufferEncoding) => {
        if (chunk instanceof Uint8Array) inflated.output += chunk.length;
        return push(chunk, encoding);
      };
      return stream;
    };
  return {
    ...zlib,
    createGunzip: counted(zlib.createGunzip),
    createInflate: counted(zlib.createInflate),
    createInflateRaw: counted(zlib.createInflateRaw),
  };
});

let box: Awaited<ReturnType<typeof sandbox>>;
const files = { tgz: '', tgz64: '', zip: '', zipLying1M: '', zipLying256M: '' };
let tgzBytes: Uint8Array;

beforeAll(async () => {
  box = await sandbox();
  tgzBytes = gzipTarBomb(GiB);
  const fixtures: Record<keyof typeof files, Uint8Array> = {
    tgz: tgzBytes,
    tgz64: gzipTarBomb(GiB, 64),
    zip: zipBomb(GiB),
    // Central directory and local header both claim a small file; the data inflates to 1 GiB.
    zipLying1M: zipBomb(GiB, { declaredSize: MiB }),
    zipLying256M: zipBomb(GiB, { declaredSize: 256 * MiB }),
  };
  for (const [name, bytes] of Object.entries(fixtures)) {
    // The fixtures themselves are small: the point of a bomb.
    expect(bytes.length).toBeLessThan(2 * MiB);
    files[name as keyof typeof files] = join(box.root, name);
    await writeFile(join(box.root, name), bytes);
  }
}, 180_000); // only catches a hang: building the bombs is slow on a busy machine

afterAll(async () => {
  await box.remove();
});

interface Measured {
  error: unknown;
  /** Compressed bytes given to decompressors. */
  inflatedFrom: number;
  /** Bytes the decompressors produced. */
  inflatedTo: number;
  rssGrowth: number;
}

/** Runs an extraction that must fail, sampling RSS every 2 ms. */
async function measure(source: string | Readable, limits: Partial<ArchiveLimits> = {}): Promise<Measured> {
  const before = process.memoryUsage.rss();
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 2);
  inflated.input = 0;
  inflated.output = 0;
  const out = join(box.root, 'out');
  let error: unknown;
  try {
    await extractArchive(source, out, { limits });
    error = new Error('bomb extracted');
  } catch (failure) {
    error = failure;
  } finally {
    clearInterval(timer);
  }
  peak = Math.max(peak, process.memoryUsage.rss());
  const measured = {
    error,
    inflatedFrom: inflated.input,
    inflatedTo: inflated.output,
    rssGrowth: peak - before,
  };
  console.log(
    `bomb ${typeof source === 'string' ? source.slice(box.root.length + 1) : 'stream'} ${JSON.stringify(limits, (_, value) => (value === Number.POSITIVE_INFINITY ? 'Infinity' : value))}: ` +
      `${(error as { reason?: string }).reason} after inflating ${(measured.inflatedTo / MiB).toFixed(1)} MiB, RSS +${(measured.rssGrowth / MiB).toFixed(1)} MiB`,
  );
  // Whatever was written before the refusal is gone, and nothing else was written.
  expect(await listTree(box.root)).toEqual(Object.keys(files).sort());
  return measured;
}

function expectRefusal(measured: Measured, reason: string): void {
  expect(isArchiveError(measured.error), String(measured.error)).toBe(true);
  expect((measured.error as { reason: string }).reason).toBe(reason);
  expect(measured.rssGrowth).toBeLessThan(RSS_CEILING);
}

const NO_SIZE_CAPS = { maxTotalBytes: Number.POSITIVE_INFINITY, maxEntryBytes: Number.POSITIVE_INFINITY };

describe('gzip-tar bomb (1 GiB of zeros, ~1 MB compressed)', () => {
  it('default limits: refused on the declared size before any data is inflated', async () => {
    const measured = await measure(files.tgz);
    expectRefusal(measured, 'too-large');
    // Only as far as the first tar header: one output chunk of the 1 GiB.
    expect(measured.inflatedTo).toBeLessThanOrEqual(128 * 1024);
  });

  it('size caps lifted: the compression ratio stops it after a few MiB of real output', async () => {
    const measured = await measure(files.tgz, NO_SIZE_CAPS);
    expectRefusal(measured, 'ratio');
    expect(measured.inflatedTo).toBeLessThan(16 * MiB);
  });

  it('the same bomb arriving as a stream', async () => {
    const chunks = Array.from({ length: Math.ceil(tgzBytes.length / 65536) }, (_, index) =>
      Buffer.from(tgzBytes.subarray(index * 65536, (index + 1) * 65536)),
    );
    expectRefusal(await measure(Readable.from(chunks), NO_SIZE_CAPS), 'ratio');
  });

  it('ratio check off, 64 entries of 16 MiB: 256 MiB really written, then maxTotalBytes; memory stays flat', async () => {
    const measured = await measure(files.tgz64, {
      maxCompressionRatio: Number.POSITIVE_INFINITY,
      maxTotalBytes: 256 * MiB,
    });
    expectRefusal(measured, 'too-large');
    expect((measured.error as { entry?: string }).entry).toBe('zeros-16.bin');
  });
});

describe('zip bomb (1 GiB of zeros, ~1 MB compressed)', () => {
  it('default limits: refused from the central directory, nothing written', async () => {
    expectRefusal(await measure(files.zip), 'too-large');
  });

  it('size caps lifted: refused on the declared ratio, nothing inflated', async () => {
    const measured = await measure(files.zip, NO_SIZE_CAPS);
    expectRefusal(measured, 'ratio');
    expect(measured.inflatedFrom).toBe(0);
    expect(measured.inflatedTo).toBe(0);
  });

  it('lying sizes (claims 1 MiB): real bytes are counted, refused just past the claim', async () => {
    expectRefusal(await measure(files.zipLying1M), 'corrupt');
  });

  it('lying sizes (claims 256 MiB), ratio check off: 256 MiB streamed to disk, then refused; memory stays flat', async () => {
    const measured = await measure(files.zipLying256M, { maxCompressionRatio: Number.POSITIVE_INFINITY });
    expectRefusal(measured, 'corrupt');
    expect((measured.error as Error).message).toContain('larger than its declared size');
  });

  it('lying sizes with the ratio check on: refused by the ratio on real output', async () => {
    // The claim (256 MiB from 1 MB) passes a 1000:1 declared check; the real 1 GiB does not.
    const measured = await measure(files.zipLying256M, { maxCompressionRatio: 300 });
    expectRefusal(measured, 'ratio');
  });
});
