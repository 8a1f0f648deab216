/**
 * One round of a rollout, run by whichever instance holds it: settle devices whose timeout ran
 * out, take over orders an instance claimed and never confirmed, check the thresholds, move the
 * waves on, and claim the next devices to order within the pace, the window and the in-flight
 * limit. Everything it decides is written in the step that holds the rollout; the orders
 * themselves go out after the step commits.
 *
 * @module
 */

import type { SerializedOtaError } from '../../core/errors.js';
import { FAILURE_STATES, type UpdateState } from '../../core/states.js';
import type { UpdateRef } from '../../core/status.js';
import type { Manifest } from '../../manifest/schema.js';
import { countDevice, countIn } from './counts.js';
import type {
  RolloutDeviceEvent,
  RolloutStateEvent,
  RolloutThresholdEvent,
  RolloutWaveEvent,
} from './events.js';
import { afterOutcome, type DeviceOutcome, isUpdateOf } from './outcome.js';
import { ratePerMinute, refill, untilNextToken } from './pacing.js';
import type { RolloutStepContext } from './store.js';
import { trippedThreshold } from './thresholds.js';
import {
  FINAL_ROLLOUT_STATES,
  type RolloutDevice,
  type RolloutDeviceState,
  type RolloutRecord,
  type RolloutState,
  type RolloutStopReason,
} from './types.js';
import { nextOpening, windowOpen } from './windows.js';

/** What the fleet knows of a device, to settle one whose timeout ran out. */
export interface FleetView {
  state: UpdateState;
  update: UpdateRef | null;
  error: SerializedOtaError | null;
}

export interface RoundInput {
  rollout: RolloutRecord;
  context: RolloutStepContext;
  now: number;
  instanceId: string;
  /** How long a claim to send an order holds before another instance takes it over. */
  leaseMs: number;
  /** The longest wait between rounds. */
  pollMs: number;
  /** Devices handled in one round at most (the rest in the next, at once). */
  chunk: number;
  fleetView(deviceIds: readonly string[]): Promise<Map<string, FleetView>>;
}

export interface RoundEvents {
  state: RolloutStateEvent[];
  wave: RolloutWaveEvent[];
  device: RolloutDeviceEvent[];
  threshold: RolloutThresholdEvent[];
}

export interface RoundResult {
  /** The record to store, or `null` when the round changed nothing of it. */
  rollout: RolloutRecord | null;
  /** Orders to send once the step is stored. */
  dispatch: Array<{ device: RolloutDevice; manifest: Manifest }>;
  events: RoundEvents;
  /** When the next round is due (epoch ms), or `null` when the rollout needs no more rounds. */
  wakeAt: number | null;
}

const UNSETTLED: readonly RolloutDeviceState[] = ['pending', 'dispatching', 'in_progress', 'retry_wait'];
const IN_FLIGHT: readonly RolloutDeviceState[] = ['dispatching', 'in_progress', 'rolling_back'];
const STOPPED: readonly RolloutState[] = ['aborted', 'cancelled', 'rolling_back'];

function percent(rate: number): string {
  return `${(rate * 100).toFixed(1)} %`;
}

export async function runRound(input: RoundInput): Promise<RoundResult> {
  const { context, now, instanceId, leaseMs, chunk } = input;
  const before = input.rollout;
  const record: RolloutRecord = structuredClone(before);
  const plan = record.plan;
  const at = new Date(now).toISOString();
  const events: RoundEvents = { state: [], wave: [], device: [], threshold: [] };
  const dispatch: RoundResult['dispatch'] = [];
  const writes: RolloutDevice[] = [];
  let wakeAt = now + input.pollMs;
  const wakeBy = (time: number) => {
    wakeAt = Math.min(wakeAt, Math.max(now, time));
  };

  // Read once per round, then kept current with the round's own writes (a GROUP BY over every
  // device costs tens of milliseconds at 100 000 devices).
  const counts = await context.counts();
  const write = (from: RolloutDevice, to: RolloutDevice) => {
    writes.push(to);
    countDevice(counts, from, -1);
    countDevice(counts, to, 1);
    events.device.push({
      rolloutId: record.id,
      deviceId: to.deviceId,
      from: from.state,
      to: to.state,
      device: to,
    });
  };
  const setState = (to: RolloutState, reason: RolloutStopReason | null) => {
    events.state.push({ rolloutId: record.id, from: record.state, to, reason, at });
    record.state = to;
    if (reason !== null) record.reason = reason;
    if (FINAL_ROLLOUT_STATES.includes(to)) record.finishedAt = at;
  };
  const startWave = (wave: number) => {
    record.wave = wave;
    record.waveStartedAt = now;
    record.waveSettledAt = null;
    events.wave.push({ rolloutId: record.id, wave, name: plan.waves[wave]!.name, phase: 'started', at });
  };
  const claimed = (device: RolloutDevice, changes: Partial<RolloutDevice>): RolloutDevice => {
    const next = { ...device, ...changes, updatedAt: now, revision: device.revision + 1 };
    write(device, next);
    return next;
  };

  if (record.state === 'scheduled') {
    if (plan.startAt !== null && now < plan.startAt) {
      wakeBy(plan.startAt);
      return { rollout: null, dispatch, events, wakeAt };
    }
    setState('running', null);
    startWave(0);
  }

  // 1. Devices whose timeout ran out: what the fleet saw of them settles them, or they timed out.
  const expired = await context.claim({ states: ['in_progress', 'rolling_back'], dueBy: now, limit: chunk });
  if (expired.length > 0) {
    const views = await input.fleetView(expired.map((device) => device.deviceId));
    for (const device of expired) {
      const outcome = outcomeFromFleet(views.get(device.deviceId), device, input);
      const next = afterOutcome(device, outcome, plan, now);
      if (next !== null) write(device, next);
    }
  }

  // 2. Orders an instance claimed and never confirmed (it died, or lost the store): send them again.
  const orphaned = await context.claim({ states: ['dispatching'], dueBy: now, limit: chunk });
  for (const device of orphaned) {
    if (STOPPED.includes(record.state)) {
      claimed(device, { state: 'skipped', owner: null, dueAt: null });
      continue;
    }
    const next = claimed(device, { owner: instanceId, dueAt: now + leaseMs });
    dispatch.push({ device: next, manifest: plan.manifest });
  }

  // 3. Thresholds, on what has settled so far.
  if (record.state === 'running') {
    const tripped = trippedThreshold(plan, counts, record.wave, record.baseline);
    if (tripped !== null) {
      events.threshold.push({ rolloutId: record.id, at, ...tripped });
      const reason: RolloutStopReason = {
        kind: 'threshold',
        message: `${tripped.failures} of ${tripped.sample} settled devices failed (${percent(tripped.rate)}), threshold ${tripped.index} is ${percent(plan.thresholds[tripped.index]!.failureRate)}`,
        threshold: tripped.index,
        rate: tripped.rate,
        sample: tripped.sample,
        at,
      };
      if (tripped.action === 'pause') setState('paused', reason);
      else setState(tripped.rollback ? 'rolling_back' : 'aborted', reason);
    }
  }

  // 4. A stopped rollout orders nobody new: its waiting devices are skipped, a chunk per round.
  if (STOPPED.includes(record.state)) {
    const left = await context.claim({ states: ['pending', 'retry_wait'], limit: chunk });
    for (const device of left) claimed(device, { state: 'skipped', owner: null, dueAt: null });
    if (left.length === chunk) wakeBy(now);
  }

  // 5. Rolling back: the devices that took the update get the rollback manifest.
  if (record.state === 'rolling_back' && plan.rollback !== null) {
    const inFlight = countIn(counts, IN_FLIGHT);
    const room = Math.max(
      0,
      Math.min(chunk, plan.maxInFlight === null ? chunk : plan.maxInFlight - inFlight),
    );
    const restore = room === 0 ? [] : await context.claim({ states: ['succeeded'], limit: room });
    for (const device of restore) {
      const next = claimed(device, {
        state: 'rolling_back',
        attempts: device.attempts + 1,
        owner: null,
        dueAt: now + plan.deviceTimeoutMs,
      });
      dispatch.push({ device: next, manifest: plan.rollback });
    }
    if (restore.length === room && room > 0) wakeBy(now);
    if (countIn(counts, ['succeeded', 'rolling_back']) === 0 && countIn(counts, UNSETTLED) === 0) {
      setState('aborted', null);
    }
  }

  // 6. Running: move the waves on, then order the next devices.
  if (record.state === 'running') {
    for (;;) {
      let unsettled = 0;
      for (let wave = 0; wave <= record.wave; wave++) unsettled += countIn(counts, UNSETTLED, wave);
      if (unsettled > 0) break;
      if (record.waveSettledAt === null) {
        record.waveSettledAt = now;
        events.wave.push({
          rolloutId: record.id,
          wave: record.wave,
          name: plan.waves[record.wave]!.name,
          phase: 'settled',
          at,
        });
      }
      const soakUntil = record.waveSettledAt + plan.waves[record.wave]!.soakMs;
      if (now < soakUntil) {
        wakeBy(soakUntil);
        break;
      }
      if (record.wave === plan.waves.length - 1) {
        setState('completed', null);
        break;
      }
      startWave(record.wave + 1);
    }
  }
  if (record.state === 'running') await orderNext();

  if (
    FINAL_ROLLOUT_STATES.includes(record.state) &&
    dispatch.length === 0 &&
    countIn(counts, [...UNSETTLED, 'rolling_back']) === 0
  ) {
    wakeAt = Number.NaN;
  }

  await context.write(writes);
  const changed = JSON.stringify(record) !== JSON.stringify(before);
  if (changed) {
    record.revision = before.revision + 1;
    record.updatedAt = at;
  }
  return {
    rollout: changed ? record : null,
    dispatch,
    events,
    wakeAt: Number.isNaN(wakeAt) ? null : wakeAt,
  };

  async function orderNext(): Promise<void> {
    if (!windowOpen(plan.windows, now)) {
      const opens = nextOpening(plan.windows, now);
      if (opens !== null) wakeBy(opens);
      return;
    }
    const total = plan.deviceCount;
    const perMinute = ratePerMinute(plan.pace, {
      succeeded: countIn(counts, ['succeeded']),
      notified: total - countIn(counts, ['pending', 'skipped']),
    });
    const bucket = refill({ tokens: record.tokens, refilledAt: record.refilledAt }, perMinute, now);
    let budget = Number.isFinite(bucket.tokens) ? Math.floor(bucket.tokens) : chunk;
    if (plan.maxInFlight !== null) {
      budget = Math.min(budget, plan.maxInFlight - countIn(counts, IN_FLIGHT) - orphaned.length);
    }
    budget = Math.max(0, Math.min(budget, chunk - dispatch.length));
    let sent = 0;
    if (budget > 0) {
      const retries = await context.claim({ states: ['retry_wait'], dueBy: now, limit: budget });
      const fresh =
        budget > retries.length
          ? await context.claim({ states: ['pending'], maxWave: record.wave, limit: budget - retries.length })
          : [];
      for (const device of [...retries, ...fresh]) {
        const next = claimed(device, {
          state: 'dispatching',
          attempts: device.attempts + 1,
          owner: instanceId,
          dueAt: now + leaseMs,
        });
        dispatch.push({ device: next, manifest: plan.manifest });
        sent += 1;
      }
      // More may be waiting: come back at once rather than after a poll.
      if (sent === budget && Number.isFinite(perMinute) === false) wakeBy(now);
    }
    if (Number.isFinite(bucket.tokens)) {
      record.tokens = bucket.tokens - sent;
      record.refilledAt = bucket.refilledAt;
      if (record.tokens < 1) wakeBy(now + untilNextToken(record.tokens, perMinute));
    } else {
      record.tokens = 0;
      record.refilledAt = now;
    }
  }
}

function outcomeFromFleet(
  view: FleetView | undefined,
  device: RolloutDevice,
  input: RoundInput,
): DeviceOutcome {
  const plan = input.rollout.plan;
  const rollingBack = device.state === 'rolling_back';
  const of = rollingBack ? 'rollback' : 'update';
  if (view !== undefined && isUpdateOf(plan, view.update, rollingBack)) {
    if (view.state === 'committed') return { kind: 'succeeded', of };
    if ((FAILURE_STATES as readonly UpdateState[]).includes(view.state)) {
      return {
        kind: 'failed',
        of,
        failure: view.state as (typeof FAILURE_STATES)[number],
        error: view.error === null ? null : { code: view.error.code, message: view.error.message },
      };
    }
  }
  return {
    kind: 'failed',
    of,
    failure: 'timed_out',
    error: { code: 'TIMEOUT', message: `No final status within ${plan.deviceTimeoutMs} ms of the order` },
  };
}
