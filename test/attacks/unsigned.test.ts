/**
 * Attack: an unsigned order (a compromised broker or platform account publishes its own order) to
 * a device configured with a trust root. Refused by the trust gate (src/manifest/trust.ts) before
 * a byte is fetched: TrustError `unsigned` naming `signature`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManifestError, TrustError } from '../../src/core/errors.js';
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
} from './harness.js';

afterEach(cleanup);

describe('attack: unsigned order to a device with trust', () => {
  it('is refused with TrustError unsigned; no request, nothing installed, reported', async () => {
    const [key] = await keys3();
    const server = await artifactServer();
    const rig = await device({ trust: { root: rootOf([key], 1) } });
    const order = {
      id: 'evil-1',
      version: '9.9.9',
      artifacts: [artifactOf(server, '/evil.bin', encode('attacker firmware'), { sha256: true, md5: true })],
    };
    const error = expectRefused(rig, await rig.machine.apply(order), {
      state: 'verify_failed',
      code: 'TRUST',
      type: TrustError,
      name: 'TrustError',
      reason: 'unsigned',
      names: 'manifest evil-1 signature: expected a signature envelope, found none',
    });
    expect((error as TrustError).field).toBe('signature');
    expect(server.stats('/evil.bin').requests).toBe(0);
    await expectNothingInstalled(rig);
    // The refusal is reported like any failure.
    expect(rig.events).toContainEqual(
      expect.objectContaining({
        from: 'available',
        to: 'verify_failed',
        error: expect.objectContaining({ code: 'TRUST' }),
      }),
    );
  });

  it('an order with an empty or stripped signature envelope is refused too', async () => {
    const [key] = await keys3();
    const server = await artifactServer();
    const rig = await device({ trust: { root: rootOf([key], 1) } });
    const order = {
      id: 'evil-2',
      version: '9.9.9',
      artifacts: [artifactOf(server, '/evil.bin', encode('attacker firmware'))],
      signature: { canonicalization: 'otakit-json-v1' as const, signatures: [] },
    };
    // An empty signature list is not a valid envelope: the manifest itself is invalid.
    const refused = await rig.machine.apply(order as never).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(ManifestError);
    expect(refused).toMatchObject({ code: 'MANIFEST_INVALID' });
    expect((refused as Error).message).toContain('signature.signatures');
    expect(server.stats('/evil.bin').requests).toBe(0);
    await expectNothingInstalled(rig);
  });
});
