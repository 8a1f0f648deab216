/**
 * The credentials Degu on AWS IoT Device Shadow puts in URLs and headers, masked wherever otakit
 * prints (the generic list applies on top: `authorization` for SigV4 and the `X-Amz-Signature`,
 * `X-Amz-Credential` and `X-Amz-Security-Token` of pre-signed download URLs and signed requests).
 *
 * AWS IoT custom authentication adds one name of its own: the token signature, sent as a header
 * or a query parameter of the HTTPS publish and the MQTT-over-WebSocket upgrade. The token itself
 * travels under a name each authorizer chooses (`tokenKeyName`), which no fixed list can know.
 *
 * @module
 */
import { GENERIC_SECRETS, mergeSecrets, type SecretPatterns } from '../../core/redact.js';

export const secrets: SecretPatterns = {
  queryParameters: ['x-amz-customauthorizer-signature'],
  headers: ['x-amz-customauthorizer-signature'],
  paths: [],
};

/** These and the generic secrets: what this protocol's own messages mask. */
export const ownSecrets: SecretPatterns = /* @__PURE__ */ mergeSecrets(GENERIC_SECRETS, secrets);
