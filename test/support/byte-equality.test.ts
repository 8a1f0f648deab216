/** The byte-array tester (test/support/byte-equality.ts) gives vitest's own verdicts, faster. */
import { describe, expect, it } from 'vitest';
import { byteArrayEquality, registeredTester } from './byte-equality.js';

describe('toEqual on byte arrays', () => {
  it('equal bytes of the same class are equal, whatever the views over them', () => {
    const backing = Uint8Array.from([9, 1, 2, 3, 9]);
    expect(backing.subarray(1, 4)).toEqual(Uint8Array.from([1, 2, 3]));
    expect(Buffer.from([1, 2, 3])).toStrictEqual(Buffer.from([1, 2, 3]));
    expect(new Int8Array([-1, 0, 1])).toEqual(new Int8Array([-1, 0, 1]));
    expect({ nested: [Buffer.alloc(300 * 1024, 7)] }).toEqual({ nested: [Buffer.alloc(300 * 1024, 7)] });
  });

  it('different bytes, lengths or classes are not', () => {
    expect(Uint8Array.from([1, 2, 3])).not.toEqual(Uint8Array.from([1, 2, 4]));
    expect(Uint8Array.from([1, 2, 3])).not.toEqual(Uint8Array.from([1, 2]));
    expect(Buffer.alloc(300 * 1024, 7)).not.toEqual(Buffer.alloc(300 * 1024 + 1, 7));
    // Vitest's own rule: a Buffer is not a Uint8Array, nor Int8Array [-1] a Uint8Array [255].
    expect(Buffer.from([1, 2, 3])).not.toEqual(Uint8Array.from([1, 2, 3]));
    expect(new Int8Array([-1])).not.toEqual(Uint8Array.from([255]));
    const differsLast = Buffer.alloc(300 * 1024, 7);
    differsLast[differsLast.length - 1] = 8;
    expect(Buffer.alloc(300 * 1024, 7)).not.toEqual(differsLast);
  });

  it('is registered once, and leaves what is not a byte array pair to vitest', () => {
    const state = (globalThis as Record<symbol, { customEqualityTesters: unknown[] }>)[
      Symbol.for('$$jest-matchers-object')
    ]!;
    expect(state.customEqualityTesters.filter((tester) => tester === registeredTester)).toHaveLength(1);
    expect(byteArrayEquality(Buffer.from([1]), Buffer.from([1]))).toBe(true);
    expect(byteArrayEquality(Buffer.from([1]), Uint8Array.from([1]))).toBeUndefined();
    expect(byteArrayEquality(new Uint16Array([1]), new Uint16Array([1]))).toBeUndefined();
    expect(byteArrayEquality([1], [1])).toBeUndefined();
    expect(Buffer.from([1, 2])).toEqual(expect.any(Buffer));
  });
});
