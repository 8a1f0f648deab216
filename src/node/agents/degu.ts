/**
 * The Degu agent (docs/agents/degu.md): a device that updates like a Degu sensor, over the AWS
 * IoT Device Shadow of its thing, hardened.
 *
 * - At start it reports the `*_ver` MD5s of its files (read from disk), then reads the whole
 *   shadow with a `get` and compares each desired `*_ver` with its local file; on every
 *   `/update/delta` it does the same (stale deltas, not newer than the last version read, are
 *   ignored).
 * - It downloads the items that differ, verifies each MD5 (the Degu firmware does not; this
 *   agent never installs bytes whose MD5 is not the ordered one), installs every file atomically
 *   (a crash leaves the old or the new file, never a mix, and the update resumes or rolls back at
 *   the next start), and reports the new MD5s.
 * - Optionally (`clearDesired`) it then removes the finished order from `desired`, with an
 *   optimistic update that never clears a newer order written meanwhile.
 *
 * @example
 * ```ts
 * import { connectMqtt } from 'otakit/mqtt'
 * import { createDeguAgent } from 'otakit/node'
 *
 * const agent = createDeguAgent({
 *   thingName: 'A1B2C3D4E5F60718',
 *   connection: await connectMqtt('mqtts://<prefix>-ats.iot.eu-west-1.amazonaws.com:8883', { key, cert }),
 *   files: { script: '/opt/degu/main.py', config: '/opt/degu/CONFIG' },
 *   stateDirectory: '/var/lib/degu-agent',
 * })
 * agent.on('outcome', (outcome) => console.log(outcome.state, outcome.update?.id))
 * await agent.start()
 * ```
 *
 * @module
 */
import { IntegrityError, isOtaError, type OtaError, toOtaError } from '../../core/errors.js';
import type { UpdateRef } from '../../core/status.js';
import { DeviceAgent, type StartOptions, type StopOptions } from '../../device/agent.js';
import type { UpdateHooks } from '../../machine/hooks.js';
import { verifyStaged } from '../../machine/verify-staged.js';
import type { Manifest } from '../../manifest/schema.js';
import type {
  DeviceCodec,
  InboundMessage,
  OrderDecoding,
  Protocol,
  WireMessage,
} from '../../protocols/contract.js';
import { type DeguCheck, checkUpdate as deguCheckUpdate } from '../../protocols/degu/check.js';
import { decodeMessage } from '../../protocols/degu/decode.js';
import { itemsOfOrderId } from '../../protocols/degu/order-ref.js';
import { protocol as deguProtocol, type Target } from '../../protocols/degu/protocol.js';
import { type DeguItem, itemOfTarget, verKey } from '../../protocols/degu/schemas.js';
import type { DeguStatus } from '../../protocols/degu/status.js';
import { shadowTopic } from '../../protocols/degu/topics.js';
import { mqttChannel } from '../../transport/mqtt-channel.js';
import type { MqttConnection } from '../../transport/mqtt-connection.js';
import { createShadowClient, type ShadowClient } from '../../transport/shadow/client.js';
import { isShadowRejected } from '../../transport/shadow/errors.js';
import type { ShadowRequestState } from '../../transport/shadow/types.js';
import type { InstallStep } from '../install/types.js';
import { type PresetOptions, presetBase } from './common.js';
import { checkStagedMd5, type DeguAgentFiles, DeguFileSet } from './degu-files.js';

export type { DeguAgentFiles } from './degu-files.js';

export interface DeguAgentOptions extends PresetOptions {
  /** The AWS IoT thing of this device (the Degu gateway names it after the sensor's MAC). */
  thingName: string;
  /** A named shadow that holds the update keys; absent for the classic shadow (Degu's). */
  shadowName?: string;
  /**
   * The MQTT connection to AWS IoT Core or a self-hosted shadow service (`connectMqtt` of
   * `otakit/mqtt`). It stays the caller's: `stop()` leaves it open.
   */
  connection: MqttConnection;
  /** Local paths of the files the shadow's items update. At least one. */
  files: DeguAgentFiles;
  /** Reported as `firmware_ver` at start, as the sensor does (e.g. `1.0.0-rc1`). */
  firmwareVersion?: string;
  /**
   * After a successful update, remove the finished items from `desired` (their URL and `*_ver`
   * set to `null`). Not Degu behaviour (the sensor never writes `desired`): opt in when nothing
   * else tidies the shadow. A newer order written meanwhile is never cleared.
   * @default false
   */
  clearDesired?: boolean;
  /**
   * The agent's id (machine id and store key).
   * @default thingName, or `<thingName>/<shadowName>` for a named shadow
   */
  id?: string;
  /**
   * How long a shadow `get` or `update` waits for its answer, in ms.
   * @default 10000
   */
  shadowTimeoutMs?: number;
  /** Called after each durable step of each file's installer (progress logs, crash tests). */
  onInstallStep?: (item: DeguItem, step: InstallStep) => void | Promise<void>;
}

/** Options of {@link DeguAgent.checkUpdate}. */
export interface DeguCheckOptions {
  signal?: AbortSignal;
}

/** What the Degu order and the local files say, in the canonical manifest: the items with a path. */
function restrictToFiles(decoding: OrderDecoding, files: DeguFileSet): OrderDecoding {
  const manifest = decoding.value;
  if (manifest === null) return decoding;
  const lost = [...decoding.lost];
  const artifacts = manifest.artifacts.filter((artifact) => {
    const item = itemOfTarget(artifact.target);
    if (item !== undefined && files.items.includes(item)) return true;
    lost.push({ field: `desired.${item ?? artifact.target}`, reason: 'this agent has no local file for it' });
    return false;
  });
  if (artifacts.length === manifest.artifacts.length) return decoding;
  return { ...decoding, value: artifacts.length === 0 ? null : { ...manifest, artifacts }, lost };
}

/**
 * The Degu protocol with the device side reading the local files: the decision compares the order
 * with the MD5s on disk, the reports carry them, and orders arrive on `/update/delta` (the whole
 * shadow comes from the agent's own `get`, answered to it alone).
 */
function agentProtocol(
  files: DeguFileSet,
  firmwareVersion: string | undefined,
): Protocol<'degu', DeguStatus, Target> {
  const base = deguProtocol.device;
  const report = ({ thingName, shadowName }: Target, withFirmwareVersion: boolean): WireMessage => {
    const reported: { [key: string]: string } = files.reported();
    if (withFirmwareVersion && firmwareVersion !== undefined) reported.firmware_ver = firmwareVersion;
    return {
      channel: 'mqtt',
      address: shadowTopic(shadowName === undefined ? { thingName } : { thingName, shadowName }, 'update'),
      payload: JSON.stringify({ state: { reported } }),
      qos: 1,
    };
  };
  const device: DeviceCodec<Target> = {
    orderSources: (target) =>
      base
        .orderSources(target)
        .filter((source) => source.channel === 'mqtt' && source.filter.endsWith('/update/delta')),
    decodeOrder: (message, context) =>
      restrictToFiles(base.decodeOrder(message, { ...context, current: files.asCurrent() }), files),
    // Degu says one thing: the MD5s of what runs. Only a success changes them.
    encodeStatus: (status, context) => (status.state === 'committed' ? [report(context.target, false)] : []),
    bootReport: (_current, context) => [report(context.target, true)],
  };
  return { ...deguProtocol, device };
}

export class DeguAgent extends DeviceAgent<Target> {
  readonly #files: DeguFileSet;
  readonly #connection: MqttConnection;
  readonly #shadowOptions: { thingName: string; shadowName?: string; timeoutMs?: number };

  readonly #clearDesired: boolean;
  #shadow: ShadowClient | undefined;
  #clearing: Promise<void> = Promise.resolve();
  #stopWatching: (() => void) | undefined;

  constructor(options: DeguAgentOptions) {
    const base = presetBase(options);
    const fsync = options.fsync ?? true;
    const files = new DeguFileSet({ files: options.files, fsync, onInstallStep: options.onInstallStep });
    const target: Target =
      options.shadowName === undefined
        ? { thingName: options.thingName }
        : { thingName: options.thingName, shadowName: options.shadowName };
    // The shadow client of the running agent; `fetchOrder` is only called while it runs.
    const holder: { agent?: DeguAgent } = {};
    const installersOf = (manifest: Manifest) =>
      manifest.artifacts.map((artifact) => {
        const item = itemOfTarget(artifact.target);
        const installer = item === undefined ? undefined : files.installer(item);
        if (installer === undefined)
          throw new IntegrityError(artifact.name ?? artifact.target, {
            algorithm: 'target',
            expected: 'an item with a local file',
            actual: artifact.target,
          });
        return installer;
      });
    const hooks: UpdateHooks = {
      download: base.download,
      verify: async ({ manifest, staged }) => {
        verifyStaged(manifest, staged);
        for (const [index, artifact] of manifest.artifacts.entries()) {
          await checkStagedMd5(artifact.name ?? artifact.target, staged[index]!.location, artifact.md5!);
        }
      },
      install: async ({ manifest, staged, signal }) => {
        try {
          const installers = installersOf(manifest);
          for (const [index, installer] of installers.entries()) {
            await installer.install(staged[index]!.location, { signal });
          }
        } finally {
          await files.refresh();
        }
      },
      commit: async ({ manifest }) => {
        for (const installer of installersOf(manifest)) await installer.commit();
        await files.refresh();
      },
      rollback: async () => {
        // Every installer: one that is idle does nothing.
        for (const installer of files.installers()) await installer.rollback();
        await files.refresh();
      },
      recover: async () => {
        for (const installer of files.installers()) await installer.recover();
        await files.refresh();
        return null;
      },
      ...options.hooks,
    };
    super({
      ...base.passThrough,
      id:
        options.id ??
        (options.shadowName === undefined ? options.thingName : `${options.thingName}/${options.shadowName}`),
      protocol: agentProtocol(files, options.firmwareVersion),
      target,
      channels: { mqtt: mqttChannel(options.connection) },
      store: base.store,
      hooks,
      machine: { installIsIdempotent: true, ...options.machine },
      fetchOrder: (signal) => holder.agent!.#fetchShadow(signal),
    });
    holder.agent = this;
    this.#files = files;
    this.#connection = options.connection;
    this.#shadowOptions = {
      thingName: options.thingName,
      ...(options.shadowName === undefined ? {} : { shadowName: options.shadowName }),
      ...(options.shadowTimeoutMs === undefined ? {} : { timeoutMs: options.shadowTimeoutMs }),
    };
    this.#clearDesired = options.clearDesired ?? false;
    this.on('outcome', (outcome) => {
      if (this.#clearDesired && outcome.state === 'committed' && outcome.update !== null) {
        const update = outcome.update;
        this.#clearing = this.#clearing.then(() => this.#clear(update));
      }
    });
  }

  /** The shadow client of the running agent (`undefined` while stopped). */
  get shadow(): ShadowClient | undefined {
    return this.#shadow;
  }

  /** The `*_ver` MD5s of the local files, as last read (`none` for a missing file). */
  get localVersions(): Readonly<Record<string, string>> {
    return this.#files.reported();
  }

  override async start(options: StartOptions = {}): Promise<void> {
    if (this.running) return super.start(options);
    // Read before the boot report, which carries them.
    await this.#files.refresh();
    this.#shadow = createShadowClient({
      connection: this.#connection,
      ...this.#shadowOptions,
      onError: (error) => this.#problem(error),
    });
    try {
      await super.start(options);
    } catch (error) {
      await this.#closeShadow();
      throw error;
    }
    this.#watchConnection();
  }

  override async stop(options: StopOptions = {}): Promise<void> {
    this.#stopWatching?.();
    this.#stopWatching = undefined;
    await super.stop(options);
    await this.#clearing;
    await this.#closeShadow();
  }

  /**
   * `degu.check_update()`: reads the shadow's `desired` and the local files, and says which items
   * differ. Decides only: nothing is downloaded (`checkNow()` runs the update).
   * @throws TransportError / TimeoutError when the shadow could not be read; ManifestError when
   *   its `desired` is not a Degu order.
   */
  async checkUpdate(options: DeguCheckOptions = {}): Promise<DeguCheck> {
    await this.#files.refresh();
    const shadow =
      this.#shadow ?? createShadowClient({ connection: this.#connection, ...this.#shadowOptions });
    try {
      let desired: Parameters<typeof deguCheckUpdate>[0];
      try {
        const document = await shadow.get(options.signal === undefined ? {} : { signal: options.signal });
        desired = decodeMessage('get/accepted', document).state.desired;
      } catch (error) {
        if (!isShadowRejected(error, 404)) throw error;
        desired = undefined;
      }
      const check = deguCheckUpdate(desired, this.#files.reported());
      const items = check.items.filter((entry) => this.#files.items.includes(entry.item));
      const skipped = [
        ...check.skipped,
        ...check.items
          .filter((entry) => !this.#files.items.includes(entry.item))
          .map((entry) => ({ item: entry.item, reason: `this agent has no local file for ${entry.item}` })),
      ];
      return { update: items.length > 0, items, skipped };
    } finally {
      if (shadow !== this.#shadow) await shadow.close();
    }
  }

  /** The whole shadow, as the message the protocol decodes (`get/accepted`, or the 404 of `get/rejected`). */
  async #fetchShadow(signal: AbortSignal): Promise<InboundMessage[]> {
    const shadow = this.#shadow;
    if (shadow === undefined) return [];
    await this.#files.refresh();
    try {
      const document = await shadow.get({ signal });
      return [{ address: shadow.topics.all['get/accepted'], payload: JSON.stringify(document) }];
    } catch (error) {
      if (!isShadowRejected(error, 404)) throw error;
      return [
        {
          address: shadow.topics.all['get/rejected'],
          payload: JSON.stringify({ code: 404, message: error.shadowMessage }),
        },
      ];
    }
  }

  /**
   * Removes the items of a finished update from `desired`, at the shadow version last seen. On a
   * conflict it reads the shadow again and clears only the items whose order is still the one
   * installed: a newer order written meanwhile stays.
   */
  async #clear(update: UpdateRef): Promise<void> {
    const shadow = this.#shadow;
    const ordered = itemsOfOrderId(update.id);
    if (shadow === undefined || ordered === undefined) return;
    const clearing = (desired: Record<string, unknown>): ShadowRequestState | null => {
      const patch: { [key: string]: null } = {};
      for (const { item, md5 } of ordered) {
        if (this.#files.md5(item) !== md5) continue; // not installed here (no local file, or failed)
        const want = desired[verKey(item)];
        if (typeof want !== 'string' || want.toLowerCase() !== md5) continue;
        patch[item] = null;
        patch[verKey(item)] = null;
      }
      return Object.keys(patch).length === 0 ? null : { desired: patch };
    };
    try {
      const fresh = await shadow.get();
      const state = clearing(fresh.state.desired ?? {});
      if (state === null) return;
      // Conditional on the version read: an order written in between makes it a 409, and the
      // retry clears only what is still the installed order.
      await shadow.update(state, {
        version: fresh.version,
        onConflict: (again) => clearing(again.state.desired ?? {}),
      });
    } catch (error) {
      this.#problem(toOtaError(error, 'TRANSPORT', true));
    }
  }

  /**
   * After the connection comes back, asks for the whole shadow again, as AWS advises: a delta
   * published while the device was away is lost (a clean session keeps nothing), and the
   * shadow's version tells a newer order from one already handled.
   */
  #watchConnection(): void {
    let wasOffline = false;
    this.#stopWatching = this.#connection.onStateChange?.((change) => {
      if (change.state === 'offline') wasOffline = true;
      if (change.state !== 'online' || !wasOffline || !this.running) return;
      wasOffline = false;
      this.checkNow().catch((error: unknown) => this.#problem(toOtaError(error, 'TRANSPORT', true)));
    });
  }

  #problem(error: OtaError): void {
    if (isOtaError(error) && this.listenerCount('error') > 0) this.emit('error', error);
  }

  async #closeShadow(): Promise<void> {
    const shadow = this.#shadow;
    this.#shadow = undefined;
    await shadow?.close();
  }
}

/** Creates a {@link DeguAgent}; see the module's example. */
export function createDeguAgent(options: DeguAgentOptions): DeguAgent {
  return new DeguAgent(options);
}
