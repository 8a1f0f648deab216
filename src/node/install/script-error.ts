/**
 * The error of an update script that failed: non-zero exit, killed by a signal, or timed out.
 *
 * @module
 */
import { InstallError, type OtaErrorOptions, type SerializedOtaError } from '../../core/errors.js';

export interface ScriptFailure {
  /** The exit code, or `null` when the script was ended by a signal. */
  exitCode: number | null;
  /** The signal that ended the script, or `null` when it exited. */
  exitSignal: NodeJS.Signals | null;
  /** The script ran out of time and its process group was killed. */
  timedOut: boolean;
  /** The captured tail of stdout and stderr (at most `maxOutputBytes`). */
  output: string;
  /** How many output bytes the script wrote in all, kept or not. */
  outputBytes: number;
}

/**
 * An update script failed. Code `INSTALL`, never retryable: running the same script again rarely
 * fixes it, and the machine rolls back instead.
 *
 * `output` is on the object for local diagnosis but kept out of `toJSON()`, because snapshots and
 * status reports leave the device and a script may print secrets. The message carries only the
 * last few lines (see `messageLines`).
 */
export class ScriptError extends InstallError {
  override name = 'ScriptError';
  readonly exitCode: number | null;
  readonly exitSignal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  readonly output: string;
  readonly outputBytes: number;

  constructor(message: string, failure: ScriptFailure, options: OtaErrorOptions = {}) {
    super(message, { ...options, code: 'INSTALL', retryable: false });
    this.exitCode = failure.exitCode;
    this.exitSignal = failure.exitSignal;
    this.timedOut = failure.timedOut;
    this.output = failure.output;
    this.outputBytes = failure.outputBytes;
  }

  override toJSON(): SerializedOtaError & {
    exitCode: number | null;
    exitSignal: string | null;
    timedOut: boolean;
  } {
    return {
      ...super.toJSON(),
      exitCode: this.exitCode,
      exitSignal: this.exitSignal,
      timedOut: this.timedOut,
    };
  }
}
