/**
 * Runs one hook within its phase's time budget and retry budget. A hook that ignores its
 * signal is abandoned when the deadline passes, so no hook can wedge the machine.
 *
 * @module
 */
import { abortReason, deadlineSignal, raceAbort, sleep } from '../core/abort.js';
import type { Clock } from '../core/clock.js';
import { type OtaError, type OtaErrorCode, toOtaError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { backoffDelay, DEFAULT_RETRY, type RetryPolicy } from '../core/retry.js';
import type { HookContext, HookName } from './hooks.js';

/** Per-phase time budgets, in ms. `Infinity` disables a timeout. */
export type PhaseTimeouts = Record<HookName, number>;
export type PhaseRetries = Record<HookName, RetryPolicy>;

export const DEFAULT_TIMEOUTS: PhaseTimeouts = {
  check: 60_000,
  download: 3_600_000,
  verify: 600_000,
  install: 1_800_000,
  healthCheck: 300_000,
  commit: 60_000,
  rollback: 1_800_000,
  report: 15_000,
};

const once: RetryPolicy = { ...DEFAULT_RETRY, attempts: 1 };

/**
 * Checking, downloading, committing, rolling back and reporting talk to the outside world and
 * are worth retrying; verifying, installing and health-checking are not (the same bytes give the
 * same answer, and installing twice is not safe by default).
 */
export const DEFAULT_RETRIES: PhaseRetries = {
  check: DEFAULT_RETRY,
  download: { ...DEFAULT_RETRY, attempts: 5 },
  verify: once,
  install: once,
  healthCheck: once,
  commit: DEFAULT_RETRY,
  rollback: DEFAULT_RETRY,
  report: { ...DEFAULT_RETRY, baseDelayMs: 500 },
};

/** The code an unknown error thrown by a hook is wrapped with. */
const HOOK_ERROR_CODES: Record<HookName, OtaErrorCode> = {
  check: 'CHECK',
  download: 'DOWNLOAD',
  verify: 'INTEGRITY',
  install: 'INSTALL',
  healthCheck: 'HEALTH_CHECK',
  commit: 'COMMIT',
  rollback: 'ROLLBACK',
  report: 'REPORT',
};

const RETRYABLE_BY_DEFAULT: ReadonlySet<HookName> = new Set([
  'check',
  'download',
  'commit',
  'rollback',
  'report',
]);

export interface PhaseRunnerOptions {
  machineId: string;
  clock: Clock;
  logger: Logger;
  timeouts: PhaseTimeouts;
  retries: PhaseRetries;
  random: () => number;
}

export class PhaseRunner {
  readonly #options: PhaseRunnerOptions;

  constructor(options: PhaseRunnerOptions) {
    this.#options = options;
  }

  /**
   * Calls `call` until it succeeds, its error is not retryable, the budget is spent, or `signal`
   * aborts. Always rejects with an {@link OtaError}.
   */
  async run<T>(name: HookName, signal: AbortSignal, call: (context: HookContext) => Promise<T>): Promise<T> {
    const { clock, logger, machineId } = this.#options;
    const policy = this.#options.retries[name];
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw toOtaError(abortReason(signal), 'ABORTED');
      const deadline = deadlineSignal(signal, this.#options.timeouts[name], clock, `${name} hook`);
      let error: OtaError;
      try {
        const work = Promise.resolve().then(() =>
          call({ signal: deadline.signal, machineId, attempt, logger }),
        );
        return await raceAbort(work, deadline.signal);
      } catch (thrown) {
        error = signal.aborted
          ? toOtaError(abortReason(signal), 'ABORTED')
          : toOtaError(thrown, HOOK_ERROR_CODES[name], RETRYABLE_BY_DEFAULT.has(name));
      } finally {
        deadline.dispose();
      }
      if (signal.aborted || !error.retryable || attempt >= policy.attempts) throw error;
      const delay = backoffDelay(policy, attempt, this.#options.random);
      logger.info('otakit retry', {
        machine: machineId,
        hook: name,
        attempt,
        delayMs: delay,
        code: error.code,
      });
      try {
        await sleep(delay, clock, signal);
      } catch (aborted) {
        throw toOtaError(aborted, 'ABORTED');
      }
    }
  }
}
