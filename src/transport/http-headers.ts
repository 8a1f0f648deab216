/**
 * Parsers for the HTTP headers a resumable download depends on. Each returns `undefined` for
 * anything malformed, so a hostile header degrades to "start over", never to a wrong offset.
 *
 * @module
 */

export interface ContentRange {
  start: number;
  end: number;
  /** `null` for `bytes a-b/*`. */
  total: number | null;
}

/** `bytes 100-199/1000` → `{ start: 100, end: 199, total: 1000 }` (RFC 9110 §14.4). */
export function parseContentRange(value: string | null): ContentRange | undefined {
  if (value === null) return undefined;
  const match = /^\s*bytes\s+(\d{1,16})-(\d{1,16})\/(\d{1,16}|\*)\s*$/i.exec(value);
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = Number(match[2]);
  const total = match[3] === '*' ? null : Number(match[3]);
  if (end < start || (total !== null && end >= total)) return undefined;
  return { start, end, total };
}

/** A non-negative integer Content-Length, or `undefined`. */
export function parseContentLength(value: string | null): number | undefined {
  if (value === null || !/^\s*\d{1,16}\s*$/.test(value)) return undefined;
  return Number(value);
}

/**
 * `Retry-After` as milliseconds from `now`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
 * Negative results (a date in the past) become 0.
 */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d{1,10}$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Whether an ETag is weak (`W/"…"`): weak tags cannot validate byte ranges (RFC 9110 §13.1.5). */
export function isWeakEtag(etag: string): boolean {
  return etag.startsWith('W/');
}
