/**
 * What addresses one device on ThingsBoard: its access token (the MQTT user name, or a path
 * segment of the HTTP device API), how it talks to the server, and which package line it follows.
 * See docs/protocols/thingsBoard.md ("Addressing a device").
 *
 * @module
 */
import * as z from 'zod';
import { parseWith } from '../../core/validate.js';
import type { PackageType } from './keys.js';
import { PackageTypeSchema } from './schemas.js';

/**
 * A device access token: one URL path segment, since the HTTP device API puts it in the path
 * (`/api/v1/<token>/…`). Error messages describe the rule and never echo the token.
 */
const AccessTokenSchema = z
  .string()
  .min(1, { error: 'a non-empty device access token', abort: true })
  .max(256, { error: 'a device access token of at most 256 characters' })
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  .regex(/^[^\s/?#%\\\u0000-\u001f\u007f]+$/, {
    error: 'a device access token usable as one URL path segment (no whitespace, /, ?, #, % or \\)',
  });

const BaseUrlSchema = z
  .string()
  .max(2048, { error: 'a base URL of at most 2048 characters' })
  .regex(/^https?:\/\/[^\s?#]+$/i, { error: 'an http(s) base URL without query or fragment' });

/**
 * One ThingsBoard device.
 *
 * @example
 * ```ts
 * const target = thingsBoard.TargetSchema.parse({ accessToken: 'A1_TEST_TOKEN' })   // MQTT, firmware
 * const overHttp = { accessToken: 'A1_TEST_TOKEN', transport: 'http', baseUrl: 'https://tb.example.com' }
 * ```
 */
export const TargetSchema = z
  .object({
    /** The device access token. A credential: never printed, never in an error message. */
    accessToken: AccessTokenSchema,
    /**
     * How the device talks to ThingsBoard: the MQTT device API (`v1/devices/me/…` topics in the
     * device's session) or the HTTP device API (`<baseUrl>/api/v1/<token>/…`).
     * @default 'mqtt'
     */
    transport: z.enum(['mqtt', 'http']).optional(),
    /** ThingsBoard's address, e.g. `https://tb.example.com`; required with `transport: 'http'`. */
    baseUrl: BaseUrlSchema.optional(),
    /** Which package the device follows: `fw_*` (firmware) or `sw_*` (software) keys. @default 'firmware' */
    type: PackageTypeSchema.optional(),
    /**
     * What the device does with a package whose title differs from the one it runs: `match`
     * ignores it ("not for us", as ThingsBoard's Arduino/ESP32 client SDK), `any` installs it.
     * @default 'match'
     */
    titleRule: z.enum(['match', 'any']).optional(),
    /**
     * Ask for the signed statement attribute (`otakit_fw_manifest` / `otakit_sw_manifest`) too
     * in attribute requests (at boot, on a check, and in the HTTP poll), so a signed package
     * assigned while the device was away is read with its signature. The ThingsBoard agent sets
     * it when its machine checks signatures.
     * @default false (the requests are the client SDKs')
     */
    statements: z.boolean().optional(),
  })
  .superRefine((target, ctx) => {
    if (target.transport === 'http' && target.baseUrl === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['baseUrl'],
        message: 'a base URL (required with transport http)',
      });
    }
  });

/** One ThingsBoard device (see {@link TargetSchema}). */
export type Target = z.output<typeof TargetSchema>;

/** `target`, validated. @throws ManifestError naming the field; the message never holds the token. */
export function readTarget(target: unknown): Target {
  return parseWith(TargetSchema, target, 'ThingsBoard target');
}

/** The package type a target follows. */
export function packageTypeOf(target: Target): PackageType {
  return target.type ?? 'firmware';
}

/** `<baseUrl>/api/v1/<token>/<resource>`: a device API URL. A secret (the token is in it). */
export function deviceApiUrl(target: Target, resource: string): string {
  return `${(target.baseUrl ?? '').replace(/\/+$/, '')}/api/v1/${target.accessToken}/${resource}`;
}
