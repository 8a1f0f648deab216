/**
 * The error `otakit/mqtt` throws when its optional peer dependency, mqtt.js, is not installed.
 * Without it, users only saw Node's bare `ERR_MODULE_NOT_FOUND` for `mqtt`, which does not say
 * that otakit needs it nor how to get it.
 *
 * @module
 */

/** What to run, in the error message and in the docs. */
export const INSTALL_MQTT = 'npm install mqtt';

/**
 * When `cause` is Node's "cannot find `mqtt`" (ESM `ERR_MODULE_NOT_FOUND` or CJS
 * `MODULE_NOT_FOUND`, for the package itself, not for one of mqtt.js's own dependencies), returns
 * an error that says what to install; otherwise undefined (the original error is rethrown). The
 * original `code` is kept, so code that checks it still works, and the original error is `cause`.
 */
export function missingMqttError(cause: unknown): Error | undefined {
  const code = (cause as { code?: unknown } | null)?.code;
  const message = cause instanceof Error ? cause.message : '';
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return undefined;
  if (!/(["'])mqtt\1/.test(message)) return undefined;
  const error = new Error(
    `otakit/mqtt needs mqtt.js (the optional peer dependency \`mqtt\`, version 5), and it is not ` +
      `installed. Install it next to otakit: \`${INSTALL_MQTT}\`.`,
    { cause },
  );
  return Object.assign(error, { code });
}
