/**
 * How the Degu publisher reaches the Device Shadows: one shadow client per thing, made on demand.
 * Both otakit clients fit — `createShadowClient` over any `MqttConnection` (pushes
 * `/update/documents`, so statuses stream in) and `createShadowHttpClient` on the REST API (no
 * push: the publisher reads the shadow instead) — and so does any object with the same `get` and
 * `update` (an AWS SDK wrapper, a test double).
 *
 * @module
 */
import type { ShadowDocuments } from '../../protocols/degu/shadow-schemas.js';
import type { MqttConnection } from '../../transport/mqtt-connection.js';
import { createShadowClient, type ShadowClientOptions } from '../../transport/shadow/client.js';
import { createShadowHttpClient, type ShadowHttpClientOptions } from '../../transport/shadow/http.js';
import type { ShadowAddress, ShadowOperations } from '../../transport/shadow/types.js';

/**
 * What the publisher needs of one thing's shadow: `get` and `update` (both otakit clients have
 * them). `onDocuments`, when present, streams every accepted update of the shadow: without it the
 * publisher learns of the device's reports by reading the shadow (`refresh`, `pollIntervalMs`).
 */
export interface DeguShadow extends Pick<ShadowOperations, 'address' | 'get' | 'update'> {
  onDocuments?(handler: (documents: ShadowDocuments) => void): Promise<() => Promise<void>>;
  /** Called by the publisher's `close()` for the clients a {@link DeguShadowFactory} made. */
  close?(): Promise<void>;
}

/**
 * Makes the shadow client of one thing (called once per thing and shadow name). The publisher
 * owns what it returns and closes it on `close()`.
 */
export interface DeguShadowFactory {
  (address: ShadowAddress): DeguShadow;
  /**
   * Calls `listener` each time the transport is back after an outage: the publisher then reads
   * every watched shadow again, since documents published meanwhile are lost. Returns a function
   * that removes the listener.
   */
  onReconnect?(listener: () => void): () => void;
}

/** Options of {@link mqttShadows}: the shadow client's, except what the publisher sets per thing. */
export type MqttShadowsOptions = Omit<ShadowClientOptions, 'connection' | 'thingName' | 'shadowName'>;

/**
 * Shadow clients over one MQTT connection (AWS IoT Core, or a broker with a self-hosted shadow
 * service), with reads after each reconnect.
 *
 * @example
 * ```ts
 * const publisher = createDeguPublisher({ shadow: mqttShadows(await connectMqtt(endpoint, tls)) })
 * ```
 */
export function mqttShadows(connection: MqttConnection, options: MqttShadowsOptions = {}): DeguShadowFactory {
  const factory: DeguShadowFactory = (address) => createShadowClient({ ...options, connection, ...address });
  const watchState = connection.onStateChange?.bind(connection);
  if (watchState !== undefined) {
    factory.onReconnect = (listener) => {
      let wasOffline = false;
      return watchState((change) => {
        if (change.state === 'offline') wasOffline = true;
        if (change.state !== 'online' || !wasOffline) return;
        wasOffline = false;
        listener();
      });
    };
  }
  return factory;
}

/** Options of {@link httpShadows}: the REST client's, except the thing and shadow names. */
export type HttpShadowsOptions = Omit<ShadowHttpClientOptions, 'thingName' | 'shadowName'>;

/**
 * Shadow clients on the REST API (`https://<prefix>-ats.iot.<region>.amazonaws.com`, SigV4 in
 * `signRequest`, or a self-hosted service's base URL). REST pushes nothing: the publisher reads
 * the shadows it waits for every `pollIntervalMs`.
 */
export function httpShadows(options: HttpShadowsOptions): DeguShadowFactory {
  return (address) => createShadowHttpClient({ ...options, ...address });
}
