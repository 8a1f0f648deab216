import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { isOtaError } from '../../../src/index.js';
import * as degu from '../../../src/protocols/degu/index.js';
import { shadowModel } from '../../../src/testing/index.js';
import { largestInputs, largestOf } from '../../support/cost.js';

const KINDS: degu.ShadowMessageKind[] = [
  'request',
  'get/accepted',
  'update/accepted',
  'update/delta',
  'update/documents',
  'delete/accepted',
  'rejected',
];

const decoders: Array<[string, (input: unknown) => unknown]> = [
  ...KINDS.map((kind): [string, (input: unknown) => unknown] => [
    `decodeShadowMessage(${kind})`,
    (input) => degu.decodeShadowMessage(kind, input),
  ]),
  ...KINDS.map((kind): [string, (input: unknown) => unknown] => [
    `decodeMessage(${kind})`,
    (input) => degu.decodeMessage(kind, input),
  ]),
  ['decodeBootReport', (input) => degu.decodeBootReport(input)],
];

function manifestError(run: () => unknown) {
  try {
    run();
  } catch (error) {
    if (isOtaError(error, 'MANIFEST_INVALID')) return error;
    throw error;
  }
  throw new Error('expected a MANIFEST_INVALID error');
}

describe('limits', () => {
  const tenMegabytes = `{"state":{"desired":{"blob":"${'x'.repeat(10 * 1024 * 1024)}"}}}`;
  const tenMegabyteBytes = new TextEncoder().encode(tenMegabytes);

  for (const [name, decode] of decoders) {
    it(`${name} rejects a 10 MB payload before parsing it`, async () => {
      for (const input of [tenMegabytes, tenMegabyteBytes]) {
        let error: ReturnType<typeof manifestError> | undefined;
        const examined = await largestInputs(() => {
          error = manifestError(() => decode(input));
        });
        expect(error?.issues).toEqual([{ path: '', expected: `at most ${degu.LIMITS.messageBytes} bytes` }]);
        // Never decoded, parsed or scanned: the size is checked first.
        expect(largestOf(examined)).toBeLessThanOrEqual(degu.LIMITS.messageBytes);
      }
    });
  }

  it('the service model answers a 10 MB request with 413, without parsing it', async () => {
    let checked: unknown;
    let applied: { ok: boolean } | undefined;
    const examined = await largestInputs(() => {
      checked = shadowModel.checkRequest(tenMegabyteBytes, { timestamp: 1 });
      applied = shadowModel.applyUpdate(undefined, tenMegabytes, { timestamp: 1 });
    });
    expect(checked).toEqual({
      ok: false,
      error: { code: 413, message: 'The payload exceeds the maximum size allowed', timestamp: 1 },
    });
    expect(applied?.ok).toBe(false);
    expect(largestOf(examined)).toBeLessThanOrEqual(degu.LIMITS.messageBytes);
  });

  it('honours a smaller maxBytes', () => {
    const error = manifestError(() =>
      degu.decodeMessage('delete/accepted', '{"version":1,"timestamp":1}', { maxBytes: 10 }),
    );
    expect(error.issues[0]?.expected).toBe('at most 10 bytes');
  });

  it('refuses deeply nested JSON before the schema walks it (no stack overflow)', () => {
    const depth = 60_000; // 120 KB: under the byte limit
    const deep = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    for (const [, decode] of decoders) {
      const error = manifestError(() => decode(`{"state":{"desired":{"a":${deep}}}}`));
      expect(error.issues).toEqual([
        { path: '', expected: `JSON nested at most ${degu.LIMITS.messageDepth} levels` },
      ]);
    }
    let parsed: unknown = 1;
    for (let level = 0; level < 100_000; level++) parsed = [parsed];
    expect(() =>
      degu.decodeMessage('update/delta', { state: { a: parsed }, version: 1, timestamp: 1 }),
    ).toThrow(/nested at most/);
    expect(shadowModel.checkRequest({ state: { desired: { a: parsed } } }, { timestamp: 1 })).toMatchObject({
      ok: false,
      error: { code: 400 },
    });
  });

  it('toCanonical and fromCanonical refuse deep or cyclic values instead of overflowing the stack', () => {
    let deep: unknown = 1;
    for (let level = 0; level < 100_000; level++) deep = { a: deep };
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const value of [deep, cyclic]) {
      expect(
        manifestError(() => degu.toCanonical({ desired: { other: value } } as never)).issues[0]?.expected,
      ).toMatch(/nested at most/);
      const manifest = {
        id: 'x',
        version: '1',
        artifacts: [{ url: 'https://e.com/c', md5: 'a'.repeat(32), target: 'config' }],
        extensions: { degu: value },
      };
      expect(manifestError(() => degu.fromCanonical(manifest as never)).issues[0]?.expected).toMatch(
        /nested at most/,
      );
    }
  });

  it('rejects a Degu request whose state passes 8 KB, naming the state', () => {
    const request = { state: { reported: { firmware_ver: '1', note: 'x'.repeat(degu.LIMITS.stateBytes) } } };
    const error = manifestError(() => degu.decodeMessage('request', JSON.stringify(request)));
    expect(error.issues).toEqual([
      {
        path: 'state',
        expected: `at most ${degu.LIMITS.stateBytes} bytes of desired and reported state (AWS shadow limit)`,
      },
    ]);
    // Responses may be larger than 8 KB (metadata, delta, two states in /documents).
    const big = { state: { desired: { note: 'x'.repeat(9000) } }, version: 1, timestamp: 1 };
    expect(
      degu.decodeMessage('update/delta', { state: big.state.desired, version: 1, timestamp: 1 }).version,
    ).toBe(1);
    expect(degu.decodeMessage('get/accepted', big).version).toBe(1);
  });

  it('rejects a request nesting deeper than AWS allows, and nulls in arrays', () => {
    const deep = { state: { desired: { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } } } };
    expect(manifestError(() => degu.decodeShadowMessage('request', deep)).issues).toEqual([
      {
        path: 'state.desired',
        expected: `at most ${degu.LIMITS.stateDepth} levels of nesting (AWS shadow limit)`,
      },
    ]);
    expect(
      manifestError(() => degu.decodeShadowMessage('request', { state: { reported: { a: [1, null] } } }))
        .issues,
    ).toEqual([{ path: 'state.reported', expected: 'no null inside arrays (AWS rejects them)' }]);
  });

  it('emits a JSON Schema for every schema in jsonSchemas', () => {
    expect(Object.keys(degu.jsonSchemas).length).toBeGreaterThanOrEqual(16);
    for (const [name, schema] of Object.entries(degu.jsonSchemas)) {
      const json = z.toJSONSchema(schema, { io: 'input' }) as { type?: string };
      expect(json.type, name).toBe('object');
    }
  });
});
