/**
 * The canonical encoding signatures are computed over: `otakit-json-v1`.
 *
 * A signature must survive every platform codec (a manifest is decoded from a shadow, a SenML
 * record, a version file…) and re-encoding, so it is computed over bytes derived from the
 * *validated* canonical manifest, never over the bytes that travelled.
 *
 * ## Specification: `otakit-json-v1`
 *
 * Input: a manifest valid under `ManifestSchema`.
 *
 * 1. Validate it with `ManifestSchema` (the same parse a device does). This normalises MD5 and
 *    SHA-256 digests to lowercase and drops keys the schema does not know, so two manifests the
 *    device cannot tell apart encode to the same bytes.
 * 2. Remove the top-level `signature` (the signatures cannot sign themselves) and the top-level
 *    `extensions` (platform extras that codecs rewrite freely; they are NOT covered, so nothing
 *    security-relevant may ever be read from them).
 * 3. Serialise the rest as JSON, as RFC 8785 (JCS) does for this subset:
 *    - object members sorted by key, comparing keys as sequences of UTF-16 code units;
 *    - no whitespace anywhere;
 *    - strings as ECMAScript `JSON.stringify` writes them (`"`, `\` and U+0000–U+001F escaped,
 *      `\b \t \n \f \r` in short form, lone surrogates as `\udXXX`; everything else, including
 *      non-ASCII, written as itself);
 *    - numbers: integers only, within ±(2^53 − 1), in plain decimal (`-0` is written `0`); any
 *      other number (fractional, NaN, ±Infinity, unsafe integers) is refused;
 *    - `true`, `false`, `null` as themselves; array order kept; members whose value is absent
 *      (`undefined`) are left out, exactly as if the key were not there.
 * 4. Encode the text as UTF-8. Those bytes are what Ed25519 signs (no prefix, no hashing first).
 *
 * What is covered, therefore: `id`, `version`, every artifact (`url`, `size`, `md5`, `sha256`,
 * `target`, `name`), `compatibility` (`deviceTypes`, `deviceIds`, `fromVersions`), `provides`,
 * `depends`, `expiresAt`, `minVersion`. Not covered: `signature`, `extensions`.
 *
 * Trust roots are signed over the same JSON encoding of `{"_type":"otakit-root", …root}` (see
 * `trust-root.ts`): the `_type` member keeps a signed root from ever being mistaken for a signed
 * manifest, and a manifest's canonical bytes always contain `"artifacts"`, which a root's never do.
 *
 * @module
 */
import { TrustError } from '../core/errors.js';
import { type Manifest, type ManifestInput, parseManifest } from './schema.js';

/** The name of this encoding, as it appears in `signature.canonicalization`. */
export const CANONICALIZATION = 'otakit-json-v1';

const encoder = new TextEncoder();

/**
 * Canonical JSON text of a plain JSON value (the `otakit-json-v1` serialisation, step 3).
 * @throws TrustError (`not_canonical`) for numbers that are not safe integers, and for values
 * that are not JSON (functions, symbols, bigints, class instances).
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: [true, 'é'] }) // '{"a":[true,"é"],"b":1}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  return write(value, '');
}

function write(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'string':
      return JSON.stringify(value);
    case 'number':
      // JSON has no integer type and JCS writes other numbers in ECMAScript's shortest form:
      // refusing them keeps every implementation (C, Python, MicroPython) byte-exact.
      if (!Number.isSafeInteger(value)) {
        throw new TrustError('not_canonical', `${path || '(root)'}: expected a safe integer, got ${value}`, {
          field: path,
        });
      }
      return Object.is(value, -0) ? '0' : String(value);
    case 'object': {
      if (Array.isArray(value)) {
        return `[${value.map((item, index) => write(item, `${path}[${index}]`)).join(',')}]`;
      }
      const prototype = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) break;
      const members: string[] = [];
      // Default sort compares UTF-16 code units, which is what RFC 8785 §3.2.3 asks for.
      for (const key of Object.keys(value).sort()) {
        const member = (value as Record<string, unknown>)[key];
        if (member === undefined) continue;
        members.push(`${JSON.stringify(key)}:${write(member, path ? `${path}.${key}` : key)}`);
      }
      return `{${members.join(',')}}`;
    }
  }
  throw new TrustError('not_canonical', `${path || '(root)'}: expected a JSON value, got ${typeof value}`, {
    field: path,
  });
}

/**
 * The fields of a manifest that signatures cover: the validated manifest without `signature` and
 * `extensions` (steps 1 and 2 of `otakit-json-v1`).
 */
export function signedManifestFields(
  manifest: Manifest | ManifestInput,
): Omit<Manifest, 'signature' | 'extensions'> {
  const { signature: _signature, extensions: _extensions, ...signed } = parseManifest(manifest);
  return signed;
}

/**
 * The exact bytes an `otakit-json-v1` signature of `manifest` is computed over.
 * @throws ManifestError when `manifest` is not a valid manifest.
 * @throws TrustError (`not_canonical`) when a covered value cannot be encoded.
 *
 * @example
 * ```ts
 * const bytes = canonicalManifestBytes(manifest)
 * const ok = await ed25519Verify(publicKey, bytes, signature)
 * ```
 */
export function canonicalManifestBytes(manifest: Manifest | ManifestInput): Uint8Array {
  return encoder.encode(canonicalJson(signedManifestFields(manifest)));
}
