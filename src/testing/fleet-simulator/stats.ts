/**
 * The fleet in numbers, for tests and benchmarks: devices per state, updates under way, installs,
 * and the messages that went over the wire. Message and install totals are kept as they happen;
 * the states are counted over the devices when asked (one pass, no allocation per device).
 *
 * @module
 */
import { UPDATE_STATES, type UpdateState } from '../../core/states.js';
import type { FleetDevice } from './fleet-device.js';

export interface FleetStats {
  /** Devices simulated. */
  devices: number;
  /** Devices per state each last reported (every state present, 0 when none is in it). */
  byState: Record<UpdateState, number>;
  /** Updates under way now. */
  running: number;
  /** Devices away now (offline or rebooting). */
  offline: number;
  /** Devices that run an update (anything installed). */
  withInstalled: number;
  /** Commits, all devices and updates together. */
  installs: number;
  /** Messages that decoded to an order. */
  ordersReceived: number;
  /** Messages heard on order sources (poll answers included). */
  messagesReceived: number;
  /** Wire messages sent (statuses, boot reports, replies). */
  messagesSent: number;
  /** `error` events (undecodable orders, refused messages), listened to or not. */
  errors: number;
}

export function fleetStats(
  devices: Iterable<FleetDevice<unknown>>,
  totals: {
    sent: number;
    received: number;
    orders: number;
    installs: number;
    errors: number;
    running: number;
  },
): FleetStats {
  const byState = Object.fromEntries(UPDATE_STATES.map((state) => [state, 0])) as Record<UpdateState, number>;
  let count = 0;
  let offline = 0;
  let withInstalled = 0;
  for (const device of devices) {
    count++;
    byState[device.state]++;
    if (device.offlineUntil !== 0) offline++;
    if (device.installed !== null) withInstalled++;
  }
  return {
    devices: count,
    byState,
    running: totals.running,
    offline,
    withInstalled,
    installs: totals.installs,
    ordersReceived: totals.orders,
    messagesReceived: totals.received,
    messagesSent: totals.sent,
    errors: totals.errors,
  };
}
