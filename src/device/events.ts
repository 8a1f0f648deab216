/**
 * The typed events of a device agent: the machine's own (`transition`, `progress`, `report`),
 * what the agent did with each order, and every non-fatal problem.
 *
 * @module
 */
import type { OtaError } from '../core/errors.js';
import type { UpdateRef } from '../core/status.js';
import type { ProgressEvent, ReportEvent, TransitionEvent } from '../machine/events.js';
import type { UpdateOutcome } from '../machine/record.js';
import type { Manifest } from '../manifest/schema.js';
import type { Loss } from '../protocols/conversion.js';

/** An order decoded from the platform's message. */
export interface OrderEvent {
  manifest: Manifest;
  /** What the canonical manifest could not take from the wire message. */
  lost: Loss[];
  /** The topic, subject or URL it came from. */
  address: string;
}

/**
 * Why an order led to no update:
 * - `no_order`: the message holds none (an empty retained message, "up to date", a 304);
 * - `already_installed`: the update the device runs (a replayed or re-delivered order);
 * - `duplicate`: the update running right now;
 * - `superseded`: a newer order arrived while this one waited;
 * - `not_approved`: the `approve` option said no (it stays available for `apply()`).
 */
export type IgnoredReason = 'no_order' | 'already_installed' | 'duplicate' | 'superseded' | 'not_approved';

export interface IgnoredEvent {
  reason: IgnoredReason;
  update: UpdateRef | null;
  address: string | null;
}

export interface DeviceAgentEvents {
  transition: (event: TransitionEvent) => void;
  progress: (event: ProgressEvent) => void;
  report: (event: ReportEvent) => void;
  order: (event: OrderEvent) => void;
  ignored: (event: IgnoredEvent) => void;
  /** An update ran to an end (or to `installed`, awaiting a reboot). */
  outcome: (outcome: UpdateOutcome) => void;
  /**
   * Non-fatal problems: an order that could not be decoded, a poll or a status send that
   * failed, a channel that dropped. The agent keeps running.
   */
  error: (error: OtaError) => void;
}
