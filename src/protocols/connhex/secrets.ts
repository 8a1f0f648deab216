/**
 * The credentials Connhex Edge puts in URLs and headers, masked wherever otakit prints (the generic list,
 * `authorization` and friends, applies on top).
 *
 * @module
 */
import { GENERIC_SECRETS, mergeSecrets, type SecretPatterns } from '../../core/redact.js';

export const secrets: SecretPatterns = {
  queryParameters: [],
  headers: [],
  paths: [],
};

/** These and the generic secrets: what this protocol's own messages mask. */
export const ownSecrets: SecretPatterns = /* @__PURE__ */ mergeSecrets(GENERIC_SECRETS, secrets);
