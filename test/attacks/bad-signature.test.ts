/**
 * Attack: a bad signature. One bit of a genuine signature is flipped (or the order is signed by a
 * key the device does not trust). Refused by the trust gate (src/manifest/trust.ts) before a byte
 * is fetched: TrustError `bad_signature` / `unknown_key` naming `signature.signatures`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { decodeBase64, encodeBase64 } from '../../src/core/encoding.js';
import { TrustError } from '../../src/core/errors.js';
import type { Manifest } from '../../src/manifest/schema.js';
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
  testKeys,
  trustRefusal,
} from './harness.js';

afterEach(cleanup);

function flipBit(manifest: Manifest, bit: number): Manifest {
  const [first, ...rest] = manifest.signature!.signatures;
  const raw = decodeBase64(first!.value)!;
  raw[Math.floor(bit / 8)]! ^= 1 << (bit % 8);
  return {
    ...manifest,
    signature: { ...manifest.signature!, signatures: [{ ...first!, value: encodeBase64(raw) }, ...rest] },
  };
}

describe('attack: bad signature', () => {
  for (const bit of [0, 255, 511]) {
    it(`one bit flipped in the signature (bit ${bit}) is refused: bad_signature`, async () => {
      const [key] = await keys3();
      const server = await artifactServer();
      const rig = await device({ trust: { root: rootOf([key], 1) } });
      const good = await sign(
        { id: 'fw-2', version: '2.0.0', artifacts: [artifactOf(server, '/fw.bin', encode('fw 2'))] },
        [key],
      );
      const error = expectRefused(rig, await rig.machine.apply(flipBit(good, bit)), {
        state: 'verify_failed',
        code: 'TRUST',
        type: TrustError,
        name: 'TrustError',
        reason: 'bad_signature',
        names: 'manifest fw-2 signature.signatures: expected valid signatures from 1 distinct trusted key(s)',
      });
      expect((error as TrustError).field).toBe('signature.signatures');
      expect((error as TrustError).keyIds).toEqual([key.keyId]);
      expect(server.stats('/fw.bin').requests).toBe(0);
      await expectNothingInstalled(rig);
    });
  }

  it('one bit flipped in the signed content (the artifact digest) is refused: bad_signature', async () => {
    const [key] = await keys3();
    const server = await artifactServer();
    const rig = await device({ trust: { root: rootOf([key], 1) } });
    const good = await sign(
      { id: 'fw-2', version: '2.0.0', artifacts: [artifactOf(server, '/fw.bin', encode('fw 2'))] },
      [key],
    );
    const digest = good.artifacts[0]!.sha256!;
    const flipped = (Number.parseInt(digest[0]!, 16) ^ 1).toString(16) + digest.slice(1);
    const tampered = { ...good, artifacts: [{ ...good.artifacts[0]!, sha256: flipped }] };
    expectRefused(
      rig,
      await rig.machine.apply(tampered),
      trustRefusal('bad_signature', 'signature.signatures'),
    );
    expect(server.stats('/fw.bin').requests).toBe(0);
    await expectNothingInstalled(rig);
  });

  it('a signature by a key the device does not trust is refused: unknown_key', async () => {
    const [trusted] = await keys3();
    const [stranger] = await testKeys(66);
    const server = await artifactServer();
    const rig = await device({ trust: { root: rootOf([trusted], 1) } });
    const order = await sign(
      { id: 'fw-2', version: '2.0.0', artifacts: [artifactOf(server, '/fw.bin', encode('fw 2'))] },
      [stranger!],
    );
    // The stranger even claims the trusted key's id: the signature does not verify under it.
    const claimed = {
      ...order,
      signature: {
        ...order.signature!,
        signatures: [{ ...order.signature!.signatures[0]!, keyId: trusted.keyId }],
      },
    };
    for (const [manifest, reason] of [
      [order, 'unknown_key'],
      [claimed, 'bad_signature'],
    ] as const) {
      expectRefused(rig, await rig.machine.apply(manifest), {
        state: 'verify_failed',
        code: 'TRUST',
        type: TrustError,
        reason,
        names: 'signature.signatures: expected valid signatures from 1 distinct trusted key(s)',
      });
    }
    expect(server.stats('/fw.bin').requests).toBe(0);
    await expectNothingInstalled(rig);
  });
});
