/**
 * One update on one simulated device: the transitions the update machine goes through, in its
 * order, each reported as the machine reports it (`available`, `downloading`, `downloaded`,
 * `verifying`, `installing`, `installed`, `committed`, then back to `idle`), with the device's
 * fault, latencies, offline periods and reboot played on the way. Lives only while the update
 * runs: a resting device has no run, no timer, no promise.
 *
 * @module
 */
import type { SerializedOtaError } from '../../core/errors.js';
import { toOtaError } from '../../core/errors.js';
import type { TerminalState, UpdateState } from '../../core/states.js';
import type { UpdateRef } from '../../core/status.js';
import type { Manifest } from '../../manifest/schema.js';
import { fetchArtifacts } from './download.js';
import { failureError } from './faults.js';
import type { FleetDevice } from './fleet-device.js';
import type { FailureKind } from './options.js';
import type { FleetRuntime } from './runtime.js';

/** The failure this attempt plays, if any (a rule with `attempts` fails only that many). */
function faultOf(device: FleetDevice<unknown>): Exclude<FailureKind, 'silent'> | null {
  const fault = device.fault;
  if (fault === null || fault.kind === 'silent') return null;
  if (device.faulted >= (fault.attempts ?? Number.POSITIVE_INFINITY)) return null;
  device.faulted++;
  return fault.kind;
}

export async function runUpdate<Target>(
  runtime: FleetRuntime<Target>,
  device: FleetDevice<Target>,
  manifest: Manifest,
): Promise<void> {
  const update: UpdateRef = { id: manifest.id, version: manifest.version };
  const label = manifest.artifacts[0]?.name ?? manifest.id;
  device.running = manifest;
  runtime.totals.running++;
  const fault = faultOf(device as FleetDevice<unknown>);
  let rebooted = false;
  // The run is over once the device is back at rest: released before `idle` is reported, so
  // whoever hears that status sees the device free (and a new order may start at once).
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    device.running = null;
    runtime.totals.running--;
  };

  // Each transition waits while the device is away, then is reported.
  const step = async (state: UpdateState, error: SerializedOtaError | null = null) => {
    await runtime.gate(device);
    await runtime.report(device, state, update, error);
  };
  // A terminal state is reported, then the machine returns to idle (and says so: no update any more).
  const end = async (state: TerminalState, error: SerializedOtaError | null, count = 0) => {
    await step(state, error);
    runtime.emit('outcome', () => ({ deviceId: device.id, state, update, error }));
    if (state === 'committed') runtime.emit('installed', () => ({ deviceId: device.id, update, count }));
    await runtime.gate(device);
    release();
    await runtime.report(device, 'idle', null);
  };

  try {
    await step('available');
    await runtime.pause('accept');
    await step('downloading');
    await runtime.pause('download');
    let failure = fault === 'download_failed' ? failureError(fault, label) : null;
    if (failure === null && runtime.download.mode === 'fetch') {
      const error = await fetchArtifacts(manifest, device, runtime.download, runtime.signal);
      failure = error === null ? null : error.toJSON();
    }
    if (failure !== null) return await end('download_failed', failure);
    await step('downloaded');
    await step('verifying');
    await runtime.pause('verify');
    if (fault === 'verify_failed') return await end(fault, failureError(fault, label));
    await step('installing');
    await runtime.pause('install');
    if (fault === 'install_failed') return await end(fault, failureError(fault, label));
    await step('installed');
    if (runtime.reboots(device)) {
      // The install asked for a reboot: quiet, then the agent resumes and enters `installed` again.
      rebooted = true;
      runtime.goOffline(device, runtime.rebootMs(), 'reboot', false);
      await step('installed');
    }
    await runtime.pause('healthCheck');
    if (fault === 'rolled_back') {
      const error = failureError(fault, label);
      await step('rolling_back', error);
      await runtime.pause('rollback');
      return await end(fault, error);
    }
    // What it runs changes before `committed` is reported: the report names the new version.
    await runtime.gate(device);
    device.installed = update;
    if (device.installs === null) device.installs = new Map();
    const installs = device.installs;
    const count = (installs.get(update.id) ?? 0) + 1;
    installs.set(update.id, count);
    runtime.totals.installs++;
    await end('committed', null, count);
  } catch (error) {
    // Every wait rejects once the simulator stops: the device stops where it is, as a process
    // that exits. Anything else is a defect worth an event.
    if (!runtime.signal.aborted) runtime.problem(device, toOtaError(error, 'STATE'));
  } finally {
    release();
    // After a reboot the agent starts again once the update is settled: listens, boot report.
    if (rebooted) await runtime.comeBack(device);
    const next = device.pending;
    device.pending = null;
    if (next !== null && runtime.active) runtime.take(device, next);
  }
}
