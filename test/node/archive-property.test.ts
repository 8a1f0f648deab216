/**
 * Whatever bytes arrive as an archive (noise, noise behind a real magic number, real archives
 * with flipped bytes or cut short), extraction either succeeds with a tree that is exactly what
 * it reports, or fails with an ArchiveError and leaves nothing. It never crashes with a foreign
 * error and never writes outside the destination.
 */
import { access, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractArchive, isArchiveError } from '../../src/node/archive/index.js';
import {
  concat,
  dir,
  file,
  gzip,
  insighioPackage,
  listTree,
  longNameEntry,
  paxEntry,
  sandbox,
  tar,
  tarEntry,
  tarHeader,
  zip,
} from '../support/archives.js';

let box: Awaited<ReturnType<typeof sandbox>>;
let run = 0;
/** Destinations of successful runs: the only directories allowed next to the archive. */
const kept: string[] = [];

beforeAll(async () => {
  box = await sandbox();
});
afterAll(async () => {
  await box.remove();
});

const packageTar = tar([
  dir('app/'),
  file('app/update.sh', '#!/bin/sh\necho ok\n', 0o755),
  paxEntry({ path: 'app/lib/pax-named.py' }),
  file('ignored', 'print(1)\n'.repeat(30)),
  longNameEntry(`app/${'n'.repeat(110)}`),
  file('short', 'long'),
]);
const seeds = [
  packageTar,
  gzip(packageTar),
  insighioPackage(packageTar),
  zip([
    { name: 'update.sh', data: '#!/bin/sh\n', mode: 0o100755 },
    { name: 'app/' },
    { name: 'app/main.py', data: 'print("x")\n'.repeat(40) },
    { name: 'app/raw.bin', data: 'stored', method: 0 },
    { name: 'app/dd.txt', data: 'descriptor', dataDescriptor: true },
  ]),
];

/** The tree an extraction that reported `paths` must have produced (parents implied). */
function expectedTree(entries: readonly { path: string; type: string }[]): string[] {
  const tree = new Set<string>();
  for (const entry of entries) {
    const segments = entry.path.split('/');
    for (let depth = 1; depth < segments.length; depth++) tree.add(`${segments.slice(0, depth).join('/')}/`);
    tree.add(entry.type === 'directory' ? `${entry.path}/` : entry.path);
  }
  return [...tree].sort();
}

async function checkExtraction(bytes: Uint8Array, asStream: boolean): Promise<void> {
  const archive = join(box.root, 'archive');
  await writeFile(archive, bytes);
  const name = `out-${run++}`;
  const out = join(box.root, name);
  const source = asStream ? Readable.from([Buffer.from(bytes)]) : archive;
  try {
    const result = await extractArchive(source, out);
    kept.push(`${name}/`);
    const tree = await listTree(out);
    expect(tree).toEqual(expectedTree(result.entries));
    expect(result.totalBytes).toBe(result.entries.reduce((sum, entry) => sum + entry.size, 0));
  } catch (error) {
    expect(isArchiveError(error), `not an ArchiveError: ${String(error)}`).toBe(true);
    await expect(access(out)).rejects.toThrow();
  }
  // Nothing anywhere but the archive and the trees of successful runs.
  const top = (await listTree(box.root)).filter((path) => !path.includes('/') || /^out-\d+\/$/.test(path));
  expect(top).toEqual(['archive', ...kept].sort());
}

const bytesArbitrary = fc.uint8Array({ maxLength: 3000 });
const magic = fc.constantFrom(
  Uint8Array.from([0x1f, 0x8b, 0x08, 0x00]),
  Uint8Array.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0x78, 0x9c]),
  Uint8Array.from([0x50, 0x4b, 0x03, 0x04]),
  Uint8Array.from([0x50, 0x4b, 0x05, 0x06]),
  tarHeader({ name: 'a', size: 100 }),
  tarHeader({ name: 'pax', type: 'x', size: 40 }),
  tarHeader({ name: 'long', type: 'L', size: 300 }),
);
const mutated = fc
  .record({
    seed: fc.constantFrom(...seeds),
    flips: fc.array(fc.tuple(fc.noBias(fc.nat()), fc.integer({ min: 1, max: 255 })), {
      minLength: 1,
      maxLength: 6,
    }),
    cut: fc.option(fc.noBias(fc.nat()), { nil: undefined }),
  })
  .map(({ seed, flips, cut }) => {
    const bytes = Uint8Array.from(seed);
    for (const [at, xor] of flips) bytes[at % bytes.length]! ^= xor;
    return cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.length + 1));
  });

/** Names built from the pieces traversal attacks are made of. */
const hostileName = fc
  .array(fc.constantFrom('a', 'b', '..', '.', '', 'C:', '\\', '/', 'ü', 'a/b', '../x', '\0'), {
    minLength: 1,
    maxLength: 5,
  })
  .map((parts) => parts.join('/'));
/** Well-formed tar entries (valid checksums) with hostile names, every type flag and pax/GNU metadata. */
const structuredTar = fc
  .array(
    fc.oneof(
      fc
        .record({
          name: hostileName,
          type: fc.constantFrom('0', '5', '1', '2', '3', '4', '6', '7', '\0', 'S', 'V'),
          data: fc.string({ maxLength: 40 }),
          linkName: fc.constantFrom('', '/etc', '../victim', 'a'),
          mode: fc.integer({ min: 0, max: 0o7777 }),
        })
        .map((spec) => tarEntry(spec)),
      hostileName.map((path) => paxEntry({ path })),
      hostileName.map((name) => longNameEntry(name)),
      hostileName.map((name) => longNameEntry(name, 'K')),
    ),
    { maxLength: 8 },
  )
  .chain((entries) => fc.boolean().map((compressed) => (compressed ? gzip(tar(entries)) : tar(entries))));
/** Well-formed zips with hostile names, Unix types and modes, both methods, data descriptors. */
const structuredZip = fc
  .array(
    fc.record({
      name: hostileName,
      data: fc.string({ maxLength: 40 }),
      method: fc.constantFrom(0, 8),
      mode: fc.constantFrom(0o100644, 0o100755, 0o104755, 0o040755, 0o120777, 0o020644, 0o010644, 0),
      dataDescriptor: fc.boolean(),
    }),
    { maxLength: 8 },
  )
  .map((specs) => zip(specs));

describe('arbitrary bytes as an archive', () => {
  it('the seeds themselves extract', async () => {
    for (const seed of seeds) await checkExtraction(seed, false);
    expect(kept).toHaveLength(seeds.length);
  });

  it('random bytes: typed error or a consistent tree, never a write outside (200 runs)', async () => {
    await fc.assert(fc.asyncProperty(bytesArbitrary, fc.boolean(), checkExtraction), {
      numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 200),
    });
  });

  it('random bytes behind a real gzip, zlib, zip or tar header (250 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(magic, bytesArbitrary, fc.boolean(), (head, tail, asStream) =>
        checkExtraction(concat([head, tail]), asStream),
      ),
      { numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 250) },
    );
  });

  it('real tar, tar.gz, insigh.io and zip packages with flipped bytes or cut short (300 runs)', async () => {
    await fc.assert(fc.asyncProperty(mutated, fc.boolean(), checkExtraction), {
      numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 300),
    });
  });

  it('well-formed tar archives with hostile names, types and modes (250 runs)', async () => {
    await fc.assert(fc.asyncProperty(structuredTar, fc.boolean(), checkExtraction), {
      numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 250),
    });
  });

  it('well-formed zip archives with hostile names, types and modes (250 runs)', async () => {
    await fc.assert(fc.asyncProperty(structuredZip, fc.boolean(), checkExtraction), {
      numRuns: Number(process.env.OTAKIT_PROPERTY_RUNS ?? 250),
    });
  });
});
