/**
 * What commands print: text lines for people, or JSON with `--json` (one document for a result,
 * one line per event for a stream). Errors go to stderr. Everything that may hold a credential
 * (URLs, error messages) passes through {@link redact} first.
 *
 * @module
 */
import { redactText, redactUrl } from '../protocols/secrets.js';

export interface Output {
  /** Whether `--json` was given. */
  readonly json: boolean;
  /** A line of text (skipped with `--json`). */
  line(text: string): void;
  /** A JSON document (pretty) as the command's result. */
  result(value: unknown): void;
  /** One JSON value on one line (`--json` streams). */
  event(value: unknown): void;
  /** A line on stderr, whatever the mode. */
  error(text: string): void;
}

export interface OutputOptions {
  json?: boolean;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

export function createOutput(options: OutputOptions = {}): Output {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const json = options.json ?? false;
  return {
    json,
    line(text) {
      if (!json) stdout.write(`${text}\n`);
    },
    result(value) {
      stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    },
    event(value) {
      stdout.write(`${JSON.stringify(value)}\n`);
    },
    error(text) {
      stderr.write(`${text}\n`);
    },
  };
}

/** A URL as it may be printed: user info, secret query parameters and path tokens masked. */
export function redactedUrl(url: string): string {
  return redactUrl(url);
}

/** Text (an error message) as it may be printed. */
export function redact(text: string): string {
  return redactText(text);
}
