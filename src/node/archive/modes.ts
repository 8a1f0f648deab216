/**
 * The permission bits an extracted entry gets. An archive decides whether a file is executable
 * (`update.sh` must be), never who may write it or whether it runs with its owner's rights.
 *
 * @module
 */

/** File-type bits of a Unix `st_mode` (as stored by tar's mode field and zip's external attributes). */
export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;

/**
 * Keeps the read and execute bits, drops setuid, setgid, sticky and group/other write, and
 * always lets the owner read and write (an unreadable file could not be installed or removed).
 * `0o755` stays, `0o644` stays, `0o600` stays, `0o4777` becomes `0o755`.
 */
export function safeFileMode(mode: number): number {
  return (mode & 0o755) | 0o600;
}

/** As {@link safeFileMode}, and the owner may always list and enter the directory. */
export function safeDirectoryMode(mode: number): number {
  return (mode & 0o755) | 0o700;
}

/** Used when an archive carries no Unix mode (zip from Windows, DOS attributes). */
export const DEFAULT_FILE_MODE = 0o644;
export const DEFAULT_DIRECTORY_MODE = 0o755;
