/**
 * Waiting for Degu orders to end. A Degu device reports nothing but its MD5s, so an order ends in
 * the fleet only as `committed` (the device runs it) or `canceled` (withdrawn or replaced first);
 * a failed or absent device never ends it, and only the caller's deadline stops the wait. The
 * waiting is driven by the fleet's `device` events, so it sees what any reading stored: a pushed
 * document, a poll, another instance sharing the store.
 *
 * @module
 */
import { abortReason } from '../../core/abort.js';
import { isTerminalState, type UpdateState } from '../../core/states.js';
import type { Target } from '../../protocols/degu/protocol.js';
import type { Fleet } from '../fleet/fleet.js';
import type { DeviceSnapshot } from '../fleet/types.js';
import { deviceIdOf } from './targets.js';
import type { DeguWaitResult } from './types.js';

type Ending = 'committed' | 'canceled';

export interface WaitForEnds {
  fleet: Fleet;
  targets: readonly Target[];
  /** The order awaited per device id; `null` for "whatever the fleet follows". */
  expected: ReadonlyMap<string, string | null>;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  /** The result of one device, once its order ended (or the time ran out: `pending`). */
  result: (
    target: Target,
    device: DeviceSnapshot | undefined,
    updateId: string | null,
    outcome: DeguWaitResult['outcome'],
  ) => DeguWaitResult;
}

/**
 * Resolves with a result per target, in their order, once every awaited order ended or
 * `timeoutMs` ran out.
 * @throws the signal's reason when aborted.
 */
export async function waitForEnds(options: WaitForEnds): Promise<DeguWaitResult[]> {
  const { fleet, targets, expected, signal } = options;
  const results = new Map<string, DeguWaitResult>();
  let wake: (() => void) | undefined;
  const nudge = () => wake?.();
  const onDevice = (snapshot: DeviceSnapshot) => {
    if (expected.has(snapshot.deviceId)) nudge();
  };
  fleet.on('device', onDevice);
  signal?.addEventListener('abort', nudge);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    nudge();
  }, options.timeoutMs);
  try {
    for (;;) {
      if (signal?.aborted) throw abortReason(signal);
      // Armed before looking, so a change stored while we look wakes the next round.
      const woken = new Promise<void>((resolve) => {
        wake = resolve;
      });
      for (const target of targets) {
        const id = deviceIdOf(target);
        if (results.has(id)) continue;
        const updateId = expected.get(id) ?? null;
        const device = await fleet.device(id);
        const ending = await endOf(fleet, id, device, updateId);
        if (ending !== undefined || timedOut) {
          results.set(id, options.result(target, device, updateId, ending ?? 'pending'));
        }
      }
      if (results.size === targets.length) break;
      await woken;
    }
  } finally {
    clearTimeout(timer);
    fleet.off('device', onDevice);
    signal?.removeEventListener('abort', nudge);
  }
  return targets.map((target) => results.get(deviceIdOf(target))!);
}

/**
 * How the awaited order ended for this device, or `undefined` while it has not. The device may
 * follow a newer order already (a replacement ends one order and starts the next in one reading):
 * then the end is in its history.
 */
async function endOf(
  fleet: Fleet,
  deviceId: string,
  device: DeviceSnapshot | undefined,
  updateId: string | null,
): Promise<Ending | undefined> {
  if (device === undefined || device.update === null) return undefined;
  if (updateId === null || device.update.id === updateId) {
    return isTerminalState(device.state) ? endingOf(device.state) : undefined;
  }
  const history = await fleet.history(deviceId, { limit: 64 });
  const ended = history.findLast((entry) => entry.updateId === updateId && isTerminalState(entry.to));
  return ended === undefined ? undefined : endingOf(ended.to);
}

/** Degu statuses read as committed, available or canceled only: no other end to wait for. */
function endingOf(state: UpdateState): Ending | undefined {
  if (state === 'committed') return 'committed';
  return state === 'canceled' ? 'canceled' : undefined;
}
