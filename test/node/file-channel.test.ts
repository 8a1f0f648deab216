/**
 * The file channel on a real file system: atomic writes (no temp file left, a killed write's temp
 * swept), addresses refused when they would leave the directory (lexically or through a symlink),
 * typed errors for everything else.
 */
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isOtaError } from '../../src/core/errors.js';
import { fileChannel, isFileChannelTemp, resolveFileAddress } from '../../src/node/file-channel.js';

const roots: string[] = [];
afterEach(async () => {
  await Promise.all(roots.splice(0).map((root) => rm(root, { recursive: true, force: true })));
});

async function root(): Promise<string> {
  const directory = await mkdtemp(join(tmpdir(), 'otakit-file-channel-'));
  roots.push(directory);
  return directory;
}

const message = (address: string, payload = 'v1.0.1') => ({ channel: 'file' as const, address, payload });

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('fileChannel', () => {
  it('writes the payload at the address, replacing the file, and leaves no temp file', async () => {
    const base = await root();
    const channel = fileChannel({ directory: join(base, 'app') }); // created on the first write
    expect(channel.kind).toBe('file');
    expect(await channel.send(message('version', 'v1.0.0'))).toBeUndefined();
    expect(await readFile(join(base, 'app', 'version'), 'utf8')).toBe('v1.0.0');
    await channel.send(message('version', 'v1.0.1'));
    expect(await readFile(join(base, 'app', 'version'), 'utf8')).toBe('v1.0.1');
    await channel.send(message('lib/deep/state.txt', 'ü'));
    expect(await readFile(join(base, 'app', 'lib', 'deep', 'state.txt'), 'utf8')).toBe('ü');
    expect((await readdir(join(base, 'app'))).sort()).toEqual(['lib', 'version']);
    expect(channel.pathOf('version')).toBe(join(base, 'app', 'version'));
  });

  it('writes files with the mode asked for, whatever the umask', async () => {
    const base = await root();
    await fileChannel({ directory: base, mode: 0o600, fsync: false }).send(message('secret'));
    expect((await lstat(join(base, 'secret'))).mode & 0o777).toBe(0o600);
  });

  it('runs writes in call order: the last one sent is what stays', async () => {
    const base = await root();
    const channel = fileChannel({ directory: base, fsync: false });
    await Promise.all(
      Array.from({ length: 20 }, (_, index) => channel.send(message('version', `v${index}`))),
    );
    expect(await readFile(join(base, 'version'), 'utf8')).toBe('v19');
    expect(await readdir(base)).toEqual(['version']);
  });

  it('sweeps temp files a killed write left, and only those', async () => {
    const base = await root();
    await writeFile(join(base, '.version.0123456789ab.otakit-tmp'), 'half');
    await writeFile(join(base, '.keep.tmp'), 'not ours');
    await fileChannel({ directory: base }).send(message('version'));
    expect((await readdir(base)).sort()).toEqual(['.keep.tmp', 'version']);
    expect(isFileChannelTemp('.version.0123456789ab.otakit-tmp')).toBe(true);
    expect(isFileChannelTemp('version')).toBe(false);
  });

  it.each([
    ['../outside'],
    ['a/../../outside'],
    ['a/../b'],
    ['/etc/passwd'],
    [''],
    ['.'],
    ['a//b'],
    ['a/./b'],
    ['a\\..\\b'],
    ['nul\0byte'],
  ])(
    'refuses the address %j with a MANIFEST_INVALID naming "address", and writes nothing',
    async (address) => {
      const base = await root();
      const inside = join(base, 'app');
      await mkdir(inside);
      const error = await rejection(fileChannel({ directory: inside }).send(message(address)));
      expect(isOtaError(error, 'MANIFEST_INVALID')).toBe(true);
      expect((error as { issues: { path: string }[] }).issues.map((issue) => issue.path)).toEqual([
        'address',
      ]);
      expect(await readdir(base)).toEqual(['app']);
      expect(await readdir(inside)).toEqual([]);
    },
  );

  it('refuses an address through a symlinked directory that leads outside', async () => {
    const base = await root();
    const inside = join(base, 'app');
    const outside = join(base, 'elsewhere');
    await mkdir(inside);
    await mkdir(outside);
    await symlink(outside, join(inside, 'link'));
    const error = await rejection(fileChannel({ directory: inside }).send(message('link/version')));
    expect(isOtaError(error, 'MANIFEST_INVALID')).toBe(true);
    expect(await readdir(outside)).toEqual([]);
  });

  it('replaces a symlink at the address instead of writing through it', async () => {
    const base = await root();
    const inside = join(base, 'app');
    await mkdir(inside);
    await writeFile(join(base, 'target.txt'), 'untouched');
    await symlink(join(base, 'target.txt'), join(inside, 'version'));
    await fileChannel({ directory: inside }).send(message('version', 'v2'));
    expect(await readFile(join(base, 'target.txt'), 'utf8')).toBe('untouched');
    expect((await lstat(join(inside, 'version'))).isFile()).toBe(true);
    expect(await readFile(join(inside, 'version'), 'utf8')).toBe('v2');
  });

  it('gives typed errors: a message of another kind (CONFIG), an I/O failure (TRANSPORT), an abort', async () => {
    const base = await root();
    const channel = fileChannel({ directory: base });
    const wrongKind = await rejection(channel.send({ channel: 'mqtt', address: 'version', payload: '' }));
    expect(isOtaError(wrongKind, 'CONFIG')).toBe(true);

    await mkdir(join(base, 'version')); // a directory where the file should go
    const io = await rejection(channel.send(message('version', 'payload-not-in-errors')));
    expect(isOtaError(io, 'TRANSPORT')).toBe(true);
    expect((io as Error).message).not.toContain('payload-not-in-errors');
    expect(await readdir(base)).toEqual(['version']); // the temp file was removed

    const controller = new AbortController();
    controller.abort();
    const aborted = await rejection(channel.send(message('other'), { signal: controller.signal }));
    expect(isOtaError(aborted, 'ABORTED')).toBe(true);

    expect(() => fileChannel({ directory: '' })).toThrow(/directory/);
  });

  it('resolveFileAddress checks lexically, without touching the disk', () => {
    expect(resolveFileAddress('/srv/app', 'lib/x.py')).toBe('/srv/app/lib/x.py');
    expect(() => resolveFileAddress('/srv/app', '../x')).toThrow(/relative path inside the directory/);
    expect(() => resolveFileAddress('/srv/app', 42)).toThrow(/address/);
  });
});
