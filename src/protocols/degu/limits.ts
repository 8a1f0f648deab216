/**
 * The documented limits of AWS IoT Device Shadow and of this codec. Every decoder checks the
 * byte limit before parsing, so an oversized payload costs a length comparison, not a parse.
 *
 * @module
 */

export const LIMITS = {
  /**
   * Bytes of `desired` + `reported` state one shadow may hold (AWS: "The device's shadow supports
   * 8 KB of data only"; beyond it the service answers 413). Metadata does not count. Checked on
   * request documents (decoded, encoded, or applied by `shadowModel.applyUpdate` of
   * `otakit/testing`) as the UTF-8 length of the compact JSON of `{desired, reported}` — AWS does
   * not say how it counts whitespace.
   */
  stateBytes: 8192,
  /**
   * Bytes of any one shadow message off the wire: the AWS IoT Core MQTT payload limit (128 KB).
   * Responses may legitimately exceed {@link LIMITS.stateBytes} (metadata, `delta`, and the two
   * states of `/update/documents`), but never this.
   */
  messageBytes: 131_072,
  /** UTF-8 bytes of a `clientToken` (AWS: longer is a 400 "Invalid clientToken"). */
  clientTokenBytes: 64,
  /**
   * Levels of nesting inside `desired` or `reported`, the section object counting as level 1
   * (AWS error "JSON contains too many levels of nesting; maximum is 6"; how AWS counts the
   * levels is not documented).
   */
  stateDepth: 6,
  /**
   * Nesting of a whole message, checked before schema validation (hardening, not an AWS rule):
   * a 128 KB payload of `[[[[…` would otherwise exhaust the stack of a recursive validator.
   */
  messageDepth: 32,
  /** Characters of a thing name (AWS: 1–128, `[a-zA-Z0-9:_-]+`). */
  thingNameLength: 128,
  /** Characters of a shadow name (AWS: 1–64, `[$a-zA-Z0-9:_-]+`). */
  shadowNameLength: 64,
  /** Characters of a Degu download URL accepted by this codec (hardening; Degu states none). */
  urlLength: 2048,
} as const;
