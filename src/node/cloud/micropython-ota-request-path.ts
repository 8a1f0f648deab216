/**
 * From a request target to a file under the server root, refusing anything that would leave it.
 *
 * The reference client (docs/protocols/micropythonOta.md) builds `<host>/<project>/version` and
 * `<host>/<project>/<version>_<file>` by concatenation and sends them unescaped; otakit's agent
 * percent-encodes every segment. Both must find the same file, so each segment is decoded once.
 * A decoded segment must then be a plain name: no `/` or `\` (an encoded separator would climb
 * or split it), no `.` or `..`, no control or whitespace character, none of `? # %`, and no
 * leading `.` (dot files are never served: the publisher's temporary files start with one, and
 * so do `.htpasswd` or `.git`). Empty segments are dropped, as nginx merges slashes: the
 * reference asks for `//sample/version` when its host ends with `/`.
 *
 * The lexical check keeps the path under the root; `resolveInsideRoot` then follows symlinks and
 * checks the real path again, so a link pointing out of the root is refused too.
 *
 * @module
 */
import { realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { errorCode } from '../install/durable-fs.js';

/** A request path that cannot name a file of the root. The message never holds the path. */
export class RefusedPathError extends Error {
  override name = 'RefusedPathError';
}

/** A plain name: printable, no whitespace, no separator, none of `? # %`, no leading dot. */
const PLAIN_SEGMENT = /^(?!\.)[^\s\p{C}/\\?#%]+$/u;

/** Whether `segment` (decoded) may name a file or directory under the root. */
export function isPlainSegment(segment: string): boolean {
  return PLAIN_SEGMENT.test(segment);
}

/**
 * The decoded segments of a request target (`/sample/v1.0.1_main.py` → `['sample',
 * 'v1.0.1_main.py']`). The query, if any, is ignored.
 *
 * @throws RefusedPathError when the target is not an absolute path, holds a malformed escape, or
 *   a segment that is not a plain name.
 */
export function requestSegments(target: string): string[] {
  const query = target.indexOf('?');
  const path = query === -1 ? target : target.slice(0, query);
  if (!path.startsWith('/')) throw new RefusedPathError('not an absolute path');
  const segments: string[] = [];
  for (const raw of path.split('/')) {
    if (raw === '') continue;
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      throw new RefusedPathError('a malformed percent-escape');
    }
    if (!isPlainSegment(segment)) throw new RefusedPathError('a segment that is not a plain name');
    segments.push(segment);
  }
  if (segments.length === 0) throw new RefusedPathError('no file named');
  return segments;
}

/** Whether `path` is `root` or below it (both real, absolute paths). */
export function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);
}

/**
 * The real path of the file `segments` name under `root`, or `null` when there is none or it
 * lies outside the root once symlinks are followed. `realRoot` is `realpath(root)`.
 */
export async function resolveInsideRoot(
  realRoot: string,
  segments: readonly string[],
): Promise<string | null> {
  let real: string;
  try {
    real = await realpath(join(realRoot, ...segments));
  } catch (error) {
    const code = errorCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'ENAMETOOLONG') return null;
    throw error;
  }
  return isInside(realRoot, real) && real !== realRoot ? real : null;
}
