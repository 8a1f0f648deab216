/**
 * The MQTT interface the rest of otakit programs against. Protocol code depends on this, never
 * on mqtt.js, so it stays browser-safe and testable; `otakit/mqtt` binds it to mqtt.js.
 *
 * @module
 */

export type MqttQos = 0 | 1 | 2;

export interface MqttMessage {
  topic: string;
  payload: Uint8Array;
  retain: boolean;
}

export interface MqttPublishOptions {
  /** @default 1 */
  qos?: MqttQos;
  /** @default false */
  retain?: boolean;
}

/**
 * What a connection reports when it changes: `online` once the broker accepted it (again),
 * `offline` after each lost connection or failed attempt (with the delay before the next one),
 * `closed` once nothing will flow any more (`close()`, or lost with reconnecting off).
 */
export type MqttConnectionState =
  | {
      state: 'online';
      /** Whether the broker kept the session (subscriptions and queued QoS 1/2 messages). */
      sessionPresent: boolean;
    }
  | {
      state: 'offline';
      /** How many attempts failed since the connection was lost (0: just lost). */
      failedAttempts: number;
      /** The delay before the next attempt. */
      retryInMs: number;
      /** Why, when known (a refused connection, a TLS failure…); never carries a credential. */
      error?: Error;
    }
  | {
      state: 'closed';
      /** Why, when the connection ended by itself (e.g. the broker refused it for good). */
      error?: Error;
    };

export interface MqttConnection {
  publish(topic: string, payload: string | Uint8Array, options?: MqttPublishOptions): Promise<void>;
  /**
   * Subscribes `handler` to `filter` (wildcards `+` and `#` allowed). Resolves, once the broker
   * granted it, with a function that removes this subscription.
   */
  subscribe(
    filter: string,
    handler: (message: MqttMessage) => void,
    options?: { qos?: MqttQos },
  ): Promise<() => Promise<void>>;
  close(): Promise<void>;
  /**
   * Calls `listener` on every state change (see {@link MqttConnectionState}); returns the
   * function that removes it. A listener that throws is ignored (it runs inside the client's
   * own event handling). Optional: bindings without reconnection need not offer it.
   */
  onStateChange?(listener: (change: MqttConnectionState) => void): () => void;
}

/**
 * The filter a subscription matches topics with: an MQTT 5 shared subscription
 * (`$share/<group>/<filter>`) delivers messages of `<filter>`, under their own topic.
 */
export function matchFilterOf(filter: string): string {
  if (!filter.startsWith('$share/')) return filter;
  const groupEnd = filter.indexOf('/', '$share/'.length);
  return groupEnd === -1 ? filter : filter.slice(groupEnd + 1);
}

/**
 * Whether `topic` matches the subscription `filter` (MQTT 3.1.1 §4.7 rules; a shared
 * subscription `$share/<group>/<filter>` matches what `<filter>` does).
 */
export function topicMatches(filter: string, topic: string): boolean {
  const filterLevels = matchFilterOf(filter).split('/');
  const topicLevels = topic.split('/');
  // Wildcards never match topics starting with `$` (e.g. `$aws/...`) at the first level.
  if (topic.startsWith('$') && (filterLevels[0] === '#' || filterLevels[0] === '+')) return false;
  for (let index = 0; index < filterLevels.length; index++) {
    const level = filterLevels[index];
    if (level === '#') return index === filterLevels.length - 1;
    if (index >= topicLevels.length) return false;
    if (level !== '+' && level !== topicLevels[index]) return false;
  }
  return filterLevels.length === topicLevels.length;
}
