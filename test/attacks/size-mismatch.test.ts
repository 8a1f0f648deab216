/**
 * Attack: size mismatch. The server (or a man in the middle) serves a body shorter or longer than
 * the size the signed manifest declares (with an honest or a lying Content-Length). Refused by the
 * download (src/transport/download.ts through src/node/download-hook.ts): IntegrityError
 * `INTEGRITY`, algorithm `size`, the staged bytes deleted, the install hook never runs.
 */
import { readdir } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { IntegrityError } from '../../src/core/errors.js';
import {
  artifactServer,
  cleanup,
  device,
  encode,
  expectNothingInstalled,
  expectRefused,
  keys3,
  rootOf,
  sha256,
  sign,
} from './harness.js';

afterEach(cleanup);

const GENUINE = new Uint8Array(64_000).map((_, index) => (index * 7) & 0xff);

describe('attack: size mismatch', () => {
  for (const [name, body, contentLength, names] of [
    [
      'shorter body, honest Content-Length',
      GENUINE.subarray(0, 60_000),
      undefined,
      'size mismatch, expected 64000, got 60000',
    ],
    [
      'longer body, honest Content-Length',
      new Uint8Array([...GENUINE, ...encode('appended payload')]),
      undefined,
      'size mismatch, expected 64000, got 64016',
    ],
    [
      'shorter body, chunked (no Content-Length)',
      GENUINE.subarray(0, 60_000),
      false,
      'size mismatch, expected 64000, got 60000',
    ],
  ] as const) {
    it(`${name}: INTEGRITY (size), nothing staged, nothing installed`, async () => {
      const [key] = await keys3();
      const server = await artifactServer();
      server.route('/fw.bin', { body, ...(contentLength === undefined ? {} : { contentLength }) });
      const rig = await device({ trust: { root: rootOf([key], 1) } });
      const order = await sign(
        {
          id: 'fw-2',
          version: '2.0.0',
          artifacts: [
            {
              url: `${server.url}/fw.bin`,
              target: 'firmware',
              size: GENUINE.length,
              sha256: sha256(GENUINE),
            },
          ],
        },
        [key],
      );
      const error = expectRefused(rig, await rig.machine.apply(order), {
        state: 'download_failed',
        code: 'INTEGRITY',
        type: IntegrityError,
        name: 'IntegrityError',
        names,
      });
      expect((error as IntegrityError).algorithm).toBe('size');
      expect(server.stats('/fw.bin').requests).toBeGreaterThan(0);
      const staged = await readdir(rig.stagingDirectory, { recursive: true }).catch(() => []);
      expect(staged.filter((path) => String(path).endsWith('.part'))).toEqual([]);
      await expectNothingInstalled(rig);
    });
  }
});
