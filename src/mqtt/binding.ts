/**
 * `fromMqttClient`: otakit's {@link MqttConnection} over an mqtt.js client. mqtt.js reconnects
 * and renews its subscriptions by itself; this adds what it lacks: calls that never wait forever,
 * a bound on the publishes it holds while the broker is away, exponential backoff between
 * attempts, subscriptions made while offline that wait for the broker instead of failing, and
 * state changes for the application.
 *
 * @module
 */
import type { IConnackPacket, MqttClient } from 'mqtt';
import { OtaError, TransportError } from '../core/errors.js';
import type {
  MqttConnection,
  MqttConnectionState,
  MqttMessage,
  MqttPublishOptions,
  MqttQos,
} from '../transport/mqtt-connection.js';
import { type ReconnectOptions, reconnectDelay, reconnectSchedule } from './backoff.js';
import { isPermanent, transportError } from './errors.js';
import { HandlerIndex } from './handler-index.js';

/** Options of {@link fromMqttClient}; `connectMqtt` takes them beside mqtt.js's own. */
export interface MqttBindingOptions {
  /**
   * Exponential backoff with jitter between reconnection attempts (mqtt.js alone retries every
   * `reconnectPeriod`). Has no effect when the client's `reconnectPeriod` is 0 (no reconnecting).
   * @default fromMqttClient: the client's fixed `reconnectPeriod`; connectMqtt: backoff from
   * `reconnectPeriod` (1000 ms) up to 30000 ms
   */
  reconnect?: ReconnectOptions;
  /**
   * How many publishes may wait for the broker while it is unreachable (mqtt.js holds them in
   * memory and sends them once reconnected). One more rejects at once with a retryable
   * `TransportError`, so an outage cannot grow memory without bound. 0 rejects every publish
   * made while disconnected.
   * @default 1000
   */
  maxQueuedPublishes?: number;
}

export const DEFAULT_MAX_QUEUED_PUBLISHES = 1_000;

/** `maxQueuedPublishes` with its default, checked. */
export function queueLimit(value: number | undefined): number {
  const limit = value ?? DEFAULT_MAX_QUEUED_PUBLISHES;
  if (!Number.isInteger(limit) || limit < 0) {
    throw new OtaError('CONFIG', 'maxQueuedPublishes must be a non-negative integer');
  }
  return limit;
}

/** Something waiting for the connection: settled when it comes (back), rejected when it stops. */
interface Waiter {
  resolve(): void;
  reject(): void;
}

/**
 * Wraps a connected (or connecting) mqtt.js client. Handlers are dispatched by topic filter,
 * so several subscriptions can share one client.
 * @throws OtaError (`CONFIG`) naming the option when `options` is invalid.
 */
export function fromMqttClient(client: MqttClient, options: MqttBindingOptions = {}): MqttConnection {
  const maxQueued = queueLimit(options.maxQueuedPublishes);
  const reconnects = () => (client.options.reconnectPeriod ?? 0) > 0;
  const schedule =
    options.reconnect !== undefined && reconnects()
      ? reconnectSchedule(options.reconnect, client.options.reconnectPeriod)
      : undefined;
  const handlers = new HandlerIndex();
  const stateListeners = new Set<(change: MqttConnectionState) => void>();
  const announce = (change: MqttConnectionState) => {
    for (const listener of stateListeners) {
      try {
        listener(change);
      } catch {
        // A listener's bug must not break mqtt.js's event handling (it calls us from its own).
      }
    }
  };

  /**
   * Set once no packet can flow any more: `close()` was called, the client ended, it lost the
   * connection with reconnecting off, or the broker refused it for good. mqtt.js never settles
   * the calls waiting at that point (they wait for a reconnect that will not come), so otakit
   * rejects them, and every later call.
   */
  let stopReason: string | undefined;
  const waiting = new Set<() => void>();
  const onlineWaiters = new Set<Waiter>();
  const stop = (reason: string, error?: Error) => {
    if (stopReason !== undefined) return;
    stopReason = reason;
    for (const reject of waiting) reject();
    waiting.clear();
    for (const waiter of onlineWaiters) waiter.reject();
    onlineWaiters.clear();
    announce(error === undefined ? { state: 'closed' } : { state: 'closed', error });
  };
  const stoppedError = (what: string) =>
    new TransportError(`MQTT ${what} failed: ${stopReason}`, { retryable: false });

  // --- Reconnection: backoff, state changes, refusals ---------------------------------------
  /** Attempts started since the connection was lost. */
  let attempts = 0;
  /** What went wrong since the last state change, for the next `offline` one. */
  let lastError: Error | undefined;
  if (schedule !== undefined) client.options.reconnectPeriod = reconnectDelay(0, schedule, Math.random);
  client.on('connect', (connack: IConnackPacket) => {
    attempts = 0;
    lastError = undefined;
    // The delay before the first attempt of the next outage: back to the start of the schedule.
    if (schedule !== undefined) client.options.reconnectPeriod = reconnectDelay(0, schedule, Math.random);
    for (const waiter of onlineWaiters) waiter.resolve();
    onlineWaiters.clear();
    announce({ state: 'online', sessionPresent: connack.sessionPresent === true });
  });
  client.on('reconnect', () => {
    attempts += 1;
    // mqtt.js reads reconnectPeriod when the attempt that starts now fails: set the next delay.
    if (schedule !== undefined) {
      client.options.reconnectPeriod = reconnectDelay(attempts, schedule, Math.random);
    }
  });
  client.on('error', (error: Error & { code?: unknown }) => {
    lastError = transportError('connection', error);
    // A refused CONNACK suppresses mqtt.js's reconnection unless reconnectOnConnackError is set
    // (connectMqtt sets it); a refusal no retry can fix (credentials, authorisation) ends the
    // connection either way instead of leaving every call waiting.
    if (typeof error.code === 'number' && (isPermanent(error) || !client.options.reconnectOnConnackError)) {
      stop(`the broker refused the connection: ${error.message}`, lastError);
      client.end(true);
    }
  });
  client.on('close', () => {
    if (stopReason !== undefined) return;
    if (!reconnects()) {
      stop('the connection was lost and reconnecting is off', lastError);
      return;
    }
    const error = lastError;
    lastError = undefined;
    announce({
      state: 'offline',
      failedAttempts: attempts,
      retryInMs: client.options.reconnectPeriod ?? 0,
      ...(error === undefined ? {} : { error }),
    });
  });
  client.on('end', () => stop('the connection is closed'));

  // --- Calls ---------------------------------------------------------------------------------
  /** Runs a client call that settles, or rejects when the connection stops first. */
  const settled = <T>(what: string, call: () => Promise<T>): Promise<T> => {
    if (stopReason !== undefined) return Promise.reject(stoppedError(what));
    return new Promise<T>((resolve, reject) => {
      const onStop = () => reject(stoppedError(what));
      waiting.add(onStop);
      call().then(
        (value) => {
          waiting.delete(onStop);
          resolve(value);
        },
        (cause: unknown) => {
          waiting.delete(onStop);
          reject(cause instanceof OtaError ? cause : transportError(what, cause));
        },
      );
    });
  };
  /** Resolves once the client is connected; rejects (with nothing: `settled` names it) on stop. */
  const online = (): Promise<void> => {
    if (client.connected) return Promise.resolve();
    if (stopReason !== undefined) return Promise.reject(new Error('stopped'));
    return new Promise<void>((resolve, reject) => onlineWaiters.add({ resolve, reject }));
  };
  /** Publishes not yet acknowledged (or, at QoS 0, not yet written). */
  let pending = 0;
  let closing: Promise<void> | undefined;

  client.on('message', (topic, payload, packet) => {
    const message: MqttMessage = { topic, payload: new Uint8Array(payload), retain: packet.retain };
    handlers.dispatch(message);
  });

  /** Drops the broker subscription once no handler is left for `filter`, now or once reconnected. */
  const release = async (filter: string): Promise<void> => {
    const unused = () => stopReason === undefined && !handlers.holds(filter);
    if (!unused()) return;
    if (client.connected) {
      await settled(`unsubscribe from ${filter}`, () => client.unsubscribeAsync(filter));
      return;
    }
    // Offline, mqtt.js would fail the UNSUBSCRIBE at the next lost attempt but still send it from
    // its queue later, racing new packet ids. Instead: unsubscribe once back, if still unused
    // (mqtt.js renews the subscription on reconnect; messages meanwhile find no handler).
    void online()
      .then(() => (unused() ? client.unsubscribeAsync(filter) : undefined))
      .catch(() => {});
  };

  return {
    async publish(topic: string, payload: string | Uint8Array, publishOptions: MqttPublishOptions = {}) {
      if (stopReason === undefined && !client.connected && pending >= maxQueued) {
        throw new TransportError(
          `MQTT publish to ${topic} failed: the broker is unreachable and ${pending} publishes already wait for it (maxQueuedPublishes ${maxQueued})`,
          { retryable: true },
        );
      }
      pending += 1;
      try {
        await settled(`publish to ${topic}`, () =>
          client.publishAsync(topic, typeof payload === 'string' ? payload : Buffer.from(payload), {
            qos: publishOptions.qos ?? 1,
            retain: publishOptions.retain ?? false,
          }),
        );
      } finally {
        pending -= 1;
      }
    },
    async subscribe(
      filter: string,
      handler: (message: MqttMessage) => void,
      subscribeOptions: { qos?: MqttQos } = {},
    ) {
      const entry = { filter, handler };
      handlers.add(entry);
      try {
        await settled(`subscribe to ${filter}`, async () => {
          // Made while the broker is away, a SUBSCRIBE would fail at the next lost attempt
          // (mqtt.js); waiting for the connection makes it take effect once the broker is back.
          for (;;) {
            await online();
            try {
              const grants = await client.subscribeAsync(filter, { qos: subscribeOptions.qos ?? 1 });
              if (grants.some((grant) => grant.qos === 128)) {
                throw new TransportError(`MQTT subscribe to ${filter} failed: broker refused ${filter}`, {
                  retryable: false,
                });
              }
              return;
            } catch (error) {
              // Lost between CONNACK and SUBACK: wait for the next connection and ask again. (mqtt.js
              // may renew it too; a second SUBSCRIBE only repeats retained messages, which the
              // agents' order memory already treats as duplicates.)
              if (error instanceof OtaError || client.connected || !reconnects()) throw error;
            }
          }
        });
      } catch (error) {
        handlers.delete(entry);
        if (stopReason === undefined) await release(filter).catch(() => {});
        throw error;
      }
      return async () => {
        if (!handlers.delete(entry)) return;
        await release(filter);
      };
    },
    close() {
      closing ??= (async () => {
        handlers.clear();
        const connected = client.connected;
        stop('the connection is closed');
        // A disconnected client's end() would wait for its outgoing queue, which can no longer
        // drain: force it. A connected one ends cleanly, sending what is queued.
        await client.endAsync(!connected);
      })();
      return closing;
    },
    onStateChange(listener: (change: MqttConnectionState) => void) {
      stateListeners.add(listener);
      return () => {
        stateListeners.delete(listener);
      };
    },
  };
}
