/**
 * Finding an own `"__proto__"` key in parsed JSON. JSON.parse creates it as an ordinary own key,
 * but zod (and any code rebuilding objects by assignment) drops it without a word: callers refuse
 * such input instead, naming where the key stands.
 *
 * @module
 */

/** The path of the first own `"__proto__"` key in `value`, or `undefined`; not searched below `maxDepth`. */
export function protoKeyPath(value: unknown, path: string, maxDepth: number, depth = 0): string | undefined {
  if (typeof value !== 'object' || value === null || depth > maxDepth) return undefined;
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = protoKeyPath(item, `${path}[${index}]`, maxDepth, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (Object.hasOwn(value, '__proto__')) return `${path}.__proto__`;
  for (const [key, item] of Object.entries(value)) {
    const found = protoKeyPath(item, `${path}.${key}`, maxDepth, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}
