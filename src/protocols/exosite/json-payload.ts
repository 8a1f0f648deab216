/**
 * `JSON` manifests carry an arbitrary JSON payload. zod rebuilds objects by assignment, so an own
 * `"__proto__"` key (which JSON.parse creates) would vanish without a word between the wire, the
 * canonical manifest and back. No install hint needs that name: it is refused, with its path.
 *
 * @module
 */
import { ManifestError } from '../../core/errors.js';
import { protoKeyPath } from '../../core/proto-key.js';

/** Deeper payloads are not searched further; zod refuses them as too deep anyway. */
const MAX_DEPTH = 64;

/**
 * @throws ManifestError naming the key's path when a `JSON` manifest's payload holds `"__proto__"`.
 */
export function refuseProtoKeys(manifest: unknown, what: string): void {
  if (typeof manifest !== 'object' || manifest === null) return;
  const path = protoKeyPath((manifest as { payload?: unknown }).payload, 'payload', MAX_DEPTH);
  if (path !== undefined) {
    throw new ManifestError(what, [{ path, expected: 'no key named "__proto__" in a JSON payload' }]);
  }
}
