/**
 * What addresses one micropython_ota device: the server and project it polls, the files its
 * `ota_update(host, project, filenames, …)` call fetches, the layout of those files on the
 * server, and the Basic auth credentials it sends. Every device of a project polls the same
 * `version` file, so the target names the project, not the board; the tracker's machine id tells
 * boards apart.
 *
 * @module
 */
import * as z from 'zod';
import { parseWith } from '../../core/validate.js';
import { HostSchema, ProjectSchema } from './names.js';
import { LayoutSchema, ReleaseSchema } from './schemas.js';

// The rules of basicAuthHeaders, as a schema: a bad credential is then a MANIFEST_INVALID that
// names the field when the target is checked, instead of a CONFIG error at the first request.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
const NO_CONTROL = /^[^\u0000-\u001f\u007f]*$/;

/** HTTP Basic credentials the device sends on every request. Never echoed in an error. */
export const BasicAuthSchema = z.strictObject({
  user: z
    .string({ error: 'a user name' })
    .min(1, { error: 'a non-empty user name' })
    .regex(/^[^:]*$/, { error: 'a user name without ":" (RFC 7617)' })
    .regex(NO_CONTROL, { error: 'a user name without control characters' }),
  /** The reference calls it `passwd`. */
  password: z
    .string({ error: 'a password' })
    .min(1, { error: 'a non-empty password' })
    .regex(NO_CONTROL, { error: 'a password without control characters' }),
});

export const TargetSchema = z.strictObject({
  /** Server base URL, e.g. `https://ota.example.com`. No credentials in it: use `auth`. */
  host: HostSchema,
  /** Project directory on the server, e.g. `sample`. */
  project: ProjectSchema,
  /** The files the device fetches and installs, in order (its `filenames` argument). */
  filenames: ReleaseSchema.shape.filenames,
  /** `prefix` (`<version>_<file>`) or `subdirectory` (`<version>/<file>`). @default 'prefix' */
  layout: LayoutSchema.optional(),
  /** Basic auth, sent on the version request and every file request. */
  auth: BasicAuthSchema.optional(),
});

/**
 * One micropython_ota device (or every device of one project: they poll the same files).
 *
 * @example
 * ```ts
 * const target: Target = {
 *   host: 'https://ota.example.com',
 *   project: 'sample',
 *   filenames: ['main.py', 'library.py'],
 *   auth: { user: 'otauser', password: 'topsecret' },
 * }
 * ```
 */
export type Target = z.output<typeof TargetSchema>;

/**
 * `target` validated, so every codec function fails the same way on a bad one.
 *
 * @throws ManifestError (`MANIFEST_INVALID`) naming the field and the rule, never its value.
 */
export function parseTarget(target: unknown): Target {
  return parseWith(TargetSchema, target, 'micropython_ota target');
}
