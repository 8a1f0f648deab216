/**
 * Attack: freeze. The attacker keeps serving a stale (but genuinely signed) order, or the device
 * still trusts a root that should have been rotated away long ago. Refused before a byte is
 * fetched: an order past its `expiresAt` ends `check_failed` with `MANIFEST_EXPIRED` (the device
 * machine, src/machine/device-machine.ts, and src/manifest/version-policy.ts), an expired trust
 * root refuses every order with TrustError `root_expired` (src/manifest/trust.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { OtaError, TrustError } from '../../src/core/errors.js';
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
} from './harness.js';

afterEach(cleanup);

const PAST = '2025-01-01T00:00:00Z';
const FUTURE = '2099-01-01T00:00:00Z';

describe('attack: freeze (stale orders, a stale trust root)', () => {
  it('an expired signed order is refused with MANIFEST_EXPIRED, no request, nothing installed', async () => {
    const [key] = await keys3();
    const server = await artifactServer();
    const rig = await device({ trust: { root: rootOf([key], 1) } });
    const stale = await sign(
      {
        id: 'fw-2',
        version: '2.0.0',
        expiresAt: PAST,
        artifacts: [artifactOf(server, '/fw.bin', encode('fw 2'))],
      },
      [key],
    );
    expectRefused(rig, await rig.machine.apply(stale), {
      state: 'check_failed',
      code: 'MANIFEST_EXPIRED',
      type: OtaError,
      names: `expired at ${PAST} (expiresAt)`,
    });
    expect(server.stats('/fw.bin').requests).toBe(0);
    await expectNothingInstalled(rig);
  });

  it('an expired order is refused without trust too (the machine checks expiresAt itself)', async () => {
    const server = await artifactServer();
    const rig = await device();
    const stale = {
      id: 'fw-2',
      version: '2.0.0',
      expiresAt: PAST,
      artifacts: [artifactOf(server, '/fw.bin', encode('fw 2'))],
    };
    expectRefused(rig, await rig.machine.apply(stale), {
      state: 'check_failed',
      code: 'MANIFEST_EXPIRED',
      type: OtaError,
      names: '(expiresAt)',
    });
    expect(server.stats('/fw.bin').requests).toBe(0);
    await expectNothingInstalled(rig);
  });

  it('an expired trust root refuses even a fresh, validly signed order (root_expired)', async () => {
    const [key] = await keys3();
    const server = await artifactServer();
    const rig = await device({ trust: { root: rootOf([key], 1, { expiresAt: PAST }) } });
    const fresh = await sign(
      {
        id: 'fw-2',
        version: '2.0.0',
        expiresAt: FUTURE,
        artifacts: [artifactOf(server, '/fw.bin', encode('fw 2'))],
      },
      [key],
    );
    const error = expectRefused(rig, await rig.machine.apply(fresh), {
      state: 'verify_failed',
      code: 'TRUST',
      type: TrustError,
      name: 'TrustError',
      reason: 'root_expired',
      names: `trust root version 1 expired at ${PAST}`,
    });
    expect((error as TrustError).field).toBe('root.expiresAt');
    expect(server.stats('/fw.bin').requests).toBe(0);
    await expectNothingInstalled(rig);
  });
});
