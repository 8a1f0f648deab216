/**
 * The canonical update states and the one table that says which state may follow which.
 * Every protocol's status vocabulary maps onto these states, so a device, a cloud service and
 * a dashboard all speak about an update in the same terms.
 *
 * @module
 */

/** Every canonical state, in the order an update normally passes through them. */
export const UPDATE_STATES = [
  'idle',
  'checking',
  'available',
  'downloading',
  'downloaded',
  'verifying',
  'installing',
  'installed',
  'committed',
  'rolling_back',
  'check_failed',
  'download_failed',
  'verify_failed',
  'install_failed',
  'rolled_back',
  'canceled',
] as const;

export type UpdateState = (typeof UPDATE_STATES)[number];

import type { OtaErrorCode } from './errors.js';

/** States an update ends in. From each, the only way on is back to `idle`. */
export const TERMINAL_STATES = [
  'committed',
  'check_failed',
  'download_failed',
  'verify_failed',
  'install_failed',
  'rolled_back',
  'canceled',
] as const satisfies readonly UpdateState[];

export type TerminalState = (typeof TERMINAL_STATES)[number];

/** Terminal states that mean the update did not take effect. */
export const FAILURE_STATES = [
  'check_failed',
  'download_failed',
  'verify_failed',
  'install_failed',
  'rolled_back',
  'canceled',
] as const satisfies readonly TerminalState[];

export type FailureState = (typeof FAILURE_STATES)[number];

/** States in which an update is under way (neither idle nor ended). */
export type ActiveState = Exclude<UpdateState, TerminalState | 'idle'>;

/**
 * The transition table. Cancel is legal from every active state: before anything was installed
 * it ends in `canceled`; once installing began it must go through `rolling_back`, because
 * stopping half way would leave a mix of old and new.
 */
export const TRANSITIONS = {
  idle: ['checking', 'available'],
  checking: ['available', 'idle', 'check_failed', 'canceled'],
  // A pushed order may fail validation (expired, incompatible) before any byte moves; one that
  // fails its signature or policy check (trust) is a verification failure, reported as such.
  available: ['downloading', 'check_failed', 'verify_failed', 'canceled'],
  downloading: ['downloaded', 'download_failed', 'canceled'],
  downloaded: ['verifying', 'download_failed', 'canceled'],
  verifying: ['installing', 'verify_failed', 'canceled'],
  installing: ['installed', 'rolling_back', 'install_failed'],
  installed: ['committed', 'rolling_back', 'install_failed'],
  // A rollback that fails leaves the device in an unknown state: that is an install failure.
  rolling_back: ['rolled_back', 'install_failed'],
  committed: ['idle'],
  check_failed: ['idle'],
  download_failed: ['idle'],
  verify_failed: ['idle'],
  install_failed: ['idle'],
  rolled_back: ['idle'],
  canceled: ['idle'],
} as const satisfies { readonly [S in UpdateState]: readonly UpdateState[] };

/** The states that may directly follow `S`. */
export type NextState<S extends UpdateState> = (typeof TRANSITIONS)[S][number];

const STATE_SET: ReadonlySet<string> = new Set(UPDATE_STATES);
const TERMINAL_SET: ReadonlySet<string> = new Set(TERMINAL_STATES);
const FAILURE_SET: ReadonlySet<string> = new Set(FAILURE_STATES);

export function isUpdateState(value: unknown): value is UpdateState {
  return typeof value === 'string' && STATE_SET.has(value);
}

export function isTerminalState(state: UpdateState): state is TerminalState {
  return TERMINAL_SET.has(state);
}

export function isFailureState(state: UpdateState): state is FailureState {
  return FAILURE_SET.has(state);
}

export function isActiveState(state: UpdateState): state is ActiveState {
  return state !== 'idle' && !TERMINAL_SET.has(state);
}

/** Whether the table allows going from `from` straight to `to`. */
export function canTransition<S extends UpdateState>(from: S, to: UpdateState): to is NextState<S> {
  return (TRANSITIONS[from] as readonly UpdateState[]).includes(to);
}

/**
 * The shortest chain of states strictly between `from` and `to`, or `undefined` when `to` cannot
 * be reached. Used by the tracker, because devices often report only some of the states they pass
 * through (insigh.io reports only success or failure). The search never passes through `idle` or a
 * terminal state on the way, so it cannot invent a whole new update.
 */
export function statesBetween(from: UpdateState, to: UpdateState): UpdateState[] | undefined {
  if (canTransition(from, to)) return [];
  const previous = new Map<UpdateState, UpdateState>();
  const queue: UpdateState[] = [from];
  while (queue.length > 0) {
    const current = queue.shift()!;
    for (const next of TRANSITIONS[current] as readonly UpdateState[]) {
      if (previous.has(next) || next === from) continue;
      previous.set(next, current);
      if (next === to) {
        const path: UpdateState[] = [];
        for (let step = previous.get(to)!; step !== from; step = previous.get(step)!) path.unshift(step);
        return path;
      }
      if (next !== 'idle' && !isTerminalState(next)) queue.push(next);
    }
  }
  return undefined;
}

/** The update phase a state belongs to; failures are reported against their phase. */
export type UpdatePhase = 'check' | 'download' | 'verify' | 'install';

/** The failure state an update ends in when something goes wrong during `state`. */
export function failureStateFor(state: ActiveState): FailureState {
  switch (state) {
    case 'checking':
    case 'available':
      return 'check_failed';
    case 'downloading':
    case 'downloaded':
      return 'download_failed';
    case 'verifying':
      return 'verify_failed';
    case 'installing':
    case 'installed':
    case 'rolling_back':
      return 'install_failed';
  }
}

/**
 * The error code that stands for a failure state when a wire format says only "it failed" (a
 * tracker reading ThingsBoard `FAILED`, Exosite `*_ERROR`, insigh.io `e`=2). `rolled_back` is an
 * install that was undone: `INSTALL` (`ROLLBACK` means the rollback itself failed).
 */
export const FAILURE_ERROR_CODES: Readonly<Record<FailureState, OtaErrorCode>> = {
  check_failed: 'CHECK',
  download_failed: 'DOWNLOAD',
  verify_failed: 'INTEGRITY',
  install_failed: 'INSTALL',
  rolled_back: 'INSTALL',
  canceled: 'ABORTED',
};
