/**
 * Attack: below-threshold signatures. The root needs 2 of its keys; the attacker holds one (1 of
 * 2), or repeats one key's signature to look like two. Refused by the trust gate
 * (src/manifest/trust.ts) before a byte is fetched: TrustError `below_threshold` naming
 * `signature.signatures` (a key id seen twice counts once: `duplicate_key`).
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

describe('attack: below-threshold signatures (2 of 3 required)', () => {
  it('one valid signature of two required is refused', async () => {
    const [k1, k2, k3] = await keys3();
    const server = await artifactServer();
    const rig = await device({ trust: { root: rootOf([k1, k2, k3], 2) } });
    const order = await sign(
      { id: 'fw-2', version: '2.0.0', artifacts: [artifactOf(server, '/fw.bin', encode('fw 2'))] },
      [k1],
    );
    const error = expectRefused(rig, await rig.machine.apply(order), {
      state: 'verify_failed',
      code: 'TRUST',
      type: TrustError,
      name: 'TrustError',
      reason: 'below_threshold',
      names:
        'manifest fw-2 signature.signatures: expected valid signatures from 2 distinct trusted key(s) of trust root version 1, found 1',
    });
    expect((error as TrustError).field).toBe('signature.signatures');
    expect(server.stats('/fw.bin').requests).toBe(0);
    await expectNothingInstalled(rig);
  });

  it('the same key signing twice counts once (duplicate_key): refused', async () => {
    const [k1, k2, k3] = await keys3();
    const server = await artifactServer();
    const rig = await device({ trust: { root: rootOf([k1, k2, k3], 2) } });
    const once = await sign(
      { id: 'fw-2', version: '2.0.0', artifacts: [artifactOf(server, '/fw.bin', encode('fw 2'))] },
      [k1],
    );
    const [signature] = once.signature!.signatures;
    const doubled = {
      ...once,
      signature: { ...once.signature!, signatures: [signature!, { ...signature! }] },
    };
    expectRefused(
      rig,
      await rig.machine.apply(doubled),
      trustRefusal('below_threshold', `found 1 (${k1.keyId.slice(0, 16)}… duplicate_key)`),
    );
    expect(server.stats('/fw.bin').requests).toBe(0);
    await expectNothingInstalled(rig);
  });

  it('one valid signature plus a bad one from another trusted key is still one: refused', async () => {
    const [k1, k2, k3] = await keys3();
    const server = await artifactServer();
    const rig = await device({ trust: { root: rootOf([k1, k2, k3], 2) } });
    const body = encode('fw 2');
    const order = await sign(
      { id: 'fw-2', version: '2.0.0', artifacts: [artifactOf(server, '/fw.bin', body)] },
      [k1],
    );
    // k2's signature over a different manifest, pasted in.
    const other = await sign({ id: 'fw-other', version: '2.0.0', artifacts: order.artifacts }, [k2]);
    const mixed = {
      ...order,
      signature: {
        ...order.signature!,
        signatures: [...order.signature!.signatures, ...other.signature!.signatures],
      },
    };
    expectRefused(
      rig,
      await rig.machine.apply(mixed),
      trustRefusal('below_threshold', `${k2.keyId.slice(0, 16)}… bad_signature`),
    );
    expect(server.stats('/fw.bin').requests).toBe(0);
    await expectNothingInstalled(rig);
    // Two distinct valid signatures pass: the threshold is the only thing refused here.
    expect((await rig.machine.apply(await sign(order, [k2]))).state).toBe('committed');
  });
});
