/**
 * Setup file (vitest.config.ts `setupFiles`): `toEqual`/`toStrictEqual` compare two byte arrays
 * (Buffer, Uint8Array, Int8Array, Uint8ClampedArray) of the same class with one memcmp instead of
 * element by element. Vitest's generic path walks every element through `equals`, then once more
 * through `Object.entries` (an array of [index, value] pairs): about 3 s of CPU for one 300 KiB
 * Buffer, which made the installer crash matrix alone cost ~80 s of CPU.
 *
 * Same verdicts as vitest's own: equal when the classes are the same and so are the lengths and
 * bytes; anything else (different classes, other typed arrays, asymmetric matchers) is left to
 * vitest, which also prints the diff when they differ. Byte arrays with extra own properties are
 * not compared on those properties: none in this repository carries any.
 */
import { expect } from 'vitest';

function isByteArray(value: unknown): value is Uint8Array | Int8Array | Uint8ClampedArray {
  return value instanceof Uint8Array || value instanceof Int8Array || value instanceof Uint8ClampedArray;
}

function bytesOf(value: Uint8Array | Int8Array | Uint8ClampedArray): Buffer {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

export function byteArrayEquality(a: unknown, b: unknown): boolean | undefined {
  if (!isByteArray(a) || !isByteArray(b) || a.constructor !== b.constructor) return undefined;
  return a.length === b.length && bytesOf(a).equals(bytesOf(b));
}

// Files that share a worker (`isolate: false`) share vitest's list of testers, while this setup
// file runs again (a new instance of this module) for each of them: register the first instance's
// tester once, and keep it where the check in byte-equality.test.ts finds it.
const REGISTERED = Symbol.for('otakit.test.byteArrayEquality');
const registry = globalThis as { [REGISTERED]?: typeof byteArrayEquality };
if (registry[REGISTERED] === undefined) {
  registry[REGISTERED] = byteArrayEquality;
  expect.addEqualityTesters([byteArrayEquality]);
}

/** The tester vitest was given (the first instance of this module in this worker). */
export const registeredTester = registry[REGISTERED];
