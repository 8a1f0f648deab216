// Power cut at every installer step: a child process SIGKILLs itself right after step N; the
// parent then checks the target holds exactly the old or exactly the new version (byte for
// byte), and that recovery, by rollback or by installing again, converges to a clean state.
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createDirectoryInstaller,
  createFileInstaller,
  type Installer,
} from '../../src/node/install/index.js';
import {
  bytes,
  type ChildOperation,
  listDirectory,
  readOrNull,
  readTree,
  runChild,
  type Tree,
  writeTree,
} from './install-helpers.js';

type Version = 'old' | 'new' | 'none';

interface Kind {
  name: 'file' | 'directory';
  versions: { old: Buffer | Tree; new: Buffer | Tree };
  write(path: string, version: 'old' | 'new'): Promise<void>;
  read(path: string): Promise<Buffer | Tree | null>;
  create(target: string): Installer;
}

const kinds: Kind[] = [
  {
    name: 'file',
    versions: { old: bytes(256 * 1024, 1), new: bytes(300 * 1024 + 7, 2) },
    async write(path, version) {
      await writeFile(path, this.versions[version] as Buffer);
    },
    read: readOrNull,
    create: (target) => createFileInstaller({ target }),
  },
  {
    name: 'directory',
    versions: {
      old: {
        'a.txt': Buffer.from('old a'),
        keep: '/',
        'keep/b.bin': bytes(50_000, 3),
        'old.txt': Buffer.from('1'),
      },
      new: {
        'a.txt': Buffer.from('new a'),
        keep: '/',
        'keep/c.bin': bytes(70_000, 4),
        link: '-> a.txt',
        'new.txt': Buffer.from('2'),
        'update.sh': Buffer.from('#!/bin/sh\nexit 0\n'),
      },
    },
    async write(path, version) {
      await writeTree(path, this.versions[version] as Tree);
    },
    async read(path) {
      return readTree(path);
    },
    create: (target) => createDirectoryInstaller({ target }),
  },
];

// Each case spawns a child (tsx start-up dominates), so the cases run concurrently, each in its
// own directory.
const roots: string[] = [];
async function freshRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'otakit-install-crash-'));
  roots.push(root);
  return root;
}
afterAll(async () => {
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
});

interface CrashCase {
  kind: Kind;
  /** Whether the target holds the old version before the child runs. */
  previous: boolean;
  /** What the child does after any `install` of the staged version that sets the scene. */
  operations: Array<'install' | 'commit' | 'rollback'>;
  crashAt: string;
  /** What the target holds right after the kill. */
  afterCrash: Version;
  /** What a rollback then leaves (a committed install cannot be rolled back). */
  afterRollback: Version;
}

function expected(kind: Kind, version: Version): Buffer | Tree | null {
  return version === 'none' ? null : kind.versions[version];
}

async function runCrashCase(test: CrashCase): Promise<void> {
  const { kind } = test;
  const root = await freshRoot();
  const work = join(root, 'work');
  const target = join(work, 'app');
  const staged = join(root, 'staged');
  await mkdir(work);
  if (test.previous) await kind.write(target, 'old');
  await kind.write(staged, 'new');
  const operations: ChildOperation[] = test.operations.map((name) =>
    name === 'install' ? { name, staged } : { name },
  );

  const run = await runChild({ kind: kind.name, target, operations }, test.crashAt);
  expect(run.stderr).toBe('');
  expect(run.signal).toBe('SIGKILL');
  expect(run.steps.at(-1)).toBe(test.crashAt);

  // Exactly one version, byte for byte: never a mix. The directory's two renames leave a
  // documented window where the target is absent; then both versions are whole on disk.
  const afterCrash = await kind.read(target);
  if (afterCrash === null && test.afterCrash !== 'none') {
    expect(await kind.read(`${target}.otakit-backup`)).toEqual(kind.versions.old);
    const moved = await kind.read(`${target}.otakit-new`);
    if (moved !== null) expect(moved).toEqual(kind.versions.new);
  } else {
    expect(afterCrash).toEqual(expected(kind, test.afterCrash));
  }

  // Recovery 1, in place (hard links and all): roll back, twice, as a restarted machine might.
  const copy = join(root, 'copy');
  await cp(work, copy, { recursive: true, verbatimSymlinks: true });
  const installer = kind.create(target);
  await installer.rollback();
  await installer.rollback();
  expect(await kind.read(target)).toEqual(expected(kind, test.afterRollback));
  expect(await listDirectory(work)).toEqual(test.afterRollback === 'none' ? [] : ['app']);
  expect(await installer.state()).toEqual({ phase: 'idle', previous: null, backup: false });

  // Recovery 2, on a copy of the crashed state: install again, then commit.
  const again = kind.create(join(copy, 'app'));
  await again.install(staged);
  expect(await again.state()).toMatchObject({ phase: 'installed' });
  await again.commit();
  expect(await kind.read(join(copy, 'app'))).toEqual(kind.versions.new);
  expect(await listDirectory(copy)).toEqual(['app']);
}

const INSTALL_STEPS_WITH_PREVIOUS = [
  'staged',
  'staged-synced',
  'journaled',
  'backed-up',
  'renamed',
  'dir-synced',
  'installed',
] as const;
const INSTALL_STEPS_FIRST = INSTALL_STEPS_WITH_PREVIOUS.filter((step) => step !== 'backed-up');
const REPLACED_AT = INSTALL_STEPS_WITH_PREVIOUS.indexOf('renamed');

for (const kind of kinds) {
  // Generous timeouts: they only catch a hang (each case starts child processes, slow on a busy machine).
  describe.concurrent(`${kind.name} installer: SIGKILL`, { timeout: 240_000 }, () => {
    it('passes every step in order when nothing kills it', async () => {
      const root = await freshRoot();
      const target = join(root, 'app');
      const staged = join(root, 'staged');
      await kind.write(target, 'old');
      await kind.write(staged, 'new');
      const run = await runChild(
        {
          kind: kind.name,
          target,
          operations: [
            { name: 'install', staged },
            { name: 'rollback' },
            { name: 'install', staged },
            { name: 'commit' },
          ],
        },
        '',
      );
      expect(run.steps).toEqual([
        ...INSTALL_STEPS_WITH_PREVIOUS.map((step) => `install:${step}`),
        ...(kind.name === 'directory' ? ['rollback:discarded'] : []),
        'rollback:restored',
        'rollback:rolled-back',
        ...INSTALL_STEPS_WITH_PREVIOUS.map((step) => `install:${step}`),
        'commit:committed',
        'commit:cleaned',
        'done',
      ]);
      expect(await kind.read(target)).toEqual(kind.versions.new);
      expect(await listDirectory(root)).toEqual(['app', 'staged']);
    });

    for (const [index, step] of INSTALL_STEPS_WITH_PREVIOUS.entries()) {
      it(`after install step "${step}" (replacing a previous version)`, () =>
        runCrashCase({
          kind,
          previous: true,
          operations: ['install'],
          crashAt: `install:${step}`,
          afterCrash: index < REPLACED_AT ? 'old' : 'new',
          afterRollback: 'old',
        }));
    }

    for (const step of INSTALL_STEPS_FIRST) {
      it(`after install step "${step}" (first install)`, () =>
        runCrashCase({
          kind,
          previous: false,
          operations: ['install'],
          crashAt: `install:${step}`,
          afterCrash: INSTALL_STEPS_WITH_PREVIOUS.indexOf(step) < REPLACED_AT ? 'none' : 'new',
          afterRollback: 'none',
        }));
    }

    for (const step of ['committed', 'cleaned']) {
      it(`after commit step "${step}"`, () =>
        runCrashCase({
          kind,
          previous: true,
          operations: ['install', 'commit'],
          crashAt: `commit:${step}`,
          afterCrash: 'new',
          afterRollback: 'new',
        }));
    }

    const rollbackSteps =
      kind.name === 'directory' ? ['discarded', 'restored', 'rolled-back'] : ['restored', 'rolled-back'];
    for (const step of rollbackSteps) {
      it(`after rollback step "${step}"`, () =>
        runCrashCase({
          kind,
          previous: true,
          operations: ['install', 'rollback'],
          crashAt: `rollback:${step}`,
          // The directory rollback moves the new tree aside before the backup comes back.
          afterCrash: step === 'discarded' ? 'none' : 'old',
          afterRollback: 'old',
        }));
    }
  });
}

describe('directory installer: SIGKILL while replacing an uncommitted install', { timeout: 240_000 }, () => {
  const kind = kinds[1]!;

  it('after install step "discarded": the backup keeps the committed version', async () => {
    const root = await freshRoot();
    const work = join(root, 'work');
    const target = join(work, 'app');
    const first = join(root, 'first');
    const staged = join(root, 'staged');
    await mkdir(work);
    await kind.write(target, 'old');
    await writeTree(first, { 'interim.txt': Buffer.from('never committed') });
    await kind.write(staged, 'new');
    const run = await runChild(
      {
        kind: 'directory',
        target,
        operations: [
          { name: 'install', staged: first },
          { name: 'install', staged },
        ],
      },
      'install:discarded',
    );
    expect(run.signal).toBe('SIGKILL');
    // In the window: the interim tree moved aside, the committed one at the backup path.
    expect(await kind.read(target)).toBeNull();
    expect(await kind.read(`${target}.otakit-backup`)).toEqual(kind.versions.old);
    expect(await kind.read(`${target}.otakit-new`)).toEqual(kind.versions.new);

    const copy = join(root, 'copy');
    await cp(work, copy, { recursive: true, verbatimSymlinks: true });
    await kind.create(target).rollback();
    expect(await kind.read(target)).toEqual(kind.versions.old);
    expect(await listDirectory(work)).toEqual(['app']);

    const again = kind.create(join(copy, 'app'));
    await again.install(staged);
    await again.commit();
    expect(await kind.read(join(copy, 'app'))).toEqual(kind.versions.new);
    expect(await listDirectory(copy)).toEqual(['app']);
  });
});
