/**
 * Attack: hash mismatch. The server serves other bytes of exactly the declared size (a swapped
 * binary) under a signed manifest's SHA-256 or MD5. Refused by the download's streaming digest
 * (src/transport/download.ts through src/node/download-hook.ts): IntegrityError `INTEGRITY`
 * naming the algorithm, the staged bytes deleted, the install hook never runs.
 */
import { readdir } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { IntegrityError } from '../../src/core/errors.js';
import {
  artifactServer,
  cleanup,
  device,
  expectNothingInstalled,
  expectRefused,
  keys3,
  md5,
  rootOf,
  sha256,
  sign,
} from './harness.js';

afterEach(cleanup);

const GENUINE = new Uint8Array(80_000).map((_, index) => (index * 11) & 0xff);
// Same length, one byte changed near the end.
const SWAPPED = GENUINE.slice();
SWAPPED[79_000] = SWAPPED[79_000]! ^ 0xff;

describe('attack: hash mismatch', () => {
  for (const algorithm of ['sha256', 'md5'] as const) {
    it(`same size, other bytes, checked by ${algorithm}: INTEGRITY, nothing installed`, async () => {
      const [key] = await keys3();
      const server = await artifactServer();
      server.route('/fw.bin', { body: SWAPPED });
      const digest = algorithm === 'sha256' ? { sha256: sha256(GENUINE) } : { md5: md5(GENUINE) };
      const rig = await device({ trust: { root: rootOf([key], 1) } });
      const order = await sign(
        {
          id: `fw-${algorithm}`,
          version: '2.0.0',
          artifacts: [{ url: `${server.url}/fw.bin`, target: 'firmware', size: GENUINE.length, ...digest }],
        },
        [key],
      );
      const error = expectRefused(rig, await rig.machine.apply(order), {
        state: 'download_failed',
        code: 'INTEGRITY',
        type: IntegrityError,
        name: 'IntegrityError',
        names: `${algorithm} mismatch, expected ${algorithm === 'sha256' ? sha256(GENUINE) : md5(GENUINE)}, got ${algorithm === 'sha256' ? sha256(SWAPPED) : md5(SWAPPED)}`,
      });
      expect((error as IntegrityError).algorithm).toBe(algorithm);
      expect(server.stats('/fw.bin').requests).toBe(1);
      const staged = await readdir(rig.stagingDirectory, { recursive: true }).catch(() => []);
      expect(staged.filter((path) => String(path).endsWith('.part'))).toEqual([]);
      await expectNothingInstalled(rig);
    });
  }

  it('without trust (a platform digest only) the same swap is refused the same way', async () => {
    const server = await artifactServer();
    server.route('/fw.bin', { body: SWAPPED });
    const rig = await device();
    const outcome = await rig.machine.apply({
      id: 'fw-plain',
      version: '2.0.0',
      artifacts: [{ url: `${server.url}/fw.bin`, target: 'firmware', md5: md5(GENUINE) }],
    });
    expectRefused(rig, outcome, {
      state: 'download_failed',
      code: 'INTEGRITY',
      type: IntegrityError,
      names: 'md5 mismatch',
    });
    await expectNothingInstalled(rig);
  });
});
