/**
 * Devices for orchestrator tests: a dispatcher whose "devices" answer through the fleet on the
 * test's ManualClock, as a protocol's statuses would after decoding. Wire-level rollouts run
 * against the fleet simulator on real brokers (platforms.test.ts).
 */
import { Fleet } from '../../../src/cloud/fleet/fleet.js';
import type { RolloutDispatcher } from '../../../src/cloud/rollout/dispatcher.js';
import type { FailureState } from '../../../src/core/states.js';
import type { Manifest, ManifestInput } from '../../../src/manifest/schema.js';
import type { ManualClock } from '../../../src/testing/manual-clock.js';

export interface ModelBehaviour {
  /** How the device ends an update: committed, a failure state, or silence. */
  outcome?: 'committed' | FailureState | 'silent';
  /** Attempts that end in `outcome`; later attempts commit. @default every attempt */
  failingAttempts?: number;
  /** Milliseconds from the order to the final status. @default 5 000 */
  latencyMs?: number;
}

export interface ModelFleet {
  fleet: Fleet;
  dispatcher: RolloutDispatcher;
  /** Orders received per device, with the clock time and the manifest id. */
  orders: Map<string, Array<{ at: number; updateId: string }>>;
  /** Updates installed (committed) per device, in order. */
  installs: Map<string, string[]>;
  behave(deviceId: string, behaviour: ModelBehaviour): void;
  /** Makes dispatch throw for these devices. */
  unreachable: Set<string>;
}

export function modelFleet(clock: ManualClock, fleet = new Fleet({ clock })): ModelFleet {
  const orders = new Map<string, Array<{ at: number; updateId: string }>>();
  const installs = new Map<string, string[]>();
  const behaviours = new Map<string, ModelBehaviour>();
  const unreachable = new Set<string>();
  const report = async (deviceId: string, manifest: Manifest, state: string, previous: string | null) => {
    await fleet.ingest(deviceId, {
      machineId: deviceId,
      updateId: manifest.id,
      version: manifest.version,
      state,
      previous,
      at: new Date(clock.now()).toISOString(),
      ...(state.endsWith('_failed') || state === 'rolled_back'
        ? { error: { name: 'OtaError', code: 'INSTALL', message: 'simulated failure', retryable: false } }
        : {}),
    });
  };
  const dispatcher: RolloutDispatcher = {
    async dispatch(deviceId, manifest) {
      if (unreachable.has(deviceId)) throw new Error('device unreachable');
      const list = orders.get(deviceId) ?? [];
      list.push({ at: clock.now(), updateId: manifest.id });
      orders.set(deviceId, list);
      const behaviour = behaviours.get(deviceId) ?? {};
      const attempt = list.filter((order) => order.updateId === manifest.id).length;
      const failing = attempt <= (behaviour.failingAttempts ?? Number.POSITIVE_INFINITY);
      const outcome = failing ? (behaviour.outcome ?? 'committed') : 'committed';
      if (outcome === 'silent') return;
      clock.setTimeout(() => {
        void (async () => {
          await report(deviceId, manifest, 'downloading', 'idle');
          if (outcome === 'committed') {
            await report(deviceId, manifest, 'committed', 'installed');
            installs.set(deviceId, [...(installs.get(deviceId) ?? []), manifest.id]);
          } else {
            await report(deviceId, manifest, outcome, 'downloading');
          }
          // Back to idle, as a device does once it reported the end.
          await report(deviceId, manifest, 'idle', outcome);
        })();
      }, behaviour.latencyMs ?? 5_000);
    },
  };
  return {
    fleet,
    dispatcher,
    orders,
    installs,
    unreachable,
    behave: (deviceId, behaviour) => behaviours.set(deviceId, behaviour),
  };
}

export const manifest: ManifestInput = {
  id: 'fw-2.0',
  version: '2.0.0',
  artifacts: [
    { url: 'https://cdn.example/fw-2.0.bin', size: 1024, sha256: 'a'.repeat(64), target: 'firmware' },
  ],
};

export const previousManifest: ManifestInput = {
  id: 'fw-1.0',
  version: '1.0.0',
  artifacts: [
    { url: 'https://cdn.example/fw-1.0.bin', size: 1024, sha256: 'b'.repeat(64), target: 'firmware' },
  ],
};

export const deviceIds = (count: number, prefix = 'dev') =>
  Array.from({ length: count }, (_, index) => `${prefix}-${String(index).padStart(4, '0')}`);
