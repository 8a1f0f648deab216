/**
 * The credentials micropython_ota puts in URLs and headers, masked wherever otakit prints. Its
 * only credential is HTTP Basic auth in the `Authorization` header, which the generic list
 * already masks; hosts carry no user info, query or token path (the target schema refuses
 * them), so there is nothing platform-specific to add.
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
