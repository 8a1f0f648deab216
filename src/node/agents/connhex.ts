/**
 * The Connhex Edge device agent: `createDeviceAgent` acting as the Connhex firmware OTA addon.
 * It reads `auto_download` / `auto_install` / `check_interval` from `agent.toml` (or options),
 * checks the release endpoint with `HEAD` at start and then every interval, downloads the `.zip`
 * into `<install dir>/.store/ota/` (resuming a partial one), verifies its SHA-256, extracts it
 * safely into `.store/ota/current/` (atomically, the previous release kept until the commit), runs
 * `update.sh` there only when the application opted in, and reports every status and a periodic
 * heartbeat on NATS `heartbeat.ota.service` in the addon's nine words. See docs/agents/connhex.md.
 *
 * @example
 * ```ts
 * import { connectNats, natsChannel } from 'otakit/nats'
 * import { createConnhexAgent } from 'otakit/node'
 *
 * const agent = createConnhexAgent({
 *   target: { domain: 'example.com', initId: 'dev-42', key: thingKey },
 *   nats: natsChannel(await connectNats('nats://127.0.0.1:4222')),
 *   configFile: '/opt/connhex/agent.toml',
 *   installDirectory: '/opt/connhex',
 *   stateDirectory: '/var/lib/otakit',
 *   runUpdateScript: { timeoutMs: 120_000 },
 * })
 * await agent.start()
 * ```
 *
 * @module
 */
import { systemClock } from '../../core/clock.js';
import { OtaError } from '../../core/errors.js';
import type { UpdateRef } from '../../core/status.js';
import {
  DeviceAgent,
  type DeviceAgentOptions,
  type StartOptions,
  type StopOptions,
} from '../../device/agent.js';
import { statementCompanion } from '../../device/statement-companion.js';
import type { UpdateOutcome } from '../../machine/record.js';
import type { Manifest } from '../../manifest/schema.js';
import type { ConfigOptions, OtaConfig, OtaConfigInput } from '../../protocols/connhex/config.js';
import { LIMITS } from '../../protocols/connhex/limits.js';
import { type StorePaths, storePaths } from '../../protocols/connhex/package.js';
import { protocol } from '../../protocols/connhex/protocol.js';
import { secrets } from '../../protocols/connhex/secrets.js';
import { parseTarget, resolveTarget, type Target } from '../../protocols/connhex/target.js';
import { statementUrl } from '../../protocols/connhex/urls.js';
import type { Channel } from '../../transport/channel.js';
import { httpChannel } from '../../transport/http-channel.js';
import type { ArchiveLimits } from '../archive/limits.js';
import { createDirectoryInstaller } from '../install/directory-installer.js';
import type { RunUpdateScriptOptions } from '../install/run-script.js';
import type { InstallStep } from '../install/types.js';
import { type PresetOptions, presetBase } from './common.js';
import { MAX_TIMER_MS, resolveConnhexConfig } from './connhex-config.js';
import { connhexInstallHooks, InstallGate } from './connhex-install.js';
import { ConnhexReporter, checkingChannel } from './connhex-status.js';

/** The device a Connhex agent runs for: the protocol's target (`initId`, `domain` or `baseUrl`, `key`…). */
export type ConnhexTarget = Target;

export interface ConnhexAgentOptions extends PresetOptions {
  /**
   * The device and its release endpoint: `initId`, `domain` (or `baseUrl`, `allowHttp` for a
   * loopback test server), `key` (the thing key, sent as `Authorization: Thing <key>` on the
   * check and the download, never printed), `scheme`, `firmwareId`.
   */
  target: ConnhexTarget;
  /**
   * Where statuses go: a NATS channel (`natsChannel(await connectNats(…))` of `otakit/nats`), or
   * any `Channel` of kind `nats`. The agent never closes it.
   */
  nats: Channel;
  /**
   * Carries the release check (`HEAD`). The download itself goes through the `download` options.
   * @default httpChannel({ timeoutMs: 30_000 }) with Connhex's secrets masked
   */
  http?: Channel;
  /**
   * The addon's `agent.toml`: its `[ota]` table gives `auto_download`, `auto_install` and
   * `check_interval`. Read once, at creation.
   * @default none: the addon's defaults (no automatic download or install, a check every hour)
   */
  configFile?: string;
  /** Settings in code, over the file's, field by field (`auto_install` still implies `auto_download`). */
  config?: OtaConfigInput;
  /** How `agent.toml` is read (`strictCompat: true` ignores unknown keys as the Go agent does). */
  configOptions?: ConfigOptions;
  /**
   * The Edge install directory (usually `/opt/connhex`), absolute: releases are downloaded into
   * `<dir>/.store/ota/` and extracted into `<dir>/.store/ota/current/`.
   */
  installDirectory: string;
  /**
   * Run the release's `update.sh` after extracting it. **Code execution**: the script runs with
   * the agent's privileges, and whoever can publish a release decides what it does. Off unless
   * the application opts in; `true` uses `runUpdateScript`'s defaults, an object sets them.
   * @default false
   */
  runUpdateScript?: boolean | RunUpdateScriptOptions;
  /**
   * How often the last status is published again (the Connhex agent marks a service that has
   * been silent for about ten seconds offline).
   * @default 10000
   */
  heartbeatIntervalMs?: number;
  /**
   * The version the device runs before otakit's first update (from the image, a file of your
   * own). Adopted on the first start only, when the state store is empty; later the agent knows.
   * @default unknown: every release is an update (the addon's inequality rule against '')
   */
  currentVersion?: string;
  /**
   * Fetch each release's signed statement, `<release URL>.otakit.json`, in the check, before any
   * download (a `GET` with the thing key, once per new release; a 404 leaves it unsigned). The
   * release then runs as the signed manifest, checked against the machine's `trust`.
   * @default true when `machine.trust` is set, else false (the wire stays the addon's)
   */
  signedStatements?: boolean;
  /** The agent id: its state's key. @default target.initId */
  id?: string;
  /** Caps on what a release `.zip` may extract. @default the archive extractor's defaults */
  archiveLimits?: Partial<ArchiveLimits>;
  /** Installer settings: `onStep` hears each durable step (for logs, and for crash tests). */
  installer?: { onStep?: (step: InstallStep) => void | Promise<void> };
}

/** {@link DeviceAgent} for Connhex, with the addon's manual steps. */
export class ConnhexAgent extends DeviceAgent<ConnhexTarget> {
  /** The effective `[ota]` settings. */
  readonly config: Readonly<OtaConfig>;
  /** Where releases are downloaded and extracted. */
  readonly paths: StorePaths;
  readonly #reporter: ConnhexReporter;
  readonly #gate: InstallGate;
  /** Shared with the approve step of {@link createConnhexAgent}, which fills it in. */
  readonly #announced: AnnouncedRelease;

  /** @internal Use {@link createConnhexAgent}. */
  constructor(
    options: DeviceAgentOptions<ConnhexTarget>,
    parts: {
      config: OtaConfig;
      paths: StorePaths;
      reporter: ConnhexReporter;
      gate: InstallGate;
      announced: AnnouncedRelease;
    },
  ) {
    super(options);
    this.#announced = parts.announced;
    this.config = Object.freeze({ ...parts.config });
    this.paths = parts.paths;
    this.#reporter = parts.reporter;
    this.#gate = parts.gate;
  }

  /**
   * The release the last check announced (`update_available`) and did not run, because
   * `auto_download` is off or `approve` said no; `null` otherwise. Run it with {@link install}.
   */
  get available(): Manifest | null {
    return this.#announced.manifest;
  }

  /** The downloaded release held at `update_ready` because `auto_install` is off, or `null`. */
  get awaitingInstall(): Manifest | null {
    return this.#gate.waiting;
  }

  /**
   * Installs now, as the Connhex console's "install" does: the release waiting at `update_ready`
   * goes on to install; else the announced release ({@link available}) is downloaded and
   * installed in one go. Resolves with the outcome, or `null` when there was nothing to install.
   */
  async install(): Promise<UpdateOutcome | null> {
    const waiting = this.#gate.waiting;
    if (waiting !== null) {
      const outcome = new Promise<UpdateOutcome>((resolve) => this.once('outcome', resolve));
      this.#gate.allow(waiting.version);
      return outcome;
    }
    const release = this.#announced.manifest;
    if (release === null) return null;
    this.#gate.allow(release.version);
    this.#announced.manifest = null;
    return this.apply(release);
  }

  override async start(options: StartOptions = {}): Promise<void> {
    // Before the rest: a resumed download may keep `start()` busy, and must be heard meanwhile.
    this.#reporter.startHeartbeat();
    try {
      await super.start(options);
    } catch (error) {
      this.#reporter.stopHeartbeat();
      throw error;
    }
  }

  override async stop(options: StopOptions = {}): Promise<void> {
    this.#reporter.stopHeartbeat();
    await super.stop(options);
  }
}

/** The release the last check announced and did not run (`ConnhexAgent.available`). */
interface AnnouncedRelease {
  manifest: Manifest | null;
}

function requireAbsolute(value: unknown, name: string): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.split('/').includes('..')) {
    throw new OtaError('CONFIG', `Connhex agent: ${name} must be an absolute path without ".."`);
  }
  return value;
}

function requirePositive(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new OtaError('CONFIG', `Connhex agent: ${name} must be a positive number of ms`);
  }
  return value;
}

/** Creates a {@link ConnhexAgent}; see the module's example and docs/agents/connhex.md. */
export function createConnhexAgent(options: ConnhexAgentOptions): ConnhexAgent {
  const installDirectory = requireAbsolute(options.installDirectory, 'installDirectory');
  requireAbsolute(options.stateDirectory, 'stateDirectory');
  if (options.nats?.kind !== 'nats') {
    throw new OtaError(
      'CONFIG',
      'Connhex agent: nats must be a channel of kind "nats" (natsChannel of otakit/nats)',
    );
  }
  const heartbeatIntervalMs = requirePositive(options.heartbeatIntervalMs, 'heartbeatIntervalMs', 10_000);
  const target = parseTarget(options.target);
  const { releaseUrl } = resolveTarget(target);
  const config = resolveConnhexConfig(options.configFile, options.config, options.configOptions);
  const paths = storePaths(installDirectory);
  const clock = options.clock ?? systemClock;
  const id = options.id ?? target.initId;

  const base = presetBase({
    ...options,
    download: {
      ...(target.key === undefined
        ? {}
        : {
            auth: {
              type: 'header',
              name: 'authorization',
              value: `${target.scheme ?? 'Thing'} ${target.key}`,
            },
          }),
      maxBytes: LIMITS.maxPackageBytes,
      ...options.download,
      // The addon's store folder, on the file system of the extracted release.
      directory: options.download?.directory ?? paths.storeDir,
    },
  });
  const installer = createDirectoryInstaller({
    target: paths.extractDir,
    fsync: options.fsync ?? true,
    ...(options.installer?.onStep === undefined ? {} : { onStep: options.installer.onStep }),
  });
  const gate = new InstallGate();
  const script =
    options.runUpdateScript === undefined || options.runUpdateScript === false
      ? false
      : options.runUpdateScript === true
        ? {}
        : options.runUpdateScript;
  const { verify: userVerify, ...userHooks } = options.hooks ?? {};
  const hooks = {
    download: base.download,
    ...connhexInstallHooks({
      installer,
      script,
      gate: config.autoInstall ? undefined : gate,
      limits: options.archiveLimits,
      allowUnverified: options.machine?.allowUnverified ?? false,
      verify: userVerify,
      currentVersion: options.currentVersion,
    }),
    ...userHooks,
  };

  const reporter = new ConnhexReporter({
    nats: options.nats,
    target,
    machineId: id,
    clock,
    heartbeatIntervalMs,
  });
  const plainHttp = options.http ?? httpChannel({ secrets, timeoutMs: 30_000 });
  const fetchStatements =
    options.signedStatements ?? (options.machine as { trust?: unknown } | undefined)?.trust !== undefined;
  const signed = statementCompanion({
    protocol,
    target,
    http: plainHttp,
    companionRequest: (_manifest, request) => ({
      channel: 'http',
      method: 'GET',
      address: statementUrl(releaseUrl),
      payload: '',
      ...(request.headers === undefined ? {} : { headers: request.headers }),
    }),
  });
  const http = fetchStatements ? signed.channel : plainHttp;
  const agentProtocol = fetchStatements ? signed.protocol : protocol;
  // Filled in once the agent exists; the channels and the approve step only run after start().
  let agent: ConnhexAgent | undefined;
  const current = (): UpdateRef | null => agent?.current ?? null;
  const userApprove = options.approve;
  const announced: AnnouncedRelease = { manifest: null };

  const machine = {
    ...options.machine,
    // A release held at update_ready waits in the verify step for as long as it takes.
    ...(config.autoInstall
      ? {}
      : { timeouts: { verify: Number.POSITIVE_INFINITY, ...options.machine?.timeouts } }),
  };
  agent = new ConnhexAgent(
    {
      ...base.passThrough,
      machine,
      id,
      protocol: {
        ...agentProtocol,
        device: { ...agentProtocol.device, encodeStatus: reporter.encodeStatus },
      },
      target,
      channels: {
        nats: reporter.recordingChannel(),
        http: checkingChannel(http, reporter, {
          releaseUrl,
          decode: (answer) => agentProtocol.device.decodeOrder(answer, { target, current: current() }).value,
        }),
      },
      store: base.store,
      hooks,
      poll: {
        ...options.poll,
        // The addon's check_interval (a timer cannot wait longer than ~24.8 days).
        intervalMs: Math.min(options.poll?.intervalMs ?? config.checkIntervalMs, MAX_TIMER_MS),
      },
      approve: async (manifest) => {
        const run = config.autoDownload && ((await userApprove?.(manifest)) ?? true);
        // Run, or announce and keep for install().
        announced.manifest = run ? null : manifest;
        if (!run) await reporter.announce(manifest);
        return run;
      },
      clock,
    },
    { config, paths, reporter, gate, announced },
  );
  const created = agent;
  if (fetchStatements) signed.attach(current);
  reporter.attach({
    current,
    underWay: () => {
      const snapshot = created.machine.snapshot();
      return snapshot.state === 'idle' && !created.machine.busy
        ? null
        : { state: snapshot.state, update: snapshot.update };
    },
    raise: (error) => {
      if (created.listenerCount('error') > 0) created.emit('error', error);
    },
  });
  return created;
}
