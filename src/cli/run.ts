/**
 * Runs the `otakit` program on an argument list and returns the exit code, mapping what went
 * wrong: commander's usage errors (unknown option, missing argument) → 2, `--help` → 0, a
 * {@link CliError} → its code, an invalid manifest → 1 with each issue's path, anything else
 * → 1 with its (redacted) message.
 *
 * @module
 */
import { CommanderError } from 'commander';
import { isOtaError, ManifestError } from '../core/errors.js';
import { CliError, EXIT, type ExitCode } from './exit-codes.js';
import { redact } from './output.js';
import { createProgram } from './program.js';

export async function run(argv: readonly string[]): Promise<ExitCode> {
  const program = createProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    // A command that printed its own failure (an invalid manifest) sets process.exitCode.
    return (typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok) as ExitCode;
  } catch (error) {
    return report(error);
  }
}

function report(error: unknown): ExitCode {
  if (error instanceof CommanderError) {
    // Commander has printed the help or the error already.
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (error instanceof CliError) {
    process.stderr.write(`otakit: ${redact(error.message)}\n`);
    return error.exitCode;
  }
  if (error instanceof ManifestError || isOtaError(error, 'MANIFEST_INVALID')) {
    const issues = (error as ManifestError).issues ?? [];
    process.stderr.write(`otakit: ${redact((error as Error).message.split(':')[0] ?? 'Invalid input')}\n`);
    for (const issue of issues) {
      process.stderr.write(`  ${issue.path || '(root)'}: expected ${redact(issue.expected)}\n`);
    }
    return EXIT.failed;
  }
  const message = error instanceof Error ? error.message : String(error);
  const code = isOtaError(error) ? ` [${error.code}]` : '';
  process.stderr.write(`otakit: ${redact(message)}${code}\n`);
  return EXIT.failed;
}
