/**
 * The file channel: a wire message of kind `file` becomes a local file, written atomically (a
 * temp file beside it, fsync, rename over the old one, fsync of the directory), so a power cut
 * leaves the old content or the new one, never a torn file. It carries micropython_ota's local
 * `version` file, the protocol's only "status".
 *
 * A message's address is a path relative to the channel's directory. Addresses that would leave
 * it (absolute paths, `..`, a symlinked directory pointing elsewhere) are refused with a typed
 * error: an address comes from a protocol decoding network input, and must not pick the file.
 *
 * @example
 * ```ts
 * import { fileChannel } from 'otakit/node'
 *
 * const files = fileChannel({ directory: '/opt/app' })
 * await files.send({ channel: 'file', address: 'version', payload: 'v1.0.1' }) // /opt/app/version
 * ```
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, realpath, rename, rm } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { throwIfAborted } from '../core/abort.js';
import { isOtaError, ManifestError, OtaError, TransportError } from '../core/errors.js';
import { serialize } from '../core/serialize.js';
import type { WireMessage } from '../protocols/contract.js';
import type { Channel, ChannelSendOptions } from '../transport/channel.js';
import { errorCode, fsyncDirectory } from './install/durable-fs.js';

export interface FileChannelOptions {
  /** The directory message addresses are relative to. Created on the first write if missing. */
  directory: string;
  /**
   * fsync each file and its directory. Turn off only for tests on tmpfs: without it a power cut
   * may undo a write that was reported done.
   * @default true
   */
  fsync?: boolean;
  /**
   * Permissions of the files written: exactly these, whatever the umask.
   * @default 0o644
   */
  mode?: number;
}

export interface FileChannel extends Channel {
  readonly kind: 'file';
  /** The absolute path of the channel's directory. */
  readonly directory: string;
  /**
   * The absolute path `address` is written to.
   * @throws ManifestError (`MANIFEST_INVALID`, path `address`) when it would leave the directory.
   */
  pathOf(address: string): string;
}

/** Temp files of this channel: `.<name>.<12 hex>.otakit-tmp`, beside the file they replace. */
const TEMP_FILE = /^\..+\.[0-9a-f]{12}\.otakit-tmp$/;

/** Whether `name` is a temp file a killed write of a file channel left behind. */
export function isFileChannelTemp(name: string): boolean {
  return TEMP_FILE.test(name);
}

const ADDRESS_RULE =
  'a relative path inside the directory: no leading /, no empty, . or .. segments, no \\ or NUL';

function refuse(): never {
  throw new ManifestError('file channel message', [{ path: 'address', expected: ADDRESS_RULE }]);
}

/**
 * The absolute path of `address` under `directory`, checked lexically: a relative path whose
 * segments are all names (no `.`, `..` or empty ones).
 *
 * @throws ManifestError (`MANIFEST_INVALID`, path `address`); the address is not quoted.
 */
export function resolveFileAddress(directory: string, address: unknown): string {
  if (typeof address !== 'string' || address.length === 0 || address.length > 4096) refuse();
  if (isAbsolute(address) || address.includes('\\') || address.includes('\0')) refuse();
  const segments = address.split('/');
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..')) refuse();
  const root = resolve(directory);
  const path = resolve(root, address);
  const inside = relative(root, path);
  if (inside === '' || inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside)) refuse();
  return path;
}

/** Whether `path` is `root` or below it. */
function within(root: string, path: string): boolean {
  const inside = relative(root, path);
  return inside === '' || (!inside.startsWith(`..${sep}`) && inside !== '..' && !isAbsolute(inside));
}

/**
 * Creates a file channel. Writes through one channel run one at a time, in call order, so two
 * writes of one file land in the order they were sent.
 */
export function fileChannel(options: FileChannelOptions): FileChannel {
  if (typeof options?.directory !== 'string' || options.directory.length === 0) {
    throw new OtaError('CONFIG', 'fileChannel needs directory: a directory path');
  }
  const directory = resolve(options.directory);
  const fsync = options.fsync ?? true;
  const mode = options.mode ?? 0o644;
  const queue = serialize();
  const swept = new Set<string>();

  /** Removes temp files a killed write left in `folder` (once per folder and channel). */
  const sweep = async (folder: string): Promise<void> => {
    if (swept.has(folder)) return;
    for (const name of await readdir(folder)) {
      if (isFileChannelTemp(name)) await rm(join(folder, name), { force: true });
    }
    swept.add(folder);
  };

  const write = async (path: string, payload: string, signal: AbortSignal | undefined): Promise<void> => {
    const folder = dirname(path);
    await mkdir(folder, { recursive: true, mode: 0o755 });
    // The lexical check cannot see symlinks: a directory on the way may point elsewhere.
    const [realRoot, realFolder] = await Promise.all([realpath(directory), realpath(folder)]);
    if (!within(realRoot, realFolder)) refuse();
    await sweep(folder);
    throwIfAborted(signal);
    const temporary = join(folder, `.${basename(path)}.${randomBytes(6).toString('hex')}.otakit-tmp`);
    // 'wx': a name planted in the directory (a symlink, say) is never followed or reused.
    const handle = await open(temporary, 'wx', mode);
    try {
      try {
        await handle.chmod(mode);
        await handle.writeFile(payload, 'utf8');
        if (fsync) await handle.sync();
      } finally {
        await handle.close();
      }
      // rename() replaces the name itself: a symlink at `path` is replaced, not followed.
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    if (fsync) await fsyncDirectory(folder);
  };

  return {
    kind: 'file',
    directory,
    pathOf: (address) => resolveFileAddress(directory, address),
    send(message: WireMessage, sendOptions: ChannelSendOptions = {}): Promise<undefined> {
      return queue(async () => {
        if (message?.channel !== 'file') {
          throw new OtaError('CONFIG', `The file channel cannot send a ${String(message?.channel)} message`);
        }
        if (typeof message.payload !== 'string') {
          throw new ManifestError('file channel message', [{ path: 'payload', expected: 'text' }]);
        }
        const path = resolveFileAddress(directory, message.address);
        throwIfAborted(sendOptions.signal);
        try {
          await write(path, message.payload, sendOptions.signal);
        } catch (error) {
          if (isOtaError(error)) throw error;
          const code = errorCode(error) ?? (error instanceof Error ? error.name : 'error');
          // The path is the channel's own, not a secret; the payload is never quoted.
          throw new TransportError(`Writing ${path} failed: ${code}`, { cause: error, retryable: true });
        }
        return undefined;
      });
    },
  };
}
