/**
 * Attack: rollback. The attacker replays an older, genuinely signed manifest (with a known
 * vulnerability) after the device committed one whose `minVersion` raised its anti-rollback floor.
 * Refused by the trust gate (src/manifest/version-policy.ts) before a byte is fetched:
 * TrustError `below_floor` naming `version`; the floor survives a restart (FileStore).
 */
import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { fromSerializedError, isTrustError, TrustError } from '../../src/core/errors.js';
import { integerCompare, semverCompare, type VersionComparator } from '../../src/manifest/version-policy.js';
import {
  artifactOf,
  artifactServer,
  cleanup,
  device,
  encode,
  expectNothingInstalled,
  expectRefused,
  keys3,
  rootOf,
  sign,
  snapshot,
  trustRefusal,
} from './harness.js';

afterEach(cleanup);

const cases: Array<{
  name: string;
  compare: VersionComparator;
  newer: string;
  floor: string;
  older: string;
}> = [
  { name: 'semver', compare: semverCompare, newer: '2.1.0', floor: '2.0.0', older: '1.9.9' },
  { name: 'integer', compare: integerCompare, newer: '42', floor: '40', older: '39' },
];

describe('attack: rollback to an older signed manifest', () => {
  for (const { name, compare, newer, floor, older } of cases) {
    it(`${name} versions: refused below the committed floor, before a request, even after a restart`, async () => {
      const [key] = await keys3();
      const server = await artifactServer();
      const rig = await device({ trust: { root: rootOf([key], 1), compareVersions: compare } });
      const newBody = encode(`firmware ${newer}\n`);
      const oldBody = encode(`vulnerable firmware ${older}\n`);
      const current = await sign(
        {
          id: `fw-${newer}`,
          version: newer,
          minVersion: floor,
          artifacts: [artifactOf(server, '/new.bin', newBody)],
        },
        [key],
      );
      // The old release was signed by the same key, long ago: its signature is perfectly valid.
      const replay = await sign(
        { id: `fw-${older}`, version: older, artifacts: [artifactOf(server, '/old.bin', oldBody)] },
        [key],
      );
      expect((await rig.machine.apply(current)).state).toBe('committed');
      expect(rig.machine.trust?.floor).toBe(floor);
      rig.machine.dispose();

      // After a restart (the floor is in the FileStore), the replay is offered.
      const installedBefore = { ...rig.calls };
      const before = await snapshot(rig.target);
      const machine = rig.restart();
      await machine.load();
      const outcome = await machine.apply(replay);
      const error = expectRefused(rig, outcome, {
        state: 'verify_failed',
        code: 'TRUST',
        type: TrustError,
        name: 'TrustError',
        reason: 'below_floor',
        names: `version "${older}": expected at least the device's anti-rollback floor "${floor}"`,
      });
      expect((error as TrustError).field).toBe('version');
      expect(server.stats('/old.bin').requests).toBe(0);
      expect(rig.calls).toEqual(installedBefore);
      expect(await snapshot(rig.target)).toEqual(before);
      // The target still holds the committed (newer) firmware, byte for byte.
      expect(await readFile(rig.target)).toEqual(Buffer.from(newBody));

      // Another restart: the persisted refusal still says why (reason and field survive the record).
      machine.dispose();
      const reloaded = rig.restart();
      await reloaded.load();
      const lastError = reloaded.snapshot().lastError;
      expect(lastError).toMatchObject({ code: 'TRUST', reason: 'below_floor', field: 'version' });
      expect(isTrustError(fromSerializedError(lastError!), 'below_floor')).toBe(true);
    });
  }

  it('a rollback to the old version before anything was committed is refused by its own minVersion', async () => {
    const [key] = await keys3();
    const server = await artifactServer();
    const rig = await device({ trust: { root: rootOf([key], 1), compareVersions: semverCompare } });
    // A manifest claiming minVersion 2.0.0 but version 1.0.0: inconsistent, refused.
    const order = await sign(
      {
        id: 'fw-x',
        version: '1.0.0',
        minVersion: '2.0.0',
        artifacts: [artifactOf(server, '/x.bin', encode('x'))],
      },
      [key],
    );
    expectRefused(
      rig,
      await rig.machine.apply(order),
      trustRefusal('below_floor', 'version "1.0.0": expected at least its own minVersion "2.0.0"'),
    );
    expect(server.stats('/x.bin').requests).toBe(0);
    await expectNothingInstalled(rig);
  });
});
