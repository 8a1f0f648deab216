/**
 * The credentials ThingsBoard puts in URLs and headers, masked wherever otakit prints (the generic list,
 * `authorization` and friends, applies on top).
 *
 * @module
 */
import { GENERIC_SECRETS, mergeSecrets, type SecretPatterns } from '../../core/redact.js';

export const secrets: SecretPatterns = {
  queryParameters: [],
  // The REST API's JWT travels in `X-Authorization: Bearer …`, not in `Authorization`.
  headers: ['x-authorization'],
  // The device API puts the access token in the path: `/api/v1/<token>/telemetry`.
  paths: [/(\/api\/v1\/)[^/?#]+(?=\/)/g],
};

/** These and the generic secrets: what this protocol's own messages mask. */
export const ownSecrets: SecretPatterns = /* @__PURE__ */ mergeSecrets(GENERIC_SECRETS, secrets);
