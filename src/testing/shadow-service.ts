/**
 * The self-hosted AWS IoT Device Shadow service (`createShadowService` of `src/cloud/`) on a
 * memory store, with what a test wants to look at synchronously: the stored shadow, every request
 * handled, and in-process `get` and `delete` that answer at once. It answers on any broker as AWS
 * IoT Core does (`get`, `update`, `delete` with their `/accepted`, `/rejected`, `/delta` and
 * `/documents`, the `clientToken` echoed, versions that continue after a delete); see the product
 * service for the details and for a persistent store.
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
import {
  deleteShadow,
  getShadow,
  type ServiceResult,
  type StoredShadow,
  type UpdateOutcome,
} from '../cloud/shadow-service/document.js';
import { MemoryShadowStore } from '../cloud/shadow-service/memory-store.js';
import { createShadowService as createCloudShadowService } from '../cloud/shadow-service/service.js';
import type { OtaError } from '../core/errors.js';
import type { WireInput } from '../core/wire.js';
import type { ShadowDeleteAccepted, ShadowGetAccepted } from '../protocols/degu/shadow-schemas.js';
import type { ShadowAddress } from '../protocols/degu/topics.js';
import type { MqttConnection } from '../transport/mqtt-connection.js';

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
  /** Unsubscribes, and waits for the requests received and the answers still being published. The shadows are kept. */
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
  /** The `get` answer, in-process and at once (nothing is published). */
  get(address: ShadowAddress): ServiceResult<{ accepted: ShadowGetAccepted }>;
  /**
   * Deletes in-process and at once, as a `delete` request would (the answer is returned, not
   * published). It does not wait behind requests of the thing still being handled.
   */
  delete(address: ShadowAddress): ServiceResult<{ accepted: ShadowDeleteAccepted }>;
  /** Every request handled so far, in order. */
  readonly requests: readonly ShadowServiceRequest[];
}

export function createShadowService(options: ShadowServiceOptions): ShadowService {
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const store = new MemoryShadowStore();
  const requests: ShadowServiceRequest[] = [];
  const service = createCloudShadowService({
    connection: options.connection,
    store,
    now,
    ...(options.onError === undefined ? {} : { onError: options.onError }),
    onRequest: ({ address, operation, rejected }) =>
      requests.push({ address, operation, ...(rejected === undefined ? {} : { rejected }) }),
  });
  const note = (address: ShadowAddress, operation: 'get' | 'delete', result: ServiceResult<object>) =>
    requests.push({ address, operation, ...(result.ok ? {} : { rejected: result.error.code }) });

  return {
    requests,
    start: () => service.start(),
    stop: () => service.stop(),
    shadow: (address) => store.peek(address)?.shadow,
    update: (address, request) => service.update(address, request),
    get(address) {
      const result = getShadow(store.peek(address)?.shadow, address, { timestamp: now() });
      note(address, 'get', result);
      return result;
    },
    delete(address) {
      const result = deleteShadow(store.peek(address)?.shadow, address, { timestamp: now() });
      note(address, 'delete', result);
      if (!result.ok) return result;
      // The memory store applies a write when it is called: the shadow is gone on return.
      void store.delete(address, result.deletedVersion);
      return { ok: true, accepted: result.accepted };
    },
  };
}
