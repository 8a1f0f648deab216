/**
 * What addresses one Exosite device: its product (IoT Connector), its identity, the transport
 * it takes orders by, and (on the device) its token. The cloud side needs only the product id
 * and the identity; the device's token never appears in an error message (docs/protocols/exosite.md,
 * "Security").
 *
 * @module
 */
import * as z from 'zod';
import { ManifestError } from '../../core/errors.js';
import { parseWith } from '../../core/validate.js';
import { LIMITS } from './limits.js';

const PRODUCT_ID_EXPECTED = 'a Murano product id (1 to 63 lowercase letters or digits)';
const IDENTITY_EXPECTED = 'a device identity (1 to 128 characters, no "/", "+", "#" or control characters)';
const TOKEN_EXPECTED = `a device token (1 to ${LIMITS.tokenLength} visible ASCII characters)`;
const DOMAIN_EXPECTED = 'a host name such as m2.exosite.io';
const TIMEOUT_EXPECTED = `whole milliseconds from 1 to ${LIMITS.requestTimeoutMs}`;

// The identity becomes an MQTT topic level (`$provision/<identity>`) and a URL path segment:
// separators, wildcards and control characters would change what it addresses.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const IDENTITY_PATTERN = /^[^/+#\u0000-\u001f\u007f]{1,128}$/;

/**
 * One Exosite device.
 *
 * @example
 * ```ts
 * TargetSchema.parse({ productId: 'd1zzd6dflnt50000', identity: 'sensor-0042', transport: 'mqtt' })
 * ```
 */
export const TargetSchema = z.object({
  /** The IoT Connector's product id: device hosts are `<productId>.<domain>`. */
  productId: z
    .string({ error: PRODUCT_ID_EXPECTED })
    .regex(/^[a-z0-9]{1,63}$/, { error: PRODUCT_ID_EXPECTED }),
  /** The device identity (serial number) the device activated with. */
  identity: z.string({ error: IDENTITY_EXPECTED }).regex(IDENTITY_PATTERN, { error: IDENTITY_EXPECTED }),
  /**
   * How the device takes orders: `http` long-polls `config_otau`, `mqtt` receives it on
   * `$resource/config_otau/<timestamp>`. Statuses go back the same way.
   */
  transport: z.enum(['http', 'mqtt'], { error: 'one of "http", "mqtt"' }),
  /**
   * The device token (CIK) activation returned: sent in `X-Exosite-CIK` on every device HTTP
   * request (required by the `http` transport; with `mqtt` it is the broker password, which the
   * MQTT connection holds). Unused by the cloud side.
   */
  token: z
    .string({ error: TOKEN_EXPECTED })
    .regex(/^[\x21-\x7e]+$/, { error: TOKEN_EXPECTED })
    .max(LIMITS.tokenLength, { error: TOKEN_EXPECTED })
    .optional(),
  /**
   * Domain of the device API.
   * @default 'm2.exosite.io'
   */
  domain: z
    .string({ error: DOMAIN_EXPECTED })
    .regex(/^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$/i, { error: DOMAIN_EXPECTED })
    .optional(),
  /**
   * `Request-Timeout` of the device's long poll.
   * @default 30_000
   */
  longPollTimeoutMs: z
    .number({ error: TIMEOUT_EXPECTED })
    .int({ error: TIMEOUT_EXPECTED })
    .min(1, { error: TIMEOUT_EXPECTED })
    .max(LIMITS.requestTimeoutMs, { error: TIMEOUT_EXPECTED })
    .optional(),
});
export type Target = z.output<typeof TargetSchema>;

/** The long poll's `Request-Timeout` when the target does not set one. */
export const DEFAULT_LONG_POLL_MS = 30_000;

/** @internal `target` validated; the error names the field, never a value. */
export function checkedTarget(target: unknown): Target {
  return parseWith(TargetSchema, target, 'Exosite target');
}

/** @internal The device token of `target`, which the HTTP device API needs. */
export function deviceToken(target: Target): string {
  if (target.token === undefined) {
    throw new ManifestError('Exosite target', [
      { path: 'token', expected: `${TOKEN_EXPECTED}: the http transport sends it on every request` },
    ]);
  }
  return target.token;
}
