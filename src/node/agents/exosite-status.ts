/**
 * What the Exosite agent writes to `otau_in`, and when. The protocol maps each canonical state to
 * one of Exosite's 15 words; the agent says more, in the order of Exosite's recommended flow:
 *
 * | when | `otau_in` | sent by |
 * | --- | --- | --- |
 * | order accepted (`available`) | `INIT` | the machine's report |
 * | download step begins (attempt 1) | `TEST`, then `TEST_SUCCESS` once the preflight passed | the download step |
 * | files to fetch | `DOWNLOAD`, `DOWNLOAD_STEP` "Downloading file i of n" per file, `DOWNLOAD_SUCCESS` | the download step |
 * | `installing` / `installed` | `INSTALL` / `INSTALL_SUCCESS` | the machine's report |
 * | `committed` | `INSTALLED_VERSION` | the machine's report |
 * | preflight failed | `TEST_ERROR` (a `download_failed` whose error is `CHECK`) | the machine's report |
 * | canceled, at any stage (an `ABORTED` error, also after a rollback) | `INSTALL_ABORTED` | the machine's report |
 * | other failures | `DOWNLOAD_ERROR`, `INSTALL_ERROR` | the machine's report |
 *
 * A `JSON` manifest downloads nothing, so it has no `DOWNLOAD*` statuses. `idle` sends nothing:
 * the protocol's word for it, `INSTALLED_VERSION`, goes out at boot (the boot report, with the
 * running version) and on `committed`; after an update ends there is no version left to name.
 *
 * @module
 */
import { type OtaError, TransportError, toOtaError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { isFailureState } from '../../core/states.js';
import type { UpdateStatus } from '../../core/status.js';
import type { StatusContext, WireMessage } from '../../protocols/contract.js';
import { OTAU_IN } from '../../protocols/exosite/alias.js';
import { writeRequest } from '../../protocols/exosite/http.js';
import { encodeStatus as encodeOtauStatus } from '../../protocols/exosite/resource.js';
import type { OtauStatus, OtauStatusCode } from '../../protocols/exosite/schemas.js';
import { otauStatus, statusFromCanonical } from '../../protocols/exosite/status.js';
import { deviceToken, type Target } from '../../protocols/exosite/target.js';
import { resourceTopic } from '../../protocols/exosite/topics.js';
import { httpMessage, mqttMessage } from '../../protocols/exosite/wire-messages.js';
import type { Channel } from '../../transport/channel.js';

/** The `otau_in` write of `status` over the target's transport. */
export function otauWrite(status: OtauStatus, target: Target): WireMessage {
  const value = encodeOtauStatus(status);
  if (target.transport === 'mqtt') return mqttMessage(resourceTopic(OTAU_IN), value);
  return httpMessage(writeRequest({ token: deviceToken(target), values: { [OTAU_IN]: value } }), target);
}

/** States whose word the download step says itself, or that have none. */
const SILENT = new Set(['idle', 'checking', 'downloading', 'downloaded', 'verifying', 'rolling_back']);

/** The `otau_in` status for a machine status, or `null` when the agent says nothing then. */
export function agentOtauStatus(status: UpdateStatus): OtauStatus | null {
  if (SILENT.has(status.state)) return null;
  const version = status.version ?? '';
  // Entered again after a restart: still "installing", not a step of it.
  if (status.state === 'installing') return otauStatus(version, 'INSTALL');
  const base = statusFromCanonical(status);
  if (base === null) return null;
  let code: OtauStatusCode = base.status;
  if (isFailureState(status.state) && status.error?.code === 'ABORTED') code = 'INSTALL_ABORTED';
  else if (status.state === 'download_failed' && status.error?.code === 'CHECK') code = 'TEST_ERROR';
  return code === base.status ? base : otauStatus(base.version, code, base.message ?? '');
}

/** The preset's `encodeStatus`: {@link agentOtauStatus} as a write on the target's transport. */
export function encodeAgentStatus(status: UpdateStatus, context: StatusContext<Target>): WireMessage[] {
  const otau = agentOtauStatus(status);
  return otau === null ? [] : [otauWrite(otau, context.target)];
}

export interface StatusWriterOptions {
  target: Target;
  /** The channel of the target's transport (writes in order). */
  channel: Channel;
  raise: (error: OtaError) => void;
  logger: Logger;
}

/**
 * Writes the statuses the machine has no state for (`TEST`, `DOWNLOAD_STEP`…). A failed write is
 * an `error` event, never a failed update: like the machine's reports, statuses are information.
 */
export class StatusWriter {
  readonly #options: StatusWriterOptions;

  constructor(options: StatusWriterOptions) {
    this.#options = options;
  }

  /** Sends `otau_in` = {version, status, message}; resolves once it was delivered or failed. */
  async send(version: string, status: OtauStatusCode, message = ''): Promise<void> {
    const { target, channel, raise, logger } = this.#options;
    try {
      const answer = await channel.send(otauWrite(otauStatus(version, status, message), target));
      if (answer?.status !== undefined && answer.status >= 400) {
        throw new TransportError(`The platform refused the ${status} status (HTTP ${answer.status})`, {
          status: answer.status,
          retryable: answer.status >= 500,
        });
      }
    } catch (error) {
      const failure = toOtaError(error, 'TRANSPORT', true);
      logger.warn('otakit exosite agent: status not delivered', { status, message: failure.message });
      raise(failure);
    }
  }
}
