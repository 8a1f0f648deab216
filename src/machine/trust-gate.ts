/**
 * The device machine's trust gate: with the `trust` option (a gate made by `createTrustGate`), an
 * order is checked in `available`,
 * before a byte is fetched (signature against the trust root, expiry, anti-rollback floor, target
 * binding), the floor is raised when an update commits, and a rotated root is adopted. The state
 * it keeps (floor, rotated root) lives in the machine record, so a restart keeps it.
 *
 * The machine takes a gate object rather than plain options so that it imports this module's code
 * only by type: an app that does not sign orders does not bundle Ed25519, canonical JSON and the
 * version policy (the machine bundle budget).
 *
 * @module
 */
import { OtaError } from '../core/errors.js';
import type { Ed25519Options } from '../manifest/ed25519.js';
import type { Manifest, ManifestIntegrity } from '../manifest/schema.js';
import { rotateRoot, verifyManifestSignature } from '../manifest/trust.js';
import {
  parseTrustRoot,
  type SignedRoot,
  type SignedRootInput,
  type TrustRoot,
  type TrustRootInput,
  trustRootOrThrow,
} from '../manifest/trust-root.js';
import { checkManifestPolicy, raiseFloor, type VersionOrder } from '../manifest/version-policy.js';
import type { TrustState } from './record.js';

/** What {@link createTrustGate} takes. */
export interface MachineTrustOptions extends Ed25519Options {
  /**
   * The trust root shipped with the device. A root adopted later by `rotateTrustRoot()` is
   * persisted and wins while its version is greater than this one's (so shipping a newer root in
   * firmware also works).
   */
  root: TrustRoot | TrustRootInput;
  /**
   * Refuse orders without a signature. With `false`, unsigned orders pass (a fleet migrating to
   * signing) but a signature that is present is still verified.
   * @default true
   */
  requireSignature?: boolean;
  /** This device's hardware type, checked against `compatibility.deviceTypes`. */
  deviceType?: string;
  /**
   * This device's id, checked against `compatibility.deviceIds`.
   * @default the id of the machine using the gate
   */
  deviceId?: string;
  /**
   * How versions are ordered for the anti-rollback floor. `'opaque'` (versions are hashes or
   * names) turns the floor off; `semverCompare` or `integerCompare` turn it on.
   * @default 'opaque'
   */
  compareVersions?: VersionOrder;
  /**
   * Refuse any version not greater than the committed one (and make every committed version part
   * of the floor). Needs a comparator.
   * @default false
   */
  strictMonotonic?: boolean;
  /**
   * The weakest artifact digest accepted: an artifact without one is not covered by the signature.
   * @default 'md5' when `requireSignature`, else 'none'
   */
  minIntegrity?: ManifestIntegrity;
}

const EMPTY: TrustState = { floor: null, root: null };

/**
 * What a device machine calls, at the points where trust matters. Made by {@link createTrustGate};
 * an app may wrap one (to log, to count refusals) as long as it keeps the semantics.
 */
export interface TrustGate {
  /** The root in force: the persisted rotated one if newer than the configured one. */
  root(state: TrustState | undefined): TrustRoot;
  /** Rejects with a `TrustError` (or `MANIFEST_EXPIRED`) unless the device may start `manifest`. */
  check(manifest: Manifest, context: TrustCheckContext): Promise<void>;
  /** The state to persist with `committed`: the floor raised by `manifest`. */
  committed(state: TrustState | undefined, manifest: Manifest): TrustState;
  /** The state to persist after adopting `next`; rejects with `root_rejected`. */
  rotate(state: TrustState | undefined, next: SignedRoot | SignedRootInput, now: number): Promise<TrustState>;
}

export interface TrustCheckContext {
  state: TrustState | undefined;
  /** The committed version, or `null`. */
  current: string | null;
  now: number;
  machineId: string;
}

/**
 * Makes the `trust` option of a device machine: orders must be signed under `root` (k of n) and
 * meet the version floor and the target binding, checked before any download.
 * @throws ManifestError for an invalid root; an `OtaError` `CONFIG` for `strictMonotonic` without
 * a comparator.
 *
 * @example
 * ```ts
 * createUpdateMachine({
 *   id: 'gw-7',
 *   hooks,
 *   trust: createTrustGate({ root: TRUST_ROOT, deviceType: 'gw-2', compareVersions: semverCompare }),
 * })
 * ```
 */
export function createTrustGate(options: MachineTrustOptions): TrustGate {
  // A bad root is a configuration error the app must see at start-up, not an order refused later.
  const configured = parseTrustRoot(options.root);
  if (options.strictMonotonic && (options.compareVersions ?? 'opaque') === 'opaque') {
    throw new OtaError(
      'CONFIG',
      'trust.strictMonotonic needs trust.compareVersions (semverCompare, integerCompare…)',
    );
  }
  const backend = options.backend === undefined ? {} : { backend: options.backend };
  const order = options.compareVersions === undefined ? {} : { compareVersions: options.compareVersions };
  const strictMonotonic = options.strictMonotonic ?? false;
  const requireSignature = options.requireSignature ?? true;

  const root = (state: TrustState | undefined): TrustRoot => {
    if (state?.root == null) return configured;
    // Persisted as plain JSON: validated on every use, and a corrupt one refuses (fails closed).
    const rotated = trustRootOrThrow(state.root, 'persisted trust root');
    return rotated.version > configured.version ? rotated : configured;
  };

  return {
    root,
    async check(manifest, { state, current, now, machineId }) {
      // Signature first: nothing else in an unsigned or forged order deserves to be believed.
      if (requireSignature || manifest.signature !== undefined) {
        await verifyManifestSignature(manifest, root(state), { now, ...backend });
      }
      checkManifestPolicy(manifest, {
        now,
        floor: state?.floor ?? null,
        current,
        strictMonotonic,
        deviceId: options.deviceId ?? machineId,
        minIntegrity: options.minIntegrity ?? (requireSignature ? 'md5' : 'none'),
        ...order,
        ...(options.deviceType === undefined ? {} : { deviceType: options.deviceType }),
      });
    },
    committed(state, manifest) {
      return {
        ...(state ?? EMPTY),
        floor: raiseFloor(state?.floor ?? null, manifest, { strictMonotonic, ...order }),
      };
    },
    async rotate(state, next, now) {
      const adopted = await rotateRoot(root(state), next, { now, ...backend });
      // A validated root is plain JSON (its optional members are absent, never undefined).
      return { ...(state ?? EMPTY), root: adopted as TrustState['root'] };
    },
  };
}
