/**
 * `Content-Digest` as the Connhex artifact API sends it. The documentation says
 * `sha256=<digest>` without saying hex or base64, and whether it follows RFC 9530
 * (`sha-256=:<base64>:`, an RFC 8941 dictionary) is unconfirmed (docs/protocols/connhex.md, "Integrity"), so the
 * parser accepts all three spellings and returns canonical lowercase hex.
 *
 * @module
 */

import { decodeBase64 as decodeBase64Text, encodeBase64, fromHex, toHex } from '../../core/encoding.js';
import { ManifestError } from '../../core/errors.js';
import { LIMITS } from './limits.js';

export { encodeBase64 };

/**
 * Strict standard base64 (RFC 4648 section 4; the padding may be left out, nothing else is tolerated).
 * Returns `undefined` for anything that is not such a text, a non-string included.
 */
export function decodeBase64(text: string): Uint8Array | undefined {
  return typeof text === 'string' ? decodeBase64Text(text) : undefined;
}

const WHAT = 'Content-Digest header';
/** What a `Content-Digest` header says. */
export interface ContentDigest {
  /** SHA-256 of the content, lowercase hex, when the header has a SHA-256 member. */
  sha256: string | undefined;
  /** Every algorithm the header names, lowercase (e.g. `['sha-256', 'sha-512']`). */
  algorithms: string[];
}

/** The names that mean SHA-256: RFC 9530's `sha-256` and the Connhex documentation's `sha256`. */
const SHA256_KEYS: ReadonlySet<string> = new Set(['sha-256', 'sha256']);

/** A SHA-256 value in any of the accepted spellings, as hex; or why it is not one. */
function sha256Value(raw: string): string | { expected: string } {
  if (raw.startsWith(':')) {
    // RFC 8941 byte sequence: `:<base64>:`.
    const bytes = raw.endsWith(':') && raw.length >= 2 ? decodeBase64(raw.slice(1, -1)) : undefined;
    if (bytes === undefined) return { expected: 'an RFC 8941 byte sequence :<base64>:' };
    if (bytes.length !== 32) return { expected: 'a 32-byte SHA-256 digest' };
    return toHex(bytes);
  }
  if (/^[0-9a-fA-F]{64}$/.test(raw)) return raw.toLowerCase();
  const bytes = decodeBase64(raw);
  if (bytes?.length === 32) return toHex(bytes);
  return { expected: 'a SHA-256 digest as :<base64>:, 64 hex characters or base64 of 32 bytes' };
}

/**
 * Parses a `Content-Digest` header value into canonical lowercase hex. Accepted:
 *
 * - RFC 9530: `sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:` (several members and
 *   parameters allowed, e.g. `sha-512=:…:, sha-256=:…:`);
 * - the Connhex documentation's `sha256=<hex>` and `sha256=<base64>`.
 *
 * Hardened: a header that is present but cannot be read is an error (never "no digest", which
 * would skip verification), and two SHA-256 members that disagree are an error.
 *
 * @throws ManifestError (`MANIFEST_INVALID`) naming the member and what was expected.
 *
 * @example
 * ```ts
 * parseContentDigest('sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:').sha256
 * // '5f8f04f6a3a892aaabbddb6cf273894493773960d4a325b105fee46eef4304f1'
 * ```
 */
export function parseContentDigest(value: string): ContentDigest {
  if (typeof value !== 'string') throw new ManifestError(WHAT, [{ path: '', expected: 'a string' }]);
  if (value.length > LIMITS.maxHeaderValueLength) {
    throw new ManifestError(WHAT, [
      { path: '', expected: `at most ${LIMITS.maxHeaderValueLength} characters` },
    ]);
  }
  const members = value.split(',').map((member) => member.replace(/^[ \t]+|[ \t]+$/g, ''));
  if (members.length === 1 && members[0] === '') {
    throw new ManifestError(WHAT, [{ path: '', expected: 'at least one <algorithm>=<digest> member' }]);
  }
  let sha256: string | undefined;
  const algorithms: string[] = [];
  members.forEach((member, index) => {
    const path = `[${index}]`;
    const match = /^([A-Za-z*][A-Za-z0-9_.*-]*)=([^;]*)(?:;.*)?$/.exec(member);
    if (match === null) {
      throw new ManifestError(WHAT, [{ path, expected: 'a member <algorithm>=<digest>' }]);
    }
    const algorithm = match[1]!.toLowerCase();
    const raw = match[2]!.trim();
    if (!algorithms.includes(algorithm)) algorithms.push(algorithm);
    if (!SHA256_KEYS.has(algorithm)) return; // sha-512 and others: named, not used
    const digest = sha256Value(raw);
    if (typeof digest !== 'string') throw new ManifestError(WHAT, [{ path, expected: digest.expected }]);
    if (sha256 !== undefined && sha256 !== digest) {
      throw new ManifestError(WHAT, [{ path, expected: 'SHA-256 members that agree with each other' }]);
    }
    sha256 = digest;
  });
  return { sha256, algorithms };
}

/** How {@link formatContentDigest} spells the digest. */
export type ContentDigestForm = 'rfc9530' | 'sha256-hex' | 'sha256-base64';

/**
 * Writes a `Content-Digest` value for a SHA-256 given as hex.
 *
 * @param form `rfc9530` (`sha-256=:<base64>:`, the default and the standard), or the Connhex
 * documentation's `sha256=<hex>` / `sha256=<base64>`.
 * @throws ManifestError when `sha256` is not 64 hex characters.
 */
export function formatContentDigest(sha256: string, form: ContentDigestForm = 'rfc9530'): string {
  if (!/^[0-9a-fA-F]{64}$/.test(sha256)) {
    throw new ManifestError('SHA-256 digest', [{ path: '', expected: '64 hex characters (SHA-256)' }]);
  }
  const hex = sha256.toLowerCase();
  if (form === 'sha256-hex') return `sha256=${hex}`;
  const base64 = encodeBase64(fromHex(hex));
  return form === 'sha256-base64' ? `sha256=${base64}` : `sha-256=:${base64}:`;
}
