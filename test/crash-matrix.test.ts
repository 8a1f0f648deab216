/**
 * The crash matrix: for every write the machine makes during an update, kill it right after that
 * write (the store stops answering, as if the process died), build a new machine over the same
 * durable store, resume, and check the update ends sanely: committed or rolled back, consistent
 * with what the device really runs, and the install hook never saw unverified bytes.
 */
import { describe, expect, it } from 'vitest';
import {
  createUpdateMachine,
  type DeviceMachineOptions,
  MemoryStore,
  type UpdateOutcome,
} from '../src/index.js';
import { createCrashingStore, SimulatedDevice, type SimulatedFaults } from '../src/testing/index.js';
import { until } from './support/async.js';
import { CONTENT, manifest } from './support/fixtures.js';

interface Scenario {
  name: string;
  faults: SimulatedFaults;
  options?: Partial<DeviceMachineOptions>;
  viaCheck?: boolean;
  /** What the update ends in without any crash. */
  expected: 'committed' | 'rolled_back';
}

const SCENARIOS: Scenario[] = [
  { name: 'healthy update', faults: {}, expected: 'committed' },
  { name: 'healthy update found by check()', faults: {}, viaCheck: true, expected: 'committed' },
  { name: 'A/B update with a reboot', faults: { rebootOnInstall: true }, expected: 'committed' },
  { name: 'idempotent install', faults: {}, options: { installIsIdempotent: true }, expected: 'committed' },
  { name: 'failing health check', faults: { unhealthy: true }, expected: 'rolled_back' },
  { name: 'failing install', faults: { failInstall: true }, expected: 'rolled_back' },
  {
    name: 'reboot, then failing health check',
    faults: { rebootOnInstall: true, unhealthy: true },
    expected: 'rolled_back',
  },
];

function machineFor(
  device: SimulatedDevice,
  store: MemoryStore | ReturnType<typeof createCrashingStore>,
  scenario: Scenario,
  check: () => Promise<unknown>,
) {
  return createUpdateMachine({
    id: device.id,
    store,
    hooks: scenario.viaCheck ? { ...device.hooks, check: check as never } : device.hooks,
    random: () => 0,
    ...scenario.options,
  });
}

async function runToEnd(
  device: SimulatedDevice,
  store: MemoryStore | ReturnType<typeof createCrashingStore>,
  scenario: Scenario,
  check: () => Promise<unknown>,
  first: boolean,
): Promise<UpdateOutcome> {
  const machine = machineFor(device, store, scenario, check);
  let outcome = first
    ? scenario.viaCheck
      ? await machine.runOnce()
      : await machine.apply(await manifest())
    : await machine.resume();
  // A reboot: a new process, a new machine, resume.
  for (let reboots = 0; outcome.rebootRequired && reboots < 3; reboots++) {
    outcome = await machineFor(device, store, scenario, check).resume();
  }
  return outcome;
}

describe('crash matrix: die right after each persisted write, resume on a new machine', () => {
  for (const scenario of SCENARIOS) {
    it(`${scenario.name}: every crash point ends in committed or rolled_back, never a half install`, async () => {
      const m = await manifest();
      let served = false;
      const check = async () => {
        if (served) return null;
        served = true;
        return m;
      };

      // A clean run tells how many writes there are, and where it ends.
      const cleanDevice = new SimulatedDevice({ id: 'crash-dev', content: CONTENT, faults: scenario.faults });
      const counting = createCrashingStore(new MemoryStore(), Number.POSITIVE_INFINITY);
      const clean = await runToEnd(cleanDevice, counting, scenario, check, true);
      expect(clean.state).toBe(scenario.expected);
      const writes = counting.writes;
      expect(writes).toBeGreaterThanOrEqual(8);

      const endings: string[] = [];
      for (let crashAfter = 1; crashAfter <= writes; crashAfter++) {
        served = false;
        const device = new SimulatedDevice({ id: 'crash-dev', content: CONTENT, faults: scenario.faults });
        const durable = new MemoryStore();
        const crashing = createCrashingStore(durable, crashAfter);
        // The first life of the device, reboots included, until the crash.
        void runToEnd(device, crashing, scenario, check, true).catch(() => {});
        await until(() => crashing.crashed, `crash after write ${crashAfter}`);

        const outcome = await runToEnd(device, durable, scenario, check, false);
        const survivor = machineFor(device, durable, scenario, check);
        await survivor.load();
        const snapshot = survivor.snapshot();
        const ended = snapshot.lastOutcome?.state;
        endings.push(`${crashAfter}:${ended}`);

        expect(snapshot.state, `crash after write ${crashAfter}`).toBe('idle');
        expect(outcome.rebootRequired).toBe(false);
        expect(['committed', 'rolled_back'], `crash after write ${crashAfter}`).toContain(ended);
        // The device runs exactly what the machine believes.
        expect(device.version, `crash after write ${crashAfter}`).toBe(
          ended === 'committed' ? '1.0.0' : '0.0.0',
        );
        expect(device.violations).toEqual([]);
        if (scenario.expected === 'rolled_back') expect(ended).toBe('rolled_back');
      }
      expect(endings).toHaveLength(writes);
      if (scenario.expected === 'committed' && !scenario.options?.installIsIdempotent) {
        // Dying mid-install (non-idempotent) must have been rolled back, not committed blindly.
        expect(endings.some((ending) => ending.endsWith('rolled_back'))).toBe(true);
      }
    });
  }

  it('a crash during installing rolls back by default, and installs again when the install is idempotent', async () => {
    const m = await manifest();
    for (const idempotent of [false, true]) {
      const device = new SimulatedDevice({ id: 'crash-dev', content: CONTENT });
      const durable = new MemoryStore();
      // Writes: available, downloading, downloaded, verifying, installing.
      const crashing = createCrashingStore(durable, 5);
      const options = { id: device.id, hooks: device.hooks, installIsIdempotent: idempotent };
      void createUpdateMachine({ ...options, store: crashing }).apply(m);
      await until(() => crashing.crashed);
      const outcome = await createUpdateMachine({ ...options, store: durable }).resume();
      expect(outcome.state).toBe(idempotent ? 'committed' : 'rolled_back');
    }
  });
});
