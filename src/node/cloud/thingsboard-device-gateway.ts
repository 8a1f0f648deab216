/**
 * A local ThingsBoard device gateway for development fleets: ThingsBoard's device MQTT API
 * (the part OTA uses) on an in-process aedes broker, plus its HTTP firmware endpoint. Devices
 * connect with their access token as MQTT user name and use the `v1/devices/me/…` and `v2/fw/…`
 * topics, as they would with ThingsBoard; the gateway keeps their shared attributes, pushes
 * changes, answers attribute requests, serves packages in chunks (`v2/fw/request/<id>/chunk/<n>`)
 * and over HTTP (`GET /api/v1/<token>/firmware?title=&version=`), and hands their telemetry to the
 * publisher (`createThingsBoardPublisher({ backend: gateway })`).
 *
 * Which device sent a message: on a plain broker every device publishes on the same
 * `v1/devices/me/…` topics, so the gateway works inside the broker. `authenticate` maps each
 * session to the device of its token; the `publish` event names the session that published.
 * Which device receives: every message the gateway publishes is marked for one device (or one
 * session, for answers) and `authorizeForward` delivers it to that device's sessions only;
 * devices never receive each other's messages, and may subscribe and publish only on the device
 * API's topics. Access tokens are kept in memory only, never logged, never used as ids.
 *
 * @module
 */

import type {
  BackendCallOptions,
  DeviceTelemetry,
  ThingsBoardBackend,
} from '../../cloud/thingsboard/backend.js';
import { OtaError } from '../../core/errors.js';
import { type Logger, noopLogger } from '../../core/logger.js';
import { type JsonValue, MemoryStore, type StateStore } from '../../core/store.js';
import { attributeKey, type PackageType, PREFIX } from '../../protocols/thingsboard/keys.js';
import {
  ATTRIBUTES_TOPIC,
  chunkErrorTopic,
  decodeChunkRequest,
  parseChunkTopic,
  TELEMETRY_TOPIC,
} from '../../protocols/thingsboard/topics.js';
import type { AedesBroker, AedesPublishedPacket, AedesSession } from './thingsboard-aedes.js';
import { attributeRequestId, mayDevicePublish, mayDeviceSubscribe } from './thingsboard-gateway-topics.js';
import { type GatewayPackage, type GatewayPackageInput, GatewayPackages } from './thingsboard-packages.js';

/** One device of the gateway: its fleet id and its access token (a secret). */
export interface GatewayDevice {
  /** The id the fleet tracks it under (never the token). */
  deviceId: string;
  /** The device's access token: its MQTT user name and HTTP path segment. */
  accessToken: string;
}

export interface ThingsBoardDeviceGatewayOptions {
  /** The aedes broker devices connect to; the gateway sets its hooks (see `AedesBroker`). */
  broker: AedesBroker;
  devices?: readonly GatewayDevice[];
  /**
   * Where each device's shared attributes are kept, so a restarted gateway still assigns what
   * was assigned (a `FileStore` of `otakit/node` survives the process).
   * @default a new MemoryStore
   */
  store?: StateStore;
  /**
   * Largest chunk served, in bytes; larger requests get `PAYLOAD_TOO_LARGE` on `v2/fw/error`, as
   * ThingsBoard's `transport.mqtt.max_payload_size`.
   * @default 65536
   */
  maxPayloadBytes?: number;
  /** @default noopLogger */
  logger?: Logger;
}

/** A chunk request the gateway answered, for progress displays and tests. */
export interface GatewayChunkEvent {
  deviceId: string;
  type: PackageType;
  requestId: number;
  chunk: number;
  /** Bytes sent (0 past the end). */
  bytes: number;
}

interface Session {
  device: GatewayDevice;
  /** Chunk size per request id: ThingsBoard reuses it when a request's payload is empty. */
  chunkSizes: Map<number, number>;
}

const STORE_PREFIX = 'thingsboard-gateway/shared/';
/** Request ids remembered per session (a device uses one per transfer). */
const MAX_REQUEST_IDS = 64;
/** CONNACK return code 5, "not authorized": what ThingsBoard answers an unknown token. */
const NOT_AUTHORIZED = 5;

function checkDevice(device: GatewayDevice): GatewayDevice {
  if (typeof device?.deviceId !== 'string' || device.deviceId.length === 0) {
    throw new OtaError('CONFIG', 'A gateway device needs deviceId: a non-empty string');
  }
  if (typeof device.accessToken !== 'string' || !/^[^\s/?#%\\]{1,256}$/.test(device.accessToken)) {
    throw new OtaError(
      'CONFIG',
      `Device ${device.deviceId}: accessToken must be 1 to 256 characters without whitespace, /, ?, #, % or \\`,
    );
  }
  if (device.accessToken === device.deviceId) {
    throw new OtaError('CONFIG', `Device ${device.deviceId}: the device id must not be its access token`);
  }
  return { deviceId: device.deviceId, accessToken: device.accessToken };
}

/** ThingsBoard's device API on an aedes broker: the publisher's backend for a local fleet. */
export class ThingsBoardDeviceGateway implements ThingsBoardBackend {
  readonly packages = new GatewayPackages();
  readonly #broker: AedesBroker;
  readonly #store: StateStore;
  readonly #logger: Logger;
  readonly #maxPayload: number;
  readonly #byToken = new Map<string, GatewayDevice>();
  readonly #byId = new Map<string, GatewayDevice>();
  readonly #sessions = new WeakMap<AedesSession, Session>();
  /** Who each outgoing payload is for: a device id (every session of it) or one session. */
  readonly #recipients = new WeakMap<Buffer, string | AedesSession>();
  readonly #shared = new Map<string, Record<string, JsonValue>>();
  readonly #telemetry = new Set<(telemetry: DeviceTelemetry) => void>();
  readonly #chunkListeners = new Set<(event: GatewayChunkEvent) => void>();
  readonly #previous: Pick<
    AedesBroker,
    'authenticate' | 'authorizePublish' | 'authorizeSubscribe' | 'authorizeForward'
  >;
  readonly #onPublish = (packet: AedesPublishedPacket, client: AedesSession | null) => {
    if (client === null) return;
    const session = this.#sessions.get(client);
    if (session !== undefined) void this.#fromDevice(session, client, packet);
  };
  #closed = false;

  constructor(options: ThingsBoardDeviceGatewayOptions) {
    const broker = options?.broker;
    if (typeof broker?.publish !== 'function' || typeof broker.on !== 'function') {
      throw new OtaError('CONFIG', 'The ThingsBoard gateway needs broker: an aedes broker');
    }
    this.#broker = broker;
    this.#store = options.store ?? new MemoryStore();
    this.#logger = options.logger ?? noopLogger;
    this.#maxPayload = options.maxPayloadBytes ?? 65_536;
    for (const device of options.devices ?? []) this.addDevice(device);
    this.#previous = {
      authenticate: broker.authenticate,
      authorizePublish: broker.authorizePublish,
      authorizeSubscribe: broker.authorizeSubscribe,
      authorizeForward: broker.authorizeForward,
    };
    broker.authenticate = (client, username, _password, done) => {
      const device = username === undefined ? undefined : this.#byToken.get(username);
      if (device === undefined) {
        return done(Object.assign(new Error('Not authorized'), { returnCode: NOT_AUTHORIZED }), false);
      }
      this.#sessions.set(client, { device, chunkSizes: new Map() });
      done(null, true);
    };
    broker.authorizeSubscribe = (client, subscription, done) => {
      done(null, this.#sessions.has(client) && mayDeviceSubscribe(subscription.topic) ? subscription : null);
    };
    broker.authorizePublish = (client, packet, done) => {
      if (client === null) return done(null);
      const session = this.#sessions.get(client);
      if (session === undefined || !mayDevicePublish(packet.topic)) {
        return done(new Error('Not a topic of the ThingsBoard device API'));
      }
      done(null);
    };
    broker.authorizeForward = (client, packet) => {
      const session = this.#sessions.get(client);
      const recipient = Buffer.isBuffer(packet.payload) ? this.#recipients.get(packet.payload) : undefined;
      if (session === undefined || recipient === undefined) return null;
      return recipient === client || recipient === session.device.deviceId ? packet : null;
    };
    broker.on('publish', this.#onPublish);
  }

  /** Registers a device (its token becomes a valid MQTT user name and HTTP path segment). */
  addDevice(device: GatewayDevice): void {
    const checked = checkDevice(device);
    if (this.#byId.has(checked.deviceId))
      throw new OtaError('CONFIG', `Device ${checked.deviceId} is already registered`);
    if (this.#byToken.has(checked.accessToken))
      throw new OtaError('CONFIG', `Device ${checked.deviceId}: its access token is another device's`);
    this.#byId.set(checked.deviceId, checked);
    this.#byToken.set(checked.accessToken, checked);
  }

  /** The device of an access token (for the HTTP device API), or `undefined`. */
  deviceOfToken(accessToken: string): GatewayDevice | undefined {
    return this.#byToken.get(accessToken);
  }

  /** Stores a package (as an upload to ThingsBoard) and returns it with the manifest that assigns it. */
  addPackage(input: GatewayPackageInput): GatewayPackage {
    return this.packages.add(input);
  }

  /** The shared attributes of a device, as the gateway keeps them. */
  async sharedAttributes(deviceId: string): Promise<Record<string, JsonValue>> {
    return { ...(await this.#sharedOf(this.#device(deviceId).deviceId)) };
  }

  /** The package assigned to a device (its `fw_title`/`fw_version`), when the gateway has it. */
  async assignedPackage(
    deviceId: string,
    type: PackageType = 'firmware',
  ): Promise<GatewayPackage | undefined> {
    const shared = await this.#sharedOf(deviceId);
    const title = shared[attributeKey(type, 'title')];
    const version = shared[attributeKey(type, 'version')];
    if (typeof title !== 'string' || typeof version !== 'string') return undefined;
    return this.packages.get(type, title, version);
  }

  async saveSharedAttributes(
    deviceId: string,
    attributes: Readonly<Record<string, JsonValue>>,
    options: BackendCallOptions = {},
  ): Promise<void> {
    options.signal?.throwIfAborted();
    const device = this.#device(deviceId);
    const shared = { ...(await this.#sharedOf(device.deviceId)), ...attributes };
    await this.#keep(device.deviceId, shared);
    await this.#send(ATTRIBUTES_TOPIC, JSON.stringify(attributes), device.deviceId);
  }

  async deleteSharedAttributes(
    deviceId: string,
    keys: readonly string[],
    options: BackendCallOptions = {},
  ): Promise<void> {
    options.signal?.throwIfAborted();
    const device = this.#device(deviceId);
    const shared = { ...(await this.#sharedOf(device.deviceId)) };
    for (const key of keys) delete shared[key];
    await this.#keep(device.deviceId, shared);
    await this.#send(ATTRIBUTES_TOPIC, JSON.stringify({ deleted: keys }), device.deviceId);
  }

  onTelemetry(listener: (telemetry: DeviceTelemetry) => void): () => void {
    this.#telemetry.add(listener);
    return () => this.#telemetry.delete(listener);
  }

  /** Calls `listener` for every chunk request answered; returns the function that stops it. */
  onChunk(listener: (event: GatewayChunkEvent) => void): () => void {
    this.#chunkListeners.add(listener);
    return () => this.#chunkListeners.delete(listener);
  }

  /**
   * Telemetry a device posted another way (the HTTP device API): given to the telemetry
   * listeners as if sent on `v1/devices/me/telemetry`.
   */
  receiveTelemetry(deviceId: string, payload: string | Uint8Array): void {
    const device = this.#device(deviceId);
    const message = { address: TELEMETRY_TOPIC, payload };
    for (const listener of this.#telemetry) {
      try {
        listener({ deviceId: device.deviceId, message });
      } catch (error) {
        this.#logger.error('otakit thingsboard gateway: a telemetry listener threw', {
          message: String(error),
        });
      }
    }
  }

  /** Puts the broker's previous hooks back and stops listening. The broker stays the caller's. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#broker.removeListener('publish', this.#onPublish);
    Object.assign(this.#broker, this.#previous);
    this.#telemetry.clear();
    this.#chunkListeners.clear();
  }

  #device(deviceId: string): GatewayDevice {
    const device = this.#byId.get(deviceId);
    if (device === undefined)
      throw new OtaError('CONFIG', `The gateway has no device ${String(deviceId).slice(0, 80)}`);
    return device;
  }

  async #sharedOf(deviceId: string): Promise<Record<string, JsonValue>> {
    let shared = this.#shared.get(deviceId);
    if (shared === undefined) {
      const stored = await this.#store.get(STORE_PREFIX + deviceId);
      shared = typeof stored === 'object' && stored !== null && !Array.isArray(stored) ? stored : {};
      this.#shared.set(deviceId, shared);
    }
    return shared;
  }

  async #keep(deviceId: string, shared: Record<string, JsonValue>): Promise<void> {
    await this.#store.put(STORE_PREFIX + deviceId, shared);
    this.#shared.set(deviceId, shared);
  }

  /** Publishes `payload` on `topic` for one device (all its sessions) or one session. */
  #send(topic: string, payload: string | Uint8Array, recipient: string | AedesSession): Promise<void> {
    const buffer = typeof payload === 'string' ? Buffer.from(payload) : Buffer.from(payload);
    this.#recipients.set(buffer, recipient);
    return new Promise<void>((resolve, reject) => {
      this.#broker.publish(
        { cmd: 'publish', topic, payload: buffer, qos: 1, retain: false, dup: false },
        (error) => (error ? reject(error) : resolve()),
      );
    });
  }

  async #fromDevice(session: Session, client: AedesSession, packet: AedesPublishedPacket): Promise<void> {
    const { topic } = packet;
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    try {
      if (topic === TELEMETRY_TOPIC)
        return this.receiveTelemetry(session.device.deviceId, new Uint8Array(payload));
      const requestId = attributeRequestId(topic);
      if (requestId !== undefined) return await this.#answerAttributes(session, client, requestId, payload);
      const chunk = parseChunkTopic(topic);
      if (chunk?.direction === 'request') await this.#answerChunk(session, client, chunk, payload);
    } catch (error) {
      this.#logger.warn('otakit thingsboard gateway: a device message was not answered', {
        deviceId: session.device.deviceId,
        topic,
        message: error instanceof Error ? error.message : String(error),
      });
    }
  }

  /** `{"sharedKeys":"fw_title,…"}` → `{"shared":{…}}` with the keys the device has (all without a list). */
  async #answerAttributes(
    session: Session,
    client: AedesSession,
    requestId: string,
    payload: Buffer,
  ): Promise<void> {
    let wanted: string[] | undefined;
    try {
      const request = JSON.parse(payload.toString('utf8')) as { sharedKeys?: unknown };
      if (typeof request?.sharedKeys === 'string')
        wanted = request.sharedKeys.split(',').map((key) => key.trim());
    } catch {
      wanted = undefined;
    }
    const shared = await this.#sharedOf(session.device.deviceId);
    const answer = Object.fromEntries(
      Object.entries(shared).filter(([key]) => wanted === undefined || wanted.includes(key)),
    );
    await this.#send(
      `v1/devices/me/attributes/response/${requestId}`,
      JSON.stringify({ shared: answer }),
      client,
    );
  }

  async #answerChunk(
    session: Session,
    client: AedesSession,
    chunk: { type: PackageType; requestId: number; chunk: number },
    payload: Buffer,
  ): Promise<void> {
    const { type, requestId } = chunk;
    const errorTopic = chunkErrorTopic(type);
    const asked = decodeChunkRequest(new Uint8Array(payload));
    if (asked === undefined) return this.#send(errorTopic, 'Invalid chunk size', client);
    if (asked > 0) {
      session.chunkSizes.delete(requestId);
      session.chunkSizes.set(requestId, asked);
      if (session.chunkSizes.size > MAX_REQUEST_IDS) {
        session.chunkSizes.delete(session.chunkSizes.keys().next().value as number);
      }
    }
    const size = asked > 0 ? asked : (session.chunkSizes.get(requestId) ?? 0);
    const pkg = await this.assignedPackage(session.device.deviceId, type);
    if (pkg === undefined) return this.#send(errorTopic, `No ${PREFIX[type]} package assigned`, client);
    if ((size === 0 ? pkg.data.length : size) > this.#maxPayload)
      return this.#send(errorTopic, 'PAYLOAD_TOO_LARGE', client);
    // ThingsBoard: size 0 is the whole package; past the end, an empty answer.
    const bytes =
      size === 0
        ? pkg.data
        : pkg.data.subarray(Math.min(chunk.chunk * size, pkg.data.length), (chunk.chunk + 1) * size);
    for (const listener of this.#chunkListeners) {
      listener({
        deviceId: session.device.deviceId,
        type,
        requestId,
        chunk: chunk.chunk,
        bytes: bytes.length,
      });
    }
    await this.#send(`v2/${PREFIX[type]}/response/${requestId}/chunk/${chunk.chunk}`, bytes, client);
  }
}

/** Creates a {@link ThingsBoardDeviceGateway} on `options.broker`. */
export function createThingsBoardDeviceGateway(
  options: ThingsBoardDeviceGatewayOptions,
): ThingsBoardDeviceGateway {
  return new ThingsBoardDeviceGateway(options);
}
