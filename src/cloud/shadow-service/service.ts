/**
 * A self-hosted AWS IoT Device Shadow service on any MQTT broker (mosquitto, EMQX, aedes…): the
 * document semantics of `document.ts` (merge, `null` removal, the optimistic `version` lock,
 * delta, metadata, AWS's error documents) bound to an {@link MqttConnection} and a
 * {@link ShadowStore}. It subscribes to the `get`, `update` and `delete` request topics of every
 * classic and named shadow and answers on the topics AWS IoT Core uses:
 *
 * - `get` → `get/accepted` (the whole shadow with its `delta`) or `get/rejected` (404…);
 * - `update` → `update/accepted`, then `update/delta` when `desired` still differs from
 *   `reported`, then `update/documents` (previous and current); or `update/rejected` (400, 409
 *   "Version conflict", 413…);
 * - `delete` → `delete/accepted` or `delete/rejected`; a shadow created again continues from the
 *   deleted one's version.
 *
 * Every answer echoes the request's `clientToken`; one longer than 64 bytes is a 400
 * "Invalid clientToken". The requests of one thing are handled one at a time in arrival order
 * (so are their answers); different things are handled concurrently. A change is in the store
 * before its `/accepted` answer is published, so a service restarted on the same store loses
 * nothing a client was told.
 *
 * It has no authentication of its own: who may publish a request or read an answer is the
 * broker's business (its ACLs), see docs/cloud/shadow-service.md.
 *
 * @module
 */
import { type OtaError, toOtaError } from '../../core/errors.js';
import type { WireInput } from '../../core/wire.js';
import type { ShadowDeleteAccepted, ShadowGetAccepted } from '../../protocols/degu/shadow-schemas.js';
import {
  parseShadowTopic,
  type ShadowAddress,
  type ShadowTopicKind,
  shadowTopic,
  shadowTopicPrefix,
} from '../../protocols/degu/topics.js';
import type { MqttConnection, MqttQos } from '../../transport/mqtt-connection.js';
import { SHADOW_REQUEST_FILTERS } from '../../transport/shadow/topics.js';
import {
  applyUpdate,
  deleteShadow,
  getShadow,
  readClientToken,
  type ServiceResult,
  SHADOW_ERRORS,
  type ShadowSizeLimits,
  type UpdateOutcome,
} from './document.js';
import { MemoryShadowStore } from './memory-store.js';
import type { ShadowStore } from './store.js';
import { createThingQueues } from './thing-queues.js';

/** The bounds of the service; each has AWS's value (or a sound one where AWS has none). */
export interface ShadowServiceLimits extends ShadowSizeLimits {
  /**
   * Requests of one thing that may wait (the one being handled included). One more is answered
   * at once with a 429 "Too Many Requests", as AWS answers a client with too many in flight, so
   * a flood on one thing cannot grow memory without bound or starve the others.
   * @default 100
   */
  queuedPerThing?: number;
}

export interface ShadowServiceOptions {
  /** The connection the service subscribes and answers on. It stays the caller's to close. */
  connection: MqttConnection;
  /** Where shadows are kept. @default a new {@link MemoryShadowStore} (lost with the process) */
  store?: ShadowStore;
  /** Size and queue bounds. */
  limits?: ShadowServiceLimits;
  /** QoS of the answers it publishes. @default 1 */
  qos?: MqttQos;
  /** "Now" in epoch seconds, the unit of every shadow timestamp. @default the system clock */
  now?: () => number;
  /**
   * Called for every problem that did not stop the service: a store that failed (the request is
   * answered with a 500 "Internal service failure"), an answer that could not be published.
   */
  onError?: (error: OtaError) => void;
  /** Called once per request handled (for metrics, logs and tests). */
  onRequest?: (request: ShadowRequestRecord) => void;
}

/** What the service did with one request. */
export interface ShadowRequestRecord {
  address: ShadowAddress;
  operation: 'get' | 'update' | 'delete';
  /** How it arrived: on an MQTT request topic, or by a call of the service's methods. */
  origin: 'mqtt' | 'call';
  /** The AWS error code when it was rejected. */
  rejected?: number;
}

export interface ShadowService {
  /** Subscribes to the request topics; resolves once the broker granted them. Again after `stop`. */
  start(): Promise<void>;
  /**
   * Unsubscribes, then waits for the requests already received to be handled and their answers
   * published. The store is left as it is.
   */
  stop(): Promise<void>;
  /**
   * Applies a request document in-process (an operator, a REST front end), with the effects of
   * one arriving on the shadow's `update` topic: the answer is returned instead of published on
   * `update/accepted` or `update/rejected`, and what every subscriber sees (`update/delta`,
   * `update/documents`) is published. Resolves once those are acknowledged.
   * @throws ManifestError when a name of `address` breaks the AWS rules.
   */
  update(address: ShadowAddress, request: WireInput): Promise<ServiceResult<UpdateOutcome>>;
  /** The `get` answer, in-process (nothing is published). */
  get(address: ShadowAddress): Promise<ServiceResult<{ accepted: ShadowGetAccepted }>>;
  /** Deletes in-process, as a `delete` request would (the answer is returned, not published). */
  delete(address: ShadowAddress): Promise<ServiceResult<{ accepted: ShadowDeleteAccepted }>>;
}

type Operation = ShadowRequestRecord['operation'];

const DEFAULT_QUEUED_PER_THING = 100;

/**
 * @example
 * ```ts
 * const service = createShadowService({
 *   connection: await connectMqtt('mqtt://127.0.0.1:1883', { clientId: 'shadow-service' }),
 *   store: new MemoryShadowStore(),
 * })
 * await service.start()
 * // An operator's order, applied in-process: devices get the delta as from any other client.
 * await service.update({ thingName: 'gw-7' }, { state: { desired: { firmware: '1.2.0' } } })
 * ```
 */
export function createShadowService(options: ShadowServiceOptions): ShadowService {
  const { connection } = options;
  const store = options.store ?? new MemoryShadowStore();
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  const qos = options.qos ?? 1;
  const limits: ShadowSizeLimits = {
    ...(options.limits?.stateBytes === undefined ? {} : { stateBytes: options.limits.stateBytes }),
    ...(options.limits?.payloadBytes === undefined ? {} : { payloadBytes: options.limits.payloadBytes }),
  };
  const queues = createThingQueues(options.limits?.queuedPerThing ?? DEFAULT_QUEUED_PER_THING);
  const report = (error: unknown) => {
    try {
      options.onError?.(toOtaError(error, 'TRANSPORT', true));
    } catch {
      // The application's handler must not break request handling.
    }
  };
  const record = (
    address: ShadowAddress,
    operation: Operation,
    origin: 'mqtt' | 'call',
    rejected?: number,
  ) => {
    try {
      options.onRequest?.({ address, operation, origin, ...(rejected === undefined ? {} : { rejected }) });
    } catch {
      // As above.
    }
  };

  /**
   * Answers published and not yet acknowledged. Each is published at once, in the order the
   * requests were handled: one client's QoS 1 messages keep their order on the wire.
   */
  const inFlight = new Set<Promise<void>>();
  const send = (address: ShadowAddress, kind: ShadowTopicKind, document: unknown): Promise<void> => {
    const published = connection
      .publish(shadowTopic(address, kind), JSON.stringify(document), { qos })
      .catch(report)
      .finally(() => inFlight.delete(published));
    inFlight.add(published);
    return published;
  };

  /** A 500 for a store that failed, with the request's token when it has a readable one. */
  const internalError = (error: unknown, payload: WireInput | undefined, clientToken?: string) => {
    report(error);
    let token = clientToken;
    if (token === undefined && (typeof payload === 'string' || payload instanceof Uint8Array)) {
      const read = readClientToken(payload, { timestamp: now(), limits });
      token = read.ok ? read.clientToken : undefined;
    }
    return {
      ok: false as const,
      error: {
        ...SHADOW_ERRORS.internal,
        timestamp: now(),
        ...(token === undefined ? {} : { clientToken: token }),
      },
    };
  };

  /** Handles an update; `answer` publishes `update/accepted` or `update/rejected` too. */
  const handleUpdate = async (
    address: ShadowAddress,
    payload: WireInput,
    origin: 'mqtt' | 'call',
  ): Promise<{ result: ServiceResult<UpdateOutcome>; sent: Promise<void>[] }> => {
    const answer = origin === 'mqtt';
    const sent: Promise<void>[] = [];
    const fail = (result: ServiceResult<UpdateOutcome> & { ok: false }) => {
      record(address, 'update', origin, result.error.code);
      if (answer) sent.push(send(address, 'update/rejected', result.error));
      return { result, sent };
    };
    let slot: Awaited<ReturnType<ShadowStore['get']>>;
    try {
      slot = await store.get(address);
    } catch (error) {
      return fail(internalError(error, payload));
    }
    const result = applyUpdate(slot?.shadow, payload, {
      timestamp: now(),
      limits,
      ...(slot?.deletedVersion === undefined ? {} : { previousVersion: slot.deletedVersion }),
    });
    if (!result.ok) return fail(result);
    try {
      await store.put(address, result.shadow);
    } catch (error) {
      return fail(internalError(error, undefined, result.accepted.clientToken));
    }
    record(address, 'update', origin);
    if (answer) sent.push(send(address, 'update/accepted', result.accepted));
    if (result.delta !== undefined) sent.push(send(address, 'update/delta', result.delta));
    sent.push(send(address, 'update/documents', result.documents));
    return { result, sent };
  };

  const handleGet = async (
    address: ShadowAddress,
    clientToken: string | undefined,
    origin: 'mqtt' | 'call',
  ): Promise<ServiceResult<{ accepted: ShadowGetAccepted }>> => {
    let result: ServiceResult<{ accepted: ShadowGetAccepted }>;
    try {
      const slot = await store.get(address);
      result = getShadow(slot?.shadow, address, {
        timestamp: now(),
        ...(clientToken === undefined ? {} : { clientToken }),
      });
    } catch (error) {
      result = internalError(error, undefined, clientToken);
    }
    record(address, 'get', origin, result.ok ? undefined : result.error.code);
    return result;
  };

  const handleDelete = async (
    address: ShadowAddress,
    clientToken: string | undefined,
    origin: 'mqtt' | 'call',
  ): Promise<ServiceResult<{ accepted: ShadowDeleteAccepted }>> => {
    let result: ServiceResult<{ accepted: ShadowDeleteAccepted }>;
    try {
      const slot = await store.get(address);
      const deleted = deleteShadow(slot?.shadow, address, {
        timestamp: now(),
        ...(clientToken === undefined ? {} : { clientToken }),
      });
      if (deleted.ok) {
        await store.delete(address, deleted.deletedVersion);
        result = { ok: true, accepted: deleted.accepted };
      } else result = deleted;
    } catch (error) {
      result = internalError(error, undefined, clientToken);
    }
    record(address, 'delete', origin, result.ok ? undefined : result.error.code);
    return result;
  };

  /** One request off the wire: queued behind the thing's others, or refused with a 429. */
  const onRequest = (topic: string, payload: Uint8Array, retained: boolean): void => {
    // A retained request would be applied again at every restart of the service.
    if (retained) return;
    const parsed = parseShadowTopic(topic);
    if (parsed === undefined) return;
    const { kind } = parsed;
    if (kind !== 'get' && kind !== 'update' && kind !== 'delete') return;
    const address: ShadowAddress =
      parsed.shadowName === undefined
        ? { thingName: parsed.thingName }
        : { thingName: parsed.thingName, shadowName: parsed.shadowName };
    const queued = queues.offer(address.thingName, async () => {
      if (kind === 'update') {
        await handleUpdate(address, payload, 'mqtt');
        return;
      }
      const token = readClientToken(payload, { timestamp: now(), limits });
      if (!token.ok) {
        record(address, kind, 'mqtt', token.error.code);
        void send(address, `${kind}/rejected`, token.error);
        return;
      }
      const result =
        kind === 'get'
          ? await handleGet(address, token.clientToken, 'mqtt')
          : await handleDelete(address, token.clientToken, 'mqtt');
      void send(
        address,
        result.ok ? `${kind}/accepted` : `${kind}/rejected`,
        result.ok ? result.accepted : result.error,
      );
    });
    if (queued === undefined) {
      const token = readClientToken(payload, { timestamp: now(), limits });
      const clientToken = token.ok ? token.clientToken : undefined;
      record(address, kind, 'mqtt', SHADOW_ERRORS.tooManyRequests.code);
      void send(address, `${kind}/rejected`, {
        ...SHADOW_ERRORS.tooManyRequests,
        timestamp: now(),
        ...(clientToken === undefined ? {} : { clientToken }),
      });
      return;
    }
    queued.catch(report);
  };

  let stops: Array<() => Promise<void>> = [];

  return {
    async start() {
      if (stops.length > 0) return;
      try {
        for (const filter of SHADOW_REQUEST_FILTERS) {
          stops.push(
            await connection.subscribe(
              filter,
              (message) => onRequest(message.topic, message.payload, message.retain),
              { qos: 1 },
            ),
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
      await queues.idle();
      while (inFlight.size > 0) await Promise.all(inFlight);
    },
    async update(address, request) {
      shadowTopicPrefix(address);
      const { result, sent } = await queues.enqueue(address.thingName, () =>
        handleUpdate(address, request, 'call'),
      );
      await Promise.all(sent);
      return result;
    },
    async get(address) {
      shadowTopicPrefix(address);
      return queues.enqueue(address.thingName, () => handleGet(address, undefined, 'call'));
    },
    async delete(address) {
      shadowTopicPrefix(address);
      return queues.enqueue(address.thingName, () => handleDelete(address, undefined, 'call'));
    },
  };
}
