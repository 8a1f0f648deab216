/**
 * The shape tests decoders run before they read fields off their input.
 *
 * @module
 */

/**
 * Whether `value` is an object whose fields can be read by name: not `null` and not an array
 * (both are `typeof 'object'`, and an array would let `value.url` read `undefined` silently).
 */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Whether `value` is bytes (a typed array, a `DataView` or an `ArrayBuffer`): an object to
 * `typeof`, but one whose indices are no field names, and walking them costs a step per byte.
 */
export function isBytes(value: unknown): value is ArrayBufferView | ArrayBuffer {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer;
}
