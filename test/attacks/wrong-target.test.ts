/**
 * Attack: wrong target. A genuinely signed order built for another hardware type, or bound to
 * another device, is delivered to this one. Refused by the trust gate's policy
 * (src/manifest/version-policy.ts) before a byte is fetched: TrustError `wrong_target` naming
 * `compatibility.deviceTypes` / `compatibility.deviceIds`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TrustError } from '../../src/core/errors.js';
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
  trustRefusal,
} from './harness.js';

afterEach(cleanup);

describe('attack: wrong target', () => {
  for (const [field, compatibility, names] of [
    [
      'deviceTypes',
      { deviceTypes: ['gw-2'] },
      `compatibility.deviceTypes: expected to list this device's device type "gw-1"`,
    ],
    [
      'deviceIds',
      { deviceIds: ['dev-2', 'dev-3'] },
      `compatibility.deviceIds: expected to list this device's device id "dev-1"`,
    ],
  ] as const) {
    it(`an order whose compatibility.${field} does not list this device is refused`, async () => {
      const [key] = await keys3();
      const server = await artifactServer();
      const rig = await device({ id: 'dev-1', trust: { root: rootOf([key], 1), deviceType: 'gw-1' } });
      const order = await sign(
        {
          id: 'fw-2',
          version: '2.0.0',
          compatibility: JSON.parse(JSON.stringify(compatibility)),
          artifacts: [artifactOf(server, '/fw.bin', encode('firmware for another board'))],
        },
        [key],
      );
      const error = expectRefused(rig, await rig.machine.apply(order), {
        state: 'verify_failed',
        code: 'TRUST',
        type: TrustError,
        reason: 'wrong_target',
        names,
      });
      expect((error as TrustError).field).toBe(`compatibility.${field}`);
      expect(server.stats('/fw.bin').requests).toBe(0);
      await expectNothingInstalled(rig);
    });
  }

  it('an order bound to device types is refused by a device that does not know its type (fail closed)', async () => {
    const [key] = await keys3();
    const server = await artifactServer();
    const rig = await device({ trust: { root: rootOf([key], 1) } });
    const order = await sign(
      {
        id: 'fw-2',
        version: '2.0.0',
        compatibility: { deviceTypes: ['gw-1'] },
        artifacts: [artifactOf(server, '/fw.bin', encode('fw'))],
      },
      [key],
    );
    expectRefused(
      rig,
      await rig.machine.apply(order),
      trustRefusal('wrong_target', 'compatibility.deviceTypes: the order is bound to specific device types'),
    );
    expect(server.stats('/fw.bin').requests).toBe(0);
    await expectNothingInstalled(rig);
  });

  it('changing the binding after signing does not help: the signature no longer verifies', async () => {
    const [key] = await keys3();
    const server = await artifactServer();
    const rig = await device({ id: 'dev-1', trust: { root: rootOf([key], 1) } });
    const signed = await sign(
      {
        id: 'fw-2',
        version: '2.0.0',
        compatibility: { deviceIds: ['dev-2'] },
        artifacts: [artifactOf(server, '/fw.bin', encode('fw'))],
      },
      [key],
    );
    const rebound = { ...signed, compatibility: { deviceIds: ['dev-1'] } };
    expectRefused(
      rig,
      await rig.machine.apply(rebound),
      trustRefusal('bad_signature', 'signature.signatures'),
    );
    expect(server.stats('/fw.bin').requests).toBe(0);
    await expectNothingInstalled(rig);
  });
});
