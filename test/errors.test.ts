import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { parseWith } from '../src/core/validate.js';
import {
  AbortError,
  fromSerializedError,
  IntegrityError,
  isOtaError,
  isSerializedOtaError,
  isTrustError,
  ManifestError,
  OTA_ERROR_CODES,
  OtaError,
  SerializedOtaErrorSchema,
  StateError,
  TimeoutError,
  TransportError,
  TrustError,
  toOtaError,
} from '../src/index.js';

function manifestErrorOf(call: () => unknown): ManifestError {
  try {
    call();
  } catch (error) {
    if (error instanceof ManifestError) return error;
    throw error;
  }
  throw new Error('expected a ManifestError');
}

describe('errors', () => {
  it('a TrustError keeps its reason and field through JSON, the record schema and fromSerializedError', () => {
    const original = new TrustError('below_floor', 'version "1.0.0": expected at least "2.0.0"', {
      field: 'version',
    });
    const stored = SerializedOtaErrorSchema.parse(JSON.parse(JSON.stringify(original)));
    expect(stored).toEqual({
      name: 'TrustError',
      code: 'TRUST',
      message: 'version "1.0.0": expected at least "2.0.0" (below_floor)',
      retryable: false,
      reason: 'below_floor',
      field: 'version',
    });
    const rebuilt = fromSerializedError(stored);
    expect(isTrustError(rebuilt, 'below_floor')).toBe(true);
    expect(rebuilt).toBeInstanceOf(TrustError);
    expect(rebuilt).toMatchObject({ message: original.message, name: 'TrustError', field: 'version' });
    // An unknown reason is not a TrustError: it comes back as a plain OtaError with the code.
    const forged = fromSerializedError({ ...stored, reason: 'no_such_reason' });
    expect(isTrustError(forged)).toBe(false);
    expect(forged).toMatchObject({ code: 'TRUST', message: original.message });
    // Errors without a reason serialise without one.
    expect(SerializedOtaErrorSchema.parse(new TransportError('x').toJSON())).not.toHaveProperty('reason');
  });

  it('carries a stable code, a name, and an ES2022 cause', () => {
    const cause = new Error('socket hang up');
    const error = new TransportError('GET failed', { cause, status: 503 });
    expect(error).toBeInstanceOf(OtaError);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: 'TRANSPORT', name: 'TransportError', status: 503, retryable: true });
    expect(error.cause).toBe(cause);
  });

  it('knows which errors are worth retrying', () => {
    expect(new TimeoutError('download', 10).retryable).toBe(true);
    expect(new AbortError().retryable).toBe(false);
    expect(new AbortError('x', { retryable: true }).retryable).toBe(false);
    expect(new IntegrityError('a', { algorithm: 'md5', expected: '1', actual: '2' }).retryable).toBe(false);
  });

  it('narrows by code with isOtaError()', () => {
    const error: unknown = new ManifestError('manifest', [{ path: 'artifacts[0].url', expected: 'a URL' }]);
    expect(isOtaError(error)).toBe(true);
    expect(isOtaError(error, 'TRANSPORT')).toBe(false);
    if (isOtaError(error, 'MANIFEST_INVALID')) {
      expect(error.issues[0]?.path).toBe('artifacts[0].url');
    } else {
      expect.unreachable('ManifestError must be MANIFEST_INVALID');
    }
  });

  it('does not mistake look-alikes for otakit errors', () => {
    expect(isOtaError(new Error('x'))).toBe(false);
    expect(isOtaError({ code: 'TRANSPORT', name: 'TransportError', message: 'x' })).toBe(false);
    expect(isOtaError(null)).toBe(false);
    expect(isOtaError('TRANSPORT')).toBe(false);
  });

  it('recognises errors across realms (another vm context with its own Error)', () => {
    // The other realm builds an object carrying the globally registered brand, as a second
    // copy of otakit loaded there would.
    const foreign = runInNewContext(`
      const e = new Error('from elsewhere');
      e.name = 'TransportError';
      e.code = 'TRANSPORT';
      Object.defineProperty(e, Symbol.for('otakit.error'), { value: true });
      e;
    `);
    expect(foreign instanceof Error).toBe(false); // a different Error constructor
    expect(isOtaError(foreign, 'TRANSPORT')).toBe(true);
  });

  it('serialises to plain JSON and back', () => {
    const error = new IntegrityError('firmware', { algorithm: 'sha256', expected: 'aa', actual: 'bb' });
    const json = JSON.parse(JSON.stringify(error));
    expect(json).toEqual({
      name: 'IntegrityError',
      code: 'INTEGRITY',
      message: 'firmware: sha256 mismatch, expected aa, got bb',
      retryable: false,
      algorithm: 'sha256',
      expected: 'aa',
      actual: 'bb',
    });
    expect(isSerializedOtaError(json)).toBe(true);
    const revived = fromSerializedError(json);
    expect(isOtaError(revived, 'INTEGRITY')).toBe(true);
    expect(revived.message).toBe(json.message);
  });

  it('wraps foreign errors with a fallback code and keeps them as the cause', () => {
    const raw = new TypeError('fetch failed');
    const wrapped = toOtaError(raw, 'DOWNLOAD', true);
    expect(wrapped).toMatchObject({ code: 'DOWNLOAD', message: 'fetch failed', retryable: true });
    expect(wrapped.cause).toBe(raw);
    const already = new StateError('nope');
    expect(toOtaError(already, 'DOWNLOAD')).toBe(already);
    expect(toOtaError('a string', 'CHECK').message).toBe('a string');
  });

  it('lists each validation problem with its path and expectation, capped at five', () => {
    const issues = Array.from({ length: 7 }, (_, index) => ({
      path: `artifacts[${index}].md5`,
      expected: 'MD5',
    }));
    const error = new ManifestError('manifest', issues);
    expect(error.message).toBe(
      'Invalid manifest: artifacts[0].md5: expected MD5; artifacts[1].md5: expected MD5; artifacts[2].md5: expected MD5; artifacts[3].md5: expected MD5; artifacts[4].md5: expected MD5 (and 2 more)',
    );
    expect(error.issues).toHaveLength(7);
  });

  it('names at most five unknown keys, each cut at 64 characters', () => {
    const strict = z.object({ url: z.string() }).strict();
    const many = Object.fromEntries(Array.from({ length: 20_000 }, (_, index) => [`k${index}`, index]));
    const error = manifestErrorOf(() => parseWith(strict, { url: 'x', ...many }, 'order'));
    expect(error.issues).toEqual([
      { path: '', expected: 'no unknown keys (found "k0", "k1", "k2", "k3", "k4" and 19995 more)' },
    ]);
    const long = 'k'.repeat(10_000);
    const second = manifestErrorOf(() => parseWith(strict, { url: 'x', [long]: 1 }, 'order'));
    expect(second.message).toBe(
      `Invalid order: (root): expected no unknown keys (found "${'k'.repeat(64)}"…)`,
    );
  });

  it('refuses bytes where an object belongs, without reading them as keys', () => {
    const strict = z.object({ url: z.string() }).strict();
    for (const bytes of [new Uint8Array(200_000), new DataView(new ArrayBuffer(8)), new ArrayBuffer(8)]) {
      expect(manifestErrorOf(() => parseWith(strict, bytes, 'order')).issues).toEqual([
        { path: '', expected: 'an object (got bytes)' },
      ]);
    }
    // Only an object schema: a schema that takes bytes still gets them.
    expect(parseWith(z.instanceof(Uint8Array), new Uint8Array(2), 'payload')).toEqual(new Uint8Array(2));
  });

  it('has unique codes', () => {
    expect(new Set(OTA_ERROR_CODES).size).toBe(OTA_ERROR_CODES.length);
  });
});
