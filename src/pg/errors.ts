/**
 * Errors from node-postgres, made safe to log: the connection string and the password never
 * appear in a message, and the original error (which may hold the client's configuration) is
 * not kept as `cause`; a copy with its `code` and redacted message is.
 *
 * @module
 */
import { StoreError } from '../core/errors.js';

/** SQLSTATE classes and Node codes after which trying again may succeed. */
const RETRYABLE_SQLSTATE = /^(08|40|53|57P)/;
const RETRYABLE_NODE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENOTFOUND',
]);

/** The secrets a connection string holds: itself, and its password (raw and URL-decoded). */
export function connectionSecrets(connectionString: string | undefined, password?: string): string[] {
  const secrets: string[] = [];
  if (password) secrets.push(password);
  if (connectionString) {
    secrets.push(connectionString);
    const match = /^[a-z][a-z0-9+.-]*:\/\/[^:@/]*:([^@/]*)@/i.exec(connectionString);
    if (match?.[1]) {
      secrets.push(match[1]);
      try {
        secrets.push(decodeURIComponent(match[1]));
      } catch {
        // A malformed escape: the raw form is masked already.
      }
    }
    const keyword = /(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/i.exec(connectionString);
    if (keyword?.[1]) secrets.push(keyword[1], keyword[1].replace(/^'|'$/g, ''));
  }
  // Longest first, so a password inside the connection string does not break its masking.
  return [...new Set(secrets.filter((secret) => secret.length > 0))].sort((a, b) => b.length - a.length);
}

/** `text` with every secret replaced by `***`. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let safe = text;
  for (const secret of secrets) safe = safe.split(secret).join('***');
  // Also any credentials a URL in the text carries (a driver quoting another URL).
  return safe.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:@/\s]*:)[^@/\s]*@/gi, '$1***@');
}

/** A {@link StoreError} for a failed PostgreSQL operation, with nothing secret in it. */
export function pgStoreError(what: string, thrown: unknown, secrets: readonly string[]): StoreError {
  const code = (thrown as { code?: unknown } | null)?.code;
  const raw = thrown instanceof Error ? thrown.message : String(thrown);
  const message = redactSecrets(raw, secrets).slice(0, 1000);
  const copy = new Error(message);
  copy.name = thrown instanceof Error ? thrown.name : 'Error';
  if (typeof code === 'string') Object.assign(copy, { code });
  const retryable = typeof code === 'string' && (RETRYABLE_SQLSTATE.test(code) || RETRYABLE_NODE.has(code));
  return new StoreError(`${what} failed: ${message}`, { cause: copy, retryable });
}
