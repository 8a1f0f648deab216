import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { isOtaError } from '../../../src/index.js';
import * as exosite from '../../../src/protocols/exosite/index.js';

function issues(run: () => unknown) {
  try {
    run();
  } catch (error) {
    if (isOtaError(error, 'MANIFEST_INVALID')) return error.issues;
    throw error;
  }
  throw new Error('expected a MANIFEST_INVALID error');
}

const base = { version: '1.2.0', name: 'Firmware upgrade' };

describe('config_otau manifest', () => {
  it('decodes the three types from a string, bytes or a parsed value', () => {
    const list = {
      ...base,
      description: 'd',
      type: 'URL_LIST',
      payload: ['http://example.com/file1', 'fw.bin'],
    };
    expect(exosite.decodeManifest(JSON.stringify(list))).toEqual(list);
    expect(exosite.decodeManifest(new TextEncoder().encode(JSON.stringify(list)))).toEqual(list);
    expect(exosite.decodeManifest(list)).toEqual(list);
    const file = { ...base, type: 'FILE', payload: 'https://example.com/a.bin' };
    expect(exosite.decodeManifest(file)).toEqual(file);
    const json = { ...base, type: 'JSON', payload: { a: [1, null, 'x'] } };
    expect(exosite.decodeManifest(json)).toEqual(json);
  });

  it('unwraps a value JSON-encoded twice, once only', () => {
    const list = { ...base, type: 'URL_LIST', payload: ['fw.bin'] };
    const once = JSON.stringify(list);
    expect(exosite.decodeManifest(JSON.stringify(once))).toEqual(list);
    expect(issues(() => exosite.decodeManifest(JSON.stringify(JSON.stringify(once))))).toEqual([
      { path: '', expected: 'object' },
    ]);
  });

  it('names every missing field in one error, also for a value JSON-encoded twice', () => {
    const expected = [
      { path: 'name', expected: 'a name string' },
      { path: 'type', expected: 'one of "URL_LIST", "FILE", "JSON"' },
      { path: 'payload', expected: 'a payload (URLs or content ids, or a JSON object for type JSON)' },
    ];
    expect(issues(() => exosite.decodeManifest(JSON.stringify('{"version":"2"}')))).toEqual(expected);
    expect(issues(() => exosite.decodeManifest('{"version":"2"}'))).toEqual(expected);
    expect(issues(() => exosite.decodeManifest({}))).toEqual([
      { path: 'version', expected: 'a non-empty version string (at most 256 characters)' },
      ...expected,
    ]);
    // A known type with fields missing names them all too (and the payload rule of that type).
    expect(issues(() => exosite.decodeManifest({ type: 'FILE' }))).toEqual([
      { path: 'version', expected: 'a non-empty version string (at most 256 characters)' },
      { path: 'name', expected: 'a name string' },
      { path: 'payload', expected: 'an http(s) URL with a host, or a connector content id (no scheme)' },
    ]);
    // An unknown type with a bad version: both named.
    expect(
      issues(() => exosite.decodeManifest({ version: 7, name: 'n', type: 'ZIP', payload: 'a' })),
    ).toEqual([
      { path: 'version', expected: 'a non-empty version string (at most 256 characters)' },
      { path: 'type', expected: 'one of "URL_LIST", "FILE", "JSON"' },
    ]);
    expect(
      issues(() => exosite.encodeManifest({ version: '2' } as never)).map((issue) => issue.path),
    ).toEqual(['name', 'type', 'payload']);
  });

  it('drops unknown keys and keeps an empty description', () => {
    expect(
      exosite.decodeManifest({ ...base, description: '', type: 'FILE', payload: 'a.bin', extra: 1 }),
    ).toEqual({ ...base, description: '', type: 'FILE', payload: 'a.bin' });
  });

  it('names the failing path and the expectation', () => {
    expect(issues(() => exosite.decodeManifest({ ...base, type: 'URL_LIST', payload: [] }))).toEqual([
      { path: 'payload', expected: 'at least one URL or content id' },
    ]);
    expect(issues(() => exosite.decodeManifest({ ...base, type: 'URL_LIST', payload: 'a' }))).toEqual([
      { path: 'payload', expected: 'an array of URLs or content ids' },
    ]);
    expect(issues(() => exosite.decodeManifest({ ...base, type: 'JSON', payload: [1] }))).toEqual([
      { path: 'payload', expected: 'a JSON object' },
    ]);
    expect(
      issues(() => exosite.decodeManifest({ ...base, version: '', type: 'FILE', payload: 'a' })),
    ).toEqual([{ path: 'version', expected: 'a non-empty version string (at most 256 characters)' }]);
    expect(issues(() => exosite.decodeManifest({ ...base, payload: 'a' }))).toEqual([
      { path: 'type', expected: 'one of "URL_LIST", "FILE", "JSON"' },
    ]);
    expect(issues(() => exosite.decodeManifest('[1]'))).toEqual([{ path: '', expected: 'object' }]);
    expect(issues(() => exosite.decodeManifest('{'))).toEqual([{ path: '', expected: 'valid JSON' }]);
    expect(issues(() => exosite.decodeManifest(new Uint8Array([0xff, 0xfe])))).toEqual([
      { path: '', expected: 'UTF-8 text' },
    ]);
  });

  it('refuses non-http(s) schemes and scheme-relative items (hardened)', () => {
    for (const item of [
      'file:///etc/passwd',
      'ftp://example.com/fw',
      'javascript:alert(1)',
      'data:text/plain,hi',
      '//evil.example/fw',
      '\\\\evil\\share',
      'https://',
      'http:///path',
      'http:\\\\evil.example\\fw',
      'http:evil.example/fw',
      'https:/evil.example/fw',
      'fw\u0000.bin',
      'a'.repeat(8193),
    ]) {
      expect(
        issues(() => exosite.decodeManifest({ ...base, type: 'URL_LIST', payload: ['ok.bin', item] })),
      ).toEqual([{ path: 'payload[1]', expected: exosite.PAYLOAD_ITEM_EXPECTED }]);
    }
    expect(
      exosite.decodeManifest({ ...base, type: 'FILE', payload: 'HTTPS://Example.com:8443/fw?x=1#y' }).payload,
    ).toBe('HTTPS://Example.com:8443/fw?x=1#y');
    expect(issues(() => exosite.decodeManifest({ ...base, type: 'FILE', payload: 'file:///x' }))).toEqual([
      { path: 'payload', expected: exosite.PAYLOAD_ITEM_EXPECTED },
    ]);
  });

  it('strictCompat accepts any non-empty payload string; resolving still refuses bad schemes', () => {
    const manifest = exosite.decodeManifest(
      { ...base, type: 'URL_LIST', payload: ['ftp://example.com/fw'] },
      { strictCompat: true },
    );
    if (manifest.type !== 'URL_LIST') throw new Error('expected URL_LIST');
    expect(manifest.payload).toEqual(['ftp://example.com/fw']);
    expect(issues(() => exosite.resolvePayloadItem(manifest.payload[0]!))).toEqual([
      { path: 'payload', expected: exosite.PAYLOAD_ITEM_EXPECTED },
    ]);
    expect(issues(() => exosite.toCanonical(manifest))).toEqual([
      { path: 'payload[0]', expected: exosite.PAYLOAD_ITEM_EXPECTED },
    ]);
  });

  it('encodes a manifest as a JSON string, validated first', () => {
    const file = { ...base, type: 'FILE', payload: 'a.bin' } as const;
    expect(JSON.parse(exosite.encodeManifest(file))).toEqual(file);
    expect(issues(() => exosite.encodeManifest({ ...file, payload: 'file:///x' }))).toEqual([
      { path: 'payload', expected: exosite.PAYLOAD_ITEM_EXPECTED },
    ]);
  });

  it('tells empty resource values apart', () => {
    expect(exosite.isEmptyResourceValue('')).toBe(true);
    expect(exosite.isEmptyResourceValue(' \n\t')).toBe(true);
    expect(exosite.isEmptyResourceValue(new Uint8Array([0x20, 0x0a]))).toBe(true);
    expect(exosite.isEmptyResourceValue('{}')).toBe(false);
    expect(exosite.isEmptyResourceValue(new Uint8Array([0x7b]))).toBe(false);
  });

  it('reads the version of a manifest it refuses, never throwing', () => {
    expect(exosite.manifestVersionOf('{"version":"9","type":"ZIP"}')).toBe('9');
    expect(exosite.manifestVersionOf('{"version":9}')).toBeNull();
    expect(exosite.manifestVersionOf('not json')).toBeNull();
    expect(exosite.manifestVersionOf('[]')).toBeNull();
    expect(exosite.manifestVersionOf('x'.repeat(2_000_000))).toBeNull();
  });

  it('safeDecodeManifest returns a result', () => {
    expect(exosite.safeDecodeManifest('{}').success).toBe(false);
    expect(exosite.safeDecodeManifest({ ...base, type: 'FILE', payload: 'a' })).toEqual({
      success: true,
      data: { ...base, type: 'FILE', payload: 'a' },
    });
  });
});

describe('otau_in status', () => {
  it('decodes all 15 statuses and refuses anything else', () => {
    expect(exosite.OTAU_STATUSES).toHaveLength(15);
    for (const status of exosite.OTAU_STATUSES) {
      expect(exosite.decodeStatus(`{"version":"1","status":"${status}","message":"m"}`)).toEqual({
        version: '1',
        status,
        message: 'm',
      });
    }
    expect(exosite.decodeStatus('{"version":"1","status":"INIT"}')).toEqual({ version: '1', status: 'INIT' });
    expect(issues(() => exosite.decodeStatus('{"version":"1","status":"download"}'))).toEqual([
      { path: 'status', expected: `one of ${exosite.OTAU_STATUSES.map((s) => `"${s}"`).join(', ')}` },
    ]);
    expect(issues(() => exosite.decodeStatus('{"status":"INIT","message":3}'))).toEqual([
      { path: 'version', expected: 'a version string' },
      { path: 'message', expected: 'a message string' },
    ]);
  });

  it('unwraps a status JSON-encoded twice (as inside a $resource.batch value)', () => {
    const value = '{"version":"1","status":"INIT","message":""}';
    expect(exosite.decodeStatus(JSON.stringify(value))).toEqual({
      version: '1',
      status: 'INIT',
      message: '',
    });
  });

  it('always encodes a message', () => {
    expect(exosite.encodeStatus({ version: '1', status: 'INIT' })).toBe(
      '{"version":"1","status":"INIT","message":""}',
    );
    expect(exosite.safeDecodeStatus('nope').success).toBe(false);
  });
});

describe('jsonSchemas', () => {
  it('every schema converts to JSON Schema (input side)', () => {
    expect(Object.keys(exosite.jsonSchemas).sort()).toEqual(['batch', 'manifest', 'status']);
    for (const schema of Object.values(exosite.jsonSchemas)) {
      const json = z.toJSONSchema(schema, { io: 'input' });
      expect(json).toHaveProperty('$schema');
    }
    const manifest = z.toJSONSchema(exosite.OtauManifestSchema, { io: 'input' }) as { oneOf?: unknown[] };
    expect(manifest.oneOf).toHaveLength(3);
    const status = z.toJSONSchema(exosite.OtauStatusSchema, { io: 'input' }) as unknown as {
      properties: { status: { enum: string[] } };
    };
    expect(status.properties.status.enum).toEqual([...exosite.OTAU_STATUSES]);
  });
});
