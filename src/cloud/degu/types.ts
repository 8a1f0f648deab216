/**
 * What the Degu publisher takes and gives: its options, the per-thing results of its calls, and
 * its events.
 *
 * @module
 */

import type { OtaError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { UpdateState } from '../../core/states.js';
import type { Loss } from '../../protocols/conversion.js';
import type { Target } from '../../protocols/degu/protocol.js';
import type { DeguItem } from '../../protocols/degu/schemas.js';
import type { DeguItemStatus } from '../../protocols/degu/status.js';
import type { Fleet } from '../fleet/fleet.js';
import type { DeviceSnapshot } from '../fleet/types.js';
import type { PublisherStatusEvent } from '../publisher.js';
import type { DeguShadow, DeguShadowFactory } from './shadows.js';

export interface DeguPublisherOptions {
  /**
   * The shadows: a factory that makes one thing's client (`mqttShadows(connection)`,
   * `httpShadows({ endpoint })`, or your own), or a single client when the publisher serves one
   * thing. Clients a factory made are closed by `close()`; a single client stays yours.
   */
  shadow: DeguShadow | DeguShadowFactory;
  /**
   * Where statuses go: one tracker per device, persisted in its store. Give a fleet on a shared
   * store (`otakit/pg`) and a restarted service carries on where the last one stopped.
   * @default a new `Fleet` on the memory store
   */
  fleet?: Fleet;
  /**
   * Once a device reports the ordered MD5s, remove the order's items from `desired` (URL and
   * `*_ver` set to `null`), at the shadow version that showed the success. Not Degu behaviour
   * (the reference system leaves orders in place); tidy, and safe: a newer order stays.
   * @default false
   */
  clearDesiredOnSuccess?: boolean;
  /**
   * How often to read the shadows being watched when the client pushes nothing (REST), in ms.
   * @default 5000
   */
  pollIntervalMs?: number;
  /**
   * Shadows written or read at once by one call over many things.
   * @default 16
   */
  concurrency?: number;
  /** @default noopLogger */
  logger?: Logger;
}

/** Options of a call over many things. */
export interface DeguCallOptions {
  signal?: AbortSignal;
}

/** What a write (`publish`, `withdraw`) did for one thing. */
export interface DeguWriteResult {
  target: Target;
  /** The fleet's device id: the thing name, or `<thing>/<shadow>` for a named shadow. */
  deviceId: string;
  /** The shadow accepted the write. */
  ok: boolean;
  /**
   * The id the order goes by in the fleet: derived from its items and MD5s
   * (`degu:script_user=<md5>,…`), since a Degu order carries no id. `null` for a withdrawal.
   */
  updateId: string | null;
  /** The shadow version after the write; `null` when it failed. */
  version: number | null;
  /** What the Degu order could not carry of the manifest (the same for every thing). */
  lost: Loss[];
  /** Why the write failed (a typed `ShadowRejectedError`, `TimeoutError`…); `null` when it did not. */
  error: OtaError | null;
}

/** One device as the fleet has it, after a read of its shadow. */
export interface DeguReadResult {
  target: Target;
  deviceId: string;
  /** The device in the fleet; `undefined` when it has no shadow yet and the fleet never saw it. */
  device: DeviceSnapshot | undefined;
  /** Why the shadow could not be read; `null` when it was (or does not exist: a 404 is no error). */
  error: OtaError | null;
}

/** Options of `DeguPublisher.waitForSuccess`. */
export interface DeguWaitOptions extends DeguCallOptions {
  /**
   * How long to wait, in ms. Degu devices report only success: this is what tells a failed or
   * absent device from one still at work.
   */
  timeoutMs: number;
  /**
   * The order to wait for, on every thing.
   * @default the order this publisher last wrote to the thing, else the one the fleet follows
   */
  updateId?: string;
}

/** How a wait ended for one thing. */
export interface DeguWaitResult {
  target: Target;
  deviceId: string;
  /**
   * `committed`: the device reports every MD5 of the order (success). `canceled`: the order was
   * withdrawn or replaced before the device ran it. `pending`: the time ran out while the MD5s
   * still differ — on Degu this is also what a failed download, a corrupt artifact or a device
   * that is off look like.
   */
  outcome: 'committed' | 'canceled' | 'pending';
  /** The device's state in the fleet at the end (`null` when the fleet never saw it). */
  state: UpdateState | null;
  /** The order waited for (`null` when there was none to wait for). */
  updateId: string | null;
  /** For `pending`: each item of the order against the MD5 the device last reported. */
  items: DeguItemStatus[];
}

/** The MD5s (and firmware version) a device reports in its shadow. */
export interface DeguVersions {
  script_user_ver?: string;
  config_user_ver?: string;
  firmware_system_ver?: string;
  /** The firmware version string a Degu sensor reports at boot (e.g. `1.0.0-rc1`). */
  firmware_ver?: string;
}

export interface DeguSuccessEvent {
  target: Target;
  deviceId: string;
  updateId: string;
  /** The shadow version whose `reported` matched the order. */
  version: number;
}

export interface DeguClearedEvent {
  target: Target;
  deviceId: string;
  updateId: string;
  /** The items removed from `desired`. */
  items: DeguItem[];
  /** The shadow version after the clearing. */
  version: number;
}

/** A reading not newer than the last one read for the thing: a QoS 1 repeat, or a late message. */
export interface DeguStaleEvent {
  target: Target;
  deviceId: string;
  version: number;
  /** The newest version read before. */
  newest: number;
}

export interface DeguPublisherEvents {
  /** One reading ingested into the fleet (as the generic publisher's `status`). */
  status: [event: PublisherStatusEvent<Target>];
  /** A device reported every MD5 of its order: the update took effect. */
  success: [event: DeguSuccessEvent];
  /** A finished order was removed from `desired` (`clearDesiredOnSuccess`). */
  cleared: [event: DeguClearedEvent];
  /** A reading was dropped as stale. */
  stale: [event: DeguStaleEvent];
  /** A reading, a clearing or a poll failed (nothing is thrown from the background). */
  error: [error: OtaError];
}
