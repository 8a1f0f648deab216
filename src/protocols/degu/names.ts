/**
 * Thing and shadow names, validated by the AWS rules before they go into a topic or a URL: a name
 * with `/`, `#` or `+` would address (or subscribe to) someone else's topics.
 *
 * @module
 */
import * as z from 'zod';
import { parseWith } from '../../core/validate.js';
import { LIMITS } from './limits.js';

/** AWS IoT thing name: 1–128 characters of `[a-zA-Z0-9:_-]`. */
export const ThingNameSchema = z
  .string()
  .min(1, { error: 'a non-empty thing name' })
  .max(LIMITS.thingNameLength, { error: `a thing name of at most ${LIMITS.thingNameLength} characters` })
  .regex(/^[a-zA-Z0-9:_-]+$/, { error: 'a thing name of letters, digits, ":", "_" and "-" only' });

/**
 * AWS IoT named-shadow name: 1–64 characters of `[$a-zA-Z0-9:_-]`. The `$` is allowed because
 * AWS reserves `$`-prefixed names for its own shadows (e.g. `$package`), which clients address.
 */
export const ShadowNameSchema = z
  .string()
  .min(1, { error: 'a non-empty shadow name' })
  .max(LIMITS.shadowNameLength, { error: `a shadow name of at most ${LIMITS.shadowNameLength} characters` })
  .regex(/^[$a-zA-Z0-9:_-]+$/, { error: 'a shadow name of letters, digits, "$", ":", "_" and "-" only' });

/**
 * A Degu thing name: the sensor's MAC in uppercase hex, as entered at registration. The docs
 * speak of the 12-character code printed next to the QR code, the firmware uses the 16-character
 * EUI-64; which one the gateway uses is not documented, so both are accepted.
 */
export const DeguThingNameSchema = z.string().regex(/^(?:[0-9A-F]{12}|[0-9A-F]{16})$/, {
  error: '12 or 16 uppercase hex characters (Degu MAC / EUI-64)',
});

/** Whether `name` is a valid AWS IoT thing name. */
export function isThingName(name: unknown): name is string {
  return ThingNameSchema.safeParse(name).success;
}

/** Whether `name` is a valid AWS IoT shadow name. */
export function isShadowName(name: unknown): name is string {
  return ShadowNameSchema.safeParse(name).success;
}

/** @throws ManifestError (`MANIFEST_INVALID`, path `thingName`) when `name` is not a valid thing name. */
export function assertThingName(name: unknown): asserts name is string {
  parseWith(z.object({ thingName: ThingNameSchema }), { thingName: name }, 'thing name');
}

/** @throws ManifestError (`MANIFEST_INVALID`, path `shadowName`) when `name` is not a valid shadow name. */
export function assertShadowName(name: unknown): asserts name is string {
  parseWith(z.object({ shadowName: ShadowNameSchema }), { shadowName: name }, 'shadow name');
}
