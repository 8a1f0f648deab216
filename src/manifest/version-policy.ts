/**
 * What a device checks about an order besides its signature: freshness (`expiresAt`, freeze
 * attacks), the anti-rollback floor (`minVersion`, under a pluggable version order) and the target
 * binding (`compatibility.deviceTypes` / `deviceIds`, wrong-target and mix-and-match attacks).
 * All of it runs before a byte is fetched.
 *
 * @module
 */
import { OtaError, TrustError } from '../core/errors.js';
import { isManifestExpired, type Manifest, type ManifestIntegrity, manifestIntegrity } from './schema.js';

/** Orders two versions: negative when `a` < `b`, 0 when equal, positive when `a` > `b`. */
export type VersionComparator = (a: string, b: string) => number;

/**
 * How a device orders versions: a comparator, or `'opaque'` when versions have no order (an MD5,
 * a build hash): then there is no floor and `minVersion` is not enforced.
 */
export type VersionOrder = VersionComparator | 'opaque';

const quote = (version: string) => JSON.stringify(version.length > 64 ? `${version.slice(0, 64)}…` : version);

const invalid = (version: string, expected: string) =>
  new TrustError('invalid_version', `version ${quote(version)}: expected ${expected}`, { field: 'version' });

/** Compares two strings of decimal digits without leading zeros, of any length. */
function compareDigits(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

const NUMERIC = /^(0|[1-9][0-9]*)$/;
const SEMVER =
  /^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:-((?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

/**
 * Semantic Versioning 2.0.0 precedence (§11): major, minor, patch numerically; a pre-release is
 * lower than its release; pre-release identifiers compare numerically when both are numeric,
 * numeric below alphanumeric, else in ASCII order, and a shorter list is lower; build metadata
 * (`+…`) is ignored. A leading `v` is accepted. Numbers of any size are compared exactly.
 * @throws TrustError (`invalid_version`) for a string that is not semver.
 *
 * @example
 * ```ts
 * semverCompare('1.0.0-rc.1', '1.0.0') // < 0
 * ```
 */
export const semverCompare: VersionComparator = (a, b) => {
  const left = SEMVER.exec(a);
  if (!left) throw invalid(a, 'a semantic version (MAJOR.MINOR.PATCH[-pre][+build])');
  const right = SEMVER.exec(b);
  if (!right) throw invalid(b, 'a semantic version (MAJOR.MINOR.PATCH[-pre][+build])');
  for (let index = 1; index <= 3; index++) {
    const order = compareDigits(left[index]!, right[index]!);
    if (order !== 0) return Math.sign(order);
  }
  const [preA, preB] = [left[4], right[4]];
  if (preA === undefined || preB === undefined) {
    // A release outranks its pre-releases.
    return preA === preB ? 0 : preA === undefined ? 1 : -1;
  }
  const idsA = preA.split('.');
  const idsB = preB.split('.');
  for (let index = 0; index < Math.min(idsA.length, idsB.length); index++) {
    const [x, y] = [idsA[index]!, idsB[index]!];
    const [xNumeric, yNumeric] = [NUMERIC.test(x), NUMERIC.test(y)];
    let order: number;
    if (xNumeric && yNumeric) order = compareDigits(x, y);
    else if (xNumeric !== yNumeric) order = xNumeric ? -1 : 1;
    else order = x < y ? -1 : x > y ? 1 : 0;
    if (order !== 0) return Math.sign(order);
  }
  return Math.sign(idsA.length - idsB.length);
};

/**
 * Monotonic integer versions (a build number, a Degu-style counter): non-negative decimal
 * integers without leading zeros, of any size.
 * @throws TrustError (`invalid_version`) for anything else.
 */
export const integerCompare: VersionComparator = (a, b) => {
  if (!NUMERIC.test(a)) throw invalid(a, 'a non-negative decimal integer without leading zeros');
  if (!NUMERIC.test(b)) throw invalid(b, 'a non-negative decimal integer without leading zeros');
  return Math.sign(compareDigits(a, b));
};

/** No order: the floor is off. Use it where versions are hashes or names. */
export const opaque = 'opaque' as const;

/** The greater of two versions under `order`, `null` standing for "none". */
export function maxVersion(order: VersionOrder, a: string | null, b: string | null): string | null {
  if (order === 'opaque') return null;
  if (a === null) return b;
  if (b === null) return a;
  return order(b, a) > 0 ? b : a;
}

export interface ManifestPolicy {
  /** The current time, ms since the epoch. */
  now: number;
  /** @default 'opaque' (no floor) */
  compareVersions?: VersionOrder;
  /**
   * The device's anti-rollback floor: the greatest `minVersion` of every update it committed
   * (and, with `strictMonotonic`, the greatest version it committed). `null`: none yet.
   */
  floor?: string | null;
  /** The version the device runs now (its last committed update). */
  current?: string | null;
  /**
   * Refuse any version not strictly greater than `current` (not merely not below the floor).
   * @default false
   */
  strictMonotonic?: boolean;
  /**
   * This device's type (hardware model). An order naming `compatibility.deviceTypes` is refused
   * unless it lists it, and refused when the device does not know its type (fail closed).
   */
  deviceType?: string;
  /** This device's id, checked against `compatibility.deviceIds` the same way. */
  deviceId?: string;
  /**
   * The weakest artifact digest accepted (`manifestIntegrity`): an artifact without a digest is
   * not covered by the manifest's signature.
   * @default 'none'
   */
  minIntegrity?: ManifestIntegrity;
}

const INTEGRITY_RANK: Record<ManifestIntegrity, number> = { none: 0, md5: 1, sha256: 2 };

/**
 * Refuses an order the device must not start: expired (`OtaError` `MANIFEST_EXPIRED`), or a
 * {@link TrustError}: `below_floor` (version below the floor, below its own `minVersion`, or not
 * above `current` with `strictMonotonic`), `invalid_version`, `wrong_target`, `weak_integrity`.
 *
 * @example
 * ```ts
 * checkManifestPolicy(manifest, { now: Date.now(), compareVersions: semverCompare, floor: '2.0.0', deviceType: 'gw-2' })
 * ```
 */
export function checkManifestPolicy(manifest: Manifest, policy: ManifestPolicy): void {
  if (isManifestExpired(manifest, policy.now)) {
    throw new OtaError(
      'MANIFEST_EXPIRED',
      `Update ${manifest.id} expired at ${manifest.expiresAt} (expiresAt)`,
    );
  }
  checkTarget(manifest, 'deviceTypes', policy.deviceType, 'device type');
  checkTarget(manifest, 'deviceIds', policy.deviceId, 'device id');
  const minIntegrity = policy.minIntegrity ?? 'none';
  const integrity = manifestIntegrity(manifest);
  if (INTEGRITY_RANK[integrity] < INTEGRITY_RANK[minIntegrity]) {
    throw new TrustError(
      'weak_integrity',
      `manifest ${manifest.id} artifacts: expected every artifact to carry ${minIntegrity === 'sha256' ? 'a sha256' : 'an md5 or sha256'} digest, the weakest has ${integrity === 'none' ? 'none' : 'only md5'}`,
      { field: 'artifacts' },
    );
  }
  const order = policy.compareVersions ?? opaque;
  if (order === 'opaque') return;
  const { version } = manifest;
  // Read the version even when there is nothing to compare it with yet: one the comparator cannot
  // read would otherwise be committed and then make every later order unreadable against the floor.
  order(version, version);
  const below = (limit: string, what: string, strict = false) => {
    const cmp = order(version, limit);
    if (cmp < 0 || (strict && cmp === 0)) {
      throw new TrustError(
        'below_floor',
        `manifest ${manifest.id} version ${quote(version)}: expected ${strict ? 'greater than' : 'at least'} ${what} ${quote(limit)}`,
        { field: 'version' },
      );
    }
  };
  if (manifest.minVersion !== undefined) below(manifest.minVersion, 'its own minVersion');
  if (policy.floor != null) below(policy.floor, "the device's anti-rollback floor");
  if (policy.strictMonotonic && policy.current != null) below(policy.current, 'the committed version', true);
}

function checkTarget(
  manifest: Manifest,
  field: 'deviceTypes' | 'deviceIds',
  mine: string | undefined,
  what: string,
): void {
  const allowed = manifest.compatibility?.[field];
  if (allowed === undefined || (mine !== undefined && allowed.includes(mine))) return;
  throw new TrustError(
    'wrong_target',
    mine === undefined
      ? `manifest ${manifest.id} compatibility.${field}: the order is bound to specific ${what}s and this device has no ${what} configured`
      : `manifest ${manifest.id} compatibility.${field}: expected to list this device's ${what} ${quote(mine)}`,
    { field: `compatibility.${field}` },
  );
}

/**
 * The floor after committing `manifest`: the greatest of `floor`, its `minVersion`, and (with
 * `strictMonotonic`) its version. `null` with an opaque order.
 */
export function raiseFloor(
  floor: string | null,
  manifest: Pick<Manifest, 'version' | 'minVersion'>,
  options: { compareVersions?: VersionOrder; strictMonotonic?: boolean } = {},
): string | null {
  const order = options.compareVersions ?? opaque;
  let next = maxVersion(order, floor, manifest.minVersion ?? null);
  if (options.strictMonotonic) next = maxVersion(order, next, manifest.version);
  return next;
}
