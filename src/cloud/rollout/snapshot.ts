/**
 * A rollout as a dashboard draws it: plain JSON, counts per wave and state, failures per kind,
 * the pace and the window now.
 *
 * @module
 */
import type { UpdateRef } from '../../core/status.js';
import { countIn } from './counts.js';
import { ratePerMinute } from './pacing.js';
import {
  ROLLOUT_DEVICE_STATES,
  type RolloutCounts,
  type RolloutDeviceState,
  type RolloutFailureKind,
  type RolloutRecord,
  type RolloutState,
  type RolloutStopReason,
} from './types.js';
import { nextOpening, windowOpen } from './windows.js';

export type RolloutDeviceCounts = Record<RolloutDeviceState, number>;

export interface RolloutWaveSnapshot {
  name: string;
  size: number;
  counts: RolloutDeviceCounts;
  failures: Partial<Record<RolloutFailureKind, number>>;
}

export interface RolloutSnapshot {
  id: string;
  state: RolloutState;
  reason: RolloutStopReason | null;
  update: UpdateRef;
  rollback: UpdateRef | null;
  deviceCount: number;
  /** The wave being dispatched (the last one, once completed). */
  wave: {
    index: number;
    name: string;
    startedAt: string | null;
    settledAt: string | null;
    soakUntil: string | null;
  };
  waves: RolloutWaveSnapshot[];
  totals: RolloutDeviceCounts;
  /** Final failures per kind. */
  failures: Partial<Record<RolloutFailureKind, number>>;
  /** Final failures over settled devices, `null` before any settled. */
  failureRate: number | null;
  /** Devices per minute allowed now (`null`: unpaced). */
  pace: { perMinute: number | null };
  window: { open: boolean; nextOpensAt: string | null };
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  /** ISO 8601 time of the snapshot (orchestrator clock). */
  at: string;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function fullCounts(counts: Partial<Record<RolloutDeviceState, number>>): RolloutDeviceCounts {
  const full = {} as RolloutDeviceCounts;
  for (const state of ROLLOUT_DEVICE_STATES) full[state] = counts[state] ?? 0;
  return full;
}

export function rolloutSnapshot(record: RolloutRecord, counts: RolloutCounts, now: number): RolloutSnapshot {
  const plan = record.plan;
  const totals = fullCounts({});
  for (const wave of counts.byWave)
    for (const state of ROLLOUT_DEVICE_STATES) totals[state] += wave[state] ?? 0;
  const settled = countIn(counts, ['succeeded', 'failed', 'timed_out', 'rolling_back', 'rolled_back']);
  const failed = totals.failed + totals.timed_out;
  const perMinute = ratePerMinute(plan.pace, {
    succeeded: totals.succeeded,
    notified: plan.deviceCount - totals.pending - totals.skipped,
  });
  const wave = plan.waves[record.wave]!;
  const opens = nextOpening(plan.windows, now);
  return {
    id: record.id,
    state: record.state,
    reason: record.reason,
    update: { id: plan.manifest.id, version: plan.manifest.version },
    rollback: plan.rollback === null ? null : { id: plan.rollback.id, version: plan.rollback.version },
    deviceCount: plan.deviceCount,
    wave: {
      index: record.wave,
      name: wave.name,
      startedAt: iso(record.waveStartedAt),
      settledAt: iso(record.waveSettledAt),
      soakUntil: record.waveSettledAt === null ? null : iso(record.waveSettledAt + wave.soakMs),
    },
    waves: plan.waves.map((each, index) => ({
      name: each.name,
      size: each.size,
      counts: fullCounts(counts.byWave[index] ?? {}),
      failures: { ...(counts.failuresByWave[index] ?? {}) },
    })),
    totals,
    failures: { ...counts.failures },
    failureRate: settled === 0 ? null : failed / settled,
    pace: { perMinute: Number.isFinite(perMinute) ? perMinute : null },
    window: { open: windowOpen(plan.windows, now), nextOpensAt: iso(opens) },
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    finishedAt: record.finishedAt,
    at: new Date(now).toISOString(),
  };
}
