/**
 * mqtt.js and TLS failures as otakit's `TransportError`: retryable unless another attempt with
 * the same settings cannot succeed, and never carrying a credential in its message.
 *
 * @module
 */
import { TransportError } from '../core/errors.js';

/**
 * CONNACK codes that another attempt with the same settings cannot fix: bad protocol version,
 * client id, credentials or authorisation (MQTT 3.1.1 return codes 1, 2, 4, 5; MQTT 5 reason codes
 * 0x84–0x87 and 0x8C). Retrying them only hammers the broker with the same wrong credentials.
 */
const PERMANENT_CONNACK_CODES = new Set([1, 2, 4, 5, 0x84, 0x85, 0x86, 0x87, 0x8c]);

/**
 * Node's certificate verification codes (the server's certificate is not trusted, has expired, or
 * names another host): the same CA and the same broker give the same answer next time.
 */
const PERMANENT_TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * The broker's TLS alerts about the client's certificate (mTLS): none given, or one it does not
 * trust (`ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED`, `ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE`,
 * `…_ALERT_UNKNOWN_CA`…).
 */
const PERMANENT_TLS_ALERT =
  /^ERR_SSL_.*ALERT_(CERTIFICATE_|BAD_CERTIFICATE|UNKNOWN_CA|UNSUPPORTED_CERTIFICATE)/;

/** Whether another attempt with the same settings cannot succeed. */
export function isPermanent(cause: unknown): boolean {
  const code = (cause as { code?: unknown } | null)?.code;
  if (typeof code === 'number') return PERMANENT_CONNACK_CODES.has(code);
  if (typeof code === 'string') return PERMANENT_TLS_CODES.has(code) || PERMANENT_TLS_ALERT.test(code);
  return false;
}

/**
 * `MQTT <what> failed: <reason>`. Credentials never appear: mqtt.js and Node errors are reduced to
 * their message, which names no user name, password or key (the cause is kept for debugging).
 */
export function transportError(what: string, cause: unknown): TransportError {
  const message = cause instanceof Error ? cause.message : String(cause);
  const code = (cause as { code?: unknown } | null)?.code;
  // Node's TLS messages ("self-signed certificate") are clearer with their code beside them.
  const reason = typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
  return new TransportError(`MQTT ${what} failed: ${reason}`, {
    cause,
    ...(isPermanent(cause) ? { retryable: false } : {}),
  });
}
