/**
 * What every platform preset (`createDeguAgent`, `createInsighioAgent`…) takes beside its
 * platform's own settings, and the defaults they share: the state and the staged downloads
 * live under one directory, in a `FileStore` and the resumable file download hook.
 *
 * @module
 */
import { join } from 'node:path';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { StateStore } from '../../core/store.js';
import type { AgentMachineOptions, DeviceAgentOptions } from '../../device/agent.js';
import type { PollOptions } from '../../device/poll-loop.js';
import type { UpdateHooks } from '../../machine/hooks.js';
import type { Manifest } from '../../manifest/schema.js';
import { createFileDownloadHook, type FileDownloadHookOptions } from '../download-hook.js';
import { FileStore } from '../file-store.js';

export interface PresetOptions {
  /**
   * The agent's own directory: its persistent state (`state/`) and staged downloads
   * (`staging/`). Put it on the file system of what gets installed, so installs are renames.
   */
  stateDirectory: string;
  /** @default new FileStore(`${stateDirectory}/state`) */
  store?: StateStore;
  /** Download settings (auth, retries, `maxBytes`, `fetch`…) over the preset's defaults. */
  download?: Partial<FileDownloadHookOptions>;
  /** Hooks that replace or add to the preset's (a `healthCheck`, a `report` that also logs…). */
  hooks?: Partial<UpdateHooks>;
  /** Timeouts, retries, `allowUnverified`… of the update machine. */
  machine?: AgentMachineOptions;
  /** How HTTP order sources are polled (where the platform polls). */
  poll?: PollOptions;
  /** Asked before an order is run; see `DeviceAgentOptions.approve`. */
  approve?: (manifest: Manifest) => boolean | Promise<boolean>;
  /** fsync state, staged files and installs. Off only for tests on tmpfs. @default true */
  fsync?: boolean;
  clock?: Clock;
  logger?: Logger;
  random?: () => number;
}

/** The paths and defaults a preset builds on. */
export interface PresetBase {
  store: StateStore;
  stagingDirectory: string;
  download: UpdateHooks['download'];
  /** The agent options every preset passes through unchanged. */
  passThrough: Pick<
    DeviceAgentOptions<unknown>,
    'machine' | 'poll' | 'approve' | 'clock' | 'logger' | 'random'
  >;
}

export function presetBase(options: PresetOptions): PresetBase {
  const fsync = options.fsync ?? true;
  const stagingDirectory = join(options.stateDirectory, 'staging');
  const store = options.store ?? new FileStore(join(options.stateDirectory, 'state'), { fsync });
  const download = createFileDownloadHook({
    directory: stagingDirectory,
    fsync,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...options.download,
  });
  const passThrough: PresetBase['passThrough'] = {};
  if (options.machine !== undefined) passThrough.machine = options.machine;
  if (options.poll !== undefined) passThrough.poll = options.poll;
  if (options.approve !== undefined) passThrough.approve = options.approve;
  if (options.clock !== undefined) passThrough.clock = options.clock;
  if (options.logger !== undefined) passThrough.logger = options.logger;
  if (options.random !== undefined) passThrough.random = options.random;
  return { store, stagingDirectory, download, passThrough };
}
