/**
 * Logging, injected. otakit never writes to the console on its own; pass `console` or your
 * logger (pino, winston) to see what it does. Messages never contain credentials: callers log
 * state names, ids and error codes, never URLs with secrets or hook payloads.
 *
 * @module
 */

export interface Logger {
  debug(message: string, context?: Record<string, unknown>): void;
  info(message: string, context?: Record<string, unknown>): void;
  warn(message: string, context?: Record<string, unknown>): void;
  error(message: string, context?: Record<string, unknown>): void;
}

const ignore = (): void => {};

/** The default: says nothing. */
export const noopLogger: Logger = { debug: ignore, info: ignore, warn: ignore, error: ignore };
