/**
 * The simulator's typed events (eventemitter3). Each names the device it is about. Nothing is
 * built for an event nobody listens to, so a 10 000-device run without listeners pays nothing.
 *
 * @module
 */
import type { OtaError, SerializedOtaError } from '../../core/errors.js';
import type { TerminalState } from '../../core/states.js';
import type { UpdateRef, UpdateStatus } from '../../core/status.js';
import type { Manifest } from '../../manifest/schema.js';
import type { WireMessage } from '../../protocols/contract.js';
import type { Loss } from '../../protocols/conversion.js';

/** Why an order was not run. */
export type FleetIgnoredReason =
  /** The update it orders is running on the device now. */
  | 'duplicate'
  /** The device runs that update already (a replayed or retained order): never installed twice. */
  | 'already_installed'
  /** A newer order arrived while an update ran: this one, waiting, was dropped for it. */
  | 'superseded';

export interface FleetSimulatorEvents {
  /** A message decoded to an order (silent devices included). */
  order: [event: { deviceId: string; manifest: Manifest; lost: Loss[]; address: string }];
  /** An order the device did not run. */
  ignored: [event: { deviceId: string; reason: FleetIgnoredReason; update: UpdateRef }];
  /**
   * A status the device reported, and the wire messages it sent for it (`[]` where the platform
   * has no word). Message headers may hold a device's credentials: redact before printing.
   */
  status: [event: { deviceId: string; status: UpdateStatus; messages: readonly WireMessage[] }];
  /** An update committed; `count` is how many times this device installed this update id. */
  installed: [event: { deviceId: string; update: UpdateRef; count: number }];
  /** An update ended (committed or failed). */
  outcome: [
    event: { deviceId: string; state: TerminalState; update: UpdateRef; error: SerializedOtaError | null },
  ];
  /** The device dropped off (`offline`) or went quiet for a reboot (`reboot`), until `until` (clock ms). */
  offline: [event: { deviceId: string; reason: 'offline' | 'reboot'; until: number }];
  /** The device is back: listening again, its boot report sent. */
  online: [event: { deviceId: string }];
  /**
   * Something went wrong that a real agent would log and survive: an order that does not decode,
   * a status the channel refused, a subscription that failed. Never thrown.
   */
  error: [event: { deviceId: string; error: OtaError }];
}
