/**
 * Character classes shared by the Connhex codec.
 *
 * @module
 */

/**
 * One C0 control character or DEL. Refused in versions, ids, paths and file names (a line
 * break there could forge a log line or a header), replaced in texts put on the bus.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
export const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/** Runs of control characters, for replacing them. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]+/g;
