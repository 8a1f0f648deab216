/**
 * Deterministic cost checks for "refuses a huge input without processing it" tests: instead of
 * timing the call (which fails whenever the machine is busy), record the largest input the call
 * handed to the expensive steps of decoding — `JSON.parse`, a regular expression, and
 * `TextDecoder.decode` — and assert that none of them ever saw the huge input.
 */
import { vi } from 'vitest';

/** The longest input (in characters or bytes) each step was given; 0 when it was not called. */
export interface LargestInputs {
  /** Characters handed to `JSON.parse`. */
  readonly json: number;
  /** Characters of the longest string any regular expression ran over (`exec`, `test`, `match`, `replace`, `split`...). */
  readonly regex: number;
  /** Bytes handed to `TextDecoder.prototype.decode`. */
  readonly decoded: number;
}

function lengthOf(value: unknown): number {
  if (typeof value === 'string') return value.length;
  if (ArrayBuffer.isView(value)) return value.byteLength;
  if (value instanceof ArrayBuffer) return value.byteLength;
  return 0;
}

/**
 * Runs `run` (sync or async) and returns the largest input each expensive step saw meanwhile (an
 * error `run` throws propagates: catch the expected refusal inside it). The
 * spies call the real implementations, so behaviour is unchanged; they are removed afterwards.
 * Every regular-expression operation goes through `RegExp.prototype.exec` once it is replaced
 * (the specification's RegExpExec looks `exec` up), so one spy covers them all.
 */
export async function largestInputs(run: () => unknown): Promise<LargestInputs> {
  const largest = { json: 0, regex: 0, decoded: 0 };
  const parse = JSON.parse;
  const exec = RegExp.prototype.exec;
  const decode = TextDecoder.prototype.decode;
  const parseSpy = vi.spyOn(JSON, 'parse').mockImplementation(function (this: unknown, text, reviver) {
    largest.json = Math.max(largest.json, lengthOf(text));
    return parse.call(JSON, text, reviver);
  });
  const execSpy = vi.spyOn(RegExp.prototype, 'exec').mockImplementation(function (this: RegExp, text) {
    largest.regex = Math.max(largest.regex, lengthOf(text));
    return exec.call(this, text);
  });
  const decodeSpy = vi.spyOn(TextDecoder.prototype, 'decode').mockImplementation(function (
    this: TextDecoder,
    input,
    options,
  ) {
    largest.decoded = Math.max(largest.decoded, lengthOf(input));
    return decode.call(this, input, options);
  });
  try {
    await run();
  } finally {
    parseSpy.mockRestore();
    execSpy.mockRestore();
    decodeSpy.mockRestore();
  }
  return largest;
}

/** Asserts-ready summary: the largest input any expensive step saw. */
export function largestOf(inputs: LargestInputs): number {
  return Math.max(inputs.json, inputs.regex, inputs.decoded);
}
