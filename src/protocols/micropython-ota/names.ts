/**
 * What a valid micropython_ota name is: the version tag, the project path, the file names and
 * the host. The reference client concatenates all of them into URLs without escaping (see
 * docs/protocols/micropythonOta.md), and one server layout is shared by every device of a
 * project, so a name is only valid if it yields the same resource whether or not a client
 * escapes it.
 *
 * @module
 */
import * as z from 'zod';
import { LIMITS } from './limits.js';

/**
 * One path segment of a project or file name: printable characters except whitespace, `/` and `\` (path separators, which
 * would move the file into another directory), and `?`, `#`, `%` (which an unescaping client
 * would send as a query, a fragment or an escape). Control and format characters (`\p{C}`, e.g.
 * a newline or U+202E RIGHT-TO-LEFT OVERRIDE) are refused too.
 */
const SEGMENT = String.raw`(?!\.\.?(?:/|$))[^\s\p{C}/\\?#%]+`;

/**
 * The characters of a version tag: those a URL path segment carries raw (RFC 3986 `pchar`
 * without `%`): ASCII letters and digits, `-._~`, the sub-delimiters `!$&'()*+,;=`, `:` and `@`.
 * The reference client builds `{host}/{project}/{version}_{filename}` by concatenation and sends
 * it as is; with these characters the URL otakit builds is the same string, byte for byte, and a
 * server finds the same file whether or not it decodes paths (docs/protocols/micropythonOta.md,
 * "Version tags").
 */
const TAG_CHAR = String.raw`[A-Za-z0-9\-._~!$&'()*+,;=:@]`;

/**
 * A version tag, as the `version` file on the server holds it (e.g. `v1.0.1`): 1–128 characters
 * of {@link TAG_CHAR}, and not `.` or `..` (dot segments). The tag is compared as an opaque
 * string; these rules only keep it a file or directory name that every client addresses alike.
 */
export const VERSION_TAG_PATTERN: RegExp = new RegExp(`^(?!\\.\\.?$)${TAG_CHAR}+$`);

const TAG_CHAR_ONE = new RegExp(`^${TAG_CHAR}$`);

/** The rule, as every tag error states it. */
export const TAG_RULE = `a version tag: 1-${LIMITS.versionTagLength} characters a URL path carries raw (letters, digits, - . _ ~ ! $ & ' ( ) * + , ; = : @), not . or ..`;

/** How an error names a character: quoted when printable ASCII, with its code point otherwise. */
function describeCharacter(character: string): string {
  const code = `U+${character.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
  if (/^[\x21-\x7e]$/.test(character)) return JSON.stringify(character);
  // Invisible characters (spaces, controls, format characters) are named by code point only.
  if (/^[\s\p{C}]$/u.test(character)) return code;
  return `${JSON.stringify(character)} (${code})`;
}

/**
 * Why `value` is not a version tag (the rule, and the first character a URL path cannot carry
 * raw), or `undefined` when it is one.
 */
export function versionTagProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > LIMITS.versionTagLength)
    return TAG_RULE;
  if (value === '.' || value === '..') return TAG_RULE;
  for (const character of value) {
    if (!TAG_CHAR_ONE.test(character)) return `${TAG_RULE}; found ${describeCharacter(character)}`;
  }
  return undefined;
}

/** A project path: one or more segments separated by single `/` (`sample`, `fleet/sample`). */
export const PROJECT_PATTERN: RegExp = new RegExp(`^${SEGMENT}(?:/${SEGMENT})*$`, 'u');

/**
 * A file name relative to the device root, possibly in sub-directories (`lib/util.py`). Absolute
 * paths, empty segments and `..` are refused: the reference writes `tmp/<name>` then `<name>`, so
 * `../boot.py` would escape the staging directory (security notes in
 * docs/protocols/micropythonOta.md).
 */
export const FILENAME_PATTERN: RegExp = PROJECT_PATTERN;

/** `http(s)://authority[/base/path]`, without user info, query or fragment. */
const HOST_PATTERN = /^https?:\/\/[^\s/?#@\\]+(?:\/[^\s/?#\\]+)*\/*$/i;

export const VersionTagSchema = z
  .string({ error: TAG_RULE })
  .max(LIMITS.versionTagLength, { error: TAG_RULE, abort: true })
  // The pattern shows in JSON Schema; the message names the first character it refuses.
  .regex(VERSION_TAG_PATTERN, { error: (issue) => versionTagProblem(issue.input) ?? TAG_RULE });

export const ProjectSchema = z.string().max(LIMITS.projectLength).regex(PROJECT_PATTERN, {
  error: 'a project path (segments of printable characters without whitespace, \\ ? # %; no . or ..)',
});

export const FilenameSchema = z.string().max(LIMITS.filenameLength).regex(FILENAME_PATTERN, {
  error: 'a relative file name (no leading /, no empty, . or .. segments, no whitespace, \\ ? # %)',
});

export const HostSchema = z
  .string()
  .max(LIMITS.hostLength)
  .regex(HOST_PATTERN, {
    error: 'an http(s) URL without credentials, query or fragment (use Basic auth for credentials)',
    abort: true,
  })
  .refine(canParseUrl, { error: 'a parseable http(s) URL' });

function canParseUrl(value: string): boolean {
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

/** Whether `value` is a valid version tag (see {@link VERSION_TAG_PATTERN}). */
export function isVersionTag(value: unknown): value is string {
  return VersionTagSchema.safeParse(value).success;
}

// Python's str.isspace() set: JavaScript's \s minus U+FEFF, plus U+001C–U+001F and U+0085.
const PY_SPACE = String.raw`[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]`;
const PY_STRIP = new RegExp(`^${PY_SPACE}+|${PY_SPACE}+$`, 'g');

/**
 * Python's `str.strip()`, which the reference applies to both version strings. It differs from
 * `String.prototype.trim()` (that one also removes U+FEFF but keeps U+001C–U+001F and U+0085).
 */
export function pyStrip(text: string): string {
  return text.replace(PY_STRIP, '');
}
