import { execFileSync } from 'node:child_process';
import { chmod, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_ARCHIVE_LIMITS,
  type ExtractArchiveResult,
  extractArchive,
  sniffArchiveFormat,
} from '../../src/node/archive/index.js';
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
  toBytes,
  zip,
} from '../support/archives.js';
import { hasTool, skipOrFailInCi } from '../support/system-services.js';

let box: Awaited<ReturnType<typeof sandbox>>;
beforeEach(async () => {
  box = await sandbox();
});
afterEach(async () => {
  await box.remove();
});

async function archiveFile(bytes: Uint8Array, name = 'archive'): Promise<string> {
  const path = join(box.root, name);
  await writeFile(path, bytes);
  return path;
}

async function modeOf(relative: string): Promise<number> {
  return (await stat(join(box.out, relative))).mode & 0o7777;
}

// Connhex runs update.sh from the extracted folder (docs/protocols/connhex.md); this one checks it can.
const UPDATE_SH = '#!/bin/sh\nset -e\ntest -f ./app/lib/new_service.py\n';
const SERVICE = 'print("new service")\n'.repeat(200);

/** The package every format carries in these tests: nested directories and an executable script. */
const tarPackage = () =>
  tar([
    file('update.sh', UPDATE_SH, 0o755),
    dir('app/'),
    dir('app/lib/'),
    file('app/lib/new_service.py', SERVICE),
    file('app/config.json', '{"interval":60}'),
    file('deep/a/b/c/d/leaf.txt', 'leaf'), // parents never listed
  ]);

const zipPackage = () =>
  zip([
    { name: 'update.sh', data: UPDATE_SH, mode: 0o100755 },
    { name: 'app/' },
    { name: 'app/lib/new_service.py', data: SERVICE },
    { name: 'app/config.json', data: '{"interval":60}', method: 0 },
    { name: 'deep/a/b/c/d/leaf.txt', data: 'leaf' },
  ]);

const EXPECTED_TREE = [
  'app/',
  'app/config.json',
  'app/lib/',
  'app/lib/new_service.py',
  'deep/',
  'deep/a/',
  'deep/a/b/',
  'deep/a/b/c/',
  'deep/a/b/c/d/',
  'deep/a/b/c/d/leaf.txt',
  'update.sh',
];

async function expectPackage(result: ExtractArchiveResult): Promise<void> {
  expect(await listTree(box.out)).toEqual(EXPECTED_TREE);
  expect(await readFile(join(box.out, 'update.sh'), 'utf8')).toBe(UPDATE_SH);
  expect(await readFile(join(box.out, 'app/lib/new_service.py'), 'utf8')).toBe(SERVICE);
  expect(await modeOf('update.sh')).toBe(0o755);
  expect(await modeOf('app/config.json')).toBe(0o644);
  expect(await modeOf('deep/a/b')).toBe(0o755);
  expect(result.totalBytes).toBe(UPDATE_SH.length + SERVICE.length + '{"interval":60}'.length + 4);
  const update = result.entries.find((entry) => entry.path === 'update.sh');
  expect(update).toEqual({ path: 'update.sh', type: 'file', size: UPDATE_SH.length, mode: 0o755 });
  // Implied parents are created but not listed as entries.
  expect(result.entries.some((entry) => entry.path === 'deep/a')).toBe(false);
  // The script really runs: its executable bit survived.
  expect(
    execFileSync(join(box.out, 'update.sh'), { cwd: box.out, env: { PATH: '/bin:/usr/bin' } }).length,
  ).toBe(0);
}

describe('extractArchive: the three formats', () => {
  const formats = [
    ['tar', () => tarPackage()],
    ['tar.gz', () => gzip(tarPackage())],
    ['zip', () => zipPackage()],
  ] as const;

  for (const [format, build] of formats) {
    it(`extracts a ${format} with nested directories and an executable update.sh, format sniffed`, async () => {
      const result = await extractArchive(await archiveFile(build()), box.out);
      expect(result.format).toBe(format);
      await expectPackage(result);
    });

    it(`extracts a ${format} from a web ReadableStream, a Node stream and an async iterable`, async () => {
      const bytes = build();
      const chunked = (size: number) =>
        Array.from({ length: Math.ceil(bytes.length / size) }, (_, index) =>
          bytes.subarray(index * size, (index + 1) * size),
        );
      const sources = [
        new ReadableStream<Uint8Array>({
          start(controller) {
            for (const chunk of chunked(7)) controller.enqueue(chunk);
            controller.close();
          },
        }),
        Readable.from(chunked(100).map((chunk) => Buffer.from(chunk))),
        (async function* () {
          yield* chunked(1);
        })(),
      ];
      for (const [index, source] of sources.entries()) {
        const out = join(box.root, `out-${index}`);
        const result = await extractArchive(source, out);
        expect(result.format).toBe(format);
        expect(await listTree(out)).toEqual(EXPECTED_TREE);
        expect((await stat(join(out, 'update.sh'))).mode & 0o777).toBe(0o755);
      }
      // A zip stream is spooled inside the destination, and the spool is gone afterwards.
      expect(await listTree(box.root)).toEqual(
        [0, 1, 2]
          .flatMap((index) => [`out-${index}/`, ...EXPECTED_TREE.map((path) => `out-${index}/${path}`)])
          .sort(),
      );
    });
  }

  it('extracts an insigh.io package (.tar.gz = 8 fixed bytes + zlib + big-endian CRC-32, docs/protocols/insighIo.md)', async () => {
    const bytes = insighioPackage(tarPackage());
    expect(sniffArchiveFormat(bytes)).toBe('tar.gz');
    const result = await extractArchive(await archiveFile(bytes), box.out);
    expect(result.format).toBe('tar.gz');
    expect(await listTree(box.out)).toEqual(EXPECTED_TREE);
  });

  it('honours an explicit format and extracts into an existing empty directory', async () => {
    await mkdir(box.out);
    const result = await extractArchive(await archiveFile(gzip(tarPackage())), box.out, { format: 'tar.gz' });
    expect(result.entries).toHaveLength(6);
    expect(await listTree(box.out)).toEqual(EXPECTED_TREE);
  });

  it('creates missing parents of the destination', async () => {
    const out = join(box.root, 'a', 'b', 'staging');
    await extractArchive(await archiveFile(tarPackage()), out);
    expect(await listTree(out)).toEqual(EXPECTED_TREE);
  });

  it('extracts an empty tar and an empty zip', async () => {
    expect((await extractArchive(await archiveFile(tar([])), box.out)).entries).toEqual([]);
    const out = join(box.root, 'zip');
    expect((await extractArchive(await archiveFile(zip([]), 'empty.zip'), out)).entries).toEqual([]);
    expect(await listTree(out)).toEqual([]);
  });

  it('exports defaults that refuse a 1 GiB bomb and allow a real package', () => {
    expect(DEFAULT_ARCHIVE_LIMITS).toEqual({
      maxTotalBytes: 512 * 1024 * 1024,
      maxEntryBytes: 512 * 1024 * 1024,
      maxEntries: 10_000,
      maxCompressionRatio: 100,
    });
    expect(Object.isFrozen(DEFAULT_ARCHIVE_LIMITS)).toBe(true);
  });
});

describe('extractArchive: tar dialects', () => {
  it('honours pax path and size, skips pax global headers (Python tarfile style)', async () => {
    const longPath = `${'very-long-directory-name/'.repeat(8)}file-ünïcode.py`;
    const bytes = tar([
      paxEntry({ comment: 'global defaults', path: 'ignored-global-path' }, 'g'),
      paxEntry({ path: longPath, mtime: '1700000000.5' }),
      tarEntry({ name: 'truncated-name', data: 'pax named me' }),
      // pax size overrides a header size that cannot hold it (here: a zero placeholder).
      paxEntry({ size: '5' }),
      tarEntry({ name: 'sized.txt', data: 'hello', size: 0 }),
    ]);
    const result = await extractArchive(await archiveFile(bytes), box.out);
    expect(result.entries.map((entry) => entry.path)).toEqual([longPath, 'sized.txt']);
    expect(await readFile(join(box.out, longPath), 'utf8')).toBe('pax named me');
    expect(await readFile(join(box.out, 'sized.txt'), 'utf8')).toBe('hello');
    expect(await listTree(box.out)).not.toContain('ignored-global-path');
  });

  it('honours GNU long names (L) and ustar prefixes, and reads v7 headers and old-style directories', async () => {
    const gnuName = `${'g'.repeat(120)}/name.txt`;
    const bytes = tar([
      longNameEntry(gnuName),
      tarEntry({ name: gnuName.slice(0, 99), data: 'gnu', magic: 'gnu' }),
      tarEntry({ name: 'name.txt', prefix: 'ustar/prefixed/dir', data: 'ustar' }),
      tarEntry({ name: 'v7dir/', type: '\0', magic: 'v7', mode: 0o750 }),
      tarEntry({ name: 'v7dir/v7.txt', type: '\0', magic: 'v7', data: 'v7' }),
      tarEntry({ name: 'contiguous.bin', type: '7', data: 'seven' }),
      dir('./'), // GNU tar writes the root as "./": accepted, nothing to create
    ]);
    const result = await extractArchive(await archiveFile(bytes), box.out);
    expect(await readFile(join(box.out, gnuName), 'utf8')).toBe('gnu');
    expect(await readFile(join(box.out, 'ustar/prefixed/dir/name.txt'), 'utf8')).toBe('ustar');
    expect(await readFile(join(box.out, 'v7dir/v7.txt'), 'utf8')).toBe('v7');
    expect(await readFile(join(box.out, 'contiguous.bin'), 'utf8')).toBe('seven');
    expect(await modeOf('v7dir')).toBe(0o750);
    expect(result.entries.map((entry) => entry.type)).toEqual(['file', 'file', 'directory', 'file', 'file']);
  });

  it('reads GNU base-256 sizes', async () => {
    const header = tarEntry({ name: 'b256.txt', data: 'abc' });
    // Rewrite the size field as base-256 (0x80 then big-endian), fixing the checksum.
    header.fill(0, 124, 136);
    header[124] = 0x80;
    header[135] = 3;
    header.fill(0x20, 148, 156);
    const sum = header.subarray(0, 512).reduce((total, byte) => total + byte, 0);
    header.set(toBytes(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
    await extractArchive(await archiveFile(tar([header])), box.out);
    expect(await readFile(join(box.out, 'b256.txt'), 'utf8')).toBe('abc');
  });

  it('reads multi-member gzip and ignores zero padding after the end blocks (GNU tar records)', async () => {
    const whole = tar([file('a.txt', 'a'), file('b.txt', 'b')]);
    const split = concat([
      gzip(whole.subarray(0, 1024)),
      gzip(concat([whole.subarray(1024), new Uint8Array(8192)])),
    ]);
    await extractArchive(await archiveFile(split), box.out);
    expect(await listTree(box.out)).toEqual(['a.txt', 'b.txt']);
  });
});

describe('extractArchive: file modes', () => {
  it('keeps executable bits, never setuid/setgid/sticky or group/other write, whatever the umask', async () => {
    const previous = process.umask(0o077);
    try {
      const bytes = tar([
        file('suid', 'x', 0o4755),
        file('sgid', 'x', 0o2755),
        file('world-writable', 'x', 0o777),
        file('private', 'x', 0o600),
        file('no-bits', 'x', 0o000),
        tarEntry({ name: 'sticky/', type: '5', mode: 0o1777 }),
        tarEntry({ name: 'read-only/', type: '5', mode: 0o555 }),
        file('read-only/inside', 'x'),
      ]);
      await extractArchive(await archiveFile(bytes), box.out);
      expect(await modeOf('suid')).toBe(0o755);
      expect(await modeOf('sgid')).toBe(0o755);
      expect(await modeOf('world-writable')).toBe(0o755);
      expect(await modeOf('private')).toBe(0o600);
      expect(await modeOf('no-bits')).toBe(0o600);
      expect(await modeOf('sticky')).toBe(0o755);
      // A read-only directory still gets its children, and the owner keeps write access to it.
      expect(await modeOf('read-only')).toBe(0o755);
      expect(await modeOf('read-only/inside')).toBe(0o644);
    } finally {
      process.umask(previous);
    }
  });

  it('gives zip entries from non-Unix hosts default modes, and honours DOS directory attributes', async () => {
    const bytes = zip([
      { name: 'windows.txt', data: 'w', host: 0 },
      { name: 'folder', host: 0, dosAttributes: 0x10, method: 0 },
      { name: 'folder/inner.txt', data: 'i', host: 0 },
    ]);
    const result = await extractArchive(await archiveFile(bytes), box.out);
    expect(result.entries).toEqual([
      { path: 'windows.txt', type: 'file', size: 1, mode: 0o644 },
      { path: 'folder', type: 'directory', size: 0, mode: 0o755 },
      { path: 'folder/inner.txt', type: 'file', size: 1, mode: 0o644 },
    ]);
  });
});

describe('extractArchive: zip dialects', () => {
  it('reads entries with data descriptors (sizes only in the central directory)', async () => {
    const bytes = zip([
      { name: 'streamed.txt', data: 'written by a streaming zipper'.repeat(50), dataDescriptor: true },
      { name: 'stored.txt', data: 'stored', method: 0, dataDescriptor: true },
    ]);
    await extractArchive(await archiveFile(bytes), box.out);
    expect(await readFile(join(box.out, 'streamed.txt'), 'utf8')).toBe(
      'written by a streaming zipper'.repeat(50),
    );
    expect(await readFile(join(box.out, 'stored.txt'), 'utf8')).toBe('stored');
  });

  it('accepts a directory entry listed after its files, and a comment after the directory', async () => {
    const bytes = zip(
      [
        { name: 'd/f.txt', data: 'f' },
        { name: 'd/', mode: 0o040700 },
      ],
      { comment: 'PK\u0005\u0006 fake' },
    );
    const result = await extractArchive(await archiveFile(bytes), box.out);
    expect(result.entries.map((entry) => entry.path)).toEqual(['d/f.txt', 'd']);
    expect(await modeOf('d')).toBe(0o700);
  });

  it('refuses backslashes in names (one policy with the browser tar reader) and decodes unflagged non-UTF-8 names as CP437', async () => {
    const cp437 = zip([{ name: 'x', data: 'cp437' }]);
    // Patch the name byte in both headers to 0x82 (é in code page 437) and drop the UTF-8 flag.
    const buffer = Buffer.from(cp437);
    for (let at = buffer.indexOf('x'); at !== -1; at = buffer.indexOf('x', at + 1)) buffer[at] = 0x82;
    for (const signature of [0x04034b50, 0x02014b50]) {
      const sig = Buffer.alloc(4);
      sig.writeUInt32LE(signature);
      const at = buffer.indexOf(sig);
      const flagsAt = at + (signature === 0x04034b50 ? 6 : 8);
      buffer.writeUInt16LE(buffer.readUInt16LE(flagsAt) & ~0x800, flagsAt);
    }
    await extractArchive(await archiveFile(buffer), box.out);
    expect(await listTree(box.out)).toEqual(['é']);

    const out = join(box.root, 'win');
    // A backslash is an ordinary character on the device and a separator on Windows: either
    // reading builds another tree than the packer meant, so it is refused (src/archive/entry-path.ts).
    await expect(
      extractArchive(await archiveFile(zip([{ name: 'dir\\sub\\file.txt', data: 'w' }]), 'win.zip'), out),
    ).rejects.toMatchObject({ reason: 'invalid-name' });
    expect(await listTree(box.root)).not.toContain('win/');
  });
});

describe('extractArchive: archives made by real tools', () => {
  const tree = async (root: string) => {
    await mkdir(join(root, 'pkg/lib/nested'), { recursive: true });
    await writeFile(join(root, 'pkg/update.sh'), '#!/bin/sh\n', { mode: 0o755 });
    await chmod(join(root, 'pkg/update.sh'), 0o755);
    await writeFile(join(root, 'pkg/lib/nested', `${'long-name-'.repeat(12)}.py`), 'x = 1\n');
    await writeFile(join(root, 'pkg/lib/ünïcödé.txt'), 'u');
  };
  const expected = [
    'pkg/',
    'pkg/lib/',
    'pkg/lib/nested/',
    `pkg/lib/nested/${'long-name-'.repeat(12)}.py`,
    'pkg/lib/ünïcödé.txt',
    'pkg/update.sh',
  ];

  for (const format of ['gnu', 'pax', 'ustar', 'v7'] as const) {
    it(`GNU tar --format=${format}`, async (context) => {
      if (!hasTool('tar')) skipOrFailInCi(context, 'GNU tar is not installed');
      await tree(box.root);
      const archive = join(box.root, 'a.tgz');
      // v7 and ustar cannot store the 120-character name; they get the short tree.
      const long = format === 'gnu' || format === 'pax';
      const files = long ? ['pkg'] : ['pkg/update.sh', 'pkg/lib/ünïcödé.txt'];
      execFileSync('tar', [`--format=${format}`, '-czf', archive, '-C', box.root, ...files]);
      await extractArchive(archive, box.out);
      expect(await listTree(box.out)).toEqual(
        long ? expected : ['pkg/', 'pkg/lib/', 'pkg/lib/ünïcödé.txt', 'pkg/update.sh'],
      );
      expect(await modeOf('pkg/update.sh')).toBe(0o755);
    });
  }

  it('Python tarfile (pax headers on every member, as insigh.io packages)', async (context) => {
    if (!hasTool('python3')) skipOrFailInCi(context, 'python3 is not installed');
    await tree(box.root);
    const archive = join(box.root, 'py.tar');
    execFileSync('python3', [
      '-c',
      'import sys, tarfile\nwith tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t: t.add(sys.argv[2], arcname="pkg")',
      archive,
      join(box.root, 'pkg'),
    ]);
    await extractArchive(archive, box.out);
    expect(await listTree(box.out)).toEqual(expected);
    expect(await modeOf('pkg/update.sh')).toBe(0o755);
  });

  it('Info-ZIP zip -r (and zip -y symlinks are refused)', async (context) => {
    if (!hasTool('zip', ['-v'])) skipOrFailInCi(context, 'Info-ZIP zip is not installed');
    await tree(box.root);
    execFileSync('zip', ['-qr', join(box.root, 'a.zip'), 'pkg'], { cwd: box.root });
    await extractArchive(join(box.root, 'a.zip'), box.out);
    expect(await listTree(box.out)).toEqual(expected);
    expect(await modeOf('pkg/update.sh')).toBe(0o755);

    await symlink('/etc', join(box.root, 'pkg/etc-link'));
    execFileSync('zip', ['-qry', join(box.root, 'link.zip'), 'pkg'], { cwd: box.root });
    const out = join(box.root, 'out-link');
    await expect(extractArchive(join(box.root, 'link.zip'), out)).rejects.toMatchObject({
      name: 'ArchiveError',
      reason: 'link',
      entry: 'pkg/etc-link',
    });
    expect(await listTree(box.root)).not.toContain('out-link/');
  });
});
