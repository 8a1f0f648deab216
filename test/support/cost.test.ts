/** The cost probe behind the "refuses a huge input without processing it" tests sees each step it claims to. */
import { describe, expect, it } from 'vitest';
import { largestInputs, largestOf } from './cost.js';

describe('largestInputs', () => {
  it('records the longest input given to JSON.parse, any regular expression, and TextDecoder.decode', async () => {
    const text = `"${'x'.repeat(1000)}"`;
    const examined = await largestInputs(() => {
      JSON.parse(text);
      /y/.test('a'.repeat(2000));
      'b'.repeat(3000).replace(/b/g, 'c');
      new TextDecoder().decode(new Uint8Array(4000));
    });
    expect(examined.json).toBe(1002);
    expect(examined.regex).toBe(3000);
    expect(examined.decoded).toBe(4000);
    expect(largestOf(examined)).toBe(4000);
  });

  it('sees nothing when nothing is parsed, and removes its spies afterwards', async () => {
    expect(largestOf(await largestInputs(() => 'z'.repeat(5000).length))).toBe(0);
    const after = await largestInputs(() => undefined);
    JSON.parse('[1]');
    expect(after.json).toBe(0);
  });

  it('passes an error thrown by the measured call on', async () => {
    await expect(largestInputs(() => JSON.parse('{'))).rejects.toBeInstanceOf(SyntaxError);
  });
});
