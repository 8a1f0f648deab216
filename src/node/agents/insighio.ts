/**
 * The insigh.io device agent: `createDeviceAgent` with insigh.io's protocol and MQTT channel, the
 * package download by file id (the device key added to the URL on the wire only), a free-space
 * check against the order's `s`, safe extraction of the three package formats, an atomic
 * directory install, and the platform's reports (`e` = 1, or `e` = 2 with the reason, then the
 * empty retained payload that clears the order). See docs/agents/insighio.md.
 *
 * @example
 * ```ts
 * import { connectMqtt } from 'otakit/mqtt'
 * import { createInsighioAgent, insighioMqttOptions } from 'otakit/node'
 *
 * const connection = await connectMqtt('mqtt://console.insigh.io:1884', insighioMqttOptions({ deviceId, deviceKey }))
 * const agent = createInsighioAgent({
 *   target: { controlChannelId, deviceId },
 *   deviceKey,
 *   connection,
 *   installDirectory: '/opt/app',
 *   stateDirectory: '/var/lib/otakit',
 * })
 * agent.on('outcome', (outcome) => console.log(outcome.state))
 * await agent.start()
 * ```
 *
 * @module
 */
import { systemClock } from '../../core/clock.js';
import { OtaError } from '../../core/errors.js';
import { noopLogger } from '../../core/logger.js';
import { createDeviceAgent, type DeviceAgent } from '../../device/agent.js';
import type { UpdateHooks } from '../../machine/hooks.js';
import type { Manifest } from '../../manifest/schema.js';
import { downloadAuth } from '../../protocols/insighio/codec.js';
import { DeviceKeySchema, parseConfig } from '../../protocols/insighio/ids.js';
import { LIMITS } from '../../protocols/insighio/limits.js';
import { protocol } from '../../protocols/insighio/protocol.js';
import { parseTarget, type Target } from '../../protocols/insighio/target.js';
import { mqttChannel } from '../../transport/mqtt-channel.js';
import type { MqttConnection } from '../../transport/mqtt-connection.js';
import type { ArchiveLimits } from '../archive/limits.js';
import { createDirectoryInstaller } from '../install/directory-installer.js';
import { ensureFreeSpace } from '../install/free-space.js';
import type { InstallStep } from '../install/types.js';
import { type PresetOptions, presetBase } from './common.js';
import { type InsighioInstallMode, PACKAGE_ARCHIVE_LIMITS, packageHooks } from './insighio-install.js';
import { confirmReplayedOrders } from './insighio-replay.js';

/** The device an insigh.io agent runs for (the protocol's target; the key is better given apart). */
export type InsighioTarget = Target;

export interface InsighioAgentOptions extends PresetOptions {
  /**
   * The device: `controlChannelId` and `deviceId` (its OTA topic is
   * `channels/<controlChannelId>/messages/<deviceId>/ota`), and the package service, `baseUrl`
   * (default `https://console.insigh.io/mf-rproxy`; `http:` only with `allowInsecureHttp`).
   * A `deviceKey` given here is taken out: `agent.target` never holds it.
   */
  target: InsighioTarget;
  /**
   * The device key: the `dk` of every package download (added on the wire only, masked in every
   * log line and error). A secret. Required here or in `target.deviceKey`.
   */
  deviceKey?: string;
  /**
   * The MQTT connection to the console's broker, connected as the device (user name = device id,
   * password = device key: `insighioMqttOptions`). It stays the caller's: `stop()` does not close it.
   */
  connection: MqttConnection;
  /**
   * The directory a package is unpacked into (the firmware unpacks at the device root). Replaced
   * atomically by each update, the previous version kept until the update commits. Put
   * `stateDirectory` on the same file system.
   */
  installDirectory: string;
  /**
   * `overlay`: the package's files are written over the current tree and every other file stays,
   * as the firmware does (the tree is copied, so an update needs room for two trees); `replace`:
   * the directory becomes exactly the package.
   * @default 'overlay'
   */
  installMode?: InsighioInstallMode;
  /**
   * Caps on what a package may unpack to, over `extractArchive`'s defaults.
   * @default { maxTotalBytes: 67108864, maxEntries: 10000 } (insigh.io's 64 MiB package limit)
   */
  archiveLimits?: Partial<ArchiveLimits>;
  /** Settings of the directory installer. */
  installer?: {
    /** @default `${installDirectory}.otakit-backup` */
    backupPath?: string;
    /** Hears each durable step of an install, commit or rollback (progress logs, crash tests). */
    onStep?: (step: InstallStep) => void | Promise<void>;
  };
}

/** The key, from the options or the target; validated, and never repeated in an error. */
function deviceKeyOf(options: InsighioAgentOptions): string {
  const key = options.deviceKey ?? options.target?.deviceKey;
  if (key === undefined) {
    throw new OtaError('CONFIG', 'The insigh.io agent needs the device key: give deviceKey');
  }
  if (options.deviceKey !== undefined && options.target?.deviceKey !== undefined) {
    if (options.deviceKey !== options.target.deviceKey) {
      throw new OtaError('CONFIG', 'deviceKey and target.deviceKey differ: give the device key once');
    }
  }
  return parseConfig(DeviceKeySchema, key, 'insigh.io agent: deviceKey');
}

function requireDirectory(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new OtaError('CONFIG', `The insigh.io agent needs ${name}: a directory path`);
  }
  return value;
}

/**
 * The free-space check of the firmware (`s` < free space on the root file system), made before a
 * byte is downloaded: the package must fit where it will be unpacked. The download hook checks
 * the staging directory as well. Short space is an `InsufficientSpaceError`, reported as `e` = 2
 * `not enough space`; the order stays retained, so the device tries again at its next connection.
 */
function installSpaceCheck(installDirectory: string, reserveBytes: number | false | undefined) {
  return async (_bytesNeeded: number, manifest: Manifest): Promise<void> => {
    if (reserveBytes === false) return;
    const size = manifest.artifacts[0]?.size ?? 0;
    await ensureFreeSpace(installDirectory, size, { reserveBytes: reserveBytes ?? 1_048_576 });
  };
}

/**
 * Creates the insigh.io device agent. `start()` it: it finishes whatever a restart interrupted,
 * subscribes to `channels/<cc>/messages/<did>/#`, and runs each retained order it receives.
 *
 * Defaults that differ from `createDeviceAgent`'s, each overridable through `machine`:
 * `allowUnverified: true` (an insigh.io order carries no digest: the size is checked, and the
 * archive's own CRC-32 for the compressed formats; give a `verify` hook for more) and
 * `installIsIdempotent: true` (an install a crash interrupted runs again, instead of rolling back).
 *
 * @throws OtaError (`CONFIG`) for a missing device key or directory; ManifestError naming the
 * field for an invalid target. No message holds the key.
 */
export function createInsighioAgent(options: InsighioAgentOptions): DeviceAgent<InsighioTarget> {
  const deviceKey = deviceKeyOf(options);
  const installDirectory = requireDirectory(options.installDirectory, 'installDirectory');
  requireDirectory(options.stateDirectory, 'stateDirectory');
  if (options.connection === undefined || options.connection === null) {
    throw new OtaError('CONFIG', 'The insigh.io agent needs connection: an MqttConnection to the broker');
  }
  const { deviceKey: _key, ...withoutKey } = options.target ?? ({} as InsighioTarget);
  const target = parseTarget(withoutKey);
  const userBefore = options.download?.beforeDownload;
  const spaceCheck = installSpaceCheck(installDirectory, options.download?.reserveBytes);
  const base = presetBase({
    ...options,
    download: {
      auth: downloadAuth(deviceKey),
      maxBytes: LIMITS.maxPackageBytes,
      ...options.download,
      beforeDownload: async (bytesNeeded, manifest) => {
        await spaceCheck(bytesNeeded, manifest);
        await userBefore?.(bytesNeeded, manifest);
      },
    },
  });
  const installer = createDirectoryInstaller({
    target: installDirectory,
    fsync: options.fsync ?? true,
    ...(options.installer?.backupPath === undefined ? {} : { backupPath: options.installer.backupPath }),
    ...(options.installer?.onStep === undefined ? {} : { onStep: options.installer.onStep }),
  });
  const hooks: UpdateHooks = {
    download: base.download,
    ...packageHooks({
      installer,
      mode: options.installMode ?? 'overlay',
      limits: { ...PACKAGE_ARCHIVE_LIMITS, ...options.archiveLimits },
    }),
    ...options.hooks,
  };
  const channel = mqttChannel(options.connection);
  const agent = createDeviceAgent<InsighioTarget>({
    ...base.passThrough,
    machine: { allowUnverified: true, installIsIdempotent: true, ...options.machine },
    id: target.deviceId,
    protocol,
    target,
    channels: { mqtt: channel },
    store: base.store,
    hooks,
  });
  confirmReplayedOrders(agent, channel, options.clock ?? systemClock, options.logger ?? noopLogger);
  return agent;
}

export type { InsighioInstallMode } from './insighio-install.js';
export { type InsighioMqttOptions, type InsighioMqttSettings, insighioMqttOptions } from './insighio-mqtt.js';
