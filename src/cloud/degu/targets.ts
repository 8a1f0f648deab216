/**
 * The devices a Degu publisher call is for: a thing name, a Degu target (thing + named shadow),
 * or a list of them. Each is checked by the AWS naming rules before anything is sent, and named
 * the way the fleet names the device.
 *
 * @module
 */
import { ManifestError } from '../../core/errors.js';
import { parseWith } from '../../core/validate.js';
import { type Target, TargetSchema } from '../../protocols/degu/target.js';
import type { ShadowAddress } from '../../protocols/degu/topics.js';

/** One device: its thing name, or its Degu target (`{ thingName, shadowName? }`). */
export type DeguThing = string | Target;

/** One device, a list of them. */
export type DeguThings = DeguThing | readonly DeguThing[];

/**
 * The device id a target stands for in the fleet: the thing name, or `<thing>/<shadow>` for a
 * named shadow (as the Degu agent names itself), so two shadows of one thing stay two devices.
 */
export function deviceIdOf(target: Target): string {
  return target.shadowName === undefined ? target.thingName : `${target.thingName}/${target.shadowName}`;
}

/** The shadow a target addresses (no `shadowName` key at all for the classic shadow). */
export function addressOf(target: Target): ShadowAddress {
  return target.shadowName === undefined
    ? { thingName: target.thingName }
    : { thingName: target.thingName, shadowName: target.shadowName };
}

/**
 * The targets of `things`, validated, without repeats (the same shadow twice is written once).
 * @throws ManifestError naming `things[i].thingName` (or `shadowName`) and the rule it breaks.
 */
export function toTargets(things: DeguThings): Target[] {
  const list: readonly DeguThing[] =
    typeof things === 'string' || !Array.isArray(things) ? [things as DeguThing] : things;
  if (list.length === 0) {
    throw new ManifestError('Degu publisher things', [{ path: 'things', expected: 'at least one thing' }]);
  }
  const seen = new Map<string, Target>();
  list.forEach((thing, index) => {
    const raw = typeof thing === 'string' ? { thingName: thing } : thing;
    const target = parseWith(TargetSchema, raw, `Degu publisher things[${index}]`) as Target;
    const id = deviceIdOf(target);
    if (!seen.has(id)) seen.set(id, target);
  });
  return [...seen.values()];
}
