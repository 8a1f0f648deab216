/**
 * `JSON` manifests carry an arbitrary JSON payload. zod rebuilds objects by assignment, so an own
 * `"__proto__"` key (which JSON.parse creates) would vanish without a word between the wire, the
 * canonical manifest and back. No install hint needs that name: it is refused, with its path.
 *
 * @module
 */
import { ManifestError } from '../../core/errors.js';

/** Deeper payloads are not searched further; zod refuses them as too deep anyway. */
const MAX_DEPTH = 64;

/** The path of the first own `"__proto__"` key in `value`, if any. */
function protoKeyPath(value: unknown, path: string, depth: number): string | undefined {
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return undefined;
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = protoKeyPath(item, `${path}[${index}]`, depth + 1);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  if (Object.hasOwn(value, '__proto__')) return `${path}.__proto__`;
  for (const [key, item] of Object.entries(value)) {
    const found = protoKeyPath(item, `${path}.${key}`, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * @throws ManifestError naming the key's path when a `JSON` manifest's payload holds `"__proto__"`.
 */
export function refuseProtoKeys(manifest: unknown, what: string): void {
  if (typeof manifest !== 'object' || manifest === null) return;
  const path = protoKeyPath((manifest as { payload?: unknown }).payload, 'payload', 0);
  if (path !== undefined) {
    throw new ManifestError(what, [{ path, expected: 'no key named "__proto__" in a JSON payload' }]);
  }
}
