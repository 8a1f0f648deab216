/**
 * The update machine in the tracker role, for cloud code and dashboards: it runs no hooks; it
 * is driven by the statuses a device reports, checks that each reported transition is legal,
 * and records the history with timestamps. Same states, same events as the device machine.
 *
 * @module
 */
import { type OtaError, StateError, toOtaError } from '../core/errors.js';
import { serialize } from '../core/serialize.js';
import { isActiveState, isTerminalState, statesBetween, type UpdateState } from '../core/states.js';
import { type UpdateStatus, UpdateStatusSchema } from '../core/status.js';
import { safeParseWith } from '../core/validate.js';
import { MachineBase, type MachineCommonOptions } from './machine-base.js';
import type { UpdateSnapshot } from './record.js';

export interface TrackerMachineOptions extends MachineCommonOptions {
  role: 'tracker';
}

export type IngestResult =
  | { accepted: true; state: UpdateState; skipped: UpdateState[]; duplicate: boolean }
  | { accepted: false; state: UpdateState; error: OtaError };

export class TrackerUpdateMachine extends MachineBase {
  readonly role = 'tracker' as const;
  // Statuses of one device are applied one at a time, in arrival order.
  readonly #oneAtATime = serialize();

  /**
   * Applies a status a device reported (see `UpdateStatusSchema`). Never throws for what the
   * device sent: an invalid or illegal status is refused with a typed error in the result (and an
   * `error` event), and the tracked state stays as it was.
   *
   * @example
   * ```ts
   * const result = await tracker.ingest(JSON.parse(message))
   * if (!result.accepted) console.warn(result.error.message)
   * ```
   */
  ingest(status: unknown): Promise<IngestResult> {
    return this.#oneAtATime(() => this.#ingest(status));
  }

  async #ingest(input: unknown): Promise<IngestResult> {
    await this.ensureLoaded();
    const parsed = safeParseWith(UpdateStatusSchema, input, 'update status');
    if (!parsed.success) return this.#refuse(parsed.error);
    const status = parsed.data;
    if (status.machineId !== this.id) {
      return this.#refuse(
        new StateError(`Status for machine "${status.machineId}" sent to the tracker of "${this.id}"`),
      );
    }
    const record = this.record;
    const from = record.state;
    // While it does not know the update yet (checking, or a device whose wire format names the
    // update only at the end, as ThingsBoard's fw_state does), the first id reported is adopted.
    const sameUpdate =
      status.updateId === (record.update?.id ?? null) || (record.update === null && isActiveState(from));

    if (!sameUpdate && from !== 'idle' && !isTerminalState(from)) {
      return this.#refuse(
        new StateError(`Device reported update ${status.updateId} while ${record.update?.id} is ${from}`, {
          from,
          to: status.state,
        }),
      );
    }
    // An idle device saying it is idle (a heartbeat) is no news, whatever id it repeats.
    if ((sameUpdate || from === 'idle') && status.state === from) {
      this.#acceptProgress(status);
      this.notify('report', { machineId: this.id, status, delivered: true, error: null });
      return { accepted: true, state: from, skipped: [], duplicate: true };
    }
    // After an ended update the device went back to idle, whether it said so or not: for a new
    // update, and for a retry of the same one (Connhex retries a failed version at the next check).
    let start = from;
    const skipped: UpdateState[] = [];
    if (isTerminalState(from) && status.state !== 'idle') {
      skipped.push('idle');
      start = 'idle';
    }
    const between = statesBetween(start, status.state);
    if (between === undefined) {
      return this.#refuse(
        new StateError(`Illegal reported transition ${from} -> ${status.state}`, { from, to: status.state }),
      );
    }
    skipped.push(...between);
    const update = status.updateId === null ? null : { id: status.updateId, version: status.version };
    const error = status.error ?? null;
    await this.enter(
      status.state,
      {
        update,
        lastError: error ?? (status.state === 'idle' ? record.lastError : null),
        progress: status.progress ?? null,
        steps: status.state === 'idle' ? 0 : (sameUpdate ? record.steps : 0) + 1,
        ...(isTerminalState(status.state)
          ? { lastOutcome: { state: status.state, update, error, rebootRequired: false } }
          : {}),
        ...(status.state === 'committed' ? { current: update } : {}),
      },
      { skipped, error },
    );
    this.notify('report', { machineId: this.id, status, delivered: true, error: null });
    return { accepted: true, state: status.state, skipped, duplicate: false };
  }

  #acceptProgress(status: UpdateStatus): void {
    if (!status.progress || status.updateId === null) return;
    this.setProgress(status.progress);
    this.notify('progress', {
      machineId: this.id,
      updateId: status.updateId,
      bytes: status.progress.bytes,
      total: status.progress.total,
      bytesPerSecond: status.progress.bytesPerSecond,
      artifact: null,
    });
  }

  #refuse(thrown: unknown): IngestResult {
    const error = toOtaError(thrown, 'STATE');
    this.raise(error);
    return { accepted: false, state: this.state, error };
  }

  /** Forgets the tracked update (e.g. the device was re-flashed by hand) and returns to idle. */
  reset(): Promise<UpdateSnapshot> {
    // Through the same queue as ingest(), so a reset never races a status being applied.
    return this.#oneAtATime(async () => {
      await this.load();
      if (this.state !== 'idle') await this.enter('idle', { update: null, progress: null, steps: 0 });
      return this.snapshot();
    });
  }
}
