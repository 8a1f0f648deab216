/**
 * Bounded JSON: ThingsBoard's attribute and telemetry messages carry free-form JSON next to the
 * `fw_*` keys, so a 48 KB message can hold `[[[[…` 8,000 levels deep. Such a value is refused
 * before validation: zod's walk of it, and `JSON.stringify` of what a decoder returned, would
 * overflow the stack (docs/protocols/thingsBoard.md, "Security notes").
 *
 * @module
 */
import { ManifestError } from '../../core/errors.js';
import { decodeJson, type WireInput } from '../../core/wire.js';
import { LIMITS } from './limits.js';

/**
 * Nesting depth of `value` (0 for a primitive, 1 for an object or array of primitives), counted
 * without recursion and stopping past `limit`, so a cyclic or very deep value costs little.
 */
function depthBeyond(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    if (depth > limit) return true;
    const children = Array.isArray(current) ? current : Object.values(current);
    for (const child of children) stack.push([child, depth + 1]);
  }
  return false;
}

/** Refuses a value nested deeper than `LIMITS.messageDepth`. @throws ManifestError */
export function assertDepth(value: unknown, what: string): void {
  if (depthBeyond(value, LIMITS.messageDepth)) {
    throw new ManifestError(what, [
      { path: '', expected: `JSON nested at most ${LIMITS.messageDepth} levels` },
    ]);
  }
}

/** `decodeJson` (byte limit, then JSON), then the nesting limit. @throws ManifestError */
export function decodeBoundedJson(input: WireInput, options: { what: string; maxBytes: number }): unknown {
  const value = decodeJson(input, options);
  assertDepth(value, options.what);
  return value;
}
