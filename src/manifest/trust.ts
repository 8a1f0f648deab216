/**
 * Signing and verifying manifests and trust roots: k-of-n Ed25519 signatures over the
 * `otakit-json-v1` bytes, counted only for distinct, known, non-revoked keys; root rotation
 * signed by the old keys and the new ones (TUF's root role).
 *
 * The cloud side (or the CLI) calls `signManifest`; a device calls `verifyManifestSignature`
 * before it fetches a single byte (the device machine does it for you with its `trust` option).
 *
 * @module
 */
import { decodeBase64, encodeBase64 } from '../core/encoding.js';
import { TrustError, type TrustReason } from '../core/errors.js';
import { safeParseWith } from '../core/validate.js';
import { CANONICALIZATION, canonicalManifestBytes } from './canonical.js';
import { type Ed25519Options, ed25519PublicKey, ed25519Sign, ed25519Verify } from './ed25519.js';
import { type Manifest, type ManifestInput, parseManifest } from './schema.js';
import {
  canonicalRootBytes,
  isRootExpired,
  keyIdOf,
  type Signature,
  type SignedRoot,
  type SignedRootInput,
  SignedRootSchema,
  type TrustRoot,
  type TrustRootInput,
  trustRootOrThrow,
} from './trust-root.js';

/** A private key: a 32-byte seed or PKCS #8 (DER bytes, PEM, or base64 of either). */
export type PrivateKeyInput = Uint8Array | string;

/** Why one signature did not count. */
export type RejectedSignatureReason = 'bad_signature' | 'unknown_key' | 'revoked_key' | 'duplicate_key';

export interface SignatureCount {
  /** Key ids whose signature verified, each once. */
  keyIds: string[];
  /** The threshold that was met. */
  threshold: number;
  /** Version of the root that vouched. */
  rootVersion: number;
  /** Signatures that did not count, and why (a tampered one, a stranger's, a revoked key's…). */
  rejected: { keyId: string; reason: RejectedSignatureReason }[];
}

export interface VerifyOptions extends Ed25519Options {
  /** The current time, ms since the epoch, for the root's `expiresAt`. @default Date.now() */
  now?: number;
}

const short = (keyId: string) => (keyId.length > 16 ? `${keyId.slice(0, 16)}…` : keyId);

/** Signs `bytes` with every key, one signature per distinct key. */
async function signBytes(
  bytes: Uint8Array,
  privateKeys: readonly PrivateKeyInput[],
  options: Ed25519Options,
): Promise<Signature[]> {
  const signatures = new Map<string, Signature>();
  for (const privateKey of privateKeys) {
    const keyId = keyIdOf(await ed25519PublicKey(privateKey, options));
    const value = encodeBase64(await ed25519Sign(privateKey, bytes, options));
    signatures.set(keyId, { keyId, algorithm: 'ed25519', value });
  }
  return [...signatures.values()];
}

/**
 * Counts the signatures over `bytes` that verify under distinct, listed, non-revoked keys of
 * `root`. A key id seen twice counts once: a signer cannot meet a threshold alone.
 */
async function countSignatures(
  bytes: Uint8Array,
  signatures: readonly Signature[],
  root: TrustRoot,
  options: Ed25519Options,
): Promise<SignatureCount> {
  const keys = new Map(root.keys.map((key) => [key.keyId, key.publicKey]));
  const revoked = new Set(root.revokedKeyIds ?? []);
  const seen = new Set<string>();
  const keyIds: string[] = [];
  const rejected: SignatureCount['rejected'] = [];
  for (const { keyId, value } of signatures) {
    if (seen.has(keyId)) {
      rejected.push({ keyId, reason: 'duplicate_key' });
      continue;
    }
    seen.add(keyId);
    const publicKey = keys.get(keyId);
    if (revoked.has(keyId)) rejected.push({ keyId, reason: 'revoked_key' });
    else if (publicKey === undefined) rejected.push({ keyId, reason: 'unknown_key' });
    else {
      const signature = decodeBase64(value);
      const valid =
        signature !== undefined && (await ed25519Verify(decodeBase64(publicKey)!, bytes, signature, options));
      if (valid) keyIds.push(keyId);
      else rejected.push({ keyId, reason: 'bad_signature' });
    }
  }
  return { keyIds, threshold: root.threshold, rootVersion: root.version, rejected };
}

/** Throws unless `count` meets its threshold, with the most telling reason. */
function requireThreshold(count: SignatureCount, subject: string, field: string): SignatureCount {
  if (count.keyIds.length >= count.threshold) return count;
  // With nothing valid and one kind of failure, that failure is the story (a tampered manifest is
  // `bad_signature`, a stranger's key is `unknown_key`); otherwise it is the count.
  const kinds = new Set<TrustReason>();
  for (const { reason } of count.rejected) if (reason !== 'duplicate_key') kinds.add(reason);
  const [only] = kinds;
  const reason: TrustReason =
    count.keyIds.length === 0 && kinds.size === 1 && only ? only : 'below_threshold';
  const detail = count.rejected.map((r) => `${short(r.keyId)} ${r.reason}`).join(', ');
  throw new TrustError(
    reason,
    `${subject} ${field}: expected valid signatures from ${count.threshold} distinct trusted key(s) of trust root version ${count.rootVersion}, found ${count.keyIds.length}${detail ? ` (${detail})` : ''}`,
    { field, keyIds: [...count.keyIds, ...count.rejected.map((r) => r.keyId)] },
  );
}

/**
 * Signs a manifest with one or more private keys and returns it (validated) with its signature
 * envelope. Signatures already on the manifest from other keys are kept (they cover the same
 * bytes), so k holders of keys can each add theirs in turn; a key signing again replaces its own.
 *
 * @example
 * ```ts
 * const signed = await signManifest(manifest, [process.env.OTA_SIGNING_KEY!])
 * ```
 */
export async function signManifest(
  manifest: Manifest | ManifestInput,
  privateKeys: readonly PrivateKeyInput[],
  options: Ed25519Options = {},
): Promise<Manifest> {
  const parsed = parseManifest(manifest);
  if (privateKeys.length === 0)
    throw new TrustError('unsigned', 'signManifest needs at least one private key');
  const fresh = await signBytes(canonicalManifestBytes(parsed), privateKeys, options);
  const replaced = new Set(fresh.map((signature) => signature.keyId));
  const kept = (parsed.signature?.signatures ?? []).filter((signature) => !replaced.has(signature.keyId));
  return { ...parsed, signature: { canonicalization: CANONICALIZATION, signatures: [...kept, ...fresh] } };
}

/**
 * Verifies a manifest's signatures against a trust root. Resolves with who signed when at least
 * `root.threshold` distinct, listed, non-revoked keys produced a valid signature over its
 * `otakit-json-v1` bytes; otherwise rejects with a {@link TrustError}: `unsigned`,
 * `unknown_canonicalization`, `bad_signature`, `unknown_key`, `revoked_key`, `below_threshold`,
 * `root_expired`, `invalid_root` (or `not_canonical`). An invalid manifest rejects with a
 * `ManifestError`.
 *
 * @example
 * ```ts
 * const { keyIds } = await verifyManifestSignature(order, root)
 * ```
 */
export async function verifyManifestSignature(
  manifest: Manifest | ManifestInput,
  root: TrustRoot | TrustRootInput,
  options: VerifyOptions = {},
): Promise<SignatureCount> {
  const trusted = trustRootOrThrow(root);
  if (isRootExpired(trusted, options.now ?? Date.now())) {
    throw new TrustError(
      'root_expired',
      `trust root version ${trusted.version} expired at ${trusted.expiresAt}`,
      // The root's field, not the manifest's own expiresAt (a different refusal, manifest_expired).
      { field: 'root.expiresAt' },
    );
  }
  // Checked before the schema, whose literal would call a newer encoding merely "invalid".
  const envelope = (manifest as { signature?: { canonicalization?: unknown } } | null)?.signature;
  if (envelope !== undefined && envelope !== null && envelope.canonicalization !== CANONICALIZATION) {
    throw new TrustError(
      'unknown_canonicalization',
      `manifest signature.canonicalization: expected "${CANONICALIZATION}", got ${JSON.stringify(envelope.canonicalization)?.slice(0, 40)}`,
      { field: 'signature.canonicalization' },
    );
  }
  const parsed = parseManifest(manifest);
  if (parsed.signature === undefined) {
    throw new TrustError(
      'unsigned',
      `manifest ${parsed.id} signature: expected a signature envelope, found none`,
      {
        field: 'signature',
      },
    );
  }
  const count = await countSignatures(
    canonicalManifestBytes(parsed),
    parsed.signature.signatures,
    trusted,
    options,
  );
  return requireThreshold(count, `manifest ${parsed.id}`, 'signature.signatures');
}

/**
 * Signs a trust root with one or more private keys: a rotation needs signatures from a threshold
 * of the current root's keys and from a threshold of the new root's own keys.
 *
 * @example
 * ```ts
 * const signedRoot = await signRoot(nextRoot, [oldKey1, oldKey2, newKey1, newKey2])
 * ```
 */
export async function signRoot(
  root: TrustRoot | TrustRootInput,
  privateKeys: readonly PrivateKeyInput[],
  options: Ed25519Options = {},
): Promise<SignedRoot> {
  const parsed = trustRootOrThrow(root);
  if (privateKeys.length === 0) throw new TrustError('unsigned', 'signRoot needs at least one private key');
  return { root: parsed, signatures: await signBytes(canonicalRootBytes(parsed), privateKeys, options) };
}

/**
 * Decides whether a device may replace `current` by `next`: only if `next.root.version` is greater,
 * `next.root` has not expired, and its signatures meet both `current`'s threshold with `current`'s
 * non-revoked keys and `next.root`'s threshold with its own keys. Resolves with the new root;
 * rejects with a {@link TrustError} `root_rejected` (the cause names the inner reason).
 *
 * A root may skip versions (the current keys vouch for it directly). An expired current root may
 * still rotate: that is how a device that was offline too long recovers. Revocation is a new root
 * that lists `revokedKeyIds` or drops the keys.
 *
 * @example
 * ```ts
 * root = await rotateRoot(root, signedRootFromTheCloud)
 * ```
 */
export async function rotateRoot(
  current: TrustRoot | TrustRootInput,
  next: SignedRoot | SignedRootInput,
  options: VerifyOptions = {},
): Promise<TrustRoot> {
  const trusted = trustRootOrThrow(current);
  const parsed = safeParseWith(SignedRootSchema, next, 'signed trust root');
  if (!parsed.success) {
    throw new TrustError('root_rejected', parsed.error.message, { field: 'root', cause: parsed.error });
  }
  const { root, signatures } = parsed.data;
  const reject = (message: string, field: string, cause?: unknown) =>
    new TrustError('root_rejected', `new trust root version ${root.version} ${message}`, {
      field,
      ...(cause === undefined ? {} : { cause }),
    });
  if (root.version <= trusted.version) {
    throw reject(`version: expected greater than the current version ${trusted.version}`, 'root.version');
  }
  if (isRootExpired(root, options.now ?? Date.now())) {
    throw reject(`expiresAt: expected a future instant, got ${root.expiresAt}`, 'root.expiresAt');
  }
  const bytes = canonicalRootBytes(root);
  for (const [which, signer] of [
    ['current', trusted],
    ['new', root],
  ] as const) {
    const count = await countSignatures(bytes, signatures, signer, options);
    try {
      requireThreshold(count, 'new trust root', 'signatures');
    } catch (error) {
      throw reject(
        `signatures: expected ${signer.threshold} valid signature(s) from the ${which} root's keys (version ${signer.version}), found ${count.keyIds.length}`,
        'signatures',
        error,
      );
    }
  }
  return root;
}
