/**
 * The cloud side of ThingsBoard OTA: assign a package to devices (the shared `fw_*` attributes of
 * `thingsBoard.protocol.cloud.encodeOrder`), unassign it, and follow the `fw_state` telemetry the
 * devices send into a {@link Fleet}. Built on `createUpdatePublisher`: each publish runs a
 * publisher whose `mqtt` channel is the device's attribute channel; every status goes through the
 * one fleet, so it is validated, deduplicated and survives a restart (a new publisher on the
 * fleet's store).
 *
 * The backend is a real ThingsBoard (`ThingsBoardRestClient`: REST API, statuses polled) or the
 * local device gateway of `otakit/node` (statuses pushed). See docs/cloud/thingsboard.md.
 *
 * @example
 * ```ts
 * const publisher = createThingsBoardPublisher({ backend: rest })
 * publisher.on('status', ({ deviceId, result }) => console.log(deviceId, result.state))
 * await publisher.publish('784f3940-2f04-11ec-8f3c-9d4f1f8bd1a5', manifest)
 * await publisher.poll('784f3940-2f04-11ec-8f3c-9d4f1f8bd1a5')
 * ```
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { OtaError, toOtaError } from '../../core/errors.js';
import { type Logger, noopLogger } from '../../core/logger.js';
import type { Manifest, ManifestInput } from '../../manifest/schema.js';
import type { InboundMessage, WireMessage } from '../../protocols/contract.js';
import { currentTelemetryKey, type PackageType, PREFIX } from '../../protocols/thingsboard/keys.js';
import { protocol } from '../../protocols/thingsboard/protocol.js';
import type { Target } from '../../protocols/thingsboard/target.js';
import type { StopListening } from '../../transport/channel.js';
import { Fleet } from '../fleet/fleet.js';
import type { FleetIngestResult } from '../fleet/types.js';
import { createUpdatePublisher, type PublishResult, type UpdatePublisher } from '../publisher.js';
import { thingsBoardAttributeChannel } from './attribute-channel.js';
import type { DeviceTelemetry, ThingsBoardBackend } from './backend.js';

export interface ThingsBoardPublisherOptions {
  /** Where attributes go and telemetry comes from: `ThingsBoardRestClient` or the local gateway. */
  backend: ThingsBoardBackend;
  /** @default a new `Fleet` on the memory store */
  fleet?: Fleet;
  /** Which package the devices follow: `fw_*` (firmware) or `sw_*` (software) keys. @default 'firmware' */
  type?: PackageType;
  /** @default noopLogger */
  logger?: Logger;
}

/** Options of one publish, withdrawal or poll. */
export interface ThingsBoardCallOptions {
  signal?: AbortSignal;
}

/** One status a device reported, as the fleet took it. */
export interface ThingsBoardStatusEvent {
  deviceId: string;
  message: InboundMessage;
  result: FleetIngestResult;
}

export interface ThingsBoardPublisherEvents {
  status: [event: ThingsBoardStatusEvent];
  /** A status that could not be ingested (the store failed); malformed ones are fleet anomalies. */
  error: [error: OtaError];
}

/**
 * The target the protocol's cloud codecs are given. They read only its package type and
 * transport: the REST API names a device by its id and the gateway by its session, so the
 * publisher never holds a device's access token; this placeholder stands where the codec's
 * schema wants one.
 */
function cloudTarget(type: PackageType): Target {
  return { accessToken: 'cloud-side', type };
}

/** Publishes ThingsBoard packages and follows `fw_state` telemetry into a fleet. */
export class ThingsBoardPublisher extends EventEmitter<ThingsBoardPublisherEvents> {
  readonly backend: ThingsBoardBackend;
  readonly fleet: Fleet;
  readonly type: PackageType;
  readonly #target: Target;
  readonly #logger: Logger;
  /** The publisher statuses go through (it has no channel: nothing is sent from it). */
  readonly #statuses: UpdatePublisher<Target>;
  readonly #watches = new Set<() => void>();

  constructor(options: ThingsBoardPublisherOptions) {
    super();
    if (typeof options?.backend?.saveSharedAttributes !== 'function') {
      throw new OtaError('CONFIG', 'The ThingsBoard publisher needs backend: a ThingsBoardBackend');
    }
    this.backend = options.backend;
    this.fleet = options.fleet ?? new Fleet();
    this.type = options.type ?? 'firmware';
    this.#target = cloudTarget(this.type);
    this.#logger = options.logger ?? noopLogger;
    this.#statuses = createUpdatePublisher({
      protocol,
      channels: {},
      fleet: this.fleet,
      logger: this.#logger,
    });
  }

  /**
   * Assigns the package of `manifest` to the device: its shared `fw_*` attributes, which
   * ThingsBoard pushes to the device. A manifest whose artifact is the content path
   * (`firmware?title=…&version=…`) names a package stored in ThingsBoard (the device fetches it
   * by MQTT chunks or HTTP); any other absolute URL becomes `fw_url`.
   * @throws ManifestError for a manifest ThingsBoard cannot carry (nothing is sent).
   * @throws TransportError when the backend refused or could not be reached.
   */
  async publish(
    deviceId: string,
    manifest: Manifest | ManifestInput,
    options: ThingsBoardCallOptions = {},
  ): Promise<PublishResult> {
    const result = await this.#forDevice(deviceId).publish(this.#target, manifest, options);
    this.#logger.info('otakit thingsboard: package assigned', { deviceId, update: manifest.id });
    return result;
  }

  /** Unassigns the package: the shared `fw_*` attributes are deleted. */
  async withdraw(deviceId: string, options: ThingsBoardCallOptions = {}): Promise<WireMessage[]> {
    return this.#forDevice(deviceId).withdraw(this.#target, options);
  }

  /**
   * Ingests every telemetry message the backend hands over, as devices send it (the local
   * gateway). Returns the function that stops. @throws OtaError `CONFIG` for a backend that can
   * only be polled (the REST API: use `poll`).
   */
  watch(): StopListening {
    const subscribe = this.backend.onTelemetry;
    if (subscribe === undefined) {
      throw new OtaError(
        'CONFIG',
        'This ThingsBoard backend pushes no telemetry: poll() the devices instead',
      );
    }
    const stop = subscribe.call(this.backend, (telemetry) => void this.#ingestSafely(telemetry));
    this.#watches.add(stop);
    return async () => {
      if (this.#watches.delete(stop)) stop();
    };
  }

  /**
   * Asks the backend for the device's latest `fw_state`, `fw_error` and `current_fw_*` telemetry
   * and ingests it (a state already known is a `duplicate`). `null` when the device reported
   * nothing yet. @throws OtaError `CONFIG` for a backend that cannot be asked.
   */
  async poll(deviceId: string, options: ThingsBoardCallOptions = {}): Promise<FleetIngestResult | null> {
    if (this.backend.latestTelemetry === undefined) {
      throw new OtaError('CONFIG', 'This ThingsBoard backend cannot be polled: watch() it instead');
    }
    const message = await this.backend.latestTelemetry(deviceId, telemetryKeys(this.type), options);
    return message === null ? null : this.ingest(deviceId, message);
  }

  /** Ingests one telemetry message of the device (a webhook, a rule chain's forward…). */
  async ingest(deviceId: string, message: InboundMessage): Promise<FleetIngestResult> {
    const result = await this.#statuses.ingest(this.#target, message, { deviceId });
    this.emit('status', { deviceId, message, result });
    return result;
  }

  /** Stops every watch. The backend and the fleet stay open: they belong to the caller. */
  async close(): Promise<void> {
    for (const stop of this.#watches) stop();
    this.#watches.clear();
  }

  #forDevice(deviceId: string): UpdatePublisher<Target> {
    if (typeof deviceId !== 'string' || deviceId.length === 0) {
      throw new OtaError('CONFIG', 'deviceId must be a non-empty string (the fleet id of the device)');
    }
    return createUpdatePublisher({
      protocol,
      channels: { mqtt: thingsBoardAttributeChannel(this.backend, deviceId) },
      fleet: this.fleet,
      logger: this.#logger,
    });
  }

  async #ingestSafely(telemetry: DeviceTelemetry): Promise<void> {
    try {
      await this.ingest(telemetry.deviceId, telemetry.message);
    } catch (error) {
      const failure = toOtaError(error, 'STORE', true);
      this.#logger.warn('otakit thingsboard: status not ingested', {
        code: failure.code,
        message: failure.message,
      });
      if (this.listenerCount('error') > 0) this.emit('error', failure);
    }
  }
}

/** The telemetry keys of a package's status: `fw_state`, `fw_error`, `current_fw_title`, `current_fw_version`. */
export function telemetryKeys(type: PackageType = 'firmware'): string[] {
  return [
    `${PREFIX[type]}_state`,
    `${PREFIX[type]}_error`,
    currentTelemetryKey(type, 'title'),
    currentTelemetryKey(type, 'version'),
  ];
}

/** Creates a {@link ThingsBoardPublisher}. */
export function createThingsBoardPublisher(options: ThingsBoardPublisherOptions): ThingsBoardPublisher {
  return new ThingsBoardPublisher(options);
}
