/**
 * Status ingestion for a fleet of any size, shared by several service instances: one MQTT
 * subscription with a wildcard filter for every device's statuses, optionally an MQTT 5 shared
 * subscription (`$share/<group>/<filter>`) so the broker hands each message to ONE instance of
 * the group, and statuses applied to the fleet in batches (one store transaction per batch).
 *
 * Handling is idempotent, so at-least-once delivery is enough: the fleet's trackers treat a
 * repeated status as a duplicate, and a rollout settles a device with compare-and-set.
 *
 * @example
 * ```ts
 * const intake = createStatusIntake({
 *   fleet, protocol: insighIo.protocol, connection,       // an MQTT 5 connection from otakit/mqtt
 *   filter: 'channels/+/messages/+/ota', group: 'otakit',
 *   targetOf: (topic) => { const [, cc, , id] = topic.split('/'); return { controlChannelId: cc, deviceId: id } },
 * })
 * await intake.start()
 * ```
 *
 * @module
 */
import { EventEmitter } from 'eventemitter3';
import { OtaError, toOtaError } from '../core/errors.js';
import { type Logger, noopLogger } from '../core/logger.js';
import type { Protocol } from '../protocols/contract.js';
import type { MqttConnection, MqttMessage } from '../transport/mqtt-connection.js';
import type { Fleet, FleetBatchItem } from './fleet/fleet.js';
import type { FleetIngestResult } from './fleet/types.js';

export interface StatusIntakeOptions<Target> {
  fleet: Fleet;
  protocol: Protocol<string, string | number, Target>;
  connection: MqttConnection;
  /** The topic filter every device's statuses match (wildcards allowed). */
  filter: string;
  /**
   * The shared-subscription group: instances with the same group share the messages (MQTT 5;
   * mosquitto ≥ 1.6, EMQX, HiveMQ, AWS IoT Core). Without it each instance sees every message.
   */
  group?: string;
  /** The device target a topic belongs to; `undefined` skips the message (not a device's). */
  targetOf(topic: string): Target | undefined;
  /** The device id, where the target does not name it. @default the fleet's `deviceIdOf` */
  deviceIdOf?(topic: string, target: Target): string | undefined;
  /** Messages applied in one store transaction at most. @default 500 */
  batchSize?: number;
  /** How long a message may wait for others to share its transaction. @default 5 */
  batchDelayMs?: number;
  /** @default noopLogger */
  logger?: Logger;
}

export interface StatusIntakeStats {
  received: number;
  /** Per outcome of the fleet (`applied`, `duplicate`, `refused`, `ignored`). */
  applied: number;
  duplicate: number;
  refused: number;
  ignored: number;
  /** Messages no target could be found for. */
  skipped: number;
  /** Messages lost to a store failure (logged and emitted as `error`). */
  failed: number;
}

export interface StatusIntakeEvents {
  /** One batch applied: its results, in message order. */
  batch: [results: FleetIngestResult[]];
  error: [error: OtaError];
}

const GROUP = /^[^/+#]+$/;

/** Follows every device's statuses through one subscription and applies them to a fleet. */
export class StatusIntake<Target> extends EventEmitter<StatusIntakeEvents> {
  readonly stats: StatusIntakeStats = {
    received: 0,
    applied: 0,
    duplicate: 0,
    refused: 0,
    ignored: 0,
    skipped: 0,
    failed: 0,
  };
  readonly #options: StatusIntakeOptions<Target>;
  readonly #logger: Logger;
  readonly #batchSize: number;
  readonly #batchDelayMs: number;
  #queue: FleetBatchItem[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #applying: Promise<void> = Promise.resolve();
  #unsubscribe: (() => Promise<void>) | undefined;

  constructor(options: StatusIntakeOptions<Target>) {
    super();
    if (options.group !== undefined && !GROUP.test(options.group)) {
      throw new OtaError('CONFIG', 'Status intake option "group" must be a name without "/", "+" or "#"');
    }
    this.#options = options;
    this.#logger = options.logger ?? noopLogger;
    this.#batchSize = options.batchSize ?? 500;
    this.#batchDelayMs = options.batchDelayMs ?? 5;
  }

  /** The filter subscribed to (`$share/<group>/<filter>` with a group). */
  get subscription(): string {
    const { group, filter } = this.#options;
    return group === undefined ? filter : `$share/${group}/${filter}`;
  }

  /** Subscribes. Resolves once the broker granted the subscription. */
  async start(): Promise<void> {
    if (this.#unsubscribe !== undefined) return;
    this.#unsubscribe = await this.#options.connection.subscribe(
      this.subscription,
      (message) => this.#receive(message),
      {
        qos: 1,
      },
    );
  }

  /** Unsubscribes and applies what is queued. */
  async stop(): Promise<void> {
    const unsubscribe = this.#unsubscribe;
    this.#unsubscribe = undefined;
    await unsubscribe?.().catch(() => {});
    await this.flush();
  }

  /** Applies what is queued now. */
  flush(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const items = this.#queue;
    this.#queue = [];
    if (items.length > 0) this.#applying = this.#applying.then(() => this.#apply(items));
    return this.#applying;
  }

  #receive(message: MqttMessage): void {
    this.stats.received += 1;
    const target = this.#options.targetOf(message.topic);
    if (target === undefined) {
      this.stats.skipped += 1;
      return;
    }
    const deviceId = this.#options.deviceIdOf?.(message.topic, target);
    this.#queue.push({
      protocol: this.#options.protocol,
      target,
      message: { address: message.topic, payload: message.payload, retained: message.retain },
      ...(deviceId === undefined ? {} : { deviceId }),
    });
    if (this.#queue.length >= this.#batchSize) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), this.#batchDelayMs);
  }

  async #apply(items: FleetBatchItem[]): Promise<void> {
    let results: FleetIngestResult[] | undefined;
    let failure: unknown;
    // A store hiccup (a failover, a lost connection) must not lose statuses: try again, then give up loudly.
    for (let attempt = 0; attempt < 4 && results === undefined; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
      try {
        results = await this.#options.fleet.ingestBatch(items);
      } catch (thrown) {
        failure = thrown;
        if (thrown instanceof OtaError && thrown.code !== 'STORE') break;
      }
    }
    if (results === undefined) {
      const error = toOtaError(failure, 'STORE', true);
      this.stats.failed += items.length;
      this.#logger.warn('otakit status intake: batch not applied', {
        code: error.code,
        messages: items.length,
      });
      if (this.listenerCount('error') > 0) this.emit('error', error);
      return;
    }
    for (const result of results) this.stats[result.outcome] += 1;
    this.emit('batch', results);
  }
}

/** Creates a {@link StatusIntake}. */
export function createStatusIntake<Target>(options: StatusIntakeOptions<Target>): StatusIntake<Target> {
  return new StatusIntake(options);
}
