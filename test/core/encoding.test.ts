/**
 * The wire's byte encodings against Node's own (Buffer), an independent implementation: every
 * byte string round-trips, and the strict decoders refuse what Buffer would quietly accept
 * (whitespace, the other alphabet, padding where there is none, non-zero leftover bits).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase64, decodeBase64url, encodeBase64, encodeBase64url } from '../../src/core/encoding.js';

const RUNS = Number(process.env.OTAKIT_PROPERTY_RUNS ?? 500);

describe('base64 and base64url', () => {
  it('encode as Buffer does and decode back to the same bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70 }), (bytes) => {
        const standard = encodeBase64(bytes);
        const url = encodeBase64url(bytes);
        expect(standard).toBe(Buffer.from(bytes).toString('base64'));
        expect(url).toBe(Buffer.from(bytes).toString('base64url'));
        expect(decodeBase64(standard)).toEqual(bytes);
        expect(decodeBase64(standard.replace(/=+$/, ''))).toEqual(bytes);
        expect(decodeBase64url(url)).toEqual(bytes);
      }),
      { numRuns: RUNS },
    );
  });

  it('any text: bytes that re-encode to that very text, or undefined', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_= \n'.split('');
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...alphabet), { maxLength: 40 }).map((chars) => chars.join('')),
        (text) => {
          const url = decodeBase64url(text);
          if (url !== undefined) expect(encodeBase64url(url)).toBe(text);
          const standard = decodeBase64(text);
          if (standard !== undefined)
            expect(encodeBase64(standard).replace(/=+$/, '')).toBe(text.replace(/=+$/, ''));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('refuses the other alphabet, padding in base64url, whitespace, a dangling character and leftover bits', () => {
    expect(decodeBase64url('-_8')).toEqual(new Uint8Array([0xfb, 0xff]));
    expect(decodeBase64url('+/8')).toBeUndefined();
    expect(decodeBase64('-_8=')).toBeUndefined();
    expect(decodeBase64url('AA==')).toBeUndefined();
    expect(decodeBase64('AA ==')).toBeUndefined();
    expect(decodeBase64url('AAAAA')).toBeUndefined();
    expect(decodeBase64('AB==')).toBeUndefined(); // 'B' leaves a non-zero bit after the byte
    expect(decodeBase64url('AB')).toBeUndefined();
    expect(decodeBase64('AA=')).toBeUndefined(); // padded, but not to a multiple of 4
  });
});
