/**
 * The channel interface every transport adapter implements: it carries the protocol contract's
 * wire messages (plain data) over a real connection. The core defines it with no client library,
 * so agents and services stay browser-safe; the adapters live behind their own entries
 * (`mqttChannel` over any {@link MqttConnection}, `httpChannel` over `fetch`, `otakit/nats`,
 * `fileChannel` in `otakit/node`).
 *
 * @module
 */
import type { InboundMessage, WireChannel, WireMessage, WireSource } from '../protocols/contract.js';

// Adapters outside the browser-safe layers (otakit/mqtt, otakit/nats) take the contract's wire
// types from here, so only the transport layer reaches into protocols/.
export type { InboundMessage, WireChannel, WireMessage, WireSource };

/** Options of {@link Channel.send}. */
export interface ChannelSendOptions {
  /** Aborts a request or a publish still waiting for its acknowledgement. */
  signal?: AbortSignal;
}

/** Removes a subscription made with {@link Channel.listen}. */
export type StopListening = () => Promise<void>;

/**
 * One transport. `send` delivers a message (an MQTT publish, a NATS publish, an HTTP request,
 * a file write) and resolves once it is accepted: for HTTP, with the response. `listen` exists on
 * the channels that push (MQTT, NATS) and resolves once the subscription is active.
 */
export interface Channel {
  /** The kind of wire message it carries (`WireMessage.channel`). */
  readonly kind: WireChannel;
  /**
   * Sends `message`. For HTTP, resolves with the response whatever its status (a 304 or a 401
   * is an answer the protocol decodes), and rejects with a `TransportError` only when no response
   * came (refused, reset, timed out).
   */
  send(message: WireMessage, options?: ChannelSendOptions): Promise<InboundMessage | undefined>;
  /** Subscribes to an MQTT filter or a NATS subject; resolves once the broker granted it. */
  listen?(source: WireSource, onMessage: (message: InboundMessage) => void): Promise<StopListening>;
}

/** The channels an agent or a service has, by kind: a protocol's messages are routed by their `channel`. */
export type Channels = Partial<Record<WireChannel, Channel>>;
