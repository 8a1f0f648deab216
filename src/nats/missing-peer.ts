/**
 * The error `otakit/nats` throws when its optional peer dependency, `@nats-io/transport-node`, is
 * not installed. Without it users only saw Node's bare `ERR_MODULE_NOT_FOUND`, which says neither
 * that otakit needs the package nor which one (the legacy `nats` package is superseded).
 *
 * @module
 */
import { OtaError } from '../core/errors.js';

/** The package `otakit/nats` loads. */
export const NATS_PACKAGE = '@nats-io/transport-node';

/** What to run, in the error message and in the docs. */
export const INSTALL_NATS = `npm install ${NATS_PACKAGE}`;

/** The error for a missing `@nats-io/transport-node`: code `CONFIG`, the original error as `cause`. */
export class MissingNatsPeerError extends OtaError {
  override name = 'MissingNatsPeerError';
  /** Node's own code (`ERR_MODULE_NOT_FOUND` or `MODULE_NOT_FOUND`), kept for code that checks it. */
  readonly moduleCode: string;

  constructor(moduleCode: string, cause: unknown) {
    super(
      'CONFIG',
      `otakit/nats needs ${NATS_PACKAGE} (its optional peer dependency, version 3), and it is not ` +
        `installed. Install it next to otakit: \`${INSTALL_NATS}\`.`,
      { cause },
    );
    this.moduleCode = moduleCode;
  }
}

/**
 * When `cause` is Node's "cannot find `@nats-io/transport-node`" (ESM `ERR_MODULE_NOT_FOUND` or
 * CJS `MODULE_NOT_FOUND`, for the package itself, not for one of its own dependencies), returns
 * a {@link MissingNatsPeerError}; otherwise `undefined` (the caller rethrows the original).
 */
export function missingNatsError(cause: unknown): MissingNatsPeerError | undefined {
  const code = (cause as { code?: unknown } | null)?.code;
  const message = cause instanceof Error ? cause.message : '';
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return undefined;
  if (!/(["'])@nats-io\/transport-node\1/.test(message)) return undefined;
  return new MissingNatsPeerError(code, cause);
}
