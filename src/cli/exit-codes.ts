/**
 * The exit codes of the `otakit` command, and the error that carries one. `0` the operation
 * succeeded; `1` it failed (an invalid manifest, a failed update, a refused request); `2` the
 * command line was wrong (unknown option, missing argument, a value that does not parse).
 *
 * @module
 */

export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error the command reports in one line and exits with `exitCode`. */
export class CliError extends Error {
  override name = 'CliError';
  readonly exitCode: ExitCode;

  constructor(message: string, exitCode: ExitCode = EXIT.failed) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** A command line that cannot be run as given: exit 2. */
export function usageError(message: string): CliError {
  return new CliError(message, EXIT.usage);
}
