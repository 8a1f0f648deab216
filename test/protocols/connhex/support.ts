import { expect } from 'vitest';
import { isOtaError, type ManifestError } from '../../../src/index.js';

/** Runs `run`, expects a MANIFEST_INVALID error, returns it. */
export function manifestError(run: () => unknown): ManifestError {
  try {
    run();
  } catch (error) {
    if (isOtaError(error, 'MANIFEST_INVALID')) return error;
    throw new Error(`expected MANIFEST_INVALID, got ${String(error)}`);
  }
  throw new Error('expected a MANIFEST_INVALID error, nothing was thrown');
}

/** Calls `run` and asserts it returns or throws only a MANIFEST_INVALID otakit error. */
export function onlyTypedErrors(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    expect(isOtaError(error, 'MANIFEST_INVALID'), String(error)).toBe(true);
  }
}

export const SHA = '5f8f04f6a3a892aaabbddb6cf273894493773960d4a325b105fee46eef4304f1';
export const SHA_B64 = 'X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=';
export const AT = '2025-03-01T10:00:00.000Z';
