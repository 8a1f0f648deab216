/**
 * What part of a file a GET or HEAD answers with (RFC 9110 sections 13 and 14): the whole file,
 * one byte range, "not modified" or "range not satisfiable". A device agent resumes a broken
 * download with `Range: bytes=N-` and `If-Range: <etag>`, so these rules decide whether it gets
 * the rest of the same file or the whole of a new one. Pure: the caller gives the file's size
 * and validators.
 *
 * @module
 */
import type { Stats } from 'node:fs';

/** The validators of one file: a strong ETag and its modification date. */
export interface Validators {
  etag: string;
  lastModified: string;
}

/**
 * A strong ETag from the inode, size and modification time. The publisher replaces a file by
 * renaming a new one over it, so a changed file always has a new inode, even when its size and
 * modification time happen to match.
 */
export function validatorsOf(stats: Stats): Validators {
  const parts = [stats.ino, stats.size, Math.floor(stats.mtimeMs)].map((part) => part.toString(16));
  return { etag: `"${parts.join('-')}"`, lastModified: stats.mtime.toUTCString() };
}

/** The request headers that matter here, lower-cased as Node gives them. */
export interface ConditionalHeaders {
  range?: string | undefined;
  'if-range'?: string | undefined;
  'if-none-match'?: string | undefined;
  'if-modified-since'?: string | undefined;
}

export type Answer =
  | { status: 200; start: 0; end: number }
  | { status: 206; start: number; end: number }
  | { status: 304 }
  | { status: 416 };

/** Whether an `If-None-Match` list holds `etag` (weak comparison, as the header asks). */
function noneMatchHolds(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  const opaque = etag.replace(/^W\//, '');
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === opaque);
}

/** Whether `If-Range` lets the range apply: the same strong ETag, or exactly the same date. */
function ifRangeHolds(header: string | undefined, validators: Validators): boolean {
  if (header === undefined) return true;
  const value = header.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return value === validators.etag;
  return value === validators.lastModified;
}

/**
 * One byte range of a file of `size` bytes, inclusive, or `'unsatisfiable'`, or `null` when
 * the header is not a single byte range (then the whole file is sent, as RFC 9110 allows).
 */
export function parseSingleRange(
  header: string,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | null {
  const match = /^bytes[ \t]*=[ \t]*(\d*)[ \t]*-[ \t]*(\d*)[ \t]*$/i.exec(header);
  if (match === null) return null;
  const [, first, last] = match as unknown as [string, string, string];
  if (first === '' && last === '') return null;
  if (first === '') {
    // A suffix: the last N bytes.
    const length = Number(last);
    if (length === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? Number.MAX_SAFE_INTEGER : Number(last);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return null;
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(end, size - 1) };
}

/** The answer to a GET or HEAD of a file of `size` bytes with these validators. */
export function decideAnswer(headers: ConditionalHeaders, size: number, validators: Validators): Answer {
  const noneMatch = headers['if-none-match'];
  if (noneMatch !== undefined) {
    if (noneMatchHolds(noneMatch, validators.etag)) return { status: 304 };
  } else if (headers['if-modified-since'] !== undefined) {
    const since = Date.parse(headers['if-modified-since']);
    if (!Number.isNaN(since) && Date.parse(validators.lastModified) <= since) return { status: 304 };
  }
  const whole = { status: 200 as const, start: 0 as const, end: size - 1 };
  if (headers.range === undefined || !ifRangeHolds(headers['if-range'], validators)) return whole;
  const range = parseSingleRange(headers.range, size);
  if (range === null) return whole;
  if (range === 'unsatisfiable') return { status: 416 };
  return { status: 206, ...range };
}
