/**
 * Who may read a release and who may publish one, for the Connhex release endpoint: the device
 * sends `Authorization: Thing <thing key>` (or `Bearer <token>`); a publisher sends
 * `Bearer <publisher token>`. Keys are compared in constant time (both sides hashed to the same
 * length first), and never logged or put in an error.
 *
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** The endpoint a request is for: a device's, or a firmware's artifact endpoint. */
export type ConnhexReleaseEndpoint =
  | { kind: 'device'; initId: string }
  | { kind: 'artifact'; firmwareId: string };

/**
 * The keys accepted at an endpoint: a function of it, or a table `initId → key` for device
 * endpoints (an artifact endpoint then accepts any device's key). `undefined` or `[]`: nobody.
 */
export type ConnhexReleaseKeys =
  | ((
      endpoint: ConnhexReleaseEndpoint,
    ) => string | readonly string[] | undefined | Promise<string | readonly string[] | undefined>)
  | Readonly<Record<string, string>>
  | ReadonlyMap<string, string>;

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** Whether `presented` equals `expected`, in time that does not depend on where they differ. */
export function sameSecret(presented: string, expected: string): boolean {
  // Hashing first gives equal lengths, so timingSafeEqual never throws and length leaks nothing.
  return timingSafeEqual(digest(presented), digest(expected)) && expected.length > 0;
}

/** The credential of an `Authorization` header, for one of `schemes`; `undefined` otherwise. */
export function presentedKey(header: string | undefined, schemes: readonly string[]): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^([A-Za-z]+) +([\x21-\x7e]+)$/.exec(header.trim());
  if (match === null || !schemes.includes(match[1]!)) return undefined;
  return match[2];
}

async function keysFor(
  keys: ConnhexReleaseKeys,
  endpoint: ConnhexReleaseEndpoint,
): Promise<readonly string[]> {
  let found: string | readonly string[] | undefined;
  if (typeof keys === 'function') found = await keys(endpoint);
  else if (keys instanceof Map) {
    found = endpoint.kind === 'device' ? keys.get(endpoint.initId) : [...keys.values()];
  } else {
    const table = keys as Readonly<Record<string, string>>;
    found =
      endpoint.kind === 'device'
        ? Object.hasOwn(table, endpoint.initId)
          ? table[endpoint.initId]
          : undefined
        : Object.values(table);
  }
  if (found === undefined) return [];
  return typeof found === 'string' ? [found] : found;
}

/** Whether the `Authorization` header carries a key accepted at `endpoint` (`Thing` or `Bearer`). */
export async function deviceAllowed(
  keys: ConnhexReleaseKeys,
  endpoint: ConnhexReleaseEndpoint,
  header: string | undefined,
): Promise<boolean> {
  const presented = presentedKey(header, ['Thing', 'Bearer']);
  if (presented === undefined) return false;
  let allowed = false;
  // Every accepted key is compared, so the time does not tell which one (or whether any) matched.
  for (const key of await keysFor(keys, endpoint)) {
    if (typeof key === 'string' && sameSecret(presented, key)) allowed = true;
  }
  return allowed;
}
