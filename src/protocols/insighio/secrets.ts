/**
 * The credentials insigh.io puts in URLs and headers, masked wherever otakit prints (the generic list,
 * `authorization` and friends, applies on top).
 *
 * @module
 */
import { GENERIC_SECRETS, mergeSecrets, type SecretPatterns } from '../../core/redact.js';

export const secrets: SecretPatterns = {
  queryParameters: [
    // The device key in the package download URL (docs/protocols/insighIo.md).
    'dk',
    // Mainflux's WebSocket adapter takes the thing key as `?authorization=<key>`; its HTTP
    // adapter takes it in the `authorization` header, which the generic list already masks.
    'authorization',
  ],
  headers: [],
  paths: [],
};

/** These and the generic secrets: what this protocol's own messages mask. */
export const ownSecrets: SecretPatterns = /* @__PURE__ */ mergeSecrets(GENERIC_SECRETS, secrets);
