import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isOtaError } from '../../src/core/errors.js';
import { MemoryStore } from '../../src/core/store.js';
import { createUpdateMachine } from '../../src/machine/create-machine.js';
import { createFileInstaller, type InstallStep } from '../../src/node/install/index.js';
import { manifestFor } from '../../src/testing/simulated-device.js';
import { mkdtempOnOtherFileSystem, skipOrFailInCi } from '../support/system-services.js';
import { bytes, listDirectory, readOrNull } from './install-helpers.js';

// Lets one test make link(2) fail as it does on FAT or under fs.protected_hardlinks.
const linkFault = vi.hoisted(() => ({ code: null as string | null }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  return {
    ...actual,
    link: async (...args: Parameters<typeof actual.link>) => {
      if (linkFault.code !== null)
        throw Object.assign(new Error(`link: ${linkFault.code}`), { code: linkFault.code });
      return actual.link(...args);
    },
  };
});

const OLD = bytes(40_000, 11);
const NEW = bytes(55_555, 12);

let root: string;
let target: string;
let staged: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'otakit-install-file-'));
  target = join(root, 'app', 'app.bin');
  staged = join(root, 'download.bin');
  await mkdir(join(root, 'app'));
  await writeFile(staged, NEW);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('createFileInstaller', () => {
  it('installs over the target, keeps a backup until commit, then leaves only the new file', async () => {
    await writeFile(target, OLD);
    const installer = createFileInstaller({ target });
    expect(await installer.state()).toEqual({ phase: 'idle', previous: null, backup: false });
    await installer.install(staged);
    expect(await readOrNull(target)).toEqual(NEW);
    expect(await readOrNull(installer.backupPath)).toEqual(OLD);
    expect(await installer.state()).toEqual({ phase: 'installed', previous: true, backup: true });
    expect(await readOrNull(staged)).toEqual(NEW); // the staged file is left alone
    await installer.commit();
    await installer.commit(); // idempotent
    expect(await installer.state()).toEqual({ phase: 'idle', previous: null, backup: false });
    expect(await listDirectory(join(root, 'app'))).toEqual(['app.bin']);
    expect(await readOrNull(target)).toEqual(NEW);
  });

  it('rollback restores the previous bytes exactly and is idempotent; a later commit does nothing', async () => {
    await writeFile(target, OLD);
    const installer = createFileInstaller({ target });
    await installer.install(staged);
    await installer.rollback();
    await installer.rollback();
    await installer.commit();
    expect(await readOrNull(target)).toEqual(OLD);
    expect(await listDirectory(join(root, 'app'))).toEqual(['app.bin']);
  });

  it('first install: creates missing directories, and rollback removes the new file', async () => {
    const deep = join(root, 'fresh', 'dir', 'app.bin');
    const installer = createFileInstaller({ target: deep });
    await installer.install(staged);
    expect(await installer.state()).toEqual({ phase: 'installed', previous: false, backup: false });
    expect(await readOrNull(deep)).toEqual(NEW);
    await installer.rollback();
    expect(await readOrNull(deep)).toBeNull();
    expect(await listDirectory(join(root, 'fresh', 'dir'))).toEqual([]);
  });

  it('a committed install cannot be rolled back', async () => {
    await writeFile(target, OLD);
    const installer = createFileInstaller({ target });
    await installer.install(staged);
    await installer.commit();
    await installer.rollback();
    expect(await readOrNull(target)).toEqual(NEW);
  });

  it('installing again before commit keeps the committed version as the backup', async () => {
    await writeFile(target, OLD);
    const interim = join(root, 'interim.bin');
    await writeFile(interim, Buffer.from('interim, never committed'));
    const installer = createFileInstaller({ target });
    await installer.install(interim);
    await installer.install(staged);
    expect(await readOrNull(target)).toEqual(NEW);
    expect(await readOrNull(installer.backupPath)).toEqual(OLD);
    await installer.rollback();
    expect(await readOrNull(target)).toEqual(OLD);
  });

  it('keeps the mode of the file it replaces; `mode` overrides; a first install gets 0644', async () => {
    await writeFile(target, OLD);
    await chmod(target, 0o750);
    await chmod(staged, 0o600);
    await createFileInstaller({ target }).install(staged);
    expect((await stat(target)).mode & 0o7777).toBe(0o750);
    await createFileInstaller({ target, mode: 0o700 }).install(staged);
    expect((await stat(target)).mode & 0o7777).toBe(0o700);
    const fresh = join(root, 'fresh.bin');
    await createFileInstaller({ target: fresh }).install(staged);
    expect((await stat(fresh)).mode & 0o7777).toBe(0o644);
  });

  it('backs up by copying (with the old mode) where hard links are refused', async () => {
    await writeFile(target, OLD);
    await chmod(target, 0o751);
    linkFault.code = 'EPERM';
    try {
      const installer = createFileInstaller({ target, mode: 0o600 });
      await installer.install(staged);
      expect(await readOrNull(installer.backupPath)).toEqual(OLD);
      expect((await stat(target)).mode & 0o7777).toBe(0o600);
      await installer.rollback();
      expect(await readOrNull(target)).toEqual(OLD);
      expect((await stat(target)).mode & 0o7777).toBe(0o751);
      expect(await listDirectory(join(root, 'app'))).toEqual(['app.bin']);
      linkFault.code = 'EIO'; // any other failure is a real one
      await expect(installer.install(staged)).rejects.toSatisfy(
        (error) => isOtaError(error, 'INSTALL') && (error as Error).message.includes('link: EIO'),
      );
      expect(await readOrNull(target)).toEqual(OLD);
    } finally {
      linkFault.code = null;
    }
  });

  it('a backup in another directory of the same file system works', async () => {
    await writeFile(target, OLD);
    const backupPath = join(root, 'backups', 'app.bin.previous');
    const installer = createFileInstaller({ target, backupPath });
    await installer.install(staged);
    expect(await readOrNull(backupPath)).toEqual(OLD);
    await installer.rollback();
    expect(await readOrNull(target)).toEqual(OLD);
    expect(await listDirectory(join(root, 'backups'))).toEqual([]);
  });

  it('refuses a backup on another file system (CONFIG)', async (context) => {
    const backupDirectory = await mkdtempOnOtherFileSystem(root);
    if (backupDirectory === undefined)
      skipOrFailInCi(context, `no writable directory on another file system than ${root}`);
    await writeFile(target, OLD);
    try {
      const installer = createFileInstaller({ target, backupPath: join(backupDirectory, 'b') });
      await expect(installer.install(staged)).rejects.toMatchObject({ code: 'CONFIG' });
      expect(await readOrNull(target)).toEqual(OLD);
    } finally {
      await rm(backupDirectory, { recursive: true, force: true });
    }
  });

  it('an abort before the target is touched leaves everything as it was', async () => {
    await writeFile(target, OLD);
    const controller = new AbortController();
    const installer = createFileInstaller({
      target,
      onStep: (step) => {
        if (step === 'staged') controller.abort();
      },
    });
    await expect(installer.install(staged, { signal: controller.signal })).rejects.toSatisfy((error) =>
      isOtaError(error, 'ABORTED'),
    );
    expect(await readOrNull(target)).toEqual(OLD);
    expect(await installer.state()).toEqual({ phase: 'idle', previous: null, backup: false });
    expect(await listDirectory(join(root, 'app'))).toEqual(['app.bin']);

    const aborted = AbortSignal.abort();
    await expect(installer.install(staged, { signal: aborted })).rejects.toSatisfy((error) =>
      isOtaError(error, 'ABORTED'),
    );
  });

  it('an abort after the backup leaves the old file and an `installing` state; commit refuses, rollback cleans', async () => {
    await writeFile(target, OLD);
    const controller = new AbortController();
    const installer = createFileInstaller({
      target,
      onStep: (step) => {
        if (step === 'backed-up') controller.abort();
      },
    });
    await expect(installer.install(staged, { signal: controller.signal })).rejects.toSatisfy((error) =>
      isOtaError(error, 'ABORTED'),
    );
    expect(await readOrNull(target)).toEqual(OLD);
    expect(await installer.state()).toEqual({ phase: 'installing', previous: true, backup: true });
    await expect(installer.commit()).rejects.toSatisfy((error) => isOtaError(error, 'COMMIT'));
    await installer.rollback();
    expect(await readOrNull(target)).toEqual(OLD);
    expect(await listDirectory(join(root, 'app'))).toEqual(['app.bin']);
  });

  it('an abort once the rename is under way is too late: the install completes', async () => {
    await writeFile(target, OLD);
    const controller = new AbortController();
    const steps: InstallStep[] = [];
    const installer = createFileInstaller({
      target,
      onStep: (step) => {
        steps.push(step);
        if (step === 'renamed') controller.abort();
      },
    });
    await installer.install(staged, { signal: controller.signal });
    expect(steps.at(-1)).toBe('installed');
    expect(await installer.state()).toMatchObject({ phase: 'installed' });
  });

  it('refuses what it must not replace or install (INSTALL / CONFIG)', async () => {
    await mkdir(join(root, 'a-directory'));
    await expect(
      createFileInstaller({ target: join(root, 'a-directory') }).install(staged),
    ).rejects.toSatisfy(
      (error) => isOtaError(error, 'INSTALL') && /not a regular file/.test((error as Error).message),
    );
    await expect(createFileInstaller({ target }).install(join(root, 'missing.bin'))).rejects.toSatisfy(
      (error) => isOtaError(error, 'INSTALL') && /missing\.bin/.test((error as Error).message),
    );
    await expect(createFileInstaller({ target }).install(`${target}.otakit-backup`)).rejects.toSatisfy(
      (error) => isOtaError(error, 'INSTALL'),
    );
    expect(() => createFileInstaller({ target, backupPath: target })).toThrow(/backupPath/);
  });

  it('stops at a journal it cannot read instead of guessing', async () => {
    await writeFile(target, OLD);
    await writeFile(`${target}.otakit-journal`, '{"torn');
    const installer = createFileInstaller({ target });
    await expect(installer.rollback()).rejects.toSatisfy((error) => isOtaError(error, 'INSTALL'));
    await expect(installer.install(staged)).rejects.toSatisfy((error) => isOtaError(error, 'INSTALL'));
    expect(await readOrNull(`${target}.otakit-journal`)).toEqual(Buffer.from('{"torn'));
    expect(await readOrNull(target)).toEqual(OLD);
  });

  it('sweeps leftovers of a killed run: a stale backup without a journal is deleted', async () => {
    await writeFile(target, OLD);
    await writeFile(`${target}.otakit-backup`, 'stale');
    await writeFile(`${target}.otakit-new`, 'half');
    await writeFile(`${target}.otakit-journal.tmp`, '{');
    const installer = createFileInstaller({ target });
    await installer.install(staged);
    expect(await readOrNull(installer.backupPath)).toEqual(OLD);
    await installer.rollback();
    expect(await readOrNull(target)).toEqual(OLD);
    expect(await listDirectory(join(root, 'app'))).toEqual(['app.bin']);
  });

  it('runs concurrent calls one at a time, in call order', async () => {
    await writeFile(target, OLD);
    const installer = createFileInstaller({ target });
    const [, committed] = await Promise.all([installer.install(staged), installer.commit()]);
    expect(committed).toBeUndefined();
    expect(await installer.state()).toEqual({ phase: 'idle', previous: null, backup: false });
    expect(await readOrNull(target)).toEqual(NEW);
  });

  it('serves an update machine: committed on a healthy install, rolled back on a failed health check', async () => {
    const content = NEW;
    const manifest = await manifestFor(
      'u1',
      '2.0.0',
      new Map([['https://cdn.example.test/app.bin', content]]),
    );
    const digest = (algorithm: string) => createHash(algorithm).update(content).digest('hex');
    const run = async (healthy: boolean) => {
      await writeFile(target, OLD);
      const installer = createFileInstaller({ target });
      const machine = createUpdateMachine({
        id: 'gw-1',
        store: new MemoryStore(),
        installIsIdempotent: true,
        hooks: {
          download: async () => [
            { location: staged, size: content.length, md5: digest('md5'), sha256: digest('sha256') },
          ],
          install: ({ staged: artifacts, signal }) => installer.install(artifacts[0]!.location, { signal }),
          healthCheck: async () => healthy,
          commit: () => installer.commit(),
          rollback: () => installer.rollback(),
        },
      });
      try {
        return (await machine.apply(manifest)).state;
      } finally {
        machine.dispose();
      }
    };
    expect(await run(true)).toBe('committed');
    expect(await readOrNull(target)).toEqual(NEW);
    expect(await run(false)).toBe('rolled_back');
    expect(await readOrNull(target)).toEqual(OLD);
    expect(await listDirectory(join(root, 'app'))).toEqual(['app.bin']);
  });
});
