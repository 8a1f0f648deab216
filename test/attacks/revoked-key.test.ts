/**
 * Attack: a revoked key. A signing key leaked; the fleet rotated to a new trust root that lists it
 * in `revokedKeyIds`. The attacker signs with the leaked key. Refused by the trust gate
 * (src/manifest/trust.ts, with the root adopted by rotation and persisted in the FileStore)
 * before a byte is fetched: TrustError `revoked_key` naming `signature.signatures`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TrustError } from '../../src/core/errors.js';
import { signRoot } from '../../src/manifest/trust.js';
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

describe('attack: revoked key', () => {
  it('after a rotation that revokes a key, its signatures no longer count, even after a restart', async () => {
    const [leaked, k2, k3] = await keys3();
    const server = await artifactServer();
    const rig = await device({ trust: { root: rootOf([leaked, k2], 1) } });
    // Before the rotation the leaked key is good: the app runs an order signed by it.
    const before = await sign(
      { id: 'fw-1', version: '1.1.0', artifacts: [artifactOf(server, '/fw-1.bin', encode('fw 1.1'))] },
      [leaked],
    );
    expect((await rig.machine.apply(before)).state).toBe('committed');

    // Version 2 of the root keeps listing the leaked key but revokes it; signed by old and new keys.
    const next = rootOf([leaked, k2, k3], 1, { version: 2, revokedKeyIds: [leaked.keyId] });
    await rig.machine.rotateTrustRoot(await signRoot(next, [k2.seed, k3.seed]));
    expect(rig.machine.trust?.rootVersion).toBe(2);
    rig.machine.dispose();
    const machine = rig.restart();
    await machine.load();
    expect(machine.trust?.rootVersion).toBe(2);

    const calls = { ...rig.calls };
    const installed = await snapshot(rig.target);
    const attack = await sign(
      { id: 'evil', version: '9.0.0', artifacts: [artifactOf(server, '/evil.bin', encode('evil'))] },
      [leaked],
    );
    const error = expectRefused(rig, await machine.apply(attack), {
      state: 'verify_failed',
      code: 'TRUST',
      type: TrustError,
      name: 'TrustError',
      reason: 'revoked_key',
      names: `trusted key(s) of trust root version 2, found 0 (${leaked.keyId.slice(0, 16)}… revoked_key)`,
    });
    expect((error as TrustError).field).toBe('signature.signatures');
    expect(server.stats('/evil.bin').requests).toBe(0);
    expect(rig.calls).toEqual(calls);
    expect(await snapshot(rig.target)).toEqual(installed);
    // A genuine order signed by a non-revoked key still goes through.
    const good = await sign(
      { id: 'fw-3', version: '3.0.0', artifacts: [artifactOf(server, '/fw-3.bin', encode('fw 3'))] },
      [k3],
    );
    expect((await machine.apply(good)).state).toBe('committed');
  });

  it('a device shipped with a root that already revokes the key refuses it from the start', async () => {
    const [leaked, k2] = await keys3();
    const server = await artifactServer();
    const rig = await device({ trust: { root: rootOf([leaked, k2], 1, { revokedKeyIds: [leaked.keyId] }) } });
    const attack = await sign(
      { id: 'evil', version: '9.0.0', artifacts: [artifactOf(server, '/evil.bin', encode('evil'))] },
      [leaked],
    );
    expectRefused(rig, await rig.machine.apply(attack), trustRefusal('revoked_key', 'signature.signatures'));
    expect(server.stats('/evil.bin').requests).toBe(0);
    await expectNothingInstalled(rig);
  });

  it('the leaked key cannot rotate the root back either (root_rejected)', async () => {
    const [leaked, k2] = await keys3();
    const rig = await device({ trust: { root: rootOf([leaked, k2], 1, { revokedKeyIds: [leaked.keyId] }) } });
    const evilRoot = rootOf([leaked], 1, { version: 5 });
    await expect(rig.machine.rotateTrustRoot(await signRoot(evilRoot, [leaked.seed]))).rejects.toSatisfy(
      (error: unknown) =>
        error instanceof TrustError &&
        error.reason === 'root_rejected' &&
        error.message.includes('signatures'),
    );
    expect(rig.machine.trust?.rootVersion).toBe(1);
  });
});
