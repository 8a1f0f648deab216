import { access, mkdir, open, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isOtaError } from '../../src/index.js';
import {
  type ArchiveErrorReason,
  type ArchiveSource,
  extractArchive,
  isArchiveError,
} from '../../src/node/archive/index.js';
import {
  dir,
  file,
  gzip,
  insighioPackage,
  listTree,
  longNameEntry,
  paxEntry,
  S_IFCHR,
  S_IFIFO,
  S_IFLNK,
  sandbox,
  tar,
  tarEntry,
  zip,
} from '../support/archives.js';
import { eventually } from '../support/async.js';

let box: Awaited<ReturnType<typeof sandbox>>;
/** A directory outside the destination that escaping entries aim at: it must stay empty. */
let victim: string;
beforeEach(async () => {
  box = await sandbox();
  victim = join(box.root, 'victim');
  await mkdir(victim);
});
afterEach(async () => {
  await box.remove();
});

async function archiveFile(bytes: Uint8Array): Promise<string> {
  const path = join(box.root, 'archive');
  await writeFile(path, bytes);
  return path;
}

/**
 * Extracts `bytes` (from a file, and again from a stream) and expects a refusal with `reason`
 * that left nothing behind: the sandbox holds only the archive and the empty victim directory,
 * the destination was removed.
 */
async function expectRefused(
  bytes: Uint8Array,
  reason: ArchiveErrorReason,
  options: Parameters<typeof extractArchive>[2] = {},
  entry?: string,
): Promise<void> {
  const sources: [string, () => Promise<ArchiveSource>][] = [
    ['file', () => archiveFile(bytes)],
    ['stream', async () => Readable.from([Buffer.from(bytes)])],
  ];
  for (const [kind, source] of sources) {
    const error: unknown = await extractArchive(await source(), box.out, options).then(
      () => new Error(`${kind}: extraction succeeded`),
      (failure: unknown) => failure,
    );
    expect(isArchiveError(error), `${kind}: ${String(error)}`).toBe(true);
    expect(isOtaError(error, 'INSTALL')).toBe(true);
    expect({ kind, reason: (error as { reason: string }).reason }).toEqual({ kind, reason });
    if (entry !== undefined) expect((error as { entry?: string }).entry).toBe(entry);
    expect(await listTree(box.root), kind).toEqual(kind === 'file' ? ['archive', 'victim/'] : ['victim/']);
    await box.remove();
    await mkdir(victim, { recursive: true });
  }
}

const SAFE = file('safe.txt', 'extracted before the bad entry');

describe('path traversal (zip-slip)', () => {
  const names = [
    '../../evil',
    'a/../../evil',
    './../evil',
    'a/b/../../../evil',
    '/etc/evil',
    '//server/share/evil',
    '..\\..\\evil',
    'a\\..\\..\\evil',
    '\\evil',
    'C:\\evil',
    'C:evil',
    'c:/evil',
    'ok/..',
  ];
  for (const name of names) {
    it(`refuses ${JSON.stringify(name)} in tar, tar.gz and zip`, async () => {
      const archive = tar([SAFE, file(name, 'pwned')]);
      await expectRefused(archive, 'path-traversal', {}, name);
      await expectRefused(gzip(archive), 'path-traversal', {}, name);
      await expectRefused(
        zip([
          { name: 'safe.txt', data: 'x' },
          { name, data: 'pwned' },
        ]),
        'path-traversal',
        {},
        name,
      );
    });
  }

  it('refuses a traversal carried by a pax path, a GNU long name or a ustar prefix', async () => {
    const escaping = `../${'x'.repeat(120)}`;
    await expectRefused(
      tar([paxEntry({ path: '../victim/pwned' }), file('innocent.txt', 'pwned')]),
      'path-traversal',
    );
    await expectRefused(tar([longNameEntry(escaping), file('innocent.txt', 'pwned')]), 'path-traversal');
    await expectRefused(
      tar([tarEntry({ name: 'pwned', prefix: '../victim', data: 'pwned' })]),
      'path-traversal',
    );
    await expectRefused(tar([tarEntry({ name: 'pwned', prefix: '/tmp', data: 'pwned' })]), 'path-traversal');
  });

  it('refuses empty names, NUL bytes and over-long components', async () => {
    await expectRefused(zip([{ name: '', data: 'x' }]), 'invalid-name');
    await expectRefused(zip([{ name: 'a\0b', data: 'x' }]), 'invalid-name');
    await expectRefused(tar([paxEntry({ path: 'a\0../../evil' }), file('x', 'x')]), 'invalid-name');
    await expectRefused(tar([paxEntry({ path: 'x'.repeat(256) }), file('x', 'x')]), 'invalid-name');
    await expectRefused(tar([file('./', 'a file named like the root')]), 'invalid-name');
  });
});

describe('links and special files', () => {
  it('refuses a tar symlink to /etc followed by a file through it (nothing reaches /etc)', async () => {
    const probe = 'otakit-escape-probe';
    const archive = tar([
      tarEntry({ name: 'link', type: '2', linkName: '/etc' }),
      file(`link/${probe}`, 'pwned'),
    ]);
    await expectRefused(archive, 'link', {}, 'link');
    await expect(access(join('/etc', probe))).rejects.toThrow();
  });

  it('refuses symlinks into the sandbox, relative escapes and harmless-looking internal links alike', async () => {
    for (const target of [victim, '../victim', '../../..', 'inside.txt']) {
      await expectRefused(
        tar([
          file('inside.txt', 'x'),
          tarEntry({ name: 'link', type: '2', linkName: target }),
          file('link/pwned', 'x'),
        ]),
        'link',
      );
    }
  });

  it('refuses hard links, whatever they point at', async () => {
    for (const target of ['/etc/passwd', join(victim, 'x'), '../victim/x', 'safe.txt']) {
      await expectRefused(
        tar([SAFE, tarEntry({ name: 'hard', type: '1', linkName: target })]),
        'link',
        {},
        'hard',
      );
    }
  });

  it('refuses zip symlinks (Unix mode S_IFLNK), even when a later entry writes through them', async () => {
    await expectRefused(
      zip([
        { name: 'link', data: '/etc', mode: S_IFLNK | 0o777, method: 0 },
        { name: 'link/passwd', data: 'root::0:0::/:/bin/sh' },
      ]),
      'link',
      {},
      'link',
    );
    await expectRefused(zip([{ name: 'up', data: '../victim', mode: S_IFLNK | 0o777 }]), 'link');
  });

  it('refuses device files, FIFOs, sockets and unknown tar types', async () => {
    await expectRefused(tar([SAFE, tarEntry({ name: 'tty', type: '3' })]), 'special-file', {}, 'tty');
    await expectRefused(tar([tarEntry({ name: 'sda', type: '4' })]), 'special-file');
    await expectRefused(tar([tarEntry({ name: 'fifo', type: '6' })]), 'special-file');
    await expectRefused(tar([tarEntry({ name: 'vendor', type: 'Z' })]), 'special-file');
    await expectRefused(zip([{ name: 'dev', data: '', mode: S_IFCHR | 0o600 }]), 'special-file');
    await expectRefused(zip([{ name: 'fifo', data: '', mode: S_IFIFO | 0o600 }]), 'special-file');
    await expectRefused(zip([{ name: 'socket', data: '', mode: 0o140000 | 0o600 }]), 'special-file');
  });

  it('refuses sparse and multi-volume tar entries as unsupported', async () => {
    await expectRefused(tar([tarEntry({ name: 'sparse', type: 'S' })]), 'unsupported');
    await expectRefused(tar([paxEntry({ 'GNU.sparse.major': '1' }), file('sparse', 'x')]), 'unsupported');
    await expectRefused(tar([tarEntry({ name: 'part', type: 'M' })]), 'unsupported');
  });
});

describe('duplicates', () => {
  it('refuses a path named twice, however it is spelled', async () => {
    await expectRefused(tar([file('a.txt', '1'), file('a.txt', '2')]), 'duplicate', {}, 'a.txt');
    await expectRefused(tar([file('d/a.txt', '1'), file('./d//a.txt', '2')]), 'duplicate');
    await expectRefused(tar([file('d/a.txt', '1'), file('d\\a.txt', '2')]), 'invalid-name');
    await expectRefused(tar([dir('d/'), dir('d')]), 'duplicate');
    await expectRefused(
      zip([
        { name: 'a.txt', data: '1' },
        { name: 'a.txt', data: '2' },
      ]),
      'duplicate',
    );
  });

  it('refuses a file where a directory is needed, and the reverse', async () => {
    await expectRefused(tar([file('a', 'file'), file('a/b', 'x')]), 'duplicate');
    await expectRefused(tar([file('a/b', 'x'), file('a', 'file')]), 'duplicate');
    await expectRefused(tar([dir('a/'), file('a', 'file')]), 'duplicate');
    await expectRefused(zip([{ name: 'a/' }, { name: 'a', data: 'x' }]), 'duplicate');
  });

  it('refuses a zip whose duplicate hides at the end before writing anything', async () => {
    const entries = Array.from({ length: 50 }, (_, index) => ({ name: `f${index}`, data: 'x' }));
    await expectRefused(zip([...entries, { name: 'f0', data: 'y' }]), 'duplicate');
  });
});

describe('corrupt and unsupported archives', () => {
  const good = tar([SAFE, file('b.txt', 'b'.repeat(3000))]);

  it('refuses truncated tar, tar.gz, insigh.io and zip archives at every kind of cut', async () => {
    // (Under 512 bytes a tar cannot even be recognised: that is `unsupported`, tested below.)
    for (const cut of [512, 700, 1536, good.length - 1024, good.length - 600]) {
      await expectRefused(good.subarray(0, cut), 'corrupt');
    }
    const gz = gzip(good);
    for (const cut of [12, gz.length >> 1, gz.length - 4])
      await expectRefused(gz.subarray(0, cut), 'corrupt');
    const insighio = insighioPackage(good);
    for (const cut of [12, insighio.length - 5, insighio.length - 1]) {
      await expectRefused(insighio.subarray(0, cut), 'corrupt');
    }
    const archive = zip([
      { name: 'a.txt', data: 'a'.repeat(4000) },
      { name: 'b.txt', data: 'b' },
    ]);
    for (const cut of [10, 60, archive.length - 30, archive.length - 1]) {
      await expectRefused(archive.subarray(0, cut), 'corrupt');
    }
  });

  it('refuses checksum failures: tar header, gzip CRC-32, insigh.io trailer, zip CRC-32', async () => {
    const badHeader = tarEntry({ name: 'a', data: 'x', badChecksum: true });
    await expectRefused(tar([SAFE, badHeader]), 'corrupt');
    // A first header that fails its checksum does not even look like a tar, unless the caller says so.
    await expectRefused(tar([badHeader]), 'unsupported');
    await expectRefused(tar([badHeader]), 'corrupt', { format: 'tar' });
    const gz = Buffer.from(gzip(good));
    gz[gz.length - 6]! ^= 0xff;
    await expectRefused(gz, 'corrupt');
    await expectRefused(insighioPackage(good, 1), 'corrupt');
    await expectRefused(zip([{ name: 'a.txt', data: 'abc', declaredCrc: 1234 }]), 'corrupt', {}, 'a.txt');
  });

  it('refuses zips whose headers disagree or overlap', async () => {
    await expectRefused(zip([{ name: 'a.txt', data: 'abc', localName: 'b.txt' }]), 'corrupt');
    await expectRefused(zip([{ name: 'a.txt', data: 'abc', declaredSize: 2 }]), 'corrupt');
    await expectRefused(
      zip([{ name: 'a.txt', data: 'abcdef', declaredSize: 9, dataDescriptor: true }]),
      'corrupt',
    );
    await expectRefused(
      zip([
        { name: 'a.txt', data: 'kernel' },
        { name: 'b.txt', data: 'kernel', reuseLocalOf: 0 },
      ]),
      'corrupt',
    );
    // An entry whose (consistently declared) data runs over the next entry's local header.
    const overlapping = { name: 'a', data: 'aaaa', method: 0, declaredSize: 36, declaredCompressedSize: 36 };
    await expectRefused(zip([overlapping, { name: 'b', data: 'b', method: 0 }]), 'corrupt', {}, 'a');
  });

  it('refuses encryption, unknown compression methods and junk', async () => {
    await expectRefused(zip([{ name: 'a', data: 'x', flags: 1 }]), 'unsupported');
    await expectRefused(
      zip([{ name: 'a', data: 'x', method: 12, compressed: new Uint8Array(3) }]),
      'unsupported',
    );
    await expectRefused(new TextEncoder().encode('<html>not an archive</html>'), 'unsupported');
    await expectRefused(new Uint8Array(0), 'corrupt');
    await expectRefused(tar([SAFE], false), 'corrupt'); // no end-of-archive blocks
    await expectRefused(tar([paxEntry({ path: 'x' })]), 'corrupt'); // pax header with no entry
    await expectRefused(gzip(new TextEncoder().encode('gzip, but no tar inside')), 'corrupt');
    await expectRefused(tar([tarEntry({ name: 'bad', type: 'x', data: '99 path=x\n' }), SAFE]), 'corrupt');
  });

  it('refuses a format given explicitly that the bytes do not match', async () => {
    await expectRefused(good, 'corrupt', { format: 'tar.gz' });
    await expectRefused(gzip(good), 'corrupt', { format: 'zip' });
    await expectRefused(zip([{ name: 'a', data: 'x' }]), 'corrupt', { format: 'tar' });
  });
});

describe('limits', () => {
  it('maxEntries counts files and directories, in tar and in zip', async () => {
    const entries = Array.from({ length: 5 }, (_, index) => file(`f${index}`, 'x'));
    await extractArchive(await archiveFile(tar(entries)), box.out, { limits: { maxEntries: 5 } });
    await box.remove();
    await mkdir(victim, { recursive: true });
    await expectRefused(tar([dir('d/'), ...entries]), 'too-many-entries', { limits: { maxEntries: 5 } });
    const zipped = zip(Array.from({ length: 6 }, (_, index) => ({ name: `f${index}`, data: 'x' })));
    await expectRefused(zipped, 'too-many-entries', { limits: { maxEntries: 5 } });
  });

  it('maxEntryBytes and maxTotalBytes, on declared and on written bytes', async () => {
    const archive = tar([file('a', 'a'.repeat(600)), file('b', 'b'.repeat(600))]);
    await expectRefused(archive, 'too-large', { limits: { maxEntryBytes: 599 } }, 'a');
    await expectRefused(archive, 'too-large', { limits: { maxTotalBytes: 1199 } }, 'b');
    await expectRefused(gzip(archive), 'too-large', { limits: { maxTotalBytes: 1199 } }, 'b');
    const zipped = zip([
      { name: 'a', data: 'a'.repeat(600) },
      { name: 'b', data: 'b'.repeat(600) },
    ]);
    await expectRefused(zipped, 'too-large', { limits: { maxEntryBytes: 599 } }, 'a');
    await expectRefused(zipped, 'too-large', { limits: { maxTotalBytes: 1199 } }, 'b');
    // Exactly at the limits is fine.
    const result = await extractArchive(await archiveFile(archive), box.out, {
      limits: { maxEntryBytes: 600, maxTotalBytes: 1200 },
    });
    expect(result.totalBytes).toBe(1200);
  });

  it('refuses a metadata header too large to hold in memory', async () => {
    await expectRefused(tar([paxEntry({ comment: 'c'.repeat(1024 * 1024) }), SAFE]), 'too-large');
  });

  it('refuses limits that would silently disable a check', async () => {
    const archive = await archiveFile(tar([SAFE]));
    for (const limits of [{ maxEntries: -1 }, { maxTotalBytes: Number.NaN }, { maxCompressionRatio: 0.5 }]) {
      await expect(extractArchive(archive, box.out, { limits })).rejects.toMatchObject({ code: 'CONFIG' });
    }
    // Nothing was created for a refused configuration.
    expect(await listTree(box.root)).toEqual(['archive', 'victim/']);
  });
});

describe('destination', () => {
  it('must not exist or be an empty directory; a symlink is refused, not followed', async () => {
    const archive = await archiveFile(tar([SAFE]));
    await mkdir(box.out);
    await writeFile(join(box.out, 'left-over'), 'x');
    await expect(extractArchive(archive, box.out)).rejects.toMatchObject({ reason: 'destination' });
    expect(await readFile(join(box.out, 'left-over'), 'utf8')).toBe('x');

    const asFile = join(box.root, 'file');
    await writeFile(asFile, '');
    await expect(extractArchive(archive, asFile)).rejects.toMatchObject({ reason: 'destination' });

    const link = join(box.root, 'link');
    await symlink(victim, link);
    await expect(extractArchive(archive, link)).rejects.toMatchObject({ reason: 'destination' });
    expect(await listTree(victim)).toEqual([]);
  });

  it('an existing empty destination is emptied again, not removed, after a refusal', async () => {
    await mkdir(box.out);
    await expect(
      extractArchive(await archiveFile(tar([SAFE, file('../x', 'x')])), box.out),
    ).rejects.toMatchObject({
      reason: 'path-traversal',
    });
    expect(await listTree(box.root)).toEqual(['archive', 'out/', 'victim/']);
  });

  it('refuses an entry that collides with a pre-existing path through O_EXCL (never opens it)', async () => {
    // The destination starts empty, so the only way to meet an existing path is a collision the
    // registry cannot see: simulate one by planting a symlink while the extraction is paused.
    let planted = false;
    const source = (async function* () {
      yield tar([dir('d/')]).subarray(0, 512);
      await symlink(join(victim, 'target'), join(box.out, 'd', 'f'));
      planted = true;
      yield tar([dir('d/'), file('d/f', 'pwned')]).subarray(512);
    })();
    await expect(extractArchive(source, box.out)).rejects.toMatchObject({
      reason: 'duplicate',
      entry: 'd/f',
    });
    expect(planted).toBe(true);
    expect(await listTree(victim)).toEqual([]);
    expect(await listTree(box.root)).toEqual(['victim/']);
  });
});

describe('abort', () => {
  it('refuses to start with an aborted signal and creates nothing', async () => {
    const archive = await archiveFile(tar([SAFE]));
    const reason = new Error('stop');
    // The same error type as a cancel during install: an AbortError carrying the reason.
    await expect(
      extractArchive(archive, box.out, { signal: AbortSignal.abort(reason) }),
    ).rejects.toMatchObject({ code: 'ABORTED', message: 'stop', cause: reason });
    expect(await listTree(box.root)).toEqual(['archive', 'victim/']);
  });

  it('aborts a stalled stream at once, cleans the destination and releases the stream', async () => {
    let destroyed = false;
    const stalled = new Readable({
      read() {},
      destroy(error, callback) {
        destroyed = true;
        callback(error);
      },
    });
    stalled.push(Buffer.from(tar([SAFE, file('b.txt', 'b'.repeat(5000))]).subarray(0, 2048)));
    const controller = new AbortController();
    const running = extractArchive(stalled, box.out, { signal: controller.signal });
    // The first entry reaches the disk; the second waits for bytes that never come, so only the
    // abort can end the extraction (were it not honoured, the test would hang and time out).
    await eventually(
      async () => (await listTree(box.out).catch((): string[] => [])).includes('safe.txt'),
      'safe.txt on disk',
    );
    controller.abort();
    await expect(running).rejects.toMatchObject({ name: 'AbortError' });
    expect(destroyed).toBe(true);
    expect(await listTree(box.root)).toEqual(['victim/']);
  });

  it('aborts a web ReadableStream source and cancels it', async () => {
    let canceled = false;
    let pulls = 0;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(zip([{ name: 'a', data: 'x' }]).subarray(0, 20));
      },
      // Asked for more once the first 20 bytes are taken: from then on the extraction waits on it.
      pull() {
        pulls++;
        return new Promise(() => {});
      },
      cancel() {
        canceled = true;
      },
    });
    const controller = new AbortController();
    const running = extractArchive(stream, box.out, { signal: controller.signal });
    await eventually(() => pulls > 0, 'the extraction to ask for more bytes');
    controller.abort(new Error('user canceled'));
    await expect(running).rejects.toThrow('user canceled');
    expect(canceled).toBe(true);
    expect(await listTree(box.root)).toEqual(['victim/']);
  });

  it('aborts mid-way through a large file source', async () => {
    const archive = await archiveFile(gzip(tar([file('big.bin', new Uint8Array(32 * 1024 * 1024).fill(7))])));
    const controller = new AbortController();
    // Abort on the 4th write of extracted bytes (of 512 at 64 KiB): mid-way, whatever the machine's speed.
    const probe = await open(archive);
    const fileHandle = Object.getPrototypeOf(probe) as { write: (...args: unknown[]) => Promise<unknown> };
    await probe.close();
    const write = fileHandle.write;
    let writes = 0;
    const spy = vi.spyOn(fileHandle, 'write').mockImplementation(function (
      this: unknown,
      ...args: unknown[]
    ) {
      if (++writes === 4) controller.abort();
      return write.apply(this, args);
    });
    try {
      const running = extractArchive(archive, box.out, {
        signal: controller.signal,
        limits: { maxCompressionRatio: 1e6 },
      });
      await expect(running).rejects.toMatchObject({ name: 'AbortError' });
    } finally {
      spy.mockRestore();
    }
    expect(writes).toBeGreaterThanOrEqual(4);
    expect(writes).toBeLessThan(512);
    expect(await listTree(box.root)).toEqual(['archive', 'victim/']);
  });
});

describe('streams', () => {
  it('reports a source stream error as an io failure and cleans up', async () => {
    const failing = (async function* () {
      yield tar([SAFE]).subarray(0, 1024);
      throw new Error('connection reset');
    })();
    const error = await extractArchive(failing, box.out).catch((failure: unknown) => failure);
    expect(error).toMatchObject({ name: 'ArchiveError', reason: 'io' });
    expect(String(error)).toContain('connection reset');
    expect(await listTree(box.root)).toEqual(['victim/']);
  });

  it('refuses a stream that yields strings (setEncoding) as a configuration error', async () => {
    await expect(extractArchive(Readable.from(['not bytes']), box.out)).rejects.toMatchObject({
      code: 'CONFIG',
    });
    expect(await listTree(box.root)).toEqual(['victim/']);
  });

  it('caps a zip stream spooled to disk at maxTotalBytes plus header slack', async () => {
    const big = zip([{ name: 'a', data: new Uint8Array(20 * 1024 * 1024), method: 0 }]);
    await expect(
      extractArchive(Readable.from([Buffer.from(big)]), box.out, { limits: { maxTotalBytes: 1024 } }),
    ).rejects.toMatchObject({ reason: 'too-large' });
    expect(await listTree(box.root)).toEqual(['victim/']);
  });
});
