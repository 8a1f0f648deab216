/**
 * The one contract every protocol implements, with the same names in all six. A device agent
 * and a cloud service are written once against it: the agent feeds what arrives into
 * `device.decodeOrder`, gives the manifest to the machine and sends what `device.encodeStatus`
 * returns; the service sends what `cloud.encodeOrder` returns and gives what
 * `cloud.decodeStatus` returns to `tracker.ingest()`.
 *
 * Wire messages are plain data (address + payload): the contract never touches a socket, so it
 * runs in a browser, in Node and in tests alike; the channels (MQTT, NATS, HTTP) carry them.
 *
 * @module
 */
import type * as z from 'zod';
import type { SecretPatterns } from '../core/redact.js';
import type { UpdateRef, UpdateStatus } from '../core/status.js';
import type { JsonValue } from '../core/store.js';
import type { Manifest, ManifestInput } from '../manifest/schema.js';
import type { Conversion, StatusMapping } from './conversion.js';

/** The strongest digest a protocol's wire format can carry for each artifact. */
export type WireIntegrity = 'sha256' | 'md5' | 'none';

/** How a wire message travels. `file` is a local file the device writes (micropython_ota). */
export type WireChannel = 'mqtt' | 'nats' | 'http' | 'file';

/** One message to send, as data: give it to the channel named by `channel`. */
export interface WireMessage {
  channel: WireChannel;
  /** MQTT topic, NATS subject, HTTP URL (absolute, or a path on the platform's API), or file name. */
  address: string;
  /** The body as text: JSON, SenML, a form, a version string. `''` is an empty message. */
  payload: string;
  /** MQTT: keep the message on the broker for later subscribers (an empty retained one clears). */
  retain?: boolean;
  /** MQTT quality of service. @default 1 */
  qos?: 0 | 1;
  /** HTTP method. @default 'POST' when there is a payload, else 'GET' */
  method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** HTTP request headers (lower-case names). May hold credentials: redact before printing. */
  headers?: Readonly<Record<string, string>>;
}

/** One message received: an MQTT or NATS message, or an HTTP response. */
export interface InboundMessage {
  /** The topic, subject or URL it came from (for HTTP: the URL requested). */
  address: string;
  /** The body: UTF-8 text or bytes. An empty body is `''`. */
  payload: string | Uint8Array;
  /** HTTP response status. */
  status?: number;
  /** HTTP response headers (lower-case names). */
  headers?: Readonly<Record<string, string>>;
  /** MQTT: the broker kept it (delivered on subscribing, not published just now). */
  retained?: boolean;
}

/**
 * Where a device listens for orders, or a service for statuses: MQTT topic filters and NATS
 * subjects to subscribe to, or the HTTP requests to poll. The channel layer turns these into
 * subscriptions or a polling loop.
 */
export type WireSource =
  | { channel: 'mqtt'; filter: string; qos?: 0 | 1 }
  | { channel: 'nats'; subject: string }
  | { channel: 'http'; request: WireMessage };

/** What the device side knows when it decodes an order. */
export interface OrderContext<Target> {
  target: Target;
  /** The update this device has committed, if any (some formats only say "same as before"). */
  current?: UpdateRef | null;
  /**
   * What the protocol asked to remember from earlier orders (`memory` of the last decoding), as
   * the agent persisted it: AWS shadow deltas carry only what changed and a `version`, so Degu
   * needs the desired state and the version seen last. `undefined` on a first start.
   */
  memory?: JsonValue;
}

/** A decoded order, and what the protocol wants remembered for the next one. */
export interface OrderDecoding extends Conversion<Manifest | null> {
  /**
   * State to persist and pass back as `OrderContext.memory` with the next message (plain JSON).
   * `undefined` = keep what was remembered before.
   */
  memory?: JsonValue;
}

/** What the device side knows when it encodes its status. */
export interface StatusContext<Target> {
  target: Target;
  /** The update this device has committed, if any (Connhex repeats it in every heartbeat). */
  current?: UpdateRef | null;
}

/** What the cloud side knows when it decodes a device's status. */
export interface StatusDecodeContext<Target> {
  target: Target;
  /** The machine id the status is for (a tracker's id): usually the device id. */
  machineId: string;
  /**
   * What the tracker knows of this device, where the wire format leaves things out: insigh.io
   * and Exosite statuses name no update id, ThingsBoard's `fw_state` no previous state.
   */
  previous?: { state: UpdateStatus['state']; update: UpdateRef | null } | null;
  /** ISO 8601 time to stamp on a status whose wire format carries none. @default now */
  at?: string;
}

/** The device side: order in, status out. */
export interface DeviceCodec<Target> {
  /** Where orders for `target` arrive (subscriptions or requests to poll). */
  orderSources(target: Target): WireSource[];
  /**
   * The manifest an incoming order stands for, or `null` when the message holds no order (an
   * empty retained message, "up to date", an order withdrawn). `lost` lists what the canonical
   * model could not take from it.
   * @throws ManifestError (`MANIFEST_INVALID`) naming the field and what was expected; for an
   *   HTTP-pull protocol, a response that is well formed but not an answer (401, 5xx) is a
   *   `TransportError` (`retryable` for 5xx), as a failed check.
   */
  decodeOrder(message: InboundMessage, context: OrderContext<Target>): OrderDecoding;
  /** The messages that tell the platform about `status`; `[]` when it has no word for it. */
  encodeStatus(status: UpdateStatus, context: StatusContext<Target>): WireMessage[];
  /**
   * What the device says at boot about what it runs (Degu's `reported` MD5s, Connhex's idle
   * heartbeat, micropython_ota's local `version` file); `[]` where the platform has no such report.
   */
  bootReport(current: UpdateRef | null, context: StatusContext<Target>): WireMessage[];
}

/** The cloud side: order out, status in. */
export interface CloudCodec<Target> {
  /**
   * The messages that order `target` to install `manifest`; `lost` lists what the wire format
   * cannot carry.
   * @throws ManifestError when the manifest cannot be expressed at all (no artifact this
   *   platform can name, a required digest missing).
   */
  encodeOrder(manifest: Manifest | ManifestInput, target: Target): Conversion<WireMessage[]>;
  /** The messages that withdraw the order of `target` (clear the retained order, the desired keys…). */
  encodeWithdrawal(target: Target): WireMessage[];
  /** Where statuses of `target` arrive; `[]` when the platform has no status channel. */
  statusSources(target: Target): WireSource[];
  /**
   * The status a device reported, ready for `tracker.ingest()`, or `null` when the message is
   * not a status (an empty retained message, an order echoed on a shared topic).
   * @throws ManifestError (`MANIFEST_INVALID`) for a malformed status.
   */
  decodeStatus(message: InboundMessage, context: StatusDecodeContext<Target>): UpdateStatus | null;
}

/**
 * What a dashboard or a redactor needs to know of a protocol, without its codecs: cheap to
 * import, so `STATUS_MAPPINGS` and the secret lists cost no codec code in a bundle.
 */
export interface ProtocolDescriptor<
  Name extends string = string,
  Wire extends string | number = string | number,
> {
  /** The registry key, e.g. `degu`. */
  readonly name: Name;
  /** A human name, e.g. `Degu on AWS IoT Device Shadow`. */
  readonly title: string;
  /** The strongest digest the order can carry for every artifact. */
  readonly integrity: WireIntegrity;
  /** Credentials this platform puts in URLs and headers, masked wherever otakit prints. */
  readonly secrets: SecretPatterns;
  /** The platform's status vocabulary against the canonical states. */
  readonly statusMapping: StatusMapping<Wire>;
}

/** One protocol, both sides. `Target` addresses one device on the platform. */
export interface Protocol<
  Name extends string = string,
  Wire extends string | number = string | number,
  Target = unknown,
> extends ProtocolDescriptor<Name, Wire> {
  /** Validates a target (throws `ManifestError` naming the field), for CLIs and configuration. */
  readonly targetSchema: z.ZodType<Target>;
  /** Every wire schema with a JSON representation, by name (`dist/schemas/<name>.<key>.json`). */
  readonly jsonSchemas: Readonly<Record<string, z.ZodType>>;
  readonly device: DeviceCodec<Target>;
  readonly cloud: CloudCodec<Target>;
}

/** The target type of a protocol. */
export type TargetOf<P> = P extends Protocol<string, string | number, infer Target> ? Target : never;
