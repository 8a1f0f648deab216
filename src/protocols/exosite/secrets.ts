/**
 * The credentials Exosite Murano puts in URLs and headers, masked wherever otakit prints (the generic list,
 * `authorization` and friends, applies on top).
 *
 * @module
 */
import { GENERIC_SECRETS, mergeSecrets, type SecretPatterns } from '../../core/redact.js';

export const secrets: SecretPatterns = {
  queryParameters: ['cik'],
  headers: ['x-exosite-cik'],
  paths: [],
};

/** These and the generic secrets: what this protocol's own messages mask. */
export const ownSecrets: SecretPatterns = /* @__PURE__ */ mergeSecrets(GENERIC_SECRETS, secrets);
