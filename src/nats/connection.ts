/**
 * The part of a NATS connection the channel uses, structurally: `@nats-io/transport-node`'s
 * `NatsConnection` (what `connectNats` returns) fits it, and so does the legacy `nats` v2
 * client or a test double. Keeping the channel on this shape keeps it free of the client's types.
 *
 * @module
 */

/** A message as the client hands it to a subscription callback. */
export interface NatsMessageLike {
  subject: string;
  data: Uint8Array;
}

/** A subscription, as far as the channel needs it. */
export interface NatsSubscriptionLike {
  unsubscribe(): void;
}

/** A connection event; the channel reads `disconnect`, `reconnect` and `close`. */
export interface NatsStatusLike {
  type: string;
}

export interface NatsConnectionLike {
  /** Queues a message for the server (fire and forget). Throws when closed or over `max_payload`. */
  publish(subject: string, payload?: string | Uint8Array): void;
  subscribe(
    subject: string,
    options?: { callback?: (error: Error | null, message: NatsMessageLike) => void },
  ): NatsSubscriptionLike;
  /** Resolves once the server answered a PING sent after everything queued so far. */
  flush(): Promise<void>;
  isClosed(): boolean;
  /**
   * Connection events. Optional: without it the channel takes the connection as always up and
   * leaves what happens to a publish during an outage to the client.
   */
  status?(): AsyncIterable<NatsStatusLike>;
}
