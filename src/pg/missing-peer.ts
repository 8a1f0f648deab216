/**
 * The error `otakit/pg` throws when its optional peer dependency, `pg` (node-postgres), is not
 * installed: Node's bare `ERR_MODULE_NOT_FOUND` says neither that otakit needs it nor how to get it.
 *
 * @module
 */
import { OtaError } from '../core/errors.js';

/** What to run, in the error message and in the docs. */
export const INSTALL_PG = 'npm install pg';

/** `otakit/pg` was imported but `pg` is not installed. `moduleCode` is Node's original code. */
export class MissingPgError extends OtaError {
  override name = 'MissingPgError';
  readonly moduleCode: string;

  constructor(moduleCode: string, cause: unknown) {
    super(
      'CONFIG',
      `otakit/pg needs node-postgres (the optional peer dependency \`pg\`, version 8), and it is not ` +
        `installed. Install it next to otakit: \`${INSTALL_PG}\`.`,
      { cause },
    );
    this.moduleCode = moduleCode;
  }
}

/**
 * When `cause` is Node's "cannot find `pg`" (ESM `ERR_MODULE_NOT_FOUND` or CJS
 * `MODULE_NOT_FOUND`, for the package itself, not for one of its own dependencies), a
 * {@link MissingPgError}; otherwise undefined (the original error is rethrown).
 */
export function missingPgError(cause: unknown): MissingPgError | undefined {
  const code = (cause as { code?: unknown } | null)?.code;
  const message = cause instanceof Error ? cause.message : '';
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return undefined;
  if (!/(["'])pg\1/.test(message)) return undefined;
  return new MissingPgError(code, cause);
}
