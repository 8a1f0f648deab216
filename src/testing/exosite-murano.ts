/**
 * An emulation of Exosite Murano's device side, for tests and runnable examples: the HTTP device
 * API on loopback (`/onep:v1/stack/alias` reads, writes and long polls with `X-Exosite-CIK`,
 * `Request-Timeout`, `If-Modified-Since`, `304` and `Last-Modified`; the connector content API
 * `/provision/download` with `Range`; `/provision/activate`), and optionally the MQTT side over any
 * broker (`$resource/config_otau/<µs>` to the device, `$resource/<alias>` from it).
 *
 * One device, as Murano sees it: each resource holds what the platform **set** and what the device
 * **reported**. The platform's writes ({@link ExositeEmulator.setConfig}) set `config_otau` and
 * wake the long polls; the device's writes set `reported` (its acknowledgement of `config_otau`,
 * its `otau_in` statuses) and wake nothing. A long poll without `If-Modified-Since` waits for the
 * next change, as Murano's does; each change gets a `Last-Modified` one second after the previous
 * one at least, so no two changes share one.
 *
 * Over MQTT the latest `config_otau` is kept retained on `$resource/config_otau/<µs>` (the one
 * before is cleared), so a device that subscribes gets it, as Murano syncs a device at connect.
 *
 * @example
 * ```ts
 * import { createExositeEmulator } from 'otakit/testing'
 *
 * const murano = await createExositeEmulator({ content: { 'app.txt': 'v2' } })
 * await murano.setConfig({ version: '2.0.0', name: 'app', type: 'URL_LIST', payload: ['app.txt'] })
 * // point an agent at murano.origin (apiOrigin) with murano.productId, murano.identity, murano.token
 * console.log(murano.statuses().map((status) => status.status))
 * await murano.close()
 * ```
 *
 * A thin single-device wrapper over the local Murano service of `otakit/node`
 * (`createExositeDeviceApi`), which serves many devices, persists them and adds the management
 * API; this keeps the emulation's one-device shape and records what the device wrote.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import {
  type ContentFaults,
  createExositeDeviceApi,
  type ExositeRequestRecord,
} from '../node/cloud/exosite-device-api.js';
import { CONFIG_OTAU, OTAU_IN } from '../protocols/exosite/alias.js';
import { decodeStatus } from '../protocols/exosite/resource.js';
import type { OtauManifestInput, OtauStatus } from '../protocols/exosite/schemas.js';
import type { MqttConnection } from '../transport/mqtt-connection.js';

export type { ContentFaults, ExositeRequestRecord };

export interface ExositeEmulatorOptions {
  /** @default 'emulated0001' */
  productId?: string;
  /** @default 'device-0001' */
  identity?: string;
  /** The device token the API accepts (and activation hands out). @default random */
  token?: string;
  /** Connector content files, by content id. */
  content?: Record<string, string | Uint8Array>;
  /** @default 0 (any free port) */
  port?: number;
}

export interface ExositeEmulator {
  /** `http://127.0.0.1:<port>`: the agent's `apiOrigin`. */
  readonly origin: string;
  readonly productId: string;
  readonly identity: string;
  readonly token: string;
  /** The platform writes `config_otau` (a manifest is encoded first): long polls answer, MQTT gets it. */
  setConfig(value: string | OtauManifestInput): Promise<void>;
  /** `config_otau`: what the platform set, what the device acknowledged, and when (ms). */
  config(): { set: string; reported: string | undefined; modifiedMs: number };
  /** Every `otau_in` the device wrote, decoded, in order. */
  statuses(): OtauStatus[];
  /** Every value the device wrote back to `config_otau`, in order. */
  acks(): string[];
  /** Every resource write of the device (HTTP or MQTT), in order: acknowledgements and statuses interleaved. */
  writes(): { alias: string; value: string }[];
  /** Adds or replaces a content file. */
  putContent(id: string, body: string | Uint8Array, faults?: ContentFaults): void;
  /** Resolves once a stalled response of `id` has sent its bytes and holds. */
  stalled(id: string): Promise<void>;
  /** Lets stalled responses of `id` finish, and serves it whole from now on. */
  release(id: string): void;
  /** The next long poll (or the one waiting) answers this value with this `Last-Modified` (ms), as a misbehaving proxy replaying an old answer would. */
  replayOnce(value: string, modifiedMs: number): void;
  /** Every request answered, in order. */
  requests(): ExositeRequestRecord[];
  /** Mirrors `config_otau` to MQTT and records the device's `$resource/<alias>` publishes. */
  attachMqtt(connection: MqttConnection): Promise<void>;
  /** Stops listening (the device API is "down"); state is kept. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** Starts the emulation on loopback; see the module's example. */
export async function createExositeEmulator(options: ExositeEmulatorOptions = {}): Promise<ExositeEmulator> {
  const identity = options.identity ?? 'device-0001';
  const token = options.token ?? randomBytes(20).toString('hex');
  const log: ExositeRequestRecord[] = [];
  const service = await createExositeDeviceApi({
    productId: options.productId ?? 'emulated0001',
    devices: [{ identity, token, activationEnabled: true }],
    ...(options.content === undefined ? {} : { content: options.content }),
    ...(options.port === undefined ? {} : { port: options.port }),
    // One device's whole run fits; the emulation records every write itself anyway.
    journalLimit: 100_000,
    onRequest: (record) => log.push(record),
  });
  const writes: { alias: string; value: string }[] = [];
  service.onWrite((event) => writes.push({ alias: event.alias, value: event.value }));
  const valuesOf = (alias: string) =>
    writes.filter((write) => write.alias === alias).map((write) => write.value);

  return {
    get origin() {
      return service.origin;
    },
    productId: service.productId,
    identity,
    token,
    setConfig: (value) => service.setConfig(identity, value),
    config() {
      const resource = service.resource(identity, CONFIG_OTAU);
      return { set: resource?.set ?? '', reported: resource?.reported, modifiedMs: resource?.setAtMs ?? 0 };
    },
    statuses: () => valuesOf(OTAU_IN).map((value) => decodeStatus(value)),
    acks: () => valuesOf(CONFIG_OTAU),
    writes: () => writes.map((write) => ({ ...write })),
    putContent: (id, body, faults) => service.putContent(id, body, faults),
    stalled: (id) => service.stalled(id),
    release: (id) => service.release(id),
    replayOnce: (value, modifiedMs) => service.replayOnce(identity, value, modifiedMs),
    requests: () => log.map((record) => ({ ...record })),
    async attachMqtt(connection) {
      await service.attachMqtt(identity, connection);
    },
    stop: () => service.stop(),
    start: () => service.start(),
    close: () => service.close(),
  };
}
