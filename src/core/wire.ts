/**
 * Decoding bytes straight off the wire: size limit first (cheap, before any parsing), then JSON,
 * then the schema. Every failure is a {@link ManifestError} (`MANIFEST_INVALID`) naming what was
 * wrong; a raw `SyntaxError` or `ZodError` never escapes.
 *
 * @module
 */
import type * as z from 'zod';
import { ManifestError } from './errors.js';
import { parseWith } from './validate.js';

/** What a decoder accepts: a string, bytes (UTF-8), or an already parsed value. */
export type WireInput = string | Uint8Array | ArrayBuffer | unknown;

export interface DecodeOptions {
  /** Names the message in errors, e.g. `shadow delta document`. */
  what: string;
  /** Reject text or bytes larger than this, before parsing. */
  maxBytes: number;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Byte length of a string in UTF-8, without allocating when it cannot exceed `limit`. */
function utf8Length(text: string, limit: number): number {
  if (text.length * 3 <= limit) return text.length; // cannot exceed: skip the count
  // Every UTF-16 code unit takes at least one UTF-8 byte: too long already, no need to encode
  // 10 MB to find out.
  if (text.length > limit) return text.length;
  return new TextEncoder().encode(text).length;
}

/** Turns `input` into text, enforcing the byte limit. Non-text input is returned as is. */
export function wireText(input: WireInput, options: DecodeOptions): string | { value: unknown } {
  let bytes: Uint8Array | undefined;
  if (input instanceof Uint8Array) bytes = input;
  else if (input instanceof ArrayBuffer) bytes = new Uint8Array(input);
  if (bytes !== undefined) {
    if (bytes.length > options.maxBytes) throw tooLarge(options);
    try {
      return decoder.decode(bytes);
    } catch (cause) {
      throw new ManifestError(options.what, [{ path: '', expected: 'UTF-8 text' }], { cause });
    }
  }
  if (typeof input === 'string') {
    if (utf8Length(input, options.maxBytes) > options.maxBytes) throw tooLarge(options);
    return input;
  }
  return { value: input };
}

function tooLarge(options: DecodeOptions): ManifestError {
  return new ManifestError(options.what, [{ path: '', expected: `at most ${options.maxBytes} bytes` }]);
}

/** Parses JSON text (or takes an already parsed value), with the byte limit. */
export function decodeJson(input: WireInput, options: DecodeOptions): unknown {
  const text = wireText(input, options);
  if (typeof text !== 'string') return text.value;
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    const expected = cause instanceof RangeError ? 'JSON nested less deeply' : 'valid JSON';
    throw new ManifestError(options.what, [{ path: '', expected }], { cause });
  }
}

/**
 * Decodes `input` as JSON and validates it with `schema`.
 *
 * @example
 * ```ts
 * const delta = decodeWire(DeltaSchema, mqttPayload, { what: 'shadow delta', maxBytes: 8192 })
 * ```
 */
export function decodeWire<S extends z.ZodType>(
  schema: S,
  input: WireInput,
  options: DecodeOptions,
): z.output<S> {
  return parseWith(schema, decodeJson(input, options), options.what);
}

/** Like {@link decodeWire}, returning a result instead of throwing. */
export function safeDecodeWire<S extends z.ZodType>(
  schema: S,
  input: WireInput,
  options: DecodeOptions,
): { success: true; data: z.output<S> } | { success: false; error: ManifestError } {
  try {
    return { success: true, data: decodeWire(schema, input, options) };
  } catch (error) {
    if (error instanceof ManifestError) return { success: false, error };
    throw error;
  }
}
