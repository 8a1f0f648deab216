/**
 * The pure-JS Ed25519 backend: `@noble/ed25519` (audited, dependency-free) with SHA-512 from
 * `@noble/hashes`, which otakit already ships. Loaded only by dynamic import from `ed25519.ts`
 * when WebCrypto lacks Ed25519, so bundles that split chunks never load it where WebCrypto
 * suffices.
 *
 * @module
 */
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2';

// noble's synchronous API needs a SHA-512; its asynchronous one would need `crypto.subtle`, which
// an insecure browser context or an embedded runtime may lack. Set only when the app has not
// wired its own, and only on first use (no side effect at import).
function ready(): typeof ed {
  ed.hashes.sha512 ??= (message) => sha512(message) as ReturnType<NonNullable<typeof ed.hashes.sha512>>;
  return ed;
}

/** RFC 8032 verification (not ZIP-215): the same accept set as WebCrypto, so backends agree. */
export function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return ready().verify(signature, message, publicKey, { zip215: false });
  } catch {
    // A public key that is not a curve point, or bytes of the wrong length: not a valid signature.
    return false;
  }
}

export function sign(seed: Uint8Array, message: Uint8Array): Uint8Array {
  return ready().sign(message, seed);
}

export function publicKey(seed: Uint8Array): Uint8Array {
  return ready().getPublicKey(seed);
}
