/**
 * Asking ThingsBoard for the device's package attributes: ThingsBoard pushes only changes, so an
 * agent that was offline asks at start, on `checkNow()` and once its connection is back, by
 * publishing `{"sharedKeys":"fw_title,…"}` on `v1/devices/me/attributes/request/<id>` and waiting for
 * `v1/devices/me/attributes/response/<id>`. The agent also listens to every response (the
 * protocol's order source `…/response/+`); the channel made here keeps the answers to these
 * requests, and to the protocol's boot request, out of that listener, so each answer is decoded
 * once (the boot request leaves before the agent subscribes: `fetchOrder` asks again after).
 *
 * @module
 */
import { abortReason } from '../../core/abort.js';
import { type Clock, systemClock } from '../../core/clock.js';
import { TimeoutError } from '../../core/errors.js';
import type { InboundMessage } from '../../protocols/contract.js';
import { BOOT_REQUEST_ID } from '../../protocols/thingsboard/device.js';
import type { PackageType } from '../../protocols/thingsboard/keys.js';
import { attributeRequest } from '../../protocols/thingsboard/package.js';
import {
  ATTRIBUTE_RESPONSE_SUBSCRIPTION,
  attributeRequestTopic,
  parseAttributeResponseTopic,
} from '../../protocols/thingsboard/topics.js';
import type { Channel } from '../../transport/channel.js';
import { type MqttChannel, mqttChannel } from '../../transport/mqtt-channel.js';
import type { MqttConnection } from '../../transport/mqtt-connection.js';

export interface AttributeRequestsOptions {
  connection: MqttConnection;
  type: PackageType;
  /** Ask for the signed statement attribute too (see the target's `statements`). @default false */
  statement?: boolean;
  /** How long a request waits for its response. */
  timeoutMs: number;
  clock?: Clock;
  random?: () => number;
}

export interface AttributeRequests {
  /** The MQTT channel for the agent: the plain one, minus the responses `fetchOrder` takes. */
  channel: MqttChannel;
  /** The agent's `fetchOrder`: one attribute request, resolved with its response. */
  fetchOrder(signal: AbortSignal): Promise<InboundMessage[]>;
}

const RESPONSE_PREFIX = 'v1/devices/me/attributes/response/';

export function attributeRequests(options: AttributeRequestsOptions): AttributeRequests {
  const { connection, type, timeoutMs } = options;
  const clock = options.clock ?? systemClock;
  const base = mqttChannel(connection);
  /** Ids of the requests `fetchOrder` waits for. */
  const owned = new Set<number>();
  // Ids from a random start: answers to a previous process's requests are not taken for ours.
  let nextId = 2 + Math.floor((options.random ?? Math.random)() * 1_000_000);

  const request = (id: number) =>
    connection.publish(
      attributeRequestTopic(id),
      JSON.stringify(attributeRequest(type, undefined, { statement: options.statement === true })),
      { qos: 1 },
    );

  const channel: MqttChannel = {
    ...base,
    async listen(source, onMessage) {
      if (source.channel !== 'mqtt' || source.filter !== ATTRIBUTE_RESPONSE_SUBSCRIPTION) {
        return (base.listen as NonNullable<Channel['listen']>)(source, onMessage);
      }
      const stopListening = await (base.listen as NonNullable<Channel['listen']>)(source, (message) => {
        const id = parseAttributeResponseTopic(message.address);
        if (id !== undefined && (id === BOOT_REQUEST_ID || owned.has(id))) return;
        onMessage(message);
      });
      // A push sent while the connection was down is lost for good (ThingsBoard keeps none, and
      // the session is clean): once back, ask again, as ThingsBoard's device SDKs do. The answer
      // is not `owned`, so it reaches this listener and is decoded like a push (the package the
      // device runs, or the one it is running, is ignored there).
      let away = false;
      const stopWatching = connection.onStateChange?.((change) => {
        if (change.state === 'offline') away = true;
        if (change.state !== 'online' || !away) return;
        away = false;
        // A failure means the connection is down again: the next reconnect asks again.
        request(nextId++).catch(() => {});
      });
      return async () => {
        stopWatching?.();
        await stopListening();
      };
    },
  };

  async function fetchOrder(signal: AbortSignal): Promise<InboundMessage[]> {
    signal.throwIfAborted();
    const id = nextId++;
    owned.add(id);
    let settle!: { resolve: (message: InboundMessage) => void; reject: (error: Error) => void };
    const answer = new Promise<InboundMessage>((resolve, reject) => {
      settle = { resolve, reject };
    });
    const onAbort = () => settle.reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = clock.setTimeout(
      () => settle.reject(new TimeoutError('ThingsBoard attribute request', timeoutMs)),
      timeoutMs,
    );
    let unsubscribe: (() => Promise<void>) | undefined;
    try {
      unsubscribe = await connection.subscribe(
        `${RESPONSE_PREFIX}${id}`,
        (message) =>
          settle.resolve({ address: message.topic, payload: message.payload, retained: message.retain }),
        { qos: 1 },
      );
      request(id).catch((error: unknown) => settle.reject(error as Error));
      return [await answer];
    } finally {
      clock.clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      owned.delete(id);
      await unsubscribe?.().catch(() => {});
    }
  }

  return { channel, fetchOrder };
}
