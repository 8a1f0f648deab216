/**
 * Attack: archive bomb. A signed, correctly hashed package of about a megabyte that inflates to
 * gigabytes (a .tar.gz and a .zip of zeros). Refused by the archive extraction (src/node/archive,
 * in the install hook) on the declared size or the compression ratio, before the disk fills: an
 * ArchiveError (`INSTALL`, reason `too-large` or `ratio`); the staging tree removed,
 * `installer.install` never runs, the installed directory is byte for byte the old one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ArchiveError } from '../../src/archive/errors.js';
import { GiB, gzipTarBomb, MiB, zipBomb } from '../support/archives.js';
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

const NO_SIZE_CAPS = { maxTotalBytes: Number.POSITIVE_INFINITY, maxEntryBytes: Number.POSITIVE_INFINITY };

describe('attack: archive bomb (1 GiB of zeros in about 1 MB)', () => {
  for (const [format, build] of [
    ['.tar.gz', () => gzipTarBomb(GiB)],
    ['.zip', () => zipBomb(GiB)],
  ] as const) {
    for (const [limits, reason] of [
      [undefined, 'too-large'],
      [NO_SIZE_CAPS, 'ratio'],
    ] as const) {
      it(`${format}, ${limits ? 'size caps lifted' : 'default limits'}: refused (${reason}), nothing installed`, async () => {
        const bytes = build();
        expect(bytes.length).toBeLessThan(2 * MiB);
        const [key] = await keys3();
        const server = await artifactServer();
        const rig = await device({
          kind: 'archive',
          trust: { root: rootOf([key], 1) },
          ...(limits ? { archiveLimits: limits } : {}),
        });
        const order = await signedPackageOrder(server, bytes, key, 'pkg-bomb');
        const error = expectRefused(rig, await rig.machine.apply(order), {
          state: 'rolled_back',
          code: 'INSTALL',
          type: ArchiveError,
          name: 'ArchiveError',
          reason,
          names: reason === 'ratio' ? /ratio/i : /maxTotalBytes|maxEntryBytes|larger|size/i,
        });
        expect(error).toBeInstanceOf(ArchiveError);
        await expectNothingInstalled(rig, { installHookRan: true });
        // The staging tree the extraction wrote into was removed: only the old tree, state and the
        // staged (compressed) download remain.
        const tree = await snapshot(rig.root);
        const inflated = [...tree.keys()].filter((path) => path.includes('zeros'));
        expect(inflated).toEqual([]);
      });
    }
  }
});
