/**
 * What the micropython_ota agent and `otaUpdate()` are built from: the options, validated, turned
 * into the generic agent's options (protocol, HTTP and file channels, the download hook with the
 * target's Basic auth, the app-directory installer and its hooks), and the start-up step that lets
 * the local `version` file win over the persisted state.
 *
 * @module
 */
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { OtaError } from '../../core/errors.js';
import type { UpdateRef } from '../../core/status.js';
import type { StateStore } from '../../core/store.js';
import type { DeviceAgentOptions } from '../../device/agent.js';
import { statementCompanion } from '../../device/statement-companion.js';
import type { UpdateHooks } from '../../machine/hooks.js';
import { DEFAULTS } from '../../protocols/micropython-ota/limits.js';
import { protocol } from '../../protocols/micropython-ota/protocol.js';
import { parseTarget, type Target } from '../../protocols/micropython-ota/target.js';
import { statementUrl } from '../../protocols/micropython-ota/urls.js';
import type { Channel } from '../../transport/channel.js';
import { httpChannel } from '../../transport/http-channel.js';
import { fileChannel } from '../file-channel.js';
import { createDirectoryInstaller, type DirectoryInstaller } from '../install/directory-installer.js';
import type { InstallStep } from '../install/types.js';
import { type PresetOptions, presetBase } from './common.js';
import { appTreeHooks } from './micropython-ota-install.js';
import { adoptVersionFile, readVersionFile, releaseRef } from './micropython-ota-version.js';

/**
 * What a micropython_ota device polls and fetches: `host`, `project`, `filenames` (in order,
 * relative to the app directory, sub-directories allowed), `layout` (`'prefix'`, the reference's
 * `use_version_prefix=True`, or `'subdirectory'`) and `auth` (`{ user, password }`, HTTP Basic).
 */
export type MicropythonOtaTarget = Target;

export interface MicropythonOtaAgentOptions extends PresetOptions {
  /** The server, project, files, layout and Basic auth credentials. The password is never logged. */
  target: MicropythonOtaTarget;
  /**
   * The device root (the reference's working directory): the release's files are installed here,
   * at their names, and the `version` file lives here. Replaced as a whole by each update, so it
   * must not hold `stateDirectory`; put both on one file system.
   */
  appDirectory: string;
  /**
   * The channel the version checks go out on.
   * @default httpChannel({ timeoutMs: 5000 }) (the reference's `timeout=5`)
   */
  http?: Channel;
  /**
   * The channel the `version` file is written through.
   * @default fileChannel({ directory: appDirectory, fsync })
   */
  file?: Channel;
  /**
   * Fetch each order's signed statement, `<host>/<project>/<version>.otakit.json`, before any
   * download (one more `GET` per new tag; a 404 leaves the order unsigned). The order then runs
   * as the signed manifest, checked against the machine's `trust`.
   * @default true when `machine.trust` is set, else false (the wire stays the reference's)
   */
  signedStatements?: boolean;
  /** The agent id: the key of its state. @default `micropython_ota/<project>` */
  id?: string;
  /** Settings of the directory installer that swaps the app directory. */
  installer?: {
    /** @default `${appDirectory}.otakit-backup` */
    backupPath?: string;
    /** Hears each durable step of an install, commit or rollback (progress logs, crash tests). */
    onStep?: (step: InstallStep) => void | Promise<void>;
  };
}

/** Everything an agent of this platform is built from; shared by the agent and `otaUpdate()`. */
export interface MicropythonOtaParts {
  agent: DeviceAgentOptions<MicropythonOtaTarget>;
  /** Absolute path of the local `version` file. */
  versionFile: string;
  appDirectory: string;
  installer: DirectoryInstaller;
  /** Gives the statement check what the device runs (call with the agent's `current`). */
  attach(current: () => UpdateRef | null): void;
}

function requireDirectory(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new OtaError('CONFIG', `The micropython_ota agent needs ${name}: a directory path`);
  }
  return resolve(value);
}

function isWithin(root: string, path: string): boolean {
  const inside = relative(root, path);
  return inside === '' || !(inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside));
}

/** The Basic credentials of the file downloads: the target's, the same as the version check's. */
function downloadAuth(target: Target) {
  if (target.auth === undefined) return {};
  return { auth: { type: 'basic' as const, username: target.auth.user, password: target.auth.password } };
}

/**
 * Validates the options and builds the agent's parts.
 *
 * @throws ManifestError naming the target field (never a credential); OtaError `CONFIG` for a
 *   missing directory, a state directory inside the app directory, or a file named `version`.
 */
export function micropythonOtaParts(options: MicropythonOtaAgentOptions): MicropythonOtaParts {
  const appDirectory = requireDirectory(options?.appDirectory, 'appDirectory');
  const stateDirectory = requireDirectory(options.stateDirectory, 'stateDirectory');
  // Each update renames the app directory away: state and downloads inside it would go with it.
  if (isWithin(appDirectory, stateDirectory)) {
    throw new OtaError('CONFIG', 'stateDirectory must not be inside appDirectory (each update replaces it)');
  }
  const target = parseTarget(options.target);
  if (target.filenames.includes(DEFAULTS.versionFile)) {
    throw new OtaError(
      'CONFIG',
      `target.filenames must not name "${DEFAULTS.versionFile}": the agent writes that file itself`,
    );
  }
  const fsync = options.fsync ?? true;
  const base = presetBase({ ...options, download: { ...downloadAuth(target), ...options.download } });
  const installer = createDirectoryInstaller({
    target: appDirectory,
    fsync,
    ...(options.installer?.backupPath === undefined ? {} : { backupPath: options.installer.backupPath }),
    ...(options.installer?.onStep === undefined ? {} : { onStep: options.installer.onStep }),
  });
  const versionFile = join(appDirectory, DEFAULTS.versionFile);
  // A signed release has its statement beside it (`<project>/<version>.otakit.json`): fetched
  // with the version check's credentials, before any download (a 404: the order is unsigned).
  const http = options.http ?? httpChannel({ timeoutMs: DEFAULTS.timeoutMs });
  const fetchStatements =
    options.signedStatements ?? (options.machine as { trust?: unknown } | undefined)?.trust !== undefined;
  const signed = statementCompanion({
    protocol,
    target,
    http,
    companionRequest: (manifest, request) => {
      const { 'if-modified-since': _since, 'if-none-match': _match, ...headers } = request.headers ?? {};
      return {
        channel: 'http',
        method: 'GET',
        address: statementUrl({ host: target.host, project: target.project, version: manifest.version }),
        payload: '',
        ...(Object.keys(headers).length > 0 ? { headers } : {}),
      };
    },
  });
  const hooks: UpdateHooks = {
    download: base.download,
    ...appTreeHooks(installer),
    // A lost state: undo an install nobody can vouch for, then believe the version file.
    recover: async () => {
      await installer.recover();
      const tag = await readVersionFile(versionFile);
      return tag === null ? null : releaseRef(target.project, tag);
    },
    ...options.hooks,
  };
  return {
    appDirectory,
    versionFile,
    installer,
    attach: fetchStatements ? signed.attach : () => {},
    agent: {
      ...base.passThrough,
      // micropython_ota carries no digest and no size; an install that a crash cut short is run
      // again from the staged files rather than rolled back.
      machine: { allowUnverified: true, installIsIdempotent: true, ...options.machine },
      id: options.id ?? `micropython_ota/${target.project}`,
      protocol: fetchStatements ? signed.protocol : protocol,
      target,
      channels: {
        http: fetchStatements ? signed.channel : http,
        file: options.file ?? fileChannel({ directory: appDirectory, fsync }),
      },
      store: base.store,
      hooks,
    },
  };
}

/**
 * Before the machine loads its state, lets the version file win over it (see
 * `adoptVersionFile`): the reference's only memory is that file.
 */
export async function adoptLocalVersion(parts: MicropythonOtaParts): Promise<void> {
  const store: StateStore = parts.agent.store;
  await adoptVersionFile(store, parts.agent.id, await readVersionFile(parts.versionFile));
}
