import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isOtaError } from '../../src/core/errors.js';
import { createDirectoryInstaller } from '../../src/node/install/index.js';
import { bytes, listDirectory, readTree, type Tree, writeTree } from './install-helpers.js';

const OLD: Tree = {
  'a.txt': Buffer.from('old a'),
  lib: '/',
  'lib/x.bin': bytes(10_000, 21),
  'gone.txt': Buffer.from('x'),
};
const NEW: Tree = {
  'a.txt': Buffer.from('new a'),
  lib: '/',
  'lib/y.bin': bytes(20_000, 22),
  'lib/link': '-> ../a.txt',
  empty: '/',
  'update.sh': Buffer.from('#!/bin/sh\nexit 0\n'),
};

let root: string;
let target: string;
let staged: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'otakit-install-dir-'));
  target = join(root, 'ota', 'current');
  staged = join(root, 'extracted');
  await writeTree(staged, NEW);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('createDirectoryInstaller', () => {
  it('swaps the directory, keeps the previous one until commit, then leaves only the new tree', async () => {
    await writeTree(target, OLD);
    const installer = createDirectoryInstaller({ target });
    await installer.install(staged);
    expect(await readTree(target)).toEqual(NEW);
    expect(await readTree(installer.backupPath)).toEqual(OLD);
    expect(await installer.state()).toEqual({ phase: 'installed', previous: true, backup: true });
    expect(await readTree(staged)).toEqual(NEW); // copied, not moved
    await installer.commit();
    await installer.commit();
    expect(await readTree(target)).toEqual(NEW);
    expect(await listDirectory(join(root, 'ota'))).toEqual(['current']);
  });

  it('rollback restores the previous tree exactly and is idempotent', async () => {
    await writeTree(target, OLD);
    const installer = createDirectoryInstaller({ target });
    await installer.install(staged);
    await installer.rollback();
    await installer.rollback();
    expect(await readTree(target)).toEqual(OLD);
    expect(await listDirectory(join(root, 'ota'))).toEqual(['current']);
    expect(await installer.state()).toEqual({ phase: 'idle', previous: null, backup: false });
  });

  it('first install: rollback removes the directory', async () => {
    const installer = createDirectoryInstaller({ target });
    await installer.install(staged);
    expect(await installer.state()).toEqual({ phase: 'installed', previous: false, backup: false });
    expect(await readTree(target)).toEqual(NEW);
    await installer.rollback();
    expect(await listDirectory(join(root, 'ota'))).toEqual([]);
  });

  it('moves a tree extracted into stagingPath instead of copying it; running install again is a no-op', async () => {
    await writeTree(target, OLD);
    const installer = createDirectoryInstaller({ target });
    await writeTree(installer.stagingPath, { 'half-extracted': Buffer.from('from before a crash') });
    expect(await installer.prepareStaging()).toBe(installer.stagingPath);
    expect(await listDirectory(installer.stagingPath)).toEqual([]);
    await writeTree(installer.stagingPath, NEW);
    const inode = (await stat(join(installer.stagingPath, 'lib', 'y.bin'))).ino;
    await installer.install(installer.stagingPath);
    expect((await stat(join(target, 'lib', 'y.bin'))).ino).toBe(inode);
    await installer.install(installer.stagingPath); // as a machine with installIsIdempotent would
    expect(await readTree(target)).toEqual(NEW);
    await installer.rollback();
    expect(await readTree(target)).toEqual(OLD);
    expect(await listDirectory(join(root, 'ota'))).toEqual(['current']);
    await expect(installer.install(installer.stagingPath)).rejects.toSatisfy(
      (error) => isOtaError(error, 'INSTALL') && /Nothing is staged/.test((error as Error).message),
    );
  });

  it('installing again before commit keeps the committed tree as the backup', async () => {
    await writeTree(target, OLD);
    const interim = join(root, 'interim');
    await writeTree(interim, { 'interim.txt': Buffer.from('never committed') });
    const installer = createDirectoryInstaller({ target });
    await installer.install(interim);
    await installer.install(staged);
    expect(await readTree(target)).toEqual(NEW);
    expect(await readTree(installer.backupPath)).toEqual(OLD);
    await installer.rollback();
    expect(await readTree(target)).toEqual(OLD);
    expect(await listDirectory(join(root, 'ota'))).toEqual(['current']);
  });

  it('keeps file and directory modes and copies symlinks without following them', async () => {
    await chmod(join(staged, 'update.sh'), 0o755);
    await chmod(join(staged, 'lib'), 0o750);
    const installer = createDirectoryInstaller({ target });
    await installer.install(staged);
    expect((await stat(join(target, 'update.sh'))).mode & 0o7777).toBe(0o755);
    expect((await stat(join(target, 'lib'))).mode & 0o7777).toBe(0o750);
    expect((await readTree(target))?.['lib/link']).toBe('-> ../a.txt');
  });

  it.skipIf(process.platform === 'win32')(
    'refuses a tree holding a FIFO and leaves the target untouched',
    async () => {
      await writeTree(target, OLD);
      execFileSync('mkfifo', [join(staged, 'pipe')]);
      const installer = createDirectoryInstaller({ target });
      await expect(installer.install(staged)).rejects.toSatisfy(
        (error) =>
          isOtaError(error, 'INSTALL') &&
          /not a regular file, directory or symlink/.test((error as Error).message),
      );
      expect(await readTree(target)).toEqual(OLD);
      expect(await listDirectory(join(root, 'ota'))).toEqual(['current']);
    },
  );

  it('an abort before the swap leaves the old tree; rollback then cleans up', async () => {
    await writeTree(target, OLD);
    const controller = new AbortController();
    const installer = createDirectoryInstaller({
      target,
      onStep: (step) => {
        if (step === 'journaled') controller.abort();
      },
    });
    await expect(installer.install(staged, { signal: controller.signal })).rejects.toSatisfy((error) =>
      isOtaError(error, 'ABORTED'),
    );
    expect(await readTree(target)).toEqual(OLD);
    expect(await installer.state()).toEqual({ phase: 'installing', previous: true, backup: false });
    await expect(installer.commit()).rejects.toSatisfy((error) => isOtaError(error, 'COMMIT'));
    await installer.rollback();
    expect(await readTree(target)).toEqual(OLD);
    expect(await listDirectory(join(root, 'ota'))).toEqual(['current']);

    await expect(installer.install(staged, { signal: AbortSignal.abort() })).rejects.toSatisfy((error) =>
      isOtaError(error, 'ABORTED'),
    );
    expect(await listDirectory(join(root, 'ota'))).toEqual(['current']);
  });

  it('an abort once the target is moved is too late: the swap completes', async () => {
    await writeTree(target, OLD);
    const controller = new AbortController();
    const installer = createDirectoryInstaller({
      target,
      onStep: (step) => {
        if (step === 'backed-up') controller.abort();
      },
    });
    await installer.install(staged, { signal: controller.signal });
    expect(await readTree(target)).toEqual(NEW);
    expect(await installer.state()).toMatchObject({ phase: 'installed' });
  });

  it('refuses a target that is not a directory, and a staged path that is not one', async () => {
    await mkdir(join(root, 'ota'));
    await writeFile(target, 'a file');
    await expect(createDirectoryInstaller({ target }).install(staged)).rejects.toSatisfy(
      (error) => isOtaError(error, 'INSTALL') && /not a directory/.test((error as Error).message),
    );
    const other = join(root, 'other');
    await expect(
      createDirectoryInstaller({ target: other }).install(join(root, 'ota', 'current')),
    ).rejects.toSatisfy(
      (error) => isOtaError(error, 'INSTALL') && /not a directory/.test((error as Error).message),
    );
    expect(await listDirectory(root)).toEqual(['extracted', 'ota']);
  });

  it('sweeps leftovers: a stale backup and a discarded tree without a journal are deleted', async () => {
    await writeTree(target, OLD);
    await writeTree(`${target}.otakit-backup`, { stale: Buffer.from('1') });
    await writeTree(`${target}.otakit-discard`, { stale: Buffer.from('2') });
    const installer = createDirectoryInstaller({ target });
    await installer.install(staged);
    expect(await readTree(installer.backupPath)).toEqual(OLD);
    await installer.commit();
    expect(await listDirectory(join(root, 'ota'))).toEqual(['current']);
  });
});
