/**
 * The Exosite Murano / ExoSense device agent: `createDeviceAgent` with Exosite's protocol and the
 * device's habits of Exosite's OTAU guide (docs/agents/exosite.md). Orders arrive in `config_otau`,
 * long-polled over HTTP (`Request-Timeout`, `If-Modified-Since` from the last `Last-Modified`, a
 * `304` is "nothing new" and the next poll leaves at once) or received on `$resource/config_otau/<ts>`
 * over MQTT; each value is acknowledged by writing it back; statuses go to `otau_in` in the guide's
 * order (`INIT`, `TEST`, `TEST_SUCCESS`, `DOWNLOAD`, `DOWNLOAD_STEP`…, `DOWNLOAD_SUCCESS`, `INSTALL`,
 * `INSTALL_SUCCESS`, `INSTALLED_VERSION`; `TEST_ERROR`, `DOWNLOAD_ERROR`, `INSTALL_ERROR`,
 * `INSTALL_ABORTED`), with `INSTALLED_VERSION` at every boot. `URL_LIST`, `FILE` and `JSON`
 * manifests; payload items without a host come from the connector's content API, with the device
 * token, which is never sent anywhere else nor printed.
 *
 * @example
 * ```ts
 * import { createExositeAgent } from 'otakit/node'
 *
 * const agent = createExositeAgent({
 *   target: { productId: 'd1zzd6dflnt50000', identity: 'sensor-0042', transport: 'http', token },
 *   installDirectory: '/opt/app/otau',
 *   stateDirectory: '/var/lib/otakit',
 * })
 * agent.on('outcome', (outcome) => console.log(outcome.state))
 * await agent.start()
 * ```
 *
 * @module
 */
import { systemClock } from '../../core/clock.js';
import { type ManifestError, OtaError } from '../../core/errors.js';
import { type Logger, noopLogger } from '../../core/logger.js';
import { createDeviceAgent, type DeviceAgent } from '../../device/agent.js';
import type { UpdateHooks } from '../../machine/hooks.js';
import type { Artifact, Manifest } from '../../manifest/schema.js';
import type { InboundMessage, Protocol, WireSource } from '../../protocols/contract.js';
import { CONFIG_OTAU } from '../../protocols/exosite/alias.js';
import { readRequest } from '../../protocols/exosite/http.js';
import { protocol } from '../../protocols/exosite/protocol.js';
import { secrets } from '../../protocols/exosite/secrets.js';
import { checkedTarget, deviceToken, type Target } from '../../protocols/exosite/target.js';
import { httpMessage, targetOrigin } from '../../protocols/exosite/wire-messages.js';
import type { Channel, Channels } from '../../transport/channel.js';
import { httpChannel } from '../../transport/http-channel.js';
import { mqttChannel } from '../../transport/mqtt-channel.js';
import type { MqttConnection } from '../../transport/mqtt-connection.js';
import { createDirectoryInstaller } from '../install/directory-installer.js';
import type { InstallStep } from '../install/types.js';
import { type PresetOptions, presetBase } from './common.js';
import { checkedApiOrigin, orderedWrites, rerouted } from './exosite-channel.js';
import {
  downloadStepReporter,
  type ExositePreflight,
  exositeDownloadStep,
  exositeInstallHooks,
} from './exosite-install.js';
import { orderDecoder } from './exosite-order.js';
import { encodeAgentStatus, StatusWriter } from './exosite-status.js';

/** The device an Exosite agent runs for: the protocol's target. */
export type ExositeTarget = Target;

export interface ExositeAgentOptions extends PresetOptions {
  /**
   * The device: `productId`, `identity`, `transport` (`'http'`: long poll; `'mqtt'`: give
   * `connection`), `token` (the device token, CIK: required for `http`, and for `mqtt` when a
   * manifest names connector content), `domain` (default `m2.exosite.io`), `longPollTimeoutMs`
   * (`Request-Timeout`, at most 300 000; default 30 000). The token is a secret: never printed.
   */
  target: ExositeTarget;
  /**
   * The MQTT variant: a connection to `<productId>.m2.exosite.io:8883` as the device (user name =
   * identity, password = token, TLS). It stays the caller's: `stop()` does not close it.
   */
  connection?: MqttConnection;
  /**
   * Carries the HTTP variant's long poll, reads and writes.
   * @default httpChannel({ timeoutMs: 30_000, secrets }) (Exosite's credentials masked)
   */
  http?: Channel;
  /**
   * Where the device API really is, instead of `https://<productId>.<domain>`: a local proxy, or
   * an emulation on loopback (`http:` is accepted only for a loopback host). Applies to the
   * HTTP variant's requests and to connector content downloads.
   * @default `https://<productId>.<domain>`
   */
  apiOrigin?: string;
  /**
   * The directory the OTAU's files are installed in, replaced atomically by each update (the
   * previous version kept until the commit). Put `stateDirectory` on the same file system.
   * Required unless `hooks.install` is given.
   */
  installDirectory?: string;
  /**
   * The version the device runs before otakit's first update, reported with `INSTALLED_VERSION`
   * at boot. Adopted on a start with an empty state store, unless the install directory's
   * `.otau.json` names one.
   * @default none: no `INSTALLED_VERSION` until the first update
   */
  currentVersion?: string;
  /**
   * Checked before anything is downloaded, between `TEST` and `TEST_SUCCESS`; throw to refuse the
   * OTAU (`TEST_ERROR` with the error's message). Nothing is downloaded nor installed then.
   */
  preflight?: ExositePreflight;
  /**
   * Bytes that must be free on the install directory's file system before a download starts
   * (Exosite manifests carry no sizes, so the download cannot check). Short: `TEST_ERROR`
   * "Not enough space (required: …, available: …)."
   * @default no check
   */
  minFreeBytes?: number;
  /** Settings of the directory installer. */
  installer?: {
    /** @default `${installDirectory}.otakit-backup` */
    backupPath?: string;
    /** Hears each durable step of an install, commit or rollback (logs, crash tests). */
    onStep?: (step: InstallStep) => void | Promise<void>;
  };
  /** The agent id (its state's key). @default target.identity */
  id?: string;
}

/** The state in which an emptied `config_otau` still cancels the update (nothing installed yet). */
const WITHDRAWABLE = new Set(['available', 'downloading', 'downloaded', 'verifying']);

function requireDirectory(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new OtaError('CONFIG', `The Exosite agent needs ${name}: a directory path`);
  }
  return value;
}

/** The channel of the target's transport, with writes in order and the API where it really is. */
function transportChannel(options: ExositeAgentOptions, target: Target, origin: string, apiOrigin: string) {
  if (target.transport === 'mqtt') {
    if (options.connection === undefined || options.connection === null) {
      throw new OtaError(
        'CONFIG',
        'The Exosite agent with transport "mqtt" needs connection: an MqttConnection to the broker',
      );
    }
    return orderedWrites(mqttChannel(options.connection));
  }
  deviceToken(target); // the http transport cannot work without it: fail now, naming the field
  const http = options.http ?? httpChannel({ secrets, timeoutMs: 30_000 });
  return orderedWrites(rerouted(http, origin, apiOrigin));
}

/**
 * Creates the Exosite device agent. `start()` it: it finishes whatever a restart interrupted,
 * writes `INSTALLED_VERSION`, reads the current `config_otau` (HTTP; over MQTT Murano sends it at
 * connect), then long-polls or listens, and runs each new manifest.
 *
 * Defaults that differ from `createDeviceAgent`'s, each overridable through `machine`:
 * `allowUnverified: true` (an Exosite manifest carries no digest and no size: TLS and the URL's
 * host are all the integrity there is; give a `verify` hook to check a signature of your own) and
 * `installIsIdempotent: true` (an install a crash interrupted runs again instead of rolling back).
 *
 * @throws ManifestError naming the field for an invalid target (a missing token with `http`…);
 *   OtaError `CONFIG` for a missing directory or connection, or a bad `apiOrigin`. No message holds
 *   the token.
 */
export function createExositeAgent(options: ExositeAgentOptions): DeviceAgent<ExositeTarget> {
  const target = checkedTarget(options.target);
  requireDirectory(options.stateDirectory, 'stateDirectory');
  const customInstall = options.hooks?.install !== undefined;
  const installDirectory = customInstall
    ? options.installDirectory
    : requireDirectory(options.installDirectory, 'installDirectory (or hooks.install)');
  if (
    options.minFreeBytes !== undefined &&
    (!Number.isSafeInteger(options.minFreeBytes) || options.minFreeBytes < 0)
  ) {
    throw new OtaError('CONFIG', 'Exosite agent: minFreeBytes must be a whole number of bytes');
  }
  const origin = targetOrigin(target);
  const apiOrigin = options.apiOrigin === undefined ? origin : checkedApiOrigin(options.apiOrigin);
  const channel = transportChannel(options, target, origin, apiOrigin);
  const logger: Logger = options.logger ?? noopLogger;

  // Filled in once the agent exists; nothing below runs before start().
  let agent: DeviceAgent<ExositeTarget> | undefined;
  const raise = (error: OtaError): void => {
    logger.warn('otakit exosite agent error', { code: error.code, message: error.message });
    if (agent !== undefined && agent.listenerCount('error') > 0) agent.emit('error', error);
  };
  const writer = new StatusWriter({ target, channel, raise, logger });
  const writerOf = () => writer;
  const stepReporter = downloadStepReporter(writerOf);

  const token = target.token;
  const userResolve = options.download?.resolveUrl;
  const base = presetBase({
    ...options,
    download: {
      ...options.download,
      // The device token goes to the device API's own host (connector content), never elsewhere.
      ...(token === undefined
        ? {}
        : {
            auth: (artifact: Artifact) =>
              artifact.url.startsWith(`${origin}/`)
                ? { type: 'header' as const, name: 'X-Exosite-CIK', value: token }
                : undefined,
          }),
      resolveUrl: (artifact: Artifact, manifest: Manifest) => {
        stepReporter(artifact, manifest);
        const url = userResolve?.(artifact, manifest) ?? artifact.url;
        return url.startsWith(`${origin}/`) ? `${apiOrigin}${url.slice(origin.length)}` : url;
      },
    },
  });

  const installHooks =
    installDirectory === undefined
      ? {}
      : exositeInstallHooks({
          installer: createDirectoryInstaller({
            target: installDirectory,
            fsync: options.fsync ?? true,
            ...(options.installer?.backupPath === undefined
              ? {}
              : { backupPath: options.installer.backupPath }),
            ...(options.installer?.onStep === undefined ? {} : { onStep: options.installer.onStep }),
          }),
          fsync: options.fsync ?? true,
          currentVersion: options.currentVersion,
        });
  const hooks = {
    download: exositeDownloadStep({
      download: base.download,
      writer: writerOf,
      preflight: options.preflight,
      minFreeBytes: options.minFreeBytes,
      freeSpaceDirectory: installDirectory ?? base.stagingDirectory,
    }),
    ...installHooks,
    ...(options.currentVersion === undefined || installDirectory !== undefined
      ? {}
      : { recover: async () => ({ id: options.currentVersion!, version: options.currentVersion! }) }),
    ...options.hooks,
  } as UpdateHooks;

  const decodeOrder = orderDecoder({
    target,
    send: (messages) => {
      for (const message of messages) {
        channel.send(message).then(
          (answer) => {
            if (answer?.status !== undefined && answer.status >= 400) {
              raise(
                new OtaError(
                  'TRANSPORT',
                  `The platform refused the config_otau acknowledgement (HTTP ${answer.status})`,
                  { retryable: answer.status >= 500 },
                ),
              );
            }
          },
          (error: unknown) => raise(error as OtaError),
        );
      }
    },
    rejected: (version: string, error: ManifestError) =>
      void writer.send(version, 'TEST_ERROR', error.message),
    withdrawn: () => {
      const running = agent;
      if (running === undefined || !WITHDRAWABLE.has(running.machine.snapshot().state)) return;
      void running.cancel('config_otau was withdrawn');
    },
  });

  const exositeProtocol: Protocol<'exosite', string, Target> = {
    ...protocol,
    device: { ...protocol.device, orderSources: sinceEver, decodeOrder, encodeStatus: encodeAgentStatus },
  };
  const channels: Channels = target.transport === 'mqtt' ? { mqtt: channel } : { http: channel };
  // HTTP: a long poll only hears the next change, so the value set while the device was away is
  // read at start (and by checkNow()). MQTT: Murano sends it at connect.
  const read = target.transport === 'http' ? readMessage(target) : undefined;
  agent = createDeviceAgent<ExositeTarget>({
    ...base.passThrough,
    clock: options.clock ?? systemClock,
    machine: { allowUnverified: true, installIsIdempotent: true, ...options.machine },
    id: options.id ?? target.identity,
    protocol: exositeProtocol as unknown as Protocol<string, string | number, Target>,
    target,
    channels,
    store: base.store,
    hooks,
    ...(read === undefined
      ? {}
      : {
          fetchOrder: async (signal: AbortSignal): Promise<InboundMessage[]> => {
            const answer = await channel.send(read, { signal });
            return answer === undefined ? [] : [answer];
          },
        }),
  });
  return agent;
}

/**
 * The protocol's order sources, the long poll asking `If-Modified-Since` the epoch until the poll
 * loop has a `Last-Modified` of its own to send. Without it the first poll (and every poll after
 * an outage, until a change was seen) would wait for the next write and miss the one made since
 * the value was read at start or while the API was unreachable; with it such a write is answered
 * at once, and a value already taken is ignored as a duplicate.
 */
function sinceEver(target: Target): WireSource[] {
  return protocol.device.orderSources(target).map((source) =>
    source.channel === 'http' && source.request.headers?.['request-timeout'] !== undefined
      ? {
          ...source,
          request: {
            ...source.request,
            headers: { ...source.request.headers, 'if-modified-since': EPOCH },
          },
        }
      : source,
  );
}

const EPOCH = new Date(0).toUTCString();

/** A plain read of `config_otau` (no `Request-Timeout`: answered at once). */
function readMessage(target: Target) {
  return httpMessage(readRequest({ token: deviceToken(target), aliases: [CONFIG_OTAU] }), target);
}

export {
  type ExositePreflight,
  type ExositePreflightContext,
  RECORD_FILE as EXOSITE_RECORD_FILE,
} from './exosite-install.js';
