/**
 * Parsers of option values shared by the commands. A value that does not parse is a usage
 * error (exit 2); a secret is read from the environment variable named on the command line,
 * never from the command line itself (it would show in `ps` and shell history).
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { CliError, EXIT, usageError } from './exit-codes.js';

/** A TCP port, 0 for any free one. */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw usageError(`--port must be an integer from 0 to 65535, not "${value}"`);
  }
  return port;
}

/** A positive number of seconds, as milliseconds. */
export function parseSeconds(value: string, name: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw usageError(`${name} must be a positive number of seconds, not "${value}"`);
  }
  return Math.round(seconds * 1000);
}

/** Inline JSON (`{"deviceId":"…"}`) or `@file.json`. */
export async function parseJsonOption(value: string, name: string): Promise<unknown> {
  const text = value.startsWith('@') ? await readText(value.slice(1), name) : value;
  try {
    return JSON.parse(text);
  } catch {
    throw usageError(`${name} must be JSON (or @file.json)`);
  }
}

/** The text of `path`; a missing file is a usage error. */
export async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw usageError(`${what}: cannot read ${path} (${code ?? 'error'})`);
  }
}

/** The JSON in the file at `path`: unreadable is a usage error, not JSON is a failure (exit 1). */
export async function readJsonFile(path: string, what: string): Promise<unknown> {
  const text = await readText(path, what);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new CliError(`${what}: ${path} is not JSON (${(error as Error).message})`, EXIT.failed);
  }
}

/** The value of the environment variable `name`, which must be set and not empty. */
export function secretFromEnv(name: string, option: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') {
    throw usageError(`${option} ${name}: the environment variable ${name} is not set`);
  }
  return value;
}
