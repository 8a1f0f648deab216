/**
 * The one shape test every decoder runs before it reads fields off parsed JSON.
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
