/**
 * Attack: zip-slip. A signed, correctly hashed package (.zip or .tar.gz) carries entries named
 * `../…` (or absolute) meant to land outside the install directory. Refused by the archive
 * extraction (src/node/archive, run by the install hook before the directory installer): an
 * ArchiveError (`INSTALL`, reason `path-traversal`) naming the entry; nothing lands outside,
 * `installer.install` never runs, the installed directory is byte for byte the old one.
 */
import { access, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ArchiveError } from '../../src/archive/errors.js';
import { file, gzip, tar, zip } from '../support/archives.js';
import {
  artifactServer,
  cleanup,
  device,
  expectNothingInstalled,
  expectRefused,
  keys3,
  rootOf,
  signedPackageOrder,
} from './harness.js';

afterEach(cleanup);

const NAME = `slipped-${process.pid}.txt`;

const archives: Array<[string, string, Uint8Array]> = [
  [
    '.zip',
    `../${NAME}`,
    zip([
      { name: 'app/ok.txt', data: 'fine' },
      { name: `../${NAME}`, data: 'pwned' },
    ]),
  ],
  ['.zip', `../../${NAME}`, zip([{ name: `../../${NAME}`, data: 'pwned' }])],
  ['.tar.gz', `../${NAME}`, gzip(tar([file('app/ok.txt', 'fine'), file(`../${NAME}`, 'pwned')]))],
  ['.tar.gz', `app/../../${NAME}`, gzip(tar([file(`app/../../${NAME}`, 'pwned')]))],
  ['.tar.gz', `/tmp/${NAME}`, gzip(tar([file(`/tmp/${NAME}`, 'pwned')]))],
];

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

describe('attack: zip-slip', () => {
  for (const [format, entry, bytes] of archives) {
    it(`${format} with the entry ${JSON.stringify(entry)}: path-traversal, nothing outside, nothing installed`, async () => {
      const [key] = await keys3();
      const server = await artifactServer();
      const rig = await device({ kind: 'archive', trust: { root: rootOf([key], 1) } });
      const order = await signedPackageOrder(server, bytes, key);
      const error = expectRefused(rig, await rig.machine.apply(order), {
        state: 'rolled_back',
        code: 'INSTALL',
        type: ArchiveError,
        name: 'ArchiveError',
        reason: 'path-traversal',
        names: `(entry ${JSON.stringify(entry)})`,
      });
      expect((error as ArchiveError).entry).toBe(entry);
      // Nowhere an escaping entry could have landed holds it.
      for (const place of [
        rig.root,
        dirname(rig.root),
        dirname(rig.target),
        join(rig.target, '..', '..'),
        '/tmp',
      ]) {
        expect(await exists(join(place, NAME)), place).toBe(false);
      }
      expect((await readdir(rig.root)).filter((name) => name.includes('slipped'))).toEqual([]);
      expect(rig.calls.installHook).toBe(1);
      await expectNothingInstalled(rig, { installHookRan: true });
    });
  }
});
