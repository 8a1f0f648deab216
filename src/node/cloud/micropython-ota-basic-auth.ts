/**
 * HTTP Basic auth on the server side, as micropython_ota clients send it (`Authorization: Basic
 * base64(user:password)` on every request). Credentials are compared by their SHA-256 digests
 * with `timingSafeEqual`, every accepted pair is tried (no early exit), so the time an answer
 * takes says nothing about how much of a guess was right.
 *
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { OtaError } from '../../core/errors.js';

/** One accepted user and password. The password never appears in a log line or an error. */
export interface ServerCredentials {
  user: string;
  password: string;
}

/** One pair or several (e.g. during a password rotation). */
export type CredentialsOption = ServerCredentials | readonly ServerCredentials[];

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** The accepted pairs, pre-digested. */
export interface CredentialCheck {
  /** The user name of the pair the header carries, or `null` when it carries none that is accepted. */
  check(authorization: string | undefined): string | null;
}

/**
 * A check against `credentials`.
 *
 * @throws OtaError `CONFIG` naming the field (never its value) when a user or password is empty or a
 *   user contains `:` (RFC 7617: the header could not be split).
 */
export function credentialCheck(credentials: CredentialsOption, field: string): CredentialCheck {
  const list = Array.isArray(credentials) ? credentials : [credentials as ServerCredentials];
  if (list.length === 0) throw new OtaError('CONFIG', `${field}: expected at least one { user, password }`);
  const pairs = list.map((pair, index) => {
    const where = Array.isArray(credentials) ? `${field}[${index}]` : field;
    if (typeof pair?.user !== 'string' || pair.user === '' || pair.user.includes(':')) {
      throw new OtaError('CONFIG', `${where}.user: expected a non-empty string without ":"`);
    }
    if (typeof pair.password !== 'string' || pair.password === '') {
      throw new OtaError('CONFIG', `${where}.password: expected a non-empty string`);
    }
    return { user: pair.user, user256: digest(pair.user), password256: digest(pair.password) };
  });
  return {
    check(authorization) {
      const given = parseBasic(authorization);
      if (given === null) return null;
      const user256 = digest(given.user);
      const password256 = digest(given.password);
      let accepted: string | null = null;
      for (const pair of pairs) {
        // Both comparisons always run, for every pair.
        const userOk = timingSafeEqual(user256, pair.user256);
        const passwordOk = timingSafeEqual(password256, pair.password256);
        if (userOk && passwordOk && accepted === null) accepted = pair.user;
      }
      return accepted;
    },
  };
}

/** The user and password of a `Basic` header, or `null` when it is absent or not Basic. */
export function parseBasic(authorization: string | undefined): { user: string; password: string } | null {
  if (authorization === undefined) return null;
  const match = /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(authorization);
  if (match === null) return null;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
