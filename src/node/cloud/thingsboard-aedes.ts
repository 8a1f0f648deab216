/**
 * The part of an aedes broker the local ThingsBoard device gateway uses, typed here so otakit
 * does not depend on aedes: pass the broker your service created (`await Aedes.createBroker()`).
 * The gateway sets its four hooks (authenticate, authorizePublish, authorizeSubscribe,
 * authorizeForward) and listens to `publish`; `close()` puts the previous hooks back.
 *
 * @module
 */

/** An MQTT session of the broker (aedes' `Client`): the gateway keys its sessions on it. */
export type AedesSession = object;

/** A subscription as aedes hands it to `authorizeSubscribe`. */
export interface AedesSubscription {
  topic: string;
  qos: number;
}

/** A published message as aedes hands it over. */
export interface AedesPublishedPacket {
  topic: string;
  payload: Buffer | string;
}

/** What the gateway publishes through the broker. */
export interface AedesOutgoingPacket {
  cmd: 'publish';
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  retain: boolean;
  dup: boolean;
}

export interface AedesBroker {
  authenticate(
    client: AedesSession,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: (Error & { returnCode?: number }) | null, success: boolean | null) => void,
  ): void;
  authorizePublish(
    client: AedesSession | null,
    packet: AedesPublishedPacket,
    done: (error?: Error | null) => void,
  ): void;
  authorizeSubscribe(
    client: AedesSession,
    subscription: AedesSubscription,
    done: (error: Error | null, subscription?: AedesSubscription | null) => void,
  ): void;
  authorizeForward(
    client: AedesSession,
    packet: AedesPublishedPacket,
  ): AedesPublishedPacket | null | undefined | void;
  publish(packet: AedesOutgoingPacket, done: (error?: Error) => void): void;
  on(
    event: 'publish',
    listener: (packet: AedesPublishedPacket, client: AedesSession | null) => void,
  ): unknown;
  removeListener(
    event: 'publish',
    listener: (packet: AedesPublishedPacket, client: AedesSession | null) => void,
  ): unknown;
}
