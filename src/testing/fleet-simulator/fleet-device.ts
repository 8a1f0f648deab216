/**
 * One simulated device: a handful of fields and nothing else. No update machine, no store, no
 * timers while it rests: 10 000 of them must fit in one process beside the broker connection they
 * share, so everything a device does lives in the runtime's functions, and a device is only the
 * state those functions read and write. Fields are all set in the constructor, so every device
 * has the same shape (one hidden class for the engine).
 *
 * @module
 */
import type { TimerHandle } from '../../core/clock.js';
import type { UpdateState } from '../../core/states.js';
import type { UpdateRef } from '../../core/status.js';
import type { JsonValue } from '../../core/store.js';
import type { Manifest } from '../../manifest/schema.js';
import type { Channels, StopListening } from '../../transport/channel.js';
import type { FailureKind, FailureRule } from './options.js';

export class FleetDevice<Target> {
  readonly id: string;
  readonly target: Target;
  /** Its own channels (over the shared ones), or `undefined`. */
  readonly channels: Channels | undefined;
  /** The failure rule that picked it, or `null`. */
  readonly fault: FailureRule | null;
  /** The state it last reported (or would have: a silent device's stays `idle`). */
  state: UpdateState = 'idle';
  /** What it runs. */
  installed: UpdateRef | null;
  /** The order it is running, or `null`. */
  running: Manifest | null = null;
  /** The newest order that arrived while another ran. */
  pending: Manifest | null = null;
  /** The protocol's order memory (Degu's shadow version…), as `decodeOrder` last returned it. */
  memory: JsonValue | undefined = undefined;
  /** Commits per update id; `null` until the first. */
  installs: Map<string, number> | null = null;
  /** Update attempts its fault has failed so far. */
  faulted = 0;
  /** Messages heard on its order sources (poll answers included). */
  received = 0;
  /** Messages that decoded to an order. */
  orders = 0;
  /** Wire messages it sent (statuses, boot reports, replies). */
  sent = 0;
  /** Clock ms it is away until; 0 while online. */
  offlineUntil = 0;
  /** The timer that brings it back from `setOffline`, if any. */
  wake: TimerHandle | undefined = undefined;
  /** Its subscriptions while it listens; `null` while it does not. */
  listening: StopListening[] | null = null;
  /** Stops its polls (HTTP order sources) while it listens. */
  polls: AbortController | null = null;
  /** The last reply sent (acknowledgements), so the same one is not echoed again. */
  lastReply: string | null = null;

  constructor(
    id: string,
    target: Target,
    channels: Channels | undefined,
    installed: UpdateRef | null,
    fault: FailureRule | null,
  ) {
    this.id = id;
    this.target = target;
    this.channels = channels;
    this.installed = installed;
    this.fault = fault;
  }

  get silent(): boolean {
    return this.fault?.kind === 'silent';
  }
}

/** What a test or a benchmark reads of one device. */
export interface FleetDeviceSnapshot {
  id: string;
  /** The state it last reported (`idle` at rest). */
  state: UpdateState;
  /** The update it runs (`null`: nothing installed). */
  installed: UpdateRef | null;
  /** The update under way, or `null`. */
  running: UpdateRef | null;
  /** Commits per update id: `{ [updateId]: 1 }` once an update took. */
  installs: Readonly<Record<string, number>>;
  /** Messages that decoded to an order. */
  ordersReceived: number;
  /** Messages heard on its order sources. */
  messagesReceived: number;
  /** Wire messages it sent. */
  messagesSent: number;
  /** Away (`setOffline`, an offline period or a reboot). */
  offline: boolean;
  /** The failure it was given, or `null`. */
  failure: FailureKind | null;
}

export function snapshotOf(device: FleetDevice<unknown>): FleetDeviceSnapshot {
  const running = device.running;
  return {
    id: device.id,
    state: device.state,
    installed: device.installed === null ? null : { ...device.installed },
    running: running === null ? null : { id: running.id, version: running.version },
    installs: device.installs === null ? {} : Object.fromEntries(device.installs),
    ordersReceived: device.orders,
    messagesReceived: device.received,
    messagesSent: device.sent,
    offline: device.offlineUntil !== 0,
    failure: device.fault?.kind ?? null,
  };
}
