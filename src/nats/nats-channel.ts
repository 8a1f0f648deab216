/**
 * The NATS channel: the protocol contract's wire messages over a NATS connection (Connhex's
 * `heartbeat.ota.service`). `send` publishes a message on its subject; `listen` subscribes to a
 * `{ channel: 'nats', subject }` source. Reconnecting and resubscribing are the NATS client's
 * (`connectNats` turns reconnecting on for good); this adds a bounded queue for what is sent while
 * the connection is down, because the client drops such messages when it dials again.
 *
 * @module
 */
import { OtaError, TransportError } from '../core/errors.js';
import { GENERIC_SECRETS, redactTextWith } from '../core/redact.js';
import type {
  Channel,
  ChannelSendOptions,
  InboundMessage,
  StopListening,
  WireMessage,
  WireSource,
} from '../transport/channel.js';
import type { NatsConnectionLike } from './connection.js';

export interface NatsChannelOptions {
  /**
   * Most messages kept while the connection is down; they are published, in order, once it is
   * back. Past this the oldest are dropped (a status heartbeat repeats anyway). `0` keeps none:
   * a send during an outage is then handed to the client, which loses it at its next dial.
   * @default 64
   */
  offlineQueue?: number;
  /**
   * Problems the channel cannot return to a caller: a subscription the server refused, a queued
   * message that failed to publish after a reconnect, messages dropped from a full queue.
   * @default ignored
   */
  onError?: (error: TransportError) => void;
}

export interface NatsChannel extends Channel {
  readonly kind: 'nats';
  /** The connection it publishes on. */
  readonly connection: NatsConnectionLike;
  /** Whether the connection is up, as far as its status events tell. */
  readonly connected: boolean;
  /** Messages waiting for the connection to come back. */
  readonly queued: number;
}

const DEFAULT_OFFLINE_QUEUE = 64;

/** A client error's message, with any credential in a URL masked. */
function reason(cause: unknown): string {
  const text = cause instanceof Error ? cause.message : String(cause);
  return redactTextWith(text, GENERIC_SECRETS).slice(0, 300);
}

/**
 * @example
 * ```ts
 * import { connectNats, natsChannel } from 'otakit/nats'
 *
 * const nats = natsChannel(await connectNats('nats://127.0.0.1:4222', { name: 'connhex-ota' }))
 * await nats.send({ channel: 'nats', address: 'heartbeat.ota.service', payload: '{"status":"updated"}' })
 * ```
 */
export function natsChannel(connection: NatsConnectionLike, options: NatsChannelOptions = {}): NatsChannel {
  const limit = Math.max(0, Math.floor(options.offlineQueue ?? DEFAULT_OFFLINE_QUEUE));
  const queue: WireMessage[] = [];
  let connected = true;
  let dropped = 0;

  const report = (error: TransportError) => options.onError?.(error);

  const publish = (message: WireMessage) => {
    try {
      connection.publish(message.address, message.payload);
    } catch (cause) {
      throw new TransportError(`NATS publish on "${message.address}" failed: ${reason(cause)}`, {
        cause,
        retryable: !connection.isClosed(),
      });
    }
  };

  const drain = () => {
    if (dropped > 0) {
      report(
        new TransportError(`NATS channel dropped ${dropped} message(s) sent while disconnected (queue full)`),
      );
      dropped = 0;
    }
    for (let message = queue.shift(); message !== undefined && connected; message = queue.shift()) {
      try {
        publish(message);
      } catch (error) {
        report(error as TransportError);
      }
    }
  };

  if (connection.status !== undefined) {
    const events = connection.status();
    void (async () => {
      try {
        for await (const event of events) {
          if (event.type === 'disconnect') connected = false;
          else if (event.type === 'reconnect') {
            connected = true;
            drain();
          } else if (event.type === 'close') break;
        }
      } catch {
        // The iterator failing only means no more events: keep the last state.
      }
      connected = false;
      queue.length = 0;
    })();
  }

  return {
    kind: 'nats',
    connection,
    get connected() {
      return connected && !connection.isClosed();
    },
    get queued() {
      return queue.length;
    },
    async send(message: WireMessage, sendOptions: ChannelSendOptions = {}) {
      sendOptions.signal?.throwIfAborted();
      if (message.channel !== 'nats') {
        throw new OtaError('CONFIG', `The NATS channel cannot send a ${message.channel} message`);
      }
      if (connection.isClosed()) {
        throw new TransportError(`NATS publish on "${message.address}" failed: the connection is closed`, {
          retryable: false,
        });
      }
      if (!connected && limit > 0) {
        queue.push(message);
        if (queue.length > limit) {
          queue.shift();
          dropped += 1;
        }
        return undefined;
      }
      publish(message);
      return undefined;
    },
    async listen(source: WireSource, onMessage: (message: InboundMessage) => void): Promise<StopListening> {
      if (source.channel !== 'nats') {
        throw new OtaError('CONFIG', `The NATS channel cannot listen to a ${source.channel} source`);
      }
      let subscription: ReturnType<NatsConnectionLike['subscribe']>;
      try {
        subscription = connection.subscribe(source.subject, {
          callback: (error, message) => {
            if (error !== null) {
              report(
                new TransportError(`NATS subscription to "${source.subject}" failed: ${reason(error)}`, {
                  cause: error,
                }),
              );
              return;
            }
            // The client may reuse the buffer behind `data`: the message is kept, so copy it.
            onMessage({ address: message.subject, payload: message.data.slice() });
          },
        });
      } catch (cause) {
        throw new TransportError(`NATS subscription to "${source.subject}" failed: ${reason(cause)}`, {
          cause,
          retryable: !connection.isClosed(),
        });
      }
      // The server has the subscription once it answers a PING sent after it. While disconnected
      // the client sends it on reconnecting, so there is nothing to wait for.
      if (connected) await connection.flush().catch(() => {});
      return async () => {
        try {
          subscription.unsubscribe();
        } catch {
          // Already closed: nothing left to remove.
        }
      };
    },
  };
}
