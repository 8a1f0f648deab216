/**
 * A self-hosted AWS IoT Device Shadow service on any MQTT broker: the document semantics of
 * {@link shadowModel} (merge, `null` removal, the optimistic `version` lock, delta, metadata, the
 * AWS error documents) bound to an {@link MqttConnection}. It subscribes to the `get`, `update`
 * and `delete` request topics of every classic and named shadow (`$aws/things/+/shadow/…` and
 * `$aws/things/+/shadow/name/+/…`) and answers as AWS IoT Core does:
 *
 * - `get` → `get/accepted` (the whole shadow with its `delta`) or `get/rejected` 404;
 * - `update` → `update/accepted`, then `update/delta` when `desired` still differs from
 *   `reported`, then `update/documents`; or `update/rejected` (400, 409 "Version conflict", 413…);
 * - `delete` → `delete/accepted` or `delete/rejected` 404; the version keeps counting when the
 *   shadow is created again.
 *
 * Every answer echoes the request's `clientToken`. Requests are applied in arrival order and the
 * answers published in that order. Shadows live in memory.
 *
 * @example
 * ```ts
 * import { createShadowService } from 'otakit/testing'
 * import { connectMqtt } from 'otakit/mqtt'
 *
 * const service = createShadowService({ connection: await connectMqtt('mqtt://127.0.0.1:1883') })
 * await service.start()
 * // An operator's order, applied in-process: devices get the delta as from any other client.
 * await service.update({ thingName: 'gw-7' }, { state: { desired: { firmware: '1.2.0' } } })
 * ```
 *
 * @module
 */
import type { OtaError } from '../core/errors.js';
import { toOtaError } from '../core/errors.js';
import type { WireInput } from '../core/wire.js';
import type { ShadowDeleteAccepted, ShadowGetAccepted } from '../protocols/degu/shadow-schemas.js';
import type { ShadowAddress, ShadowTopicKind } from '../protocols/degu/topics.js';
import { parseShadowTopic, shadowTopic } from '../protocols/degu/topics.js';
import type { MqttConnection } from '../transport/mqtt-connection.js';
import { SHADOW_REQUEST_FILTERS } from '../transport/shadow/topics.js';
import {
  applyUpdate,
  deleteShadow,
  getShadow,
  type ServiceResult,
  type StoredShadow,
  type UpdateOutcome,
} from './shadow-model.js';

export interface ShadowServiceOptions {
  /** The connection the service subscribes and answers on. It stays the caller's. */
  connection: MqttConnection;
  /** "Now" in epoch seconds, the unit of every shadow timestamp. @default the system clock */
  now?: () => number;
  /** Called when an answer could not be published. */
  onError?: (error: OtaError) => void;
}

/** What the service did with one request, for tests that watch it. */
export interface ShadowServiceRequest {
  address: ShadowAddress;
  operation: 'get' | 'update' | 'delete';
  /** The AWS error code when it was rejected. */
  rejected?: number;
}

export interface ShadowService {
  /** Subscribes to the request topics; resolves once the broker granted them. */
  start(): Promise<void>;
  /** Unsubscribes, and waits for the answers still being published. The shadows are kept. */
  stop(): Promise<void>;
  /** The stored shadow, or `undefined` when it does not exist. */
  shadow(address: ShadowAddress): StoredShadow | undefined;
  /**
   * Applies a request document in-process (an operator, a REST front end), with the effects of
   * one arriving on the shadow's `update` topic: the answer is returned instead of published on
   * `update/accepted` or `update/rejected`, and what every subscriber sees (`update/delta`,
   * `update/documents`) is published. Resolves once those are acknowledged.
   */
  update(address: ShadowAddress, request: WireInput): Promise<ServiceResult<UpdateOutcome>>;
  /** The `get` answer, in-process (nothing is published). */
  get(address: ShadowAddress): ServiceResult<{ accepted: ShadowGetAccepted }>;
  /** Deletes in-process, as a `delete` request would (the answer is returned, not published). */
  delete(address: ShadowAddress): ServiceResult<{ accepted: ShadowDeleteAccepted }>;
  /** Every request handled so far, in order. */
  readonly requests: readonly ShadowServiceRequest[];
}

/** The payload of a `get` or `delete`: AWS ignores it except for a `clientToken`. */
function clientTokenOf(payload: Uint8Array): string | undefined {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(payload));
    const token = (value as { clientToken?: unknown } | null)?.clientToken;
    return typeof token === 'string' && token.length <= 64 ? token : undefined;
  } catch {
    return undefined;
  }
}

function keyOf(address: ShadowAddress): string {
  return address.shadowName === undefined ? address.thingName : `${address.thingName}~${address.shadowName}`;
}

export function createShadowService(options: ShadowServiceOptions): ShadowService {
  const { connection } = options;
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const shadows = new Map<string, StoredShadow>();
  /** Versions of deleted shadows: AWS continues from there when one is created again. */
  const deleted = new Map<string, number>();
  const requests: ShadowServiceRequest[] = [];
  /**
   * Answers published and not yet acknowledged. Each is published at once, in the order the
   * requests were applied: one client's QoS 1 messages keep their order on the wire.
   */
  const inFlight = new Set<Promise<void>>();
  const drained = async () => {
    while (inFlight.size > 0) await Promise.all(inFlight);
  };
  let stops: Array<() => Promise<void>> = [];

  const send = (address: ShadowAddress, kind: ShadowTopicKind, document: unknown): void => {
    const published = connection
      .publish(shadowTopic(address, kind), JSON.stringify(document), { qos: 1 })
      .catch((error: unknown) => options.onError?.(toOtaError(error, 'TRANSPORT', true)))
      .finally(() => inFlight.delete(published));
    inFlight.add(published);
  };

  const applyUpdateRequest = (
    address: ShadowAddress,
    payload: WireInput,
    answer: boolean,
  ): ServiceResult<UpdateOutcome> => {
    const key = keyOf(address);
    const previousVersion = deleted.get(key);
    const result = applyUpdate(shadows.get(key), payload, {
      timestamp: now(),
      ...(previousVersion === undefined ? {} : { previousVersion }),
    });
    if (!result.ok) {
      requests.push({ address, operation: 'update', rejected: result.error.code });
      if (answer) send(address, 'update/rejected', result.error);
      return result;
    }
    shadows.set(key, result.shadow);
    deleted.delete(key);
    requests.push({ address, operation: 'update' });
    if (answer) send(address, 'update/accepted', result.accepted);
    if (result.delta !== undefined) send(address, 'update/delta', result.delta);
    send(address, 'update/documents', result.documents);
    return result;
  };

  const readOptions = (clientToken: string | undefined) => ({
    timestamp: now(),
    ...(clientToken === undefined ? {} : { clientToken }),
  });

  const read = (address: ShadowAddress, clientToken?: string) => {
    const result = getShadow(shadows.get(keyOf(address)), address, readOptions(clientToken));
    requests.push({ address, operation: 'get', ...(result.ok ? {} : { rejected: result.error.code }) });
    return result;
  };

  const remove = (address: ShadowAddress, clientToken?: string) => {
    const key = keyOf(address);
    const result = deleteShadow(shadows.get(key), address, readOptions(clientToken));
    requests.push({ address, operation: 'delete', ...(result.ok ? {} : { rejected: result.error.code }) });
    if (result.ok) {
      shadows.delete(key);
      deleted.set(key, result.deletedVersion);
    }
    return result;
  };

  const onRequest = (topic: string, payload: Uint8Array): void => {
    const parsed = parseShadowTopic(topic);
    if (parsed === undefined) return;
    const address: ShadowAddress =
      parsed.shadowName === undefined
        ? { thingName: parsed.thingName }
        : { thingName: parsed.thingName, shadowName: parsed.shadowName };
    const clientToken = clientTokenOf(payload);
    switch (parsed.kind) {
      case 'update':
        applyUpdateRequest(address, payload, true);
        return;
      case 'get': {
        const result = read(address, clientToken);
        send(
          address,
          result.ok ? 'get/accepted' : 'get/rejected',
          result.ok ? result.accepted : result.error,
        );
        return;
      }
      case 'delete': {
        const result = remove(address, clientToken);
        send(
          address,
          result.ok ? 'delete/accepted' : 'delete/rejected',
          result.ok ? result.accepted : result.error,
        );
        return;
      }
      default:
        // An answer topic: not a request (the filters never deliver one, a custom binding might).
        return;
    }
  };

  return {
    requests,
    async start() {
      if (stops.length > 0) return;
      try {
        for (const filter of SHADOW_REQUEST_FILTERS) {
          stops.push(
            await connection.subscribe(filter, (message) => onRequest(message.topic, message.payload), {
              qos: 1,
            }),
          );
        }
      } catch (error) {
        await Promise.all(stops.splice(0).map((stop) => stop().catch(() => {})));
        throw error;
      }
    },
    async stop() {
      const current = stops;
      stops = [];
      await Promise.all(current.map((stop) => stop().catch(() => {})));
      await drained();
    },
    shadow: (address) => shadows.get(keyOf(address)),
    async update(address, request) {
      const result = applyUpdateRequest(address, request, false);
      await drained();
      return result;
    },
    get: (address) => read(address),
    delete: (address) => remove(address),
  };
}
