/**
 * The identities insigh.io puts into topics, file names and URLs, and the rules that keep them
 * from smuggling in a topic level, an MQTT wildcard, a path component or a query parameter.
 *
 * @module
 */
import * as z from 'zod';
import { OtaError } from '../../core/errors.js';
import { safeParseWith } from '../../core/validate.js';
import { LIMITS } from './limits.js';

/**
 * Characters allowed in device, channel and file ids. Mainflux ids are UUIDs and console file ids
 * are short hex strings; this admits those (and ULIDs, slugs) but never `/`, `+`, `#`, `.`, `?`,
 * `&`, `%`, whitespace or NUL, so an id can neither add a topic level, match as a wildcard,
 * climb out of a directory, nor end a query parameter.
 */
export const ID_PATTERN = /^[A-Za-z0-9_-]+$/;

const id = (what: string) =>
  z
    .string()
    .min(1, { error: `a non-empty ${what}` })
    .max(LIMITS.maxIdLength, { error: `a ${what} of at most ${LIMITS.maxIdLength} characters` })
    .regex(ID_PATTERN, { error: `a ${what} of letters, digits, "-" and "_" only` });

/** A Mainflux thing id (the device id, also the MQTT user name). */
export const DeviceIdSchema = id('device id');
/** A Mainflux channel id (the control channel that carries OTA orders). */
export const ChannelIdSchema = id('channel id');
/** A control subtopic (`ota`, `config`, ...): one topic level. */
export const SubtopicSchema = id('subtopic');
/** A console package file id (`fuid`), e.g. `fa8884d2`. */
export const FileIdSchema = id('file id');

/**
 * A package file type: the extension including its dot(s), e.g. `.tar` or `.tar.gz`. The device
 * saves the download as `<fileId><fileType>`, so anything but dotted alphanumerics is refused.
 */
export const FileTypeSchema = z
  .string()
  .max(LIMITS.maxFileTypeLength, { error: `a file type of at most ${LIMITS.maxFileTypeLength} characters` })
  .regex(/^(\.[A-Za-z0-9]+)+$/, { error: 'a file extension with its dot, e.g. ".tar.gz"' });

/**
 * The device key (Mainflux thing key). A secret: it is only ever percent-encoded into a download
 * URL or handed to an MQTT client, and no error message ever contains it (zod issues name the
 * path and the expectation, never the value).
 */
export const DeviceKeySchema = z
  .string()
  .min(1, { error: 'a non-empty device key' })
  .max(LIMITS.maxKeyLength, { error: `a device key of at most ${LIMITS.maxKeyLength} characters` })
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  .regex(/^[^\u0000-\u001f\u007f]+$/, { error: 'a device key without control characters' });

/** The two ids every control topic is made of. */
export const ControlIdsSchema = z.object({
  controlChannelId: ChannelIdSchema,
  deviceId: DeviceIdSchema,
});
/** The control channel and device of one insigh.io device. */
export type ControlIds = z.output<typeof ControlIdsSchema>;

/**
 * Validates arguments a caller configured (ids, keys, base URLs). Failures are `OtaError`s with
 * code `CONFIG`: they are the caller's mistake, not something a peer sent.
 */
export function parseConfig<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const result = safeParseWith(schema, value, what);
  if (result.success) return result.data;
  throw new OtaError('CONFIG', result.error.message, { cause: result.error });
}
