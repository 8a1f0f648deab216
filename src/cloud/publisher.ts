/**
 * The cloud side of any protocol: publish an update to a device, withdraw it, and follow what the
 * device reports. One shape for every platform, driven by the protocol contract (`encodeOrder`,
 * `encodeWithdrawal`, `statusSources`, `decodeStatus`) over the same channels device agents use.
 * Statuses go into a {@link Fleet} (one tracker per device, persisted in its store), so what a
 * back end sees is validated, deduplicated and survives a restart; platform add-ons (the Degu
 * publisher, the micropython_ota server…) build on this.
 *
 * @example
 * ```ts
 * import { insighIo, mqttChannel } from 'otakit'
 * import { createUpdatePublisher } from 'otakit/cloud'
 *
 * const publisher = createUpdatePublisher({ protocol: insighIo.protocol, channels: { mqtt: mqttChannel(connection) } })
 * publisher.on('status', ({ deviceId, result }) => console.log(deviceId, result.state))
 * await publisher.watch(target)
 * await publisher.publish(target, manifest)
 * ```
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { OtaError, TransportError, toOtaError } from '../core/errors.js';
import { type Logger, noopLogger } from '../core/logger.js';
import { parseWith } from '../core/validate.js';
import type { Manifest, ManifestInput } from '../manifest/schema.js';
import type { InboundMessage, Protocol, WireMessage } from '../protocols/contract.js';
import type { Loss } from '../protocols/conversion.js';
import type { Channel, Channels, StopListening } from '../transport/channel.js';
import { Fleet } from './fleet/fleet.js';
import type { FleetIngestResult } from './fleet/types.js';

export interface UpdatePublisherOptions<Target> {
  /** The platform's protocol (`insighIo.protocol`, `degu.protocol`…). */
  protocol: Protocol<string, string | number, Target>;
  /** The channels the protocol's messages travel on, by kind. */
  channels: Channels;
  /**
   * Where statuses go: decoded, checked against each device's tracker and stored.
   * @default a new `Fleet` on the memory store
   */
  fleet?: Fleet;
  /** @default noopLogger */
  logger?: Logger;
}

/** Options of one publish, withdrawal or watch. */
export interface PublishOptions {
  /**
   * The device the target stands for, where the target does not name one (ThingsBoard's access
   * token, micropython_ota's project).
   * @default the fleet's `deviceIdOf(protocol, target)`
   */
  deviceId?: string;
  signal?: AbortSignal;
}

export interface PublishResult {
  /** The wire messages sent, in order (their payloads; headers may hold credentials). */
  messages: WireMessage[];
  /** What the platform's format could not carry of the manifest. */
  lost: Loss[];
}

/** One status message from a device, as the fleet took it. */
export interface PublisherStatusEvent<Target> {
  target: Target;
  message: InboundMessage;
  result: FleetIngestResult;
}

export interface UpdatePublisherEvents<Target> {
  status: [event: PublisherStatusEvent<Target>];
  /** A status that could not be ingested (the store failed); decoding problems are fleet anomalies. */
  error: [error: OtaError];
}

/** Publishes updates over a protocol's channels and follows the devices' statuses in a fleet. */
export class UpdatePublisher<Target> extends EventEmitter<UpdatePublisherEvents<Target>> {
  readonly protocol: Protocol<string, string | number, Target>;
  readonly fleet: Fleet;
  readonly #channels: Channels;
  readonly #logger: Logger;
  readonly #watches = new Set<StopListening>();

  constructor(options: UpdatePublisherOptions<Target>) {
    super();
    this.protocol = options.protocol;
    this.#channels = options.channels;
    this.fleet = options.fleet ?? new Fleet();
    this.#logger = options.logger ?? noopLogger;
  }

  /**
   * Orders `target` to install `manifest`: the protocol's order messages, sent in order. Resolves
   * once every message is sent (acknowledged by the broker, answered by the server).
   * @throws ManifestError for a manifest or target the platform cannot take (nothing is sent).
   * @throws TransportError when a message could not be sent (those before it were).
   */
  async publish(
    target: Target,
    manifest: Manifest | ManifestInput,
    options: PublishOptions = {},
  ): Promise<PublishResult> {
    const checked = this.#target(target);
    const { value: messages, lost } = this.protocol.cloud.encodeOrder(manifest, checked);
    await this.#sendAll(messages, 'order', options.signal);
    this.#logger.info('otakit publisher: order sent', {
      protocol: this.protocol.name,
      update: manifest.id,
      messages: messages.length,
    });
    return { messages, lost };
  }

  /** Withdraws the order of `target` (clears the retained order, the desired keys…). */
  async withdraw(target: Target, options: PublishOptions = {}): Promise<WireMessage[]> {
    const messages = this.protocol.cloud.encodeWithdrawal(this.#target(target));
    await this.#sendAll(messages, 'withdrawal', options.signal);
    return messages;
  }

  /**
   * Listens where `target` reports and ingests every status into the fleet (a `status` event per
   * message). Resolves once subscribed; the returned function stops listening. Platforms whose
   * statuses are not pushed (micropython_ota) have no sources: nothing to listen to.
   */
  async watch(target: Target, options: PublishOptions = {}): Promise<StopListening> {
    const checked = this.#target(target);
    const stops: StopListening[] = [];
    try {
      for (const source of this.protocol.cloud.statusSources(checked)) {
        const channel = this.#require(source.channel);
        if (channel.listen === undefined) {
          throw new OtaError('CONFIG', `The ${source.channel} channel cannot listen for statuses`);
        }
        stops.push(
          await channel.listen(source, (message) => {
            void this.#ingest(checked, message, options.deviceId);
          }),
        );
      }
    } catch (error) {
      await Promise.allSettled(stops.map((stop) => stop()));
      throw error;
    }
    const stop: StopListening = async () => {
      if (!this.#watches.delete(stop)) return;
      await Promise.allSettled(stops.map((each) => each()));
    };
    this.#watches.add(stop);
    return stop;
  }

  /**
   * Ingests one status message received elsewhere (a webhook, a message already read by the
   * app's own subscription): what `watch` does with each message.
   */
  ingest(target: Target, message: InboundMessage, options: PublishOptions = {}): Promise<FleetIngestResult> {
    return this.#ingestChecked(this.#target(target), message, options.deviceId);
  }

  /** Ingests a status of a target already validated (by `watch`: once, not for every message). */
  async #ingestChecked(
    target: Target,
    message: InboundMessage,
    deviceId: string | undefined,
  ): Promise<FleetIngestResult> {
    const result = await this.fleet.ingestMessage(
      this.protocol,
      target,
      message,
      deviceId === undefined ? {} : { deviceId },
    );
    this.emit('status', { target, message, result });
    return result;
  }

  /** Stops every watch. The channels and the fleet stay open: they belong to the caller. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#watches].map((stop) => stop()));
  }

  async #ingest(target: Target, message: InboundMessage, deviceId: string | undefined): Promise<void> {
    try {
      await this.#ingestChecked(target, message, deviceId);
    } catch (error) {
      const failure = toOtaError(error, 'STORE', true);
      this.#logger.warn('otakit publisher: status not ingested', {
        code: failure.code,
        message: failure.message,
      });
      // An `error` event without listeners would throw (EventEmitter semantics in Node); here it must not.
      if (this.listenerCount('error') > 0) this.emit('error', failure);
    }
  }

  async #sendAll(messages: WireMessage[], what: string, signal: AbortSignal | undefined): Promise<void> {
    for (const message of messages) {
      signal?.throwIfAborted();
      const answer = await this.#require(message.channel).send(message, signal ? { signal } : {});
      if (answer?.status !== undefined && answer.status >= 400) {
        throw new TransportError(`The platform refused the ${what} (HTTP ${answer.status})`, {
          retryable: answer.status >= 500 || answer.status === 429 || answer.status === 408,
        });
      }
    }
  }

  #target(target: Target): Target {
    return parseWith(this.protocol.targetSchema, target, `${this.protocol.name} target`) as Target;
  }

  #require(kind: WireMessage['channel']): Channel {
    const channel = this.#channels[kind];
    if (channel === undefined) {
      throw new OtaError('CONFIG', `The ${this.protocol.name} publisher needs a ${kind} channel`);
    }
    return channel;
  }
}

/** Creates an {@link UpdatePublisher}. */
export function createUpdatePublisher<Target>(
  options: UpdatePublisherOptions<Target>,
): UpdatePublisher<Target> {
  return new UpdatePublisher(options);
}
