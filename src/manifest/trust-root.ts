/**
 * The trust root: which Ed25519 keys may sign update orders, how many must agree (k of n), which
 * keys are revoked. A device is configured with one and replaces it only with a newer root signed
 * by its current keys (`rotateRoot` in `trust.ts`), as TUF's root role does.
 *
 * @module
 */
import { sha256 } from '@noble/hashes/sha2';
import * as z from 'zod';
import { decodeBase64, toHex } from '../core/encoding.js';
import { TrustError } from '../core/errors.js';
import { parseWith, safeParseWith } from '../core/validate.js';
import { canonicalJson } from './canonical.js';
import { SignatureEnvelopeSchema } from './schema.js';

// Not imported from ed25519.ts: a dashboard validating roots must not pull in the signature code.
const ED25519_PUBLIC_KEY_LENGTH = 32;

/**
 * The key id of an Ed25519 public key: the lowercase hex SHA-256 of its raw 32 bytes, all 64
 * characters. Derived, never chosen: two ids can never name one key (which would let one key
 * count twice toward a threshold), and anyone can recompute an id from the key.
 *
 * @example
 * ```ts
 * keyIdOf('11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=') // '21fe31df…' (64 hex)
 * ```
 */
export function keyIdOf(publicKey: Uint8Array | string): string {
  const raw = typeof publicKey === 'string' ? decodeBase64(publicKey) : publicKey;
  if (raw?.length !== ED25519_PUBLIC_KEY_LENGTH) {
    throw new TrustError('invalid_root', 'publicKey: expected the raw 32-byte Ed25519 public key', {
      field: 'publicKey',
    });
  }
  return toHex(sha256(raw));
}

/** One trusted key. */
export const TrustKeySchema = z.object({
  /** {@link keyIdOf} the public key; checked. */
  keyId: z
    .string()
    .regex(/^[0-9a-f]{64}$/, { error: '64 lowercase hex characters (SHA-256 of the public key)' }),
  /** Base64 of the raw 32-byte Ed25519 public key. */
  publicKey: z
    .string()
    .regex(/^[A-Za-z0-9+/]{43}=$/, { error: 'base64 of a raw 32-byte Ed25519 public key' })
    .refine((value) => decodeBase64(value)?.length === ED25519_PUBLIC_KEY_LENGTH, {
      error: 'base64 of a raw 32-byte Ed25519 public key',
    }),
});
export type TrustKey = z.output<typeof TrustKeySchema>;

export const TrustRootSchema = z
  .object({
    /** Increases with every new root; a device only ever moves to a greater one. */
    version: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    keys: z.array(TrustKeySchema).min(1, { error: 'at least one key' }),
    /** How many distinct, non-revoked keys must sign (k of n). */
    threshold: z.number().int().min(1),
    /** Keys that no longer count, whether or not they are still listed in `keys`. */
    revokedKeyIds: z.array(z.string().min(1)).optional(),
    /** After this instant the root no longer verifies anything (a stale root is refused). */
    expiresAt: z.iso.datetime({ offset: true, error: 'an ISO 8601 date-time' }).optional(),
  })
  .superRefine((root, context) => {
    const seen = new Set<string>();
    root.keys.forEach((key, index) => {
      const raw = decodeBase64(key.publicKey);
      if (raw?.length === ED25519_PUBLIC_KEY_LENGTH && toHex(sha256(raw)) !== key.keyId) {
        context.addIssue({
          code: 'custom',
          path: ['keys', index, 'keyId'],
          message: 'the hex SHA-256 of publicKey',
        });
      }
      if (seen.has(key.keyId)) {
        context.addIssue({
          code: 'custom',
          path: ['keys', index, 'keyId'],
          message: 'a key not listed before',
        });
      }
      seen.add(key.keyId);
    });
    const revoked = new Set(root.revokedKeyIds ?? []);
    const usable = root.keys.filter((key) => !revoked.has(key.keyId)).length;
    // A root whose threshold cannot be met would refuse every order: a device must not adopt it.
    if (root.threshold > usable) {
      context.addIssue({
        code: 'custom',
        path: ['threshold'],
        message: `at most the number of non-revoked keys (${usable})`,
      });
    }
  });

/** A validated trust root. */
export type TrustRoot = z.output<typeof TrustRootSchema>;
export type TrustRootInput = z.input<typeof TrustRootSchema>;

/** One Ed25519 signature, as in a manifest's envelope. */
export const SignatureSchema = SignatureEnvelopeSchema.shape.signatures.element;
export type Signature = z.output<typeof SignatureSchema>;

/** A trust root with the signatures that vouch for it (by the previous root's keys and its own). */
export const SignedRootSchema = z.object({
  root: TrustRootSchema,
  signatures: z.array(SignatureSchema).min(1, { error: 'at least one signature' }),
});
export type SignedRoot = z.output<typeof SignedRootSchema>;
export type SignedRootInput = z.input<typeof SignedRootSchema>;

/**
 * Roots this module validated. Validation hashes every key (a key id must be its key's), which
 * cost a device more than the signature check it guards when it ran on every order; a validated
 * root is frozen, so it cannot change after the check, and is trusted as it is when it comes back.
 */
const validated = new WeakSet<object>();

function remember(root: TrustRoot): TrustRoot {
  for (const key of root.keys) Object.freeze(key);
  if (root.revokedKeyIds !== undefined) Object.freeze(root.revokedKeyIds);
  Object.freeze(root.keys);
  validated.add(Object.freeze(root));
  return root;
}

/**
 * Validates a trust root. The root returned is frozen (a root validated once is not validated
 * again by the checks it is given to).
 * @throws ManifestError naming every failing path (a key id that is not its key's, a threshold
 * above the usable keys…).
 */
export function parseTrustRoot(input: unknown): TrustRoot {
  if (typeof input === 'object' && input !== null && validated.has(input)) return input as TrustRoot;
  return remember(parseWith(TrustRootSchema, input, 'trust root'));
}

/** Like {@link parseTrustRoot}, but refuses with a {@link TrustError} (`invalid_root`). */
export function trustRootOrThrow(input: unknown, what = 'trust root'): TrustRoot {
  if (typeof input === 'object' && input !== null && validated.has(input)) return input as TrustRoot;
  const parsed = safeParseWith(TrustRootSchema, input, what);
  if (!parsed.success) throw new TrustError('invalid_root', parsed.error.message, { cause: parsed.error });
  return remember(parsed.data);
}

/** The type tag that separates signed roots from signed manifests. */
export const ROOT_TYPE = 'otakit-root';

const encoder = new TextEncoder();

/**
 * The bytes a root's signatures cover: `otakit-json-v1` of `{"_type":"otakit-root", …root}`.
 */
export function canonicalRootBytes(root: TrustRoot | TrustRootInput): Uint8Array {
  return encoder.encode(canonicalJson({ _type: ROOT_TYPE, ...trustRootOrThrow(root) }));
}

/** Whether the root has expired at `now` (ms since epoch). */
export function isRootExpired(root: Pick<TrustRoot, 'expiresAt'>, now: number): boolean {
  return root.expiresAt !== undefined && Date.parse(root.expiresAt) <= now;
}
