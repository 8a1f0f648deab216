/**
 * The device machine's trust gate: with the `trust` option, an order is checked in `available`,
 * before a byte is fetched (signature against the trust root, expiry, anti-rollback floor, target
 * binding), the floor is raised when an update commits, and a rotated root is adopted. The state
 * it keeps (floor, rotated root) lives in the machine record, so a restart keeps it.
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
} from '../manifest/trust-root.js';
import { checkManifestPolicy, raiseFloor, type VersionOrder } from '../manifest/version-policy.js';
import type { TrustState } from './record.js';

/**
 * The `trust` option of a device machine.
 *
 * @example
 * ```ts
 * createUpdateMachine({
 *   id: 'gw-7',
 *   hooks,
 *   trust: { root: TRUST_ROOT, deviceType: 'gw-2', compareVersions: semverCompare },
 * })
 * ```
 */
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
   * @default the machine id
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

export class TrustGate {
  readonly #options: MachineTrustOptions;
  readonly #root: TrustRoot;
  readonly #deviceId: string;

  constructor(options: MachineTrustOptions, machineId: string) {
    this.#options = options;
    // A bad root is a configuration error the app must see at start-up, not an order refused later.
    this.#root = parseTrustRoot(options.root);
    this.#deviceId = options.deviceId ?? machineId;
    if (options.strictMonotonic && (options.compareVersions ?? 'opaque') === 'opaque') {
      throw new OtaError(
        'CONFIG',
        'trust.strictMonotonic needs trust.compareVersions (semverCompare, integerCompare…)',
      );
    }
  }

  /** The root in force: the persisted rotated one if newer than the configured one. */
  root(state: TrustState | undefined): TrustRoot {
    const rotated = state?.root ?? null;
    return rotated !== null && rotated.version > this.#root.version ? rotated : this.#root;
  }

  /** Throws a `TrustError` (or `MANIFEST_EXPIRED`) unless the device may start `manifest`. */
  async check(
    manifest: Manifest,
    state: TrustState | undefined,
    current: string | null,
    now: number,
  ): Promise<void> {
    const requireSignature = this.#options.requireSignature ?? true;
    const policy = {
      now,
      floor: state?.floor ?? null,
      current,
      strictMonotonic: this.#options.strictMonotonic ?? false,
      deviceId: this.#deviceId,
      minIntegrity: this.#options.minIntegrity ?? (requireSignature ? 'md5' : 'none'),
      ...(this.#options.compareVersions === undefined
        ? {}
        : { compareVersions: this.#options.compareVersions }),
      ...(this.#options.deviceType === undefined ? {} : { deviceType: this.#options.deviceType }),
    } as const;
    // Signature first: nothing else in an unsigned or forged order deserves to be believed.
    if (requireSignature || manifest.signature !== undefined) {
      await verifyManifestSignature(manifest, this.root(state), {
        now,
        ...(this.#options.backend === undefined ? {} : { backend: this.#options.backend }),
      });
    }
    checkManifestPolicy(manifest, policy);
  }

  /** The state to persist with `committed`: the floor raised by `manifest`. */
  committed(state: TrustState | undefined, manifest: Manifest): TrustState {
    const floor = raiseFloor(state?.floor ?? null, manifest, {
      strictMonotonic: this.#options.strictMonotonic ?? false,
      ...(this.#options.compareVersions === undefined
        ? {}
        : { compareVersions: this.#options.compareVersions }),
    });
    return { ...(state ?? EMPTY), floor };
  }

  /** The state to persist after adopting `next` (rejects with `root_rejected`). */
  async rotate(
    state: TrustState | undefined,
    next: SignedRoot | SignedRootInput,
    now: number,
  ): Promise<TrustState> {
    const root = await rotateRoot(this.root(state), next, {
      now,
      ...(this.#options.backend === undefined ? {} : { backend: this.#options.backend }),
    });
    return { ...(state ?? EMPTY), root };
  }
}
