/**
 * The insigh.io cloud side as a service: publish a release to a device (the package written or
 * checked, stored for download under a file id, the file id registered against the release, the
 * retained SenML order sent), withdraw it (the retained order cleared), and follow the `e` = 1/2
 * reports in a {@link Fleet} that shows the release and its version rather than the file id the
 * wire carries. Built on the generic {@link UpdatePublisher}; see docs/cloud/insighio.md.
 *
 * @example
 * ```ts
 * const publisher = createInsighIoPublisher({ mqtt: mqttChannel(connection), store, packages })
 * await publisher.watch(target)
 * await publisher.publish(target, { id: 'app', version: '2.0.0', files: [{ path: 'boot.py', data }] })
 * ```
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { ManifestError, type OtaError } from '../../core/errors.js';
import { type Logger, noopLogger } from '../../core/logger.js';
import { isTerminalState, type UpdateState } from '../../core/states.js';
import type { UpdateStatus } from '../../core/status.js';
import type { StateStore } from '../../core/store.js';
import type { Manifest } from '../../manifest/schema.js';
import type { InboundMessage, WireMessage } from '../../protocols/contract.js';
import type { Loss } from '../../protocols/conversion.js';
import { toCanonical } from '../../protocols/insighio/codec.js';
import { FileIdSchema } from '../../protocols/insighio/ids.js';
import { safeDecodeMessage } from '../../protocols/insighio/messages.js';
import { detectPackageFormat, readPackage } from '../../protocols/insighio/package.js';
import { protocol as insighIoProtocol } from '../../protocols/insighio/protocol.js';
import { parseTarget, type Target } from '../../protocols/insighio/target.js';
import type { Channel, StopListening } from '../../transport/channel.js';
import { Fleet } from '../fleet/fleet.js';
import type { FleetIngestResult } from '../fleet/types.js';
import {
  createUpdatePublisher,
  type PublisherStatusEvent,
  type PublishOptions,
  type UpdatePublisher,
} from '../publisher.js';
import { type CatalogEntry, ReleaseCatalog } from './catalog.js';
import { MemoryPackageStore, type PackageStore } from './package-store.js';
import { type PackageFile, type PackageWriteFormat, writePackage } from './package-writer.js';

/** What to publish: a release, as files to pack or as a package already built. */
export interface InsighIoRelease {
  /** The release id the fleet shows as the update id. */
  id: string;
  /** The release version the fleet shows. */
  version: string;
  /** Files to pack (relative to the device root). Give these or `package`. */
  files?: readonly PackageFile[];
  /**
   * The format to pack `files` in. `tar` is what every device reads; `insighio-zlib` is the
   * reference firmware's `.tar.gz`; `gzip` only otakit agents apply.
   * @default 'tar'
   */
  format?: PackageWriteFormat;
  /** A package already built (a tar, microfreezer's pseudo-gzip or a gzip): checked, not rewritten. */
  package?: Uint8Array;
  /**
   * The console file id to publish it under (letters, digits, `-`, `_`).
   * @default the first 16 hex digits of a SHA-256 over the release id, version and package
   */
  fileId?: string;
}

export interface InsighIoPublisherOptions {
  /** The MQTT channel on the console's broker (`mqttChannel(connection)`). */
  mqtt: Channel;
  /** Where the file catalog (file id → release) persists: a `MemoryStore`, otakit/node's `FileStore`… */
  store: StateStore;
  /** Where packages wait for download, shared with the package server. @default a new MemoryPackageStore */
  packages?: PackageStore;
  /** Where statuses go. @default a new Fleet on the memory store */
  fleet?: Fleet;
  /** @default noopLogger */
  logger?: Logger;
  /**
   * Signs each order. Called with the device's manifest (id: the file id; version: the release's;
   * the download URL, size and the package's SHA-256), it returns that manifest signed (the
   * `signature` envelope added, nothing else changed), which then travels whole with the order (an
   * `otakit_manifest` SenML record) for the device to check before downloading.
   * @default none: orders are unsigned, the wire is the console's
   */
  sign?: (manifest: Manifest) => Manifest | Promise<Manifest>;
}

/** What one publish did. */
export interface InsighIoPublishResult {
  /** The catalog entry: file id, file type, size, digest, release. */
  entry: CatalogEntry;
  /** The wire messages sent (the retained order). */
  messages: WireMessage[];
  /** What the order could not carry (nothing, for a release published here). */
  lost: Loss[];
}

export interface InsighIoPublisherEvents {
  status: [event: PublisherStatusEvent<Target>];
  error: [error: OtaError];
}

const RELEASE_FIELD_LIMIT = 256;
const encoder = new TextEncoder();

function hex(bytes: ArrayBuffer): string {
  return [...new Uint8Array(bytes)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

async function sha256(bytes: Uint8Array): Promise<string> {
  return hex(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

function releaseText(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > RELEASE_FIELD_LIMIT) {
    throw new ManifestError('insigh.io release', [
      { path, expected: `a non-empty string of at most ${RELEASE_FIELD_LIMIT} characters` },
    ]);
  }
  return value;
}

/** The package bytes and file type of a release: packed from its files, or its package checked. */
async function packageOf(release: InsighIoRelease): Promise<{ bytes: Uint8Array; fileType: string }> {
  const what = 'insigh.io release';
  if ((release.files === undefined) === (release.package === undefined)) {
    throw new ManifestError(what, [{ path: 'files', expected: 'either files or a package, not both' }]);
  }
  if (release.files !== undefined) {
    const written = await writePackage(
      release.files,
      release.format === undefined ? {} : { format: release.format },
    );
    return { bytes: written.bytes, fileType: written.fileType };
  }
  const bytes = release.package;
  if (!(bytes instanceof Uint8Array)) {
    throw new ManifestError(what, [{ path: 'package', expected: 'the package bytes (a Uint8Array)' }]);
  }
  const format = detectPackageFormat(bytes);
  try {
    // What the device will do with it, done first: a package no device can read is never ordered.
    await readPackage(bytes);
  } catch (error) {
    throw new ManifestError(
      what,
      [{ path: 'package', expected: 'a tar, a microfreezer .tar.gz or a gzip that unpacks safely' }],
      { cause: error },
    );
  }
  return { bytes, fileType: format === 'tar' ? '.tar' : '.tar.gz' };
}

/**
 * The insigh.io protocol with one change: a status naming a catalogued file id is shown as the
 * release it carries (its id and version). The contract's `decodeStatus` is synchronous, so it
 * reads the catalog's cache; {@link primed} loads the entry before the message gets here.
 */
function catalogProtocol(catalog: ReleaseCatalog): typeof insighIoProtocol {
  const cloud = insighIoProtocol.cloud;
  return {
    ...insighIoProtocol,
    cloud: {
      ...cloud,
      decodeStatus(message, context): UpdateStatus | null {
        const status = cloud.decodeStatus(message, context);
        if (status === null || status.updateId === null) return status;
        const entry = catalog.cached(status.updateId);
        if (entry === undefined) return status;
        return { ...status, updateId: entry.releaseId, version: entry.version };
      },
    },
  };
}

/** The file id an OTA message reports on, if it is a status. */
function reportedFileId(message: InboundMessage): string | undefined {
  try {
    const decoded = safeDecodeMessage(message.payload);
    return decoded.success && decoded.data.kind === 'status' ? decoded.data.status.fileId : undefined;
  } catch {
    return undefined; // the fleet decodes it again and records what is wrong with it
  }
}

/**
 * `channel` with every inbound message held until the catalog has the entry of the file id it
 * reports, in arrival order (a chain of promises, so a slow lookup never lets a later status
 * overtake an earlier one).
 */
function primed(channel: Channel, catalog: ReleaseCatalog, logger: Logger): Channel {
  if (channel.listen === undefined) return channel;
  const listen = channel.listen.bind(channel);
  return {
    kind: channel.kind,
    send: (message, options) => channel.send(message, options),
    listen(source, onMessage) {
      let queue = Promise.resolve();
      return listen(source, (message) => {
        queue = queue.then(async () => {
          const fileId = reportedFileId(message);
          if (fileId !== undefined) {
            await catalog.lookup(fileId).catch((error: unknown) => {
              logger.warn('otakit insigh.io publisher: catalog lookup failed', { message: String(error) });
            });
          }
          onMessage(message);
        });
      });
    },
  };
}

/**
 * Publishes releases to insigh.io devices and follows their reports. One instance per service;
 * a new one on the same `store`, `packages` and fleet store takes over where another left off.
 */
export class InsighIoPublisher extends EventEmitter<InsighIoPublisherEvents> {
  readonly catalog: ReleaseCatalog;
  readonly packages: PackageStore;
  readonly fleet: Fleet;
  readonly #inner: UpdatePublisher<Target>;
  readonly #logger: Logger;
  readonly #sign: InsighIoPublisherOptions['sign'];

  constructor(options: InsighIoPublisherOptions) {
    super();
    this.catalog = new ReleaseCatalog(options.store);
    this.packages = options.packages ?? new MemoryPackageStore();
    this.fleet = options.fleet ?? new Fleet();
    this.#logger = options.logger ?? noopLogger;
    this.#sign = options.sign;
    this.#inner = createUpdatePublisher<Target>({
      protocol: catalogProtocol(this.catalog),
      channels: { mqtt: primed(options.mqtt, this.catalog, this.#logger) },
      fleet: this.fleet,
      logger: this.#logger,
    });
    this.#inner.on('status', (event) => this.emit('status', event));
    this.#inner.on('error', (error) => {
      if (this.listenerCount('error') > 0) this.emit('error', error);
    });
  }

  /**
   * Publishes `release` to `target`: the package is written (or checked), stored under its file
   * id, registered in the catalog, the device marked `available` in the fleet, and the order
   * sent retained. Resolves once the broker has the order.
   * @throws ManifestError for a release, package or target that cannot be published (nothing is
   * sent); TransportError when the order could not be sent (the fleet then shows the device
   * `canceled` for it, and publishing again is safe).
   */
  async publish(
    target: Target,
    release: InsighIoRelease,
    options: PublishOptions = {},
  ): Promise<InsighIoPublishResult> {
    const valid = parseTarget(target);
    if (release === null || typeof release !== 'object') {
      throw new ManifestError('insigh.io release', [{ path: '', expected: 'a release object' }]);
    }
    const releaseId = releaseText(release.id, 'id');
    const version = releaseText(release.version, 'version');
    const { bytes, fileType } = await packageOf(release);
    const digest = await sha256(bytes);
    const fileId =
      release.fileId ?? (await sha256(encoder.encode(`${releaseId}\0${version}\0${digest}`))).slice(0, 16);
    if (!FileIdSchema.safeParse(fileId).success) {
      throw new ManifestError('insigh.io release', [
        { path: 'fileId', expected: 'a file id of letters, digits, "-" and "_"' },
      ]);
    }
    const entry = await this.catalog.register({
      fileId,
      fileType,
      size: bytes.length,
      sha256: digest,
      releaseId,
      version,
      publishedAt: new Date().toISOString(),
    });
    // Stored before the order goes out: a device never hears of a file it cannot download.
    await this.packages.put(fileId, bytes);
    const deviceId = options.deviceId ?? valid.deviceId;
    await this.#mark(deviceId, entry, 'available');
    const context = {
      deviceId: valid.deviceId,
      controlChannelId: valid.controlChannelId,
      deviceKey: 'left-out', // toCanonical leaves dk out of the manifest URL; the key is not needed
      ...(valid.baseUrl === undefined ? {} : { baseUrl: valid.baseUrl }),
      ...(valid.allowInsecureHttp === undefined ? {} : { allowInsecureHttp: valid.allowInsecureHttp }),
    };
    const { value: unsigned } = toCanonical({ fileId, fileType, size: bytes.length }, context);
    try {
      const manifest =
        this.#sign === undefined
          ? unsigned
          : await this.#sign({
              ...unsigned,
              version,
              artifacts: unsigned.artifacts.map((artifact) => ({ ...artifact, sha256: digest })),
            });
      const { messages, lost } = await this.#inner.publish(valid, manifest, options);
      this.#logger.info('otakit insigh.io publisher: release published', {
        deviceId,
        fileId,
        release: releaseId,
        version,
      });
      return { entry, messages, lost };
    } catch (error) {
      await this.#mark(deviceId, entry, 'canceled').catch(() => {});
      throw error;
    }
  }

  /**
   * Withdraws the order of `target`: the empty retained payload that removes it from the broker,
   * so a device that has not picked it up never will. A device still `available` in the fleet is
   * marked `canceled`; one already installing reports as usual.
   */
  async withdraw(target: Target, options: PublishOptions = {}): Promise<WireMessage[]> {
    const valid = parseTarget(target);
    const messages = await this.#inner.withdraw(valid, options);
    const deviceId = options.deviceId ?? valid.deviceId;
    const device = await this.fleet.device(deviceId);
    if (device?.state === 'available' && device.update !== null) {
      await this.fleet.ingest(deviceId, {
        machineId: deviceId,
        updateId: device.update.id,
        version: device.update.version,
        state: 'canceled',
        previous: 'available',
        at: new Date().toISOString(),
      });
    }
    return messages;
  }

  /** Listens on the device's OTA topic and ingests its reports (see `UpdatePublisher.watch`). */
  watch(target: Target, options: PublishOptions = {}): Promise<StopListening> {
    return this.#inner.watch(target, options);
  }

  /** Ingests one report received elsewhere, mapping its file id through the catalog. */
  async ingest(
    target: Target,
    message: InboundMessage,
    options: PublishOptions = {},
  ): Promise<FleetIngestResult> {
    const fileId = reportedFileId(message);
    if (fileId !== undefined) await this.catalog.lookup(fileId);
    return this.#inner.ingest(target, message, options);
  }

  /** Stops every watch; the channel, stores and fleet belong to the caller. */
  close(): Promise<void> {
    return this.#inner.close();
  }

  /**
   * Records what the service did to a device (ordered it, or gave up sending the order) in the
   * fleet, so it shows a device that has an order waiting. An order that replaces one still
   * waiting cancels that one first; a device the fleet sees in the middle of another kind of
   * step is left as it is (its report will say what happened).
   */
  async #mark(deviceId: string, entry: CatalogEntry, state: 'available' | 'canceled'): Promise<void> {
    const device = await this.fleet.device(deviceId);
    let from: UpdateState = device?.state ?? 'idle';
    const release = { id: entry.releaseId, version: entry.version };
    const record = async (update: { id: string; version: string | null }, to: UpdateState) => {
      await this.fleet.ingest(deviceId, {
        machineId: deviceId,
        updateId: update.id,
        version: update.version,
        state: to,
        previous: from,
        at: new Date().toISOString(),
      });
      from = to;
    };
    const waiting = from === 'available' ? (device?.update ?? null) : null;
    if (state === 'canceled') {
      if (waiting?.id === release.id) await record(release, 'canceled');
      return;
    }
    if (from !== 'idle' && from !== 'available' && !isTerminalState(from)) {
      this.#logger.warn('otakit insigh.io publisher: device busy, not marked available', {
        deviceId,
        state: from,
      });
      return;
    }
    // The retained order is replaced: the one still waiting will never be picked up.
    if (waiting !== null && waiting.id !== release.id) await record(waiting, 'canceled');
    await record(release, 'available');
  }
}

/** Creates an {@link InsighIoPublisher}. */
export function createInsighIoPublisher(options: InsighIoPublisherOptions): InsighIoPublisher {
  return new InsighIoPublisher(options);
}
