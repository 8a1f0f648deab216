import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { ManifestError } from '../../../src/core/errors.js';
import * as insighIo from '../../../src/protocols/insighio/index.js';
import { largestInputs, largestOf } from '../../support/cost.js';
import { ORDER, ORDER_TEXT } from './fixtures.js';

function issues(input: unknown, options: insighIo.DecodeMessageOptions = {}) {
  const result = insighIo.safeDecodeMessage(input, options);
  if (result.success) throw new Error(`expected a refusal, got ${JSON.stringify(result.data)}`);
  expect(result.error).toBeInstanceOf(ManifestError);
  expect(result.error.code).toBe('MANIFEST_INVALID');
  return result.error.issues;
}

describe('insigh.io SenML messages', () => {
  it('decodes the console order from a string, UTF-8 bytes, an ArrayBuffer and parsed JSON', () => {
    const bytes = new TextEncoder().encode(ORDER_TEXT);
    for (const input of [ORDER_TEXT, bytes, bytes.buffer, JSON.parse(ORDER_TEXT)]) {
      expect(insighIo.decodeMessage(input)).toEqual({ kind: 'order', order: ORDER });
    }
  });

  it('encodes the order byte for byte as the console writes it', () => {
    expect(insighIo.encodeOrder(ORDER)).toBe(ORDER_TEXT);
  });

  it('accepts the records in any order', () => {
    const records = JSON.parse(ORDER_TEXT) as unknown[];
    for (const permutation of [
      [3, 2, 1, 0],
      [1, 0, 3, 2],
      [2, 3, 0, 1],
    ]) {
      const shuffled = permutation.map((index) => records[index]);
      expect(insighIo.decodeMessage(JSON.stringify(shuffled))).toEqual({ kind: 'order', order: ORDER });
    }
  });

  it('applies SenML base fields: bn prefixes names, bv adds to later values', () => {
    const withBaseName =
      '[{"bn":"","n":"e","v":0},{"n":"i","vs":"fa8884d2"},{"n":"t","vs":".tar.gz"},{"n":"s","v":3987}]';
    expect(insighIo.decodeMessage(withBaseName)).toEqual({ kind: 'order', order: ORDER });
    const withBaseValue =
      '[{"bv":1000,"n":"e","v":-1000},{"n":"i","vs":"fa8884d2"},{"n":"t","vs":".tar.gz"},{"n":"s","v":2987}]';
    expect(insighIo.decodeMessage(withBaseValue)).toEqual({ kind: 'order', order: ORDER });
    // A base name makes the names something else: `ota/e` is not `e` (RFC 8428 section 4.5.1).
    const prefixed =
      '[{"bn":"ota/","n":"e","v":0},{"n":"i","vs":"fa8884d2"},{"n":"t","vs":".tar.gz"},{"n":"s","v":3987}]';
    expect(issues(prefixed)).toEqual([{ path: '', expected: 'a record named "e" (the event id)' }]);
    // A record named by its base name alone.
    const onlyBase = '[{"bn":"e","v":1},{"bn":"","n":"i","vs":"fa8884d2"}]';
    expect(insighIo.decodeMessage(onlyBase)).toEqual({
      kind: 'status',
      status: { event: 1, fileId: 'fa8884d2' },
    });
  });

  it('refuses a must-understand field (RFC 8428: name ending in "_")', () => {
    expect(issues('[{"n":"e","v":0,"crit_":1}]')).toEqual([
      { path: '[0].crit_', expected: 'no must-understand SenML field (name ending "_")' },
    ]);
  });

  it('decodes the firmware status and the docs typo {"m":"i",...} alike, and encodes the firmware form', () => {
    const firmware = '[{"n":"e","v":2},{"n":"i","vs":"fa8884d2"},{"n":"m","vs":"not enough space"}]';
    const docs = '[{"n":"e","v":2},{"n":"i","vs":"fa8884d2"},{"m":"i","vs":"not enough space"}]';
    const expected = {
      kind: 'status',
      status: { event: 2, fileId: 'fa8884d2', message: 'not enough space' },
    };
    expect(insighIo.decodeMessage(firmware)).toEqual(expected);
    expect(insighIo.decodeMessage(docs)).toEqual(expected);
    expect(insighIo.encodeStatus({ event: 2, fileId: 'fa8884d2', message: 'not enough space' })).toBe(
      firmware,
    );
  });

  it('ignores records with unknown names', () => {
    const extra =
      '[{"n":"x","vs":"?"},{"n":"e","v":0},{"n":"i","vs":"fa8884d2"},{"n":"t","vs":".tar.gz"},{"n":"s","v":3987},{"n":"u","v":1}]';
    expect(insighIo.decodeMessage(extra)).toEqual({ kind: 'order', order: ORDER });
  });

  it('hardened: names the record and field that is wrong', () => {
    expect(
      issues('[{"n":"e","vs":"0"},{"n":"i","vs":"fa8884d2"},{"n":"t","vs":".tar"},{"n":"s","v":1}]'),
    ).toEqual([{ path: '[0].v', expected: 'an event id 0, 1, 2 or 3 in v' }]);
    expect(issues('[{"n":"e","v":7}]')).toEqual([
      { path: '[0].v', expected: 'an event id 0, 1, 2 or 3 in v' },
    ]);
    expect(
      issues('[{"n":"e","v":0},{"n":"i","vs":"fa8884d2"},{"n":"t","vs":".tar"},{"n":"s","vs":"3987"}]'),
    ).toEqual([{ path: '[3].v', expected: 'number (record "s")' }]);
    expect(
      issues('[{"n":"e","v":0},{"n":"i","vs":"fa8884d2"},{"n":"t","vs":".tar"},{"n":"s","v":1.5}]'),
    ).toEqual([{ path: '[3].v', expected: 'a whole number of bytes (record "s")' }]);
    expect(
      issues('[{"n":"e","v":0},{"n":"i","vs":"fa8884d2"},{"n":"t","vs":".tar"},{"n":"s","v":0}]'),
    ).toEqual([{ path: '[3].v', expected: 'a size of at least 1 byte (record "s")' }]);
    expect(issues('[{"n":"e","v":0},{"n":"i","vs":"../boot"},{"n":"t","vs":"/x"},{"n":"s","v":1}]')).toEqual([
      { path: '[1].vs', expected: 'a file id of letters, digits, "-" and "_" only (record "i")' },
      { path: '[2].vs', expected: 'a file extension with its dot, e.g. ".tar.gz" (record "t")' },
    ]);
    expect(issues('[{"n":"e","v":1}]')).toEqual([{ path: '', expected: 'a record named "i" (the file id)' }]);
    expect(issues('[{"n":"e","v":2},{"n":"i","vs":"f"},{"n":"m","v":5}]')).toEqual([
      { path: '[2].vs', expected: 'string (record "m")' },
    ]);
    expect(issues('[{"n":"e","v":2},{"n":"i","v":5}]')).toEqual([
      { path: '[1].vs', expected: 'string (record "i")' },
    ]);
    expect(issues('[{"n":"i","vs":"x"}]')).toEqual([
      { path: '', expected: 'a record named "e" (the event id)' },
    ]);
    expect(issues('[{"n":"e","v":0}]').map((issue) => issue.expected)).toEqual([
      'a record named "i" (the file id)',
      'a record named "t" (the file type)',
      'a record named "s" (the file size)',
    ]);
  });

  it('hardened: refuses a repeated record name; strictCompat lets the last one win, as the reference does', () => {
    const repeated =
      '[{"n":"e","v":0},{"n":"i","vs":"fa8884d2"},{"n":"t","vs":".tar.gz"},{"n":"s","v":1},{"n":"s","v":3987}]';
    expect(issues(repeated)).toEqual([{ path: '[4].n', expected: 'one record named "s" only' }]);
    expect(insighIo.decodeMessage(repeated, { strictCompat: true })).toEqual({ kind: 'order', order: ORDER });
  });

  it('strictCompat: takes any value field, as kpn SenML does, and applies the reference truthiness', () => {
    const loose =
      '[{"n":"e","vs":"0"},{"n":"i","vs":"fa8884d2"},{"n":"t","vs":".tar.gz"},{"n":"s","vs":"3987"}]';
    expect(insighIo.decodeMessage(loose, { strictCompat: true })).toEqual({ kind: 'order', order: ORDER });
    const fractional =
      '[{"n":"e","v":0},{"n":"i","vs":"fa8884d2"},{"n":"t","vs":".tar.gz"},{"n":"s","v":3987.9}]';
    expect(insighIo.decodeMessage(fractional, { strictCompat: true })).toEqual({
      kind: 'order',
      order: ORDER,
    });
    // Falsy i, t or s: the reference does nothing; otakit refuses with the path.
    const emptyType = '[{"n":"e","v":0},{"n":"i","vs":"fa8884d2"},{"n":"t","vs":""},{"n":"s","v":3987}]';
    expect(issues(emptyType, { strictCompat: true })).toEqual([
      { path: '[2].vs', expected: 'string (record "t")' },
    ]);
    // Even in strictCompat, ids that could escape a path are refused.
    expect(
      issues('[{"n":"e","v":0},{"n":"i","vs":"../x"},{"n":"t","vs":".tar"},{"n":"s","v":1}]', {
        strictCompat: true,
      }),
    ).toHaveLength(1);
    expect(
      insighIo.decodeMessage('[{"n":"e","v":2},{"n":"i","vs":"f"},{"n":"m","vs":""}]', {
        strictCompat: true,
      }),
    ).toStrictEqual({ kind: 'status', status: { event: 2, fileId: 'f' } });
    expect(
      insighIo.decodeMessage('[{"n":"e","vs":"2"},{"n":"i","vs":"fa8884d2"},{"n":"m","vs":"x"}]', {
        strictCompat: true,
      }),
    ).toEqual({
      kind: 'status',
      status: { event: 2, fileId: 'fa8884d2', message: 'x' },
    });
  });

  it('refuses what is not SenML, with typed errors only', () => {
    expect(issues('{"n":"e"}')).toEqual([{ path: '', expected: 'array' }]);
    expect(issues('[1]')).toEqual([{ path: '[0]', expected: 'object' }]);
    expect(issues('[{"n":5}]')).toEqual([{ path: '[0].n', expected: 'string' }]);
    expect(issues('not json')).toEqual([{ path: '', expected: 'valid JSON' }]);
    expect(issues(Uint8Array.of(0xff, 0xfe))).toEqual([{ path: '', expected: 'UTF-8 text' }]);
    expect(issues(' ')).toEqual([{ path: '', expected: 'valid JSON' }]);
    expect(issues(null)).toEqual([{ path: '', expected: 'array' }]);
  });

  it(`rejects a 10 MB payload by its size, before parsing (limit ${insighIo.LIMITS.maxMessageBytes} bytes)`, async () => {
    const huge = `[${'{"n":"x","v":1},'.repeat(700_000)}{"n":"e","v":0}]`;
    expect(huge.length).toBeGreaterThan(10_000_000);
    const bytes = new TextEncoder().encode(huge);
    const found: unknown[] = [];
    const examined = await largestInputs(() => {
      found.push(issues(huge), issues(bytes));
    });
    for (const refusal of found) {
      expect(refusal).toEqual([{ path: '', expected: `at most ${insighIo.LIMITS.maxMessageBytes} bytes` }]);
    }
    // Never decoded, parsed or scanned.
    expect(largestOf(examined)).toBeLessThanOrEqual(insighIo.LIMITS.maxMessageBytes);
  });

  it(`rejects 100 000 already-parsed records by count, before validating them (limit ${insighIo.LIMITS.maxRecords})`, () => {
    // Each record counts the reads of its fields: refused by the count, no record was looked at.
    let fieldReads = 0;
    const record = {
      get n() {
        fieldReads++;
        return 'x';
      },
      get v() {
        fieldReads++;
        return 1;
      },
    };
    const records = Array.from({ length: 100_000 }, () => record);
    expect(issues(records)).toEqual([
      { path: '', expected: `at most ${insighIo.LIMITS.maxRecords} SenML records` },
    ]);
    expect(fieldReads).toBe(0);
    // The limit is exact: 32 records pass, 33 do not.
    const order = JSON.parse(ORDER_TEXT) as object[];
    const padding = (count: number) => Array.from({ length: count }, () => ({ n: 'pad', v: 0 }));
    expect(insighIo.decodeMessage([...order, ...padding(insighIo.LIMITS.maxRecords - 4)]).kind).toBe('order');
    expect(issues([...order, ...padding(insighIo.LIMITS.maxRecords - 3)])).toHaveLength(1);
  });

  it('encoders validate their input and throw typed errors', () => {
    expect(() => insighIo.encodeOrder({ ...ORDER, fileId: 'a/b' })).toThrow(ManifestError);
    expect(() => insighIo.encodeOrder({ ...ORDER, size: -1 })).toThrow(/size/);
    expect(() => insighIo.encodeStatus({ event: 0 as 1, fileId: 'x' })).toThrow(ManifestError);
    expect(() =>
      insighIo.encodeStatus({
        event: 2,
        fileId: 'x',
        message: 'm'.repeat(insighIo.LIMITS.maxStatusMessageLength + 1),
      }),
    ).toThrow(/message/);
  });

  it('isClearPayload recognises only zero-length payloads', () => {
    expect(insighIo.isClearPayload('')).toBe(true);
    expect(insighIo.isClearPayload(new Uint8Array(0))).toBe(true);
    expect(insighIo.isClearPayload(' ')).toBe(false);
    expect(insighIo.isClearPayload('[]')).toBe(false);
    expect(insighIo.isClearPayload(null)).toBe(false);
  });

  it('every JSON schema converts with z.toJSONSchema (io: input)', () => {
    expect(Object.keys(insighIo.jsonSchemas).sort()).toEqual(['order', 'senmlPack', 'status']);
    for (const [name, schema] of Object.entries(insighIo.jsonSchemas)) {
      const json = z.toJSONSchema(schema, { io: 'input' });
      expect(json, name).toHaveProperty('type');
    }
    const pack = z.toJSONSchema(insighIo.jsonSchemas.senmlPack!, { io: 'input' }) as { maxItems?: number };
    expect(pack.maxItems).toBe(insighIo.LIMITS.maxRecords);
  });
});
