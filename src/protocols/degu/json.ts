/**
 * JSON helpers the shadow model needs: value types, depth, UTF-8 size, deep equality. All
 * iterative or bounded, so hostile input cannot exhaust the stack.
 *
 * @module
 */

import { isRecord } from '../../core/record.js';
import type { JsonValue } from '../../core/store.js';

/** A JSON object (what `desired` and `reported` are), of the code base's one `JsonValue`. */
export type JsonObject = { [key: string]: JsonValue };

/** Whether `value` is a JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is JsonObject {
  return isRecord(value);
}

/**
 * Whether `value` is pure JSON: strings, finite numbers, booleans, null, dense arrays and plain
 * objects of those. Callers that accept already-parsed input check this before serialising it
 * (`JSON.stringify` throws on a BigInt, and silently changes a Date or drops `undefined`). Must
 * only be given values of bounded depth (see {@link jsonDepth}).
 */
export function isJsonValue(value: unknown): value is JsonValue {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const current = stack.pop();
    if (current === null || typeof current === 'string' || typeof current === 'boolean') continue;
    if (typeof current === 'number') {
      if (!Number.isFinite(current)) return false;
      continue;
    }
    if (typeof current !== 'object') return false;
    if (Array.isArray(current)) {
      for (let index = 0; index < current.length; index++) {
        if (!(index in current)) return false;
        stack.push(current[index]);
      }
      continue;
    }
    const prototype = Object.getPrototypeOf(current);
    if (prototype !== Object.prototype && prototype !== null) return false;
    stack.push(...Object.values(current));
  }
  return true;
}

/**
 * Nesting depth of `value`: 0 for a primitive, 1 for an object or array of primitives, and so on.
 * Stops counting at `limit + 1`, so a caller learns "too deep" without walking the rest.
 */
export function jsonDepth(value: unknown, limit = Number.POSITIVE_INFINITY): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    if (depth > deepest) deepest = depth;
    if (deepest > limit) return deepest;
    const children = Array.isArray(current) ? current : Object.values(current);
    for (const child of children) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** Whether some array inside `value` holds a `null` (AWS rejects those in a state). */
export function hasNullInArray(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const current = stack.pop();
    if (typeof current !== 'object' || current === null) continue;
    if (Array.isArray(current)) {
      if (current.includes(null)) return true;
      stack.push(...current);
    } else stack.push(...Object.values(current));
  }
  return false;
}

const encoder = new TextEncoder();

/** UTF-8 length of `text`. */
export function utf8Bytes(text: string): number {
  return encoder.encode(text).length;
}

/** UTF-8 length of the compact JSON of `value`. */
export function jsonBytes(value: unknown): number {
  return utf8Bytes(JSON.stringify(value) ?? '');
}

/** Structural equality of two JSON values (arrays compare element-wise, objects key-wise). */
export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  const stack: Array<[JsonValue | undefined, JsonValue | undefined]> = [[a, b]];
  while (stack.length > 0) {
    const [left, right] = stack.pop()!;
    if (left === right) continue;
    if (typeof left !== 'object' || typeof right !== 'object' || left === null || right === null)
      return false;
    if (Array.isArray(left) !== Array.isArray(right)) return false;
    if (Array.isArray(left) && Array.isArray(right)) {
      if (left.length !== right.length) return false;
      left.forEach((item, index) => {
        stack.push([item, right[index]]);
      });
      continue;
    }
    const leftObject = left as JsonObject;
    const rightObject = right as JsonObject;
    const keys = Object.keys(leftObject);
    if (keys.length !== Object.keys(rightObject).length) return false;
    for (const key of keys) {
      if (!Object.hasOwn(rightObject, key)) return false;
      stack.push([leftObject[key], rightObject[key]]);
    }
  }
  return true;
}

/**
 * Sets an own property, even one named `__proto__` (which JSON.parse creates as an own key and
 * a plain assignment would turn into a prototype change).
 */
export function setOwn(target: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
