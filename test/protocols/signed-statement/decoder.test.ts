/**
 * The statement decoder and the device-side helpers on arbitrary input: a value or a typed
 * error, never a crash; Degu's memory keeps the statement across deltas; the companion wrapper
 * of the HTTP-pull agents (404 = unsigned, 5xx = failed check, another version = refused).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeBase64url } from '../../../src/core/encoding.js';
import { statementCompanion } from '../../../src/device/statement-companion.js';
import { isOtaError, type Manifest, parseManifest } from '../../../src/index.js';
import { mergeDelta, orderState } from '../../../src/protocols/degu/memory.js';
import { protocol as micropythonOta } from '../../../src/protocols/micropython-ota/protocol.js';
import {
  applyStatement,
  decodeStatement,
  encodeStatement,
  normaliseArtifactUrl,
  reconcileStatement,
} from '../../../src/protocols/signed-statement.js';
import type { Channel } from '../../../src/transport/channel.js';

const SIGNATURE = {
  canonicalization: 'otakit-json-v1' as const,
  signatures: [{ keyId: 'k1', algorithm: 'ed25519' as const, value: `${'E'.repeat(85)}Q==` }],
};
const signed = (version: string): Manifest =>
  parseManifest({
    id: `app@${version}`,
    version,
    artifacts: [
      {
        url: `http://ota.example/app/${version}_main.py`,
        target: 'script',
        name: 'main.py',
        sha256: 'a'.repeat(64),
      },
    ],
    signature: SIGNATURE,
  });

function typedOrValue(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    if (!isOtaError(error, 'MANIFEST_INVALID')) throw error;
  }
}

describe('decodeStatement on arbitrary input', () => {
  it('strings, bytes and base64url: a manifest or a typed error', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 600 }), fc.json({ maxDepth: 4 }), fc.uint8Array({ maxLength: 300 })),
        fc.constantFrom('json' as const, 'base64url' as const),
        (input, encoding) => {
          typedOrValue(() => decodeStatement(input, { encoding }));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('mutated valid statements: a manifest or a typed error, and a decoded one always has a signature', () => {
    const text = encodeStatement(signed('1.0.1'))!;
    fc.assert(
      fc.property(fc.nat(text.length - 1), fc.string({ maxLength: 8 }), (at, insert) => {
        const mutated = text.slice(0, at) + insert + text.slice(at + 1);
        try {
          const manifest = decodeStatement(mutated);
          expect(manifest.signature).toBeDefined();
          expect(manifest.extensions).toBeUndefined();
        } catch (error) {
          if (!isOtaError(error, 'MANIFEST_INVALID')) throw error;
        }
        typedOrValue(() =>
          decodeStatement(encodeBase64url(new TextEncoder().encode(mutated)), { encoding: 'base64url' }),
        );
      }),
      { numRuns: 2000 },
    );
  });

  it('reconcile: a statement of another version never passes', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9][0-9a-z.]{0,8}$/), (version) => {
        fc.pre(version !== '1.0.1');
        expect(() => reconcileStatement(signed(version), signed('1.0.1'))).toThrow(/otakit_manifest/);
      }),
      { numRuns: 300 },
    );
  });

  it('URLs compare without user info, fragment and wire-only parameters', () => {
    expect(normaliseArtifactUrl('https://u:p@h.example/f?fuid=1&dk=secret#x', ['dk'])).toBe(
      'https://h.example/f?fuid=1',
    );
    expect(applyStatement({ value: null, lost: [] }, 'garbage').value).toBeNull();
  });
});

describe('Degu memory keeps the statement a delta leaves out', () => {
  it('follows the URLs: kept for an MD5-only delta, dropped by a delta with URLs and no statement', () => {
    const remembered = orderState({
      script_user: 'https://x.example/a.py',
      script_user_ver: 'a'.repeat(32),
      otakit_manifest: '{"x":1}',
    } as never);
    expect(remembered.otakit_manifest).toBe('{"x":1}');
    expect(mergeDelta(remembered, { script_user_ver: 'b'.repeat(32) }).otakit_manifest).toBe('{"x":1}');
    expect(
      mergeDelta(remembered, { script_user: 'https://x.example/b.py', script_user_ver: 'b'.repeat(32) })
        .otakit_manifest,
    ).toBeUndefined();
    expect(mergeDelta(remembered, { otakit_manifest: '{"y":2}' }).otakit_manifest).toBe('{"y":2}');
  });
});

describe('statementCompanion', () => {
  const target = { host: 'http://ota.example', project: 'app', filenames: ['main.py'] };
  function wrapped(companion: { status: number; payload: string }) {
    const requests: string[] = [];
    const http: Channel = {
      kind: 'http',
      async send(message) {
        requests.push(message.address);
        if (message.address.endsWith('/version'))
          return { address: message.address, payload: '1.0.1\n', status: 200 };
        return { address: message.address, ...companion };
      },
    };
    const signedParts = statementCompanion({
      protocol: micropythonOta,
      target,
      http,
      companionRequest: (manifest, request) => ({
        ...request,
        address: `http://ota.example/app/${manifest.version}.otakit.json`,
      }),
    });
    return { ...signedParts, requests };
  }
  const poll = async (parts: ReturnType<typeof wrapped>) => {
    const request = micropythonOta.device.orderSources(target)[0]!;
    if (request.channel !== 'http') throw new Error('http');
    const answer = (await parts.channel.send(request.request))!;
    return parts.protocol.device.decodeOrder(answer, { target });
  };

  it('200 with the statement: the signed manifest; 404: unsigned; 503: a retryable failed check', async () => {
    const ok = wrapped({ status: 200, payload: encodeStatement(signed('1.0.1'))! });
    expect((await poll(ok)).value).toMatchObject({ version: '1.0.1', signature: SIGNATURE });
    expect(ok.requests).toEqual([
      'http://ota.example/app/version',
      'http://ota.example/app/1.0.1.otakit.json',
    ]);
    expect((await poll(wrapped({ status: 404, payload: '' }))).value?.signature).toBeUndefined();
    await expect(poll(wrapped({ status: 503, payload: '' }))).rejects.toMatchObject({
      code: 'TRANSPORT',
      retryable: true,
    });
  });

  it('a statement of another version, or garbage: a typed error naming the path', async () => {
    await expect(
      poll(wrapped({ status: 200, payload: encodeStatement(signed('0.9'))! })),
    ).rejects.toMatchObject({
      code: 'MANIFEST_INVALID',
      issues: expect.arrayContaining([expect.objectContaining({ path: 'otakit_manifest.version' })]),
    });
    await expect(poll(wrapped({ status: 200, payload: '<html>' }))).rejects.toMatchObject({
      code: 'MANIFEST_INVALID',
    });
  });
});
