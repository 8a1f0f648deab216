/**
 * The ThingsBoard device agent: `createDeviceAgent` with ThingsBoard's protocol over the device's
 * MQTT session (shared `fw_*` attributes in, `fw_state` telemetry out), the package fetched over
 * MQTT in chunks or over HTTP from the device API, every checksum algorithm ThingsBoard assigns
 * verified before anything is installed, and an atomic install of a file (or of a directory an
 * archive unpacks to). See docs/agents/thingsboard.md.
 *
 * @example
 * ```ts
 * import { connectMqtt } from 'otakit/mqtt'
 * import { createThingsBoardAgent } from 'otakit/node'
 *
 * const connection = await connectMqtt('mqtts://tb.example.com:8883', { username: token })
 * const agent = createThingsBoardAgent({
 *   target: { accessToken: token },
 *   connection,
 *   current: { title: 'gateway', version: '1.0.0' },
 *   installTarget: '/opt/app/gateway.bin',
 *   stateDirectory: '/var/lib/otakit',
 * })
 * await agent.start()
 * ```
 *
 * @module
 */
import { InstallError, OtaError } from '../../core/errors.js';
import type { RetryPolicy } from '../../core/retry.js';
import type { UpdateRef } from '../../core/status.js';
import { createDeviceAgent, type DeviceAgent } from '../../device/agent.js';
import type { StagedContext, UpdateHooks } from '../../machine/hooks.js';
import { verifyStaged } from '../../machine/verify-staged.js';
import type { Artifact, Manifest } from '../../manifest/schema.js';
import { packageId } from '../../protocols/thingsboard/codec.js';
import { PREFIX } from '../../protocols/thingsboard/keys.js';
import { protocol } from '../../protocols/thingsboard/protocol.js';
import { packageTypeOf, readTarget, type Target } from '../../protocols/thingsboard/target.js';
import { mqttChunkTopics } from '../../transport/mqtt-chunks.js';
import type { MqttConnection } from '../../transport/mqtt-connection.js';
import type { ArchiveLimits } from '../archive/limits.js';
import type { InstallStep } from '../install/types.js';
import { createMqttChunkDownloadHook } from '../mqtt-chunk-download-hook.js';
import { type PresetOptions, presetBase } from './common.js';
import { dropStaged } from './drop-staged.js';
import { attributeRequests } from './thingsboard-attributes.js';
import { extensionChecksum, verifyThingsBoardChecksum } from './thingsboard-checksum.js';
import { installHooks, type ThingsBoardInstallAs } from './thingsboard-install.js';

/** The device a ThingsBoard agent runs for: its access token, package type and title rule. */
export type ThingsBoardTarget = Target;

export interface ThingsBoardAgentOptions extends PresetOptions {
  /**
   * The device: `accessToken` (also the MQTT user name of `connection`), `type` (`firmware`:
   * `fw_*` keys, or `software`: `sw_*`), `titleRule`, and `baseUrl` (the server, e.g.
   * `https://tb.example.com`), needed for `transfer: 'http'`. Orders arrive over MQTT: `transport`
   * must be `mqtt` (the default).
   */
  target: ThingsBoardTarget;
  /**
   * Ask for the signed statement attribute (`otakit_fw_manifest`) in the boot and check attribute
   * requests too, so a signed package assigned while the device was away runs as the signed
   * manifest, checked against the machine's `trust` (pushes carry it whatever this says).
   * @default true when `machine.trust` is set, else `target.statements` (false: the requests stay the client SDKs')
   */
  signedStatements?: boolean;
  /**
   * The device's MQTT session, connected with the access token as user name (`connectMqtt(url,
   * { username: token })`). It stays the caller's: `stop()` does not close it.
   */
  connection: MqttConnection;
  /** The agent's id (its state is kept under it). @default 'thingsboard' */
  id?: string;
  /**
   * What the device runs before its first update through this agent: reported at start
   * (`current_fw_title`/`current_fw_version`) and compared with each package (same version:
   * nothing to do; another title: not for this device, with `titleRule: 'match'`). Adopted once,
   * when the agent's state is empty; afterwards the agent knows what it installed.
   */
  current?: { title: string; version: string };
  /**
   * How a package stored in ThingsBoard is fetched: `mqtt` in chunks on `v2/fw/request/…` over
   * `connection`, or `http` from `<baseUrl>/api/v1/<token>/firmware?title=&version=`. A package
   * with an external `fw_url` is always fetched from that URL.
   * @default 'mqtt'
   */
  transfer?: 'http' | 'mqtt';
  /**
   * Bytes per MQTT chunk; at most ThingsBoard's `transport.mqtt.max_payload_size` (64 KiB by default).
   * @default 16384
   */
  chunkSize?: number;
  /** How long one chunk request waits for its answer, in ms. @default 10000 */
  chunkTimeoutMs?: number;
  /** Attempts per chunk and the backoff between them. @default { attempts: 5, baseDelayMs: 500, maxDelayMs: 10000 } */
  chunkRetry?: Partial<RetryPolicy>;
  /** How long the attribute request at start and on `checkNow()` waits for its answer, in ms. @default 10000 */
  attributeTimeoutMs?: number;
  /**
   * What a package replaces: a file (`installAs: 'file'`), or a directory an archive package
   * (tar, tar.gz, zip) unpacks to (`installAs: 'archive'`). Replaced atomically, the previous
   * version kept until the update commits. Put `stateDirectory` on the same file system.
   */
  installTarget: string;
  /** @default 'file' */
  installAs?: ThingsBoardInstallAs;
  /** Caps on what an archive package may unpack to (`installAs: 'archive'`). */
  archiveLimits?: Partial<ArchiveLimits>;
  /** Settings of the installer. */
  installer?: {
    /** @default `${installTarget}.otakit-backup` */
    backupPath?: string;
    /** Permission bits of an installed file. @default the replaced file's, or 0o644 */
    mode?: number;
    /** Hears each durable step of an install, commit or rollback. */
    onStep?: (step: InstallStep) => void | Promise<void>;
  };
}

const DEFAULT_ID = 'thingsboard';

function requirePath(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new OtaError('CONFIG', `The ThingsBoard agent needs ${name}: a path`);
  }
  return value;
}

function readOptions(options: ThingsBoardAgentOptions) {
  requirePath(options?.stateDirectory, 'stateDirectory');
  const installTarget = requirePath(options.installTarget, 'installTarget');
  if (typeof options.connection?.subscribe !== 'function') {
    throw new OtaError('CONFIG', 'The ThingsBoard agent needs connection: an MqttConnection as the device');
  }
  const read = readTarget(options.target);
  const statements =
    options.signedStatements ??
    ((options.machine as { trust?: unknown } | undefined)?.trust !== undefined || read.statements === true);
  const { statements: _asked, ...unsigned } = read;
  const target: ThingsBoardTarget = statements ? { ...unsigned, statements: true } : unsigned;
  if (target.transport === 'http') {
    throw new OtaError(
      'CONFIG',
      'target.transport: the ThingsBoard agent takes its orders over MQTT (use "mqtt")',
    );
  }
  const transfer = options.transfer ?? 'mqtt';
  if (transfer !== 'mqtt' && transfer !== 'http') {
    throw new OtaError('CONFIG', 'transfer must be "mqtt" or "http"');
  }
  if (transfer === 'http' && target.baseUrl === undefined) {
    throw new OtaError(
      'CONFIG',
      'target.baseUrl: transfer "http" downloads from the device API, give the server URL',
    );
  }
  const installAs = options.installAs ?? 'file';
  if (installAs !== 'file' && installAs !== 'archive') {
    throw new OtaError('CONFIG', 'installAs must be "file" or "archive"');
  }
  const current = options.current;
  if (
    current !== undefined &&
    (typeof current?.title !== 'string' ||
      current.title === '' ||
      typeof current.version !== 'string' ||
      current.version === '')
  ) {
    throw new OtaError('CONFIG', 'current must be { title, version }, two non-empty strings');
  }
  return { target, transfer, installAs, installTarget, current };
}

/** A package stored in ThingsBoard has the relative `firmware?title=…` path; `fw_url` ones a URL. */
function isStored(artifact: Artifact): boolean {
  return !/^[a-z][a-z0-9+.-]*:/i.test(artifact.url);
}

/**
 * Creates the ThingsBoard device agent. `start()` it: it finishes whatever a restart interrupted,
 * reports what the device runs, subscribes to the attribute topics, asks for the current package
 * attributes, and runs each package assigned to the device.
 *
 * Defaults that differ from `createDeviceAgent`'s, each overridable through `machine`:
 * `installIsIdempotent: true` (an install a crash interrupted runs again, instead of rolling back).
 *
 * @throws OtaError (`CONFIG`) naming a missing or bad option; ManifestError naming the field of
 * an invalid target. No message holds the access token.
 */
export function createThingsBoardAgent(options: ThingsBoardAgentOptions): DeviceAgent<ThingsBoardTarget> {
  const { target, transfer, installAs, installTarget, current } = readOptions(options);
  const type = packageTypeOf(target);
  const base = presetBase({
    ...options,
    download: {
      // A stored package's path is relative to the device API; the token joins it on the wire only.
      resolveUrl: (artifact) =>
        isStored(artifact)
          ? `${(target.baseUrl ?? '').replace(/\/+$/, '')}/api/v1/${target.accessToken}/${artifact.url}`
          : artifact.url,
      ...options.download,
    },
  });
  const chunks = createMqttChunkDownloadHook({
    connection: options.connection,
    directory: base.stagingDirectory,
    topics: mqttChunkTopics(`v2/${PREFIX[type]}`),
    fsync: options.fsync ?? true,
    ...(options.chunkSize === undefined ? {} : { chunkSize: options.chunkSize }),
    ...(options.chunkTimeoutMs === undefined ? {} : { chunkTimeoutMs: options.chunkTimeoutMs }),
    ...(options.chunkRetry === undefined ? {} : { retry: options.chunkRetry }),
    ...(options.download?.reserveBytes === undefined ? {} : { reserveBytes: options.download.reserveBytes }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.random === undefined ? {} : { random: options.random }),
  });
  const download: UpdateHooks['download'] = async (context) => {
    const artifact = context.manifest.artifacts[0];
    if (artifact !== undefined && isStored(artifact)) {
      if (transfer === 'mqtt') return chunks(context);
      if (target.baseUrl === undefined) {
        throw new OtaError('CONFIG', 'target.baseUrl: needed to download a stored package over HTTP');
      }
    }
    return base.download(context);
  };
  const allowUnverified = options.machine?.allowUnverified ?? false;
  const adopted: UpdateRef | null =
    current === undefined
      ? null
      : { id: packageId(type, current.title, current.version), version: current.version };
  const install = installHooks({
    installAs,
    installTarget,
    fsync: options.fsync ?? true,
    adopted,
    ...(options.archiveLimits === undefined ? {} : { archiveLimits: options.archiveLimits }),
    ...(options.installer === undefined ? {} : { installer: options.installer }),
  });
  const hooks: UpdateHooks = {
    download,
    verify: (context) => verifyPackage(context, allowUnverified),
    ...install,
    ...options.hooks,
  };
  const attributes = attributeRequests({
    connection: options.connection,
    type,
    statement: target.statements === true,
    timeoutMs: options.attributeTimeoutMs ?? 10_000,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
    ...(options.random === undefined ? {} : { random: options.random }),
  });
  return createDeviceAgent<ThingsBoardTarget>({
    ...base.passThrough,
    machine: { installIsIdempotent: true, ...options.machine },
    id: options.id ?? DEFAULT_ID,
    protocol,
    target,
    channels: { mqtt: attributes.channel },
    store: base.store,
    hooks,
    fetchOrder: attributes.fetchOrder,
  });
}

/**
 * The size, and the checksum with the algorithm ThingsBoard assigned: MD5 and SHA-256 were
 * measured while the bytes streamed (the canonical manifest has them); SHA384, SHA512, CRC32,
 * MURMUR3_32 and MURMUR3_128 are computed over the staged file. A package that fails is removed
 * from the staging directory: nothing of it can be installed later.
 */
async function verifyPackage(context: StagedContext, allowUnverified: boolean): Promise<void> {
  const { manifest, staged, signal } = context;
  const kept = extensionChecksum(manifest);
  try {
    verifyStaged(manifest, staged, { allowUnverified: allowUnverified || kept !== undefined });
    if (kept !== undefined) {
      const file = staged[0];
      if (file === undefined) throw new InstallError(`Update ${manifest.id}: nothing was staged`);
      await verifyThingsBoardChecksum(file.location, kept, labelOf(manifest), signal);
    }
  } catch (error) {
    await dropStaged(staged);
    throw error;
  }
}

function labelOf(manifest: Manifest): string {
  return manifest.artifacts[0]?.name ?? manifest.id;
}

export {
  createMqttChunkDownloadHook,
  type MqttChunkDownloadHookOptions,
} from '../mqtt-chunk-download-hook.js';
export { checksumFile as thingsBoardChecksumFile } from './thingsboard-checksum.js';
export type { ThingsBoardInstallAs } from './thingsboard-install.js';
