/**
 * The credentials Connhex Edge puts in URLs and headers, masked wherever otakit prints (the
 * generic list, `authorization` and friends, applies on top). The device sends its thing key in
 * the `Authorization` header (generic); the remote-init path authenticates with an init key, and
 * Mainflux-derived services accept a thing key as an `authorization` query parameter where a
 * header cannot be set (WebSockets), so those names are masked in any URL too.
 *
 * @module
 */
import { GENERIC_SECRETS, mergeSecrets, type SecretPatterns } from '../../core/redact.js';

export const secrets: SecretPatterns = {
  queryParameters: ['authorization', 'init_key', 'thing_key'],
  headers: [],
  paths: [],
};

/** These and the generic secrets: what this protocol's own messages mask. */
export const ownSecrets: SecretPatterns = /* @__PURE__ */ mergeSecrets(GENERIC_SECRETS, secrets);
