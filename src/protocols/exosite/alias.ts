/**
 * Resource aliases (`config_otau`, `otau_in`, …) appear in URLs, form bodies and MQTT topics.
 * One rule for all three keeps a hostile or mistyped alias from changing the meaning of any of
 * them (a `/` or `#` in a topic, a `&` or `=` in a form).
 *
 * @module
 */
import * as z from 'zod';
import { OtaError } from '../../core/errors.js';
import { LIMITS } from './limits.js';

/** The resource a platform writes the OTAU manifest to (and the device echoes to acknowledge). */
export const CONFIG_OTAU = 'config_otau';
/** The resource a device writes OTAU status to. */
export const OTAU_IN = 'otau_in';

/**
 * What otakit accepts as an alias: letters, digits, `_`, `-` and `.`, 1 to
 * {@link LIMITS.aliasLength} characters. Murano's own aliases (`config_otau`, `data_in`) fit;
 * anything that needs escaping in a topic or a URL does not.
 */
export const ALIAS_PATTERN = /^[A-Za-z0-9_.-]+$/;

const ALIAS_EXPECTED = `a resource alias (letters, digits, "_", "-", "."; at most ${LIMITS.aliasLength} characters)`;

/** Zod schema of an alias. */
export const AliasSchema = z
  .string({ error: ALIAS_EXPECTED })
  .min(1, { error: ALIAS_EXPECTED })
  .max(LIMITS.aliasLength, { error: ALIAS_EXPECTED })
  .regex(ALIAS_PATTERN, { error: ALIAS_EXPECTED });

/** Whether `value` is an alias otakit accepts. */
export function isAlias(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length > 0 &&
    value.length <= LIMITS.aliasLength &&
    ALIAS_PATTERN.test(value)
  );
}

/**
 * Throws a `CONFIG` error unless `alias` is valid. Builders call this on their arguments; the
 * error names the rule, not the value.
 */
export function assertAlias(alias: unknown): asserts alias is string {
  if (!isAlias(alias)) throw new OtaError('CONFIG', `Invalid Exosite alias: expected ${ALIAS_EXPECTED}`);
}
