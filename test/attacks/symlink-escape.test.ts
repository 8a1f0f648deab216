/**
 * Attack: symlink escape. A signed, correctly hashed package (tar, .tar.gz or .zip) carries a
 * symbolic link pointing outside (`/etc`, `../victim`), then a file written through it. Refused by
 * the archive extraction (src/node/archive, in the install hook): links are never created, an
 * ArchiveError (`INSTALL`, reason `link`) naming the entry; nothing reaches the link's target,
 * `installer.install` never runs, the installed directory is byte for byte the old one.
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ArchiveError } from '../../src/archive/errors.js';
import { gzip, S_IFLNK, tar, tarEntry, zip } from '../support/archives.js';
import {
  artifactServer,
  cleanup,
  device,
  expectNothingInstalled,
  expectRefused,
  keys3,
  rootOf,
  signedPackageOrder,
  snapshot,
} from './harness.js';

afterEach(cleanup);

/** Archives whose entry `link` points at `victim` (outside the install), then `link/owned.txt`. */
function archives(victim: string): Array<[string, Uint8Array]> {
  const tarLink = tar([
    tarEntry({ name: 'link', type: '2', linkName: victim }),
    tarEntry({ name: 'link/owned.txt', data: 'pwned' }),
  ]);
  const tarHardLink = tar([
    tarEntry({ name: 'hard', type: '1', linkName: join(victim, 'keep.txt') }),
    tarEntry({ name: 'hard', data: 'pwned' }),
  ]);
  return [
    ['.tar (symlink to an absolute path)', tarLink],
    ['.tar.gz (symlink to an absolute path)', gzip(tarLink)],
    [
      '.tar.gz (relative symlink ../victim)',
      gzip(
        tar([
          tarEntry({ name: 'link', type: '2', linkName: '../../victim' }),
          tarEntry({ name: 'link/owned.txt', data: 'pwned' }),
        ]),
      ),
    ],
    ['.tar (hard link to a file outside)', tarHardLink],
    [
      '.zip (S_IFLNK entry)',
      zip([
        { name: 'link', data: victim, mode: S_IFLNK | 0o777, method: 0 },
        { name: 'link/owned.txt', data: 'pwned' },
      ]),
    ],
  ];
}

describe('attack: symlink escape', () => {
  for (const [index, [title]] of archives('/victim').entries()) {
    it(`${title}: a link then a file through it is refused (link), nothing escapes, nothing installed`, async () => {
      const [key] = await keys3();
      const server = await artifactServer();
      const rig = await device({ kind: 'archive', trust: { root: rootOf([key], 1) } });
      const victim = join(rig.root, 'victim');
      await mkdir(victim);
      await writeFile(join(victim, 'keep.txt'), 'untouched');
      const victimBefore = await snapshot(victim);
      const [name, bytes] = archives(victim)[index]!;
      const order = await signedPackageOrder(server, bytes, key);
      const error = expectRefused(rig, await rig.machine.apply(order), {
        state: 'rolled_back',
        code: 'INSTALL',
        type: ArchiveError,
        name: 'ArchiveError',
        reason: 'link',
        names: /\(entry "(link|hard)"\)/,
      });
      expect(['link', 'hard'], name).toContain((error as ArchiveError).entry);
      expect(await snapshot(victim)).toEqual(victimBefore);
      expect(await readdir(victim)).toEqual(['keep.txt']);
      await expectNothingInstalled(rig, { installHookRan: true });
    });
  }
});
