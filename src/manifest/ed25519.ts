/**
 * Ed25519 (RFC 8032) signing and verification over web standards: WebCrypto's `Ed25519` where the
 * runtime has it (Node 20, Chromium 137+, Firefox 129+, Safari 17+), else the pure-JS
 * `@noble/ed25519`, loaded by dynamic import only then, so a bundle that splits chunks does not
 * carry it.
 *
 * Keys: public keys are the raw 32 bytes; private keys are the 32-byte seed of RFC 8032, or the
 * same seed wrapped as PKCS #8 (DER, 48 bytes, as `openssl genpkey -algorithm ed25519` writes
 * it, or its PEM text).
 *
 * @module
 */
import { decodeBase64, fromHex, toHex } from '../core/encoding.js';
import { OtaError } from '../core/errors.js';

/**
 * Which implementation runs: `auto` = WebCrypto when it supports Ed25519, else pure JS;
 * `webcrypto` = WebCrypto or a `CONFIG` error; `js` = always the pure-JS library (for tests, and
 * for runtimes whose WebCrypto is known to be broken).
 */
export type Ed25519Backend = 'auto' | 'webcrypto' | 'js';

export interface Ed25519Options {
  /** @default 'auto' */
  backend?: Ed25519Backend;
}

export const ED25519_PUBLIC_KEY_LENGTH = 32;
export const ED25519_SIGNATURE_LENGTH = 64;

// PKCS #8 PrivateKeyInfo for id-Ed25519 (RFC 8410 §7) is this fixed prefix followed by the seed.
const PKCS8_PREFIX = fromHex('302e020100300506032b657004220420');
const ALGORITHM = { name: 'Ed25519' } as const;

type JsBackend = typeof import('./ed25519-js.js');
let jsBackend: Promise<JsBackend> | undefined;
const loadJs = (): Promise<JsBackend> => {
  jsBackend ??= import('./ed25519-js.js');
  return jsBackend;
};

// RFC 8032 §7.1, test 1: the probe both proves the algorithm is there and that it answers right.
const PROBE = {
  publicKey: fromHex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'),
  signature: fromHex(
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  ),
};

// Keyed by the SubtleCrypto object, so a test (or a polyfill) replacing `globalThis.crypto` is
// probed afresh.
const support = new WeakMap<SubtleCrypto, Promise<boolean>>();

/**
 * Imported public keys, per SubtleCrypto, by their hex: importing took about a third of each
 * verification, and a device checks every order against the same few root keys. Bounded: a root
 * holds a handful of keys; the oldest entry goes when a stranger's keys would grow it further.
 */
const importedKeys = new WeakMap<SubtleCrypto, Map<string, Promise<CryptoKey>>>();
const MAX_IMPORTED_KEYS = 64;

function verifyKey(subtle: SubtleCrypto, publicKey: Uint8Array): Promise<CryptoKey> {
  let keys = importedKeys.get(subtle);
  if (keys === undefined) {
    keys = new Map();
    importedKeys.set(subtle, keys);
  }
  const id = toHex(publicKey);
  let key = keys.get(id);
  if (key === undefined) {
    if (keys.size >= MAX_IMPORTED_KEYS) keys.delete(keys.keys().next().value!);
    key = subtle.importKey('raw', own(publicKey), ALGORITHM, false, ['verify']);
    // A key WebCrypto refuses (not a curve point) is not kept: the next call answers afresh.
    key.catch(() => keys.delete(id));
    keys.set(id, key);
  }
  return key;
}

/** Copies into a fresh ArrayBuffer when needed: WebCrypto's typings refuse shared buffers. */
function own(view: Uint8Array): Uint8Array<ArrayBuffer> {
  return view.buffer instanceof ArrayBuffer ? (view as Uint8Array<ArrayBuffer>) : new Uint8Array(view);
}

async function probe(subtle: SubtleCrypto): Promise<boolean> {
  try {
    const key = await subtle.importKey('raw', own(PROBE.publicKey), ALGORITHM, false, ['verify']);
    return await subtle.verify(ALGORITHM, key, own(PROBE.signature), new Uint8Array(0));
  } catch {
    return false;
  }
}

/** The WebCrypto to use, or `undefined` when the pure-JS backend must run. */
async function webCrypto(backend: Ed25519Backend): Promise<SubtleCrypto | undefined> {
  if (backend === 'js') return undefined;
  const subtle = globalThis.crypto?.subtle as SubtleCrypto | undefined;
  let supported: Promise<boolean> | undefined;
  if (subtle !== undefined) {
    supported = support.get(subtle);
    if (supported === undefined) {
      supported = probe(subtle);
      support.set(subtle, supported);
    }
  }
  if (subtle !== undefined && (await supported)) return subtle;
  if (backend === 'webcrypto') {
    throw new OtaError('CONFIG', 'This runtime has no WebCrypto Ed25519; use backend "auto" or "js"');
  }
  return undefined;
}

/** Which backend `auto` picks in this runtime (for diagnostics and tests). */
export async function ed25519BackendInUse(options: Ed25519Options = {}): Promise<'webcrypto' | 'js'> {
  return (await webCrypto(options.backend ?? 'auto')) === undefined ? 'js' : 'webcrypto';
}

/**
 * The 32-byte seed of a private key given as a seed, PKCS #8 DER, PKCS #8 PEM, or base64 of
 * either. Throws a `CONFIG` error (without echoing the key) for anything else.
 */
export function ed25519Seed(privateKey: Uint8Array | string): Uint8Array {
  let bytes: Uint8Array | undefined;
  if (typeof privateKey === 'string') {
    const body = privateKey.replace(/-----(BEGIN|END) PRIVATE KEY-----/g, '').replace(/\s+/g, '');
    bytes = decodeBase64(body);
  } else {
    bytes = privateKey;
  }
  if (bytes?.length === 32) return bytes.slice();
  if (
    bytes?.length === PKCS8_PREFIX.length + 32 &&
    PKCS8_PREFIX.every((byte, index) => bytes[index] === byte)
  ) {
    return bytes.slice(PKCS8_PREFIX.length);
  }
  throw new OtaError(
    'CONFIG',
    'An Ed25519 private key must be a 32-byte seed or PKCS #8 (DER, PEM or base64); the key given is neither',
  );
}

/** A 32-byte seed wrapped as PKCS #8 DER (what `ed25519Seed` reads back, and openssl writes). */
export function ed25519Pkcs8(seed: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(PKCS8_PREFIX.length + seed.length);
  out.set(PKCS8_PREFIX);
  out.set(seed, PKCS8_PREFIX.length);
  return out;
}

/**
 * Whether `signature` is a valid Ed25519 signature of `message` under the raw 32-byte
 * `publicKey`. Wrong lengths and keys that are not curve points give `false`, never a throw.
 *
 * @example
 * ```ts
 * const ok = await ed25519Verify(publicKey, canonicalManifestBytes(manifest), signature)
 * ```
 */
export async function ed25519Verify(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
  options: Ed25519Options = {},
): Promise<boolean> {
  if (publicKey.length !== ED25519_PUBLIC_KEY_LENGTH || signature.length !== ED25519_SIGNATURE_LENGTH)
    return false;
  const subtle = await webCrypto(options.backend ?? 'auto');
  if (subtle === undefined) return (await loadJs()).verify(publicKey, message, signature);
  try {
    const key = await verifyKey(subtle, publicKey);
    return await subtle.verify(ALGORITHM, key, own(signature), own(message));
  } catch {
    return false;
  }
}

/**
 * Signs `message` with a private key (seed or PKCS #8, see {@link ed25519Seed}); 64 bytes.
 *
 * @example
 * ```ts
 * const signature = await ed25519Sign(await readFile('release.key', 'utf8'), bytes)
 * ```
 */
export async function ed25519Sign(
  privateKey: Uint8Array | string,
  message: Uint8Array,
  options: Ed25519Options = {},
): Promise<Uint8Array> {
  const seed = ed25519Seed(privateKey);
  const subtle = await webCrypto(options.backend ?? 'auto');
  if (subtle === undefined) return (await loadJs()).sign(seed, message);
  const key = await subtle.importKey('pkcs8', ed25519Pkcs8(seed), ALGORITHM, false, ['sign']);
  return new Uint8Array(await subtle.sign(ALGORITHM, key, own(message)));
}

/** The raw 32-byte public key of a private key (seed or PKCS #8). */
export async function ed25519PublicKey(
  privateKey: Uint8Array | string,
  options: Ed25519Options = {},
): Promise<Uint8Array> {
  const seed = ed25519Seed(privateKey);
  const subtle = await webCrypto(options.backend ?? 'auto');
  if (subtle === undefined) return (await loadJs()).publicKey(seed);
  // WebCrypto derives the public key only on export; JWK's `x` is it, base64url.
  const key = await subtle.importKey('pkcs8', ed25519Pkcs8(seed), ALGORITHM, true, ['sign']);
  const { x } = await subtle.exportKey('jwk', key);
  const decoded = x === undefined ? undefined : decodeBase64(x.replace(/-/g, '+').replace(/_/g, '/'));
  if (decoded?.length !== ED25519_PUBLIC_KEY_LENGTH) {
    throw new OtaError('CONFIG', 'WebCrypto returned no Ed25519 public key');
  }
  return decoded;
}

/**
 * A fresh key pair from `crypto.getRandomValues`: the 32-byte seed (keep it secret) and the raw
 * public key (put it in a trust root).
 */
export async function ed25519GenerateKeyPair(
  options: Ed25519Options = {},
): Promise<{ privateKey: Uint8Array; publicKey: Uint8Array }> {
  const privateKey = globalThis.crypto.getRandomValues(new Uint8Array(32));
  return { privateKey, publicKey: await ed25519PublicKey(privateKey, options) };
}
