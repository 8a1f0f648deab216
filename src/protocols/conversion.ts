/**
 * The shared vocabulary of protocol codecs: what a conversion to or from the canonical model
 * returns, what it lost on the way, and how a system's status words map onto canonical states.
 * Protocol folders import only this (and core), never each other.
 *
 * @module
 */
import type { UpdateState } from '../core/states.js';

/** Something a conversion could not carry, and why. */
export interface Loss {
  /** Path in the source value, e.g. `artifacts[1].sha256`. */
  field: string;
  /** Why it was dropped, e.g. `Exosite manifests carry no digest`. */
  reason: string;
}

/** A converted value, with the list of what the target format could not express. */
export interface Conversion<T> {
  value: T;
  lost: Loss[];
}

/**
 * One system's status vocabulary against the canonical states. `toCanonical` maps every wire
 * value; `fromCanonical` maps every canonical state to the wire value that represents it, or to
 * `null` when the system cannot express it (then a device using that system says nothing).
 */
export interface StatusMapping<Wire extends string | number> {
  system: string;
  toCanonical: Readonly<Record<Wire, UpdateState>>;
  fromCanonical: Readonly<Record<UpdateState, Wire | null>>;
  /** Why some canonical states have no wire value, for documentation. */
  notes?: Readonly<Partial<Record<UpdateState, string>>>;
}
