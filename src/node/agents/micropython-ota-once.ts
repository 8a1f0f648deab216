/**
 * The reference library's two functions, for a device that checks once (at boot, or from its
 * own loop) rather than running an agent:
 *
 * - `otaUpdate(options)` is `ota_update(host, project, filenames, …)`: compare the server's tag
 *   with the local `version` file and, when they differ, download every file, install them all
 *   at once, write the `version` file last, and ask for the reset. It runs the same persistent
 *   machine as the agent, so a call killed half way is finished by the next call.
 * - `checkForOtaUpdate(options)` is `check_for_ota_update(host, project, …)`: the version check
 *   only, and the reset when it found a change (the download then happens in `otaUpdate` at the
 *   next boot). It changes nothing on disk.
 *
 * Unlike the reference, which prints every failure and returns `None`, both reject with a typed
 * error when they could not do their job (refused credentials, a missing file, a server down),
 * so "no update" and "failed update" can be told apart.
 *
 * @module
 */
import { abortReason, throwIfAborted } from '../../core/abort.js';
import { AbortError, fromSerializedError, OtaError } from '../../core/errors.js';
import { DeviceAgent } from '../../device/agent.js';
import { pollOnce } from '../../device/poll-loop.js';
import type { UpdateOutcome } from '../../machine/record.js';
import type { InboundMessage } from '../../protocols/contract.js';
import { versionCheckRequest } from '../../protocols/micropython-ota/device.js';
import { DEFAULTS } from '../../protocols/micropython-ota/limits.js';
import {
  periodicCheckAction,
  type ResetAction,
  type ResetFlags,
  resetAction,
} from '../../protocols/micropython-ota/plan.js';
import { protocol } from '../../protocols/micropython-ota/protocol.js';
import { parseTarget } from '../../protocols/micropython-ota/target.js';
import { parseRemoteVersion } from '../../protocols/micropython-ota/version-file.js';
import type { Channel } from '../../transport/channel.js';
import { httpChannel } from '../../transport/http-channel.js';
import {
  adoptLocalVersion,
  type MicropythonOtaAgentOptions,
  type MicropythonOtaTarget,
  micropythonOtaParts,
} from './micropython-ota-parts.js';
import { readVersionFile, releaseRef } from './micropython-ota-version.js';

/** The reset the device should perform: `machine.reset()` or `machine.soft_reset()`. */
export type ResetRequest = Exclude<ResetAction, 'none'>;

export interface OtaUpdateOptions extends MicropythonOtaAgentOptions, ResetFlags {
  /**
   * Called once after a successful update with the reset the reference would perform (soft when
   * `softReset`, else hard when `hardReset`, the default); not called when both are off. Restart
   * the application here: Node has no `machine.reset()`.
   * @default nothing is called (the result still says which reset is due)
   */
  onReset?: (reset: ResetRequest) => void | Promise<void>;
  /** Cancels the check, or the update under way (a canceled install is rolled back). */
  signal?: AbortSignal;
}

export interface OtaUpdateResult {
  /** The server's tag differed from the local one (an older tag included). */
  changed: boolean;
  /** The server's tag when it answered, else the local one; `null` when there is neither. */
  version: string | null;
  /**
   * The update that ran to its end (`committed`), or `null` when there was nothing to do. An
   * update that a killed earlier call left half way is finished first, and reported here.
   */
  outcome: UpdateOutcome | null;
  /** The reset due after this call (`'none'` when nothing was installed). */
  reset: ResetAction;
}

function cancelOn(signal: AbortSignal | undefined, cancel: () => void): () => void {
  if (signal === undefined) return () => {};
  if (signal.aborted) cancel();
  signal.addEventListener('abort', cancel, { once: true });
  return () => signal.removeEventListener('abort', cancel);
}

/** The typed error of an update that did not commit. */
function failureOf(outcome: UpdateOutcome): OtaError {
  if (outcome.error !== null) return fromSerializedError(outcome.error);
  if (outcome.state === 'canceled') return new AbortError('The update was canceled');
  return new OtaError('STATE', `The update ended in ${outcome.state}`);
}

/**
 * `ota_update`: checks the server's `version` file against the local one and, when they differ,
 * installs the release (all files or none), writes the `version` file last, and calls `onReset`.
 * Takes the agent's options (`stateDirectory` keeps the update's state between calls).
 *
 * @returns what happened; `outcome` is `null` when the tags were equal (or the server has no
 *   `version` file: a 404 means "no update", as in the reference).
 * @throws TransportError when the server could not be asked or refused the credentials (the
 *   password is in no message); the typed error of the failed step when the update failed (then
 *   nothing was installed and the `version` file is untouched); AbortError when `signal` aborted.
 *
 * @example
 * ```ts
 * const result = await otaUpdate({
 *   target: { host: 'http://192.168.2.100', project: 'sample', filenames: ['boot.py', 'main.py'] },
 *   appDirectory: '/opt/app',
 *   stateDirectory: '/var/lib/otakit',
 *   onReset: () => process.exit(0), // let the service manager start the new release
 * })
 * ```
 */
export async function otaUpdate(options: OtaUpdateOptions): Promise<OtaUpdateResult> {
  const parts = micropythonOtaParts(options);
  const { target } = parts.agent;
  const http = parts.agent.channels.http!;
  const request = versionCheckRequest(target);
  let armed = false;
  let remote: string | undefined;
  const agent = new DeviceAgent({
    ...parts.agent,
    // One check, made by checkNow() below: no poll loop, and nothing fetched by start().
    protocol: { ...parts.agent.protocol, device: { ...parts.agent.protocol.device, orderSources: () => [] } },
    fetchOrder: async (signal): Promise<InboundMessage[]> => {
      if (!armed) return [];
      const answer = await pollOnce(http, request, undefined, signal);
      if (answer.status === 200) remote = tagOf(answer.payload);
      return [answer];
    },
  });
  parts.attach(() => agent.current);
  const finished: UpdateOutcome[] = [];
  agent.on('outcome', (outcome) => finished.push(outcome));
  await adoptLocalVersion(parts);
  throwIfAborted(options.signal);
  await agent.start();
  const stopCanceling = cancelOn(options.signal, () => void agent.cancel('otaUpdate aborted'));
  try {
    // Whatever a killed earlier call left was finished by start(); compare with what is now on disk.
    const local = await readVersionFile(parts.versionFile);
    armed = true;
    const ran = await agent.checkNow(options.signal === undefined ? {} : { signal: options.signal });
    if (options.signal?.aborted) throw abortReason(options.signal);
    const outcome = ran ?? finished.find((candidate) => candidate.state === 'committed') ?? null;
    if (ran !== null && ran.state !== 'committed') throw failureOf(ran);
    const changed = ran !== null || (remote !== undefined && remote !== local);
    const reset = outcome === null ? 'none' : resetAction(options);
    if (reset !== 'none') await options.onReset?.(reset);
    return { changed, version: outcome?.update?.version ?? remote ?? local, outcome, reset };
  } finally {
    stopCanceling();
    await agent.stop();
  }
}

/** The tag of a version-file body, or `undefined` when it holds none (decodeOrder says why). */
function tagOf(payload: string | Uint8Array): string | undefined {
  try {
    return parseRemoteVersion(payload);
  } catch {
    return undefined;
  }
}

export interface CheckForOtaUpdateOptions {
  /** The server, project and Basic auth credentials (`filenames` and `layout` are not used). */
  target: MicropythonOtaTarget;
  /** The directory holding the local `version` file. */
  appDirectory: string;
  /** @default httpChannel({ timeoutMs: 5000 }) */
  http?: Channel;
  /** Ask for a soft reset instead of a hard one. @default false */
  softReset?: boolean;
  /**
   * Called when the server's tag differs from the local one, with the reset the reference
   * performs then (the update itself happens in `otaUpdate` after it).
   * @default nothing is called
   */
  onReset?: (reset: ResetRequest) => void | Promise<void>;
  signal?: AbortSignal;
}

export interface OtaCheckResult {
  /** The server's tag differs from the local one. */
  changed: boolean;
  /** The server's tag, or the local one when the server has no `version` file; `null` when neither. */
  version: string | null;
  /** `'hard'` or `'soft'` when changed, else `'none'`. */
  reset: ResetAction;
}

/**
 * `check_for_ota_update`: the version check alone. Downloads nothing, writes nothing.
 *
 * @throws TransportError when the server could not be asked or refused the credentials;
 *   ManifestError for an invalid target or a `version` file that holds no tag.
 */
export async function checkForOtaUpdate(options: CheckForOtaUpdateOptions): Promise<OtaCheckResult> {
  const target = parseTarget(options?.target);
  if (typeof options.appDirectory !== 'string' || options.appDirectory.length === 0) {
    throw new OtaError('CONFIG', 'checkForOtaUpdate needs appDirectory: a directory path');
  }
  const local = await readVersionFile(`${options.appDirectory}/${DEFAULTS.versionFile}`);
  const http = options.http ?? httpChannel({ timeoutMs: DEFAULTS.timeoutMs });
  const signal = options.signal ?? new AbortController().signal;
  const answer = await pollOnce(http, versionCheckRequest(target), undefined, signal);
  const { value } = protocol.device.decodeOrder(answer, {
    target,
    current: local === null ? null : releaseRef(target.project, local),
  });
  const changed = value !== null;
  const reset = periodicCheckAction({ changed }, options.softReset ? { softReset: true } : {});
  if (reset !== 'none') await options.onReset?.(reset);
  return { changed, version: value?.version ?? local, reset };
}
