/**
 * What addresses one Degu: the AWS IoT thing its gateway registered (named after the sensor's
 * MAC) and, for a deployment that keeps the update keys in a named shadow, that shadow's name.
 * The reference gateway uses the classic (unnamed) shadow.
 *
 * @module
 */
import * as z from 'zod';
import { parseWith } from '../../core/validate.js';
import { ShadowNameSchema, ThingNameSchema } from './names.js';
import type { ShadowAddress } from './topics.js';

/**
 * One device's shadow. The thing name is checked by the AWS rules, not the Degu convention (12 or
 * 16 uppercase hex characters, see `DeguThingNameSchema`): which length the gateway registers is
 * not documented, and a self-hosted service may name things otherwise. Either way, a name that
 * could reach into another thing's topics (`/`, `+`, `#`) is refused.
 */
export const TargetSchema = z.strictObject({
  /** The AWS IoT thing name, e.g. `A1B2C3D4E5F60718`. */
  thingName: ThingNameSchema,
  /** A named shadow; absent for the classic shadow (the Degu default). */
  shadowName: ShadowNameSchema.optional(),
});

/**
 * One Degu on AWS IoT Device Shadow. It carries no credential: the device authenticates with its
 * X.509 certificate on the connection, not in any message.
 *
 * @example
 * ```ts
 * const classic: Target = { thingName: 'A1B2C3D4E5F60718' }
 * const named: Target = { thingName: 'A1B2C3D4E5F60718', shadowName: 'ota' }
 * ```
 */
export type Target = z.output<typeof TargetSchema>;

/**
 * `target` validated, as the shadow address the topic builders take.
 *
 * @throws ManifestError (`MANIFEST_INVALID`) naming `thingName` or `shadowName` and the rule.
 */
export function parseTarget(target: unknown): ShadowAddress {
  const { thingName, shadowName } = parseWith(TargetSchema, target, 'Degu target');
  return shadowName === undefined ? { thingName } : { thingName, shadowName };
}

/** Whether a parsed topic addresses the same shadow as `address`. */
export function isSameShadow(address: ShadowAddress, other: ShadowAddress): boolean {
  return address.thingName === other.thingName && address.shadowName === other.shadowName;
}
