/**
 * A reference model of the AWS IoT Device Shadow service's document semantics, as pure functions:
 * request validation with AWS's own error codes and messages, merge (`null` removes a key), the
 * optimistic `version` lock, metadata timestamps, the delta, and the `/accepted`, `/delta` and
 * `/documents` responses. It moves no bytes: the self-hosted shadow service (`createShadowService`
 * in this folder) and the test tools wire it to a broker, and decoders are tested against the
 * exact documents AWS would send.
 *
 * Where AWS does not document a behaviour, the choice is marked [inferred] or [unconfirmed].
 *
 * @module
 */
import type { JsonValue } from '../../core/store.js';
import type { WireInput } from '../../core/wire.js';
import {
  hasNullInArray,
  isJsonObject,
  isJsonValue,
  type JsonObject,
  jsonBytes,
  jsonDepth,
  jsonEqual,
  setOwn,
  utf8Bytes,
} from '../../protocols/degu/json.js';
import { LIMITS } from '../../protocols/degu/limits.js';
import type {
  ShadowDeleteAccepted,
  ShadowDelta,
  ShadowDocuments,
  ShadowError,
  ShadowGetAccepted,
  ShadowRequest,
  ShadowUpdateAccepted,
} from '../../protocols/degu/shadow-schemas.js';
import type { ShadowAddress } from '../../protocols/degu/topics.js';

/** The error codes and messages the service uses (AWS "Device Shadow error messages"). */
export const SHADOW_ERRORS = {
  invalidJson: { code: 400, message: 'Invalid JSON' },
  missingState: { code: 400, message: 'Missing required node: state' },
  stateNotObject: { code: 400, message: 'State node must be an object' },
  desiredNotObject: { code: 400, message: 'Desired node must be an object' },
  reportedNotObject: { code: 400, message: 'Reported node must be an object' },
  invalidVersion: { code: 400, message: 'Invalid version' },
  invalidClientToken: { code: 400, message: 'Invalid clientToken' },
  tooDeep: {
    code: 400,
    message: `JSON contains too many levels of nesting; maximum is ${LIMITS.stateDepth}`,
  },
  invalidNode: { code: 400, message: 'State contains an invalid node' },
  unauthorized: { code: 401, message: 'Unauthorized' },
  forbidden: { code: 403, message: 'Forbidden' },
  thingNotFound: { code: 404, message: 'Thing not found' },
  versionConflict: { code: 409, message: 'Version conflict' },
  tooLarge: { code: 413, message: 'The payload exceeds the maximum size allowed' },
  unsupportedEncoding: { code: 415, message: 'Unsupported documented encoding; supported encoding is UTF-8' },
  tooManyRequests: { code: 429, message: 'Too Many Requests' },
  internal: { code: 500, message: 'Internal service failure' },
} as const satisfies Record<string, { code: number; message: string }>;

/**
 * The 404 of `/get` and `/delete` on a shadow that does not exist. Observed messages are
 * `No shadow exists with name: '<thing>'` for the classic shadow and
 * `No shadow exists with name: '<thing>~<shadow>'` for a named one [unconfirmed for named shadows:
 * the AWS tutorial shows only the shadow name].
 */
export function shadowNotFound(address: ShadowAddress): { code: 404; message: string } {
  const name =
    address.shadowName === undefined ? address.thingName : `${address.thingName}~${address.shadowName}`;
  return { code: 404, message: `No shadow exists with name: '${name}'` };
}

/** A shadow as the service stores it. */
export interface StoredShadow {
  state: { desired?: JsonObject; reported?: JsonObject };
  metadata: { desired?: JsonObject; reported?: JsonObject };
  /** 1 after the first update; +1 on every accepted update. */
  version: number;
  /** Epoch seconds of the last accepted update. */
  timestamp: number;
}

/** The size bounds a service enforces; each is answered with a 413. */
export interface ShadowSizeLimits {
  /**
   * UTF-8 bytes of `desired` + `reported` (compact JSON), in a request and in the merged shadow.
   * Metadata does not count, as on AWS.
   * @default 8192 (AWS's 8 KB)
   */
  stateBytes?: number;
  /**
   * Bytes of one request payload off the wire, checked before it is parsed.
   * @default 131072 (AWS IoT Core's MQTT payload limit)
   */
  payloadBytes?: number;
}

/** Options of every service function. */
export interface ServiceOptions {
  /** "Now" in epoch seconds (every shadow timestamp is in seconds). */
  timestamp: number;
  /** Size bounds other than AWS's. */
  limits?: ShadowSizeLimits;
}

const stateLimit = (options: ServiceOptions) => options.limits?.stateBytes ?? LIMITS.stateBytes;
const payloadLimit = (options: ServiceOptions) => options.limits?.payloadBytes ?? LIMITS.messageBytes;

/** A service answer: the accepted document(s), or the error document of `/rejected`. */
export type ServiceResult<T> = ({ ok: true } & T) | { ok: false; error: ShadowError };

function reject(
  error: { code: number; message: string },
  options: ServiceOptions,
  clientToken?: string,
): { ok: false; error: ShadowError } {
  return {
    ok: false,
    error: {
      code: error.code,
      message: error.message,
      timestamp: options.timestamp,
      ...(clientToken === undefined ? {} : { clientToken }),
    },
  };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Validates a request state document the way the service does, answering with AWS's error
 * document on failure (D14: a 65-byte `clientToken` is a 400 "Invalid clientToken").
 * Never throws.
 */
export function checkRequest(
  input: WireInput,
  options: ServiceOptions,
): ServiceResult<{ request: ShadowRequest }> {
  let value: unknown = input;
  if (input instanceof Uint8Array || input instanceof ArrayBuffer || typeof input === 'string') {
    let text: string;
    if (typeof input === 'string') {
      if (input.length > payloadLimit(options) || utf8Bytes(input) > payloadLimit(options)) {
        return reject(SHADOW_ERRORS.tooLarge, options);
      }
      text = input;
    } else {
      const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
      if (bytes.length > payloadLimit(options)) return reject(SHADOW_ERRORS.tooLarge, options);
      try {
        text = utf8.decode(bytes);
      } catch {
        return reject(SHADOW_ERRORS.unsupportedEncoding, options);
      }
    }
    try {
      value = JSON.parse(text);
    } catch {
      return reject(SHADOW_ERRORS.invalidJson, options);
    }
  }
  if (jsonDepth(value, LIMITS.messageDepth) > LIMITS.messageDepth) {
    return reject(SHADOW_ERRORS.tooDeep, options);
  }
  // Parsed input may hold what JSON cannot (BigInt, Date, undefined): AWS would never see it.
  if (!isJsonValue(value)) return reject(SHADOW_ERRORS.invalidJson, options);
  if (!isJsonObject(value)) return reject(SHADOW_ERRORS.missingState, options);

  const token = value.clientToken;
  if (token !== undefined && (typeof token !== 'string' || utf8Bytes(token) > LIMITS.clientTokenBytes)) {
    return reject(SHADOW_ERRORS.invalidClientToken, options);
  }
  const fail = (error: { code: number; message: string }) => reject(error, options, token);
  if (!('state' in value)) return fail(SHADOW_ERRORS.missingState);
  const state = value.state;
  if (!isJsonObject(state)) return fail(SHADOW_ERRORS.stateNotObject);
  if (Object.keys(state).some((key) => key !== 'desired' && key !== 'reported')) {
    return fail(SHADOW_ERRORS.invalidNode);
  }
  const { desired, reported } = state;
  if (desired !== undefined && desired !== null && !isJsonObject(desired))
    return fail(SHADOW_ERRORS.desiredNotObject);
  if (reported !== undefined && reported !== null && !isJsonObject(reported)) {
    return fail(SHADOW_ERRORS.reportedNotObject);
  }
  const version = value.version;
  if (
    version !== undefined &&
    !(typeof version === 'number' && Number.isSafeInteger(version) && version >= 0)
  ) {
    return fail(SHADOW_ERRORS.invalidVersion);
  }
  for (const section of [desired, reported]) {
    if (section === undefined || section === null) continue;
    if (jsonDepth(section, LIMITS.stateDepth) > LIMITS.stateDepth) return fail(SHADOW_ERRORS.tooDeep);
    // AWS rejects null inside arrays; which message it uses is [unconfirmed].
    if (hasNullInArray(section)) return fail(SHADOW_ERRORS.invalidNode);
  }
  if (jsonBytes({ desired, reported }) > stateLimit(options)) return fail(SHADOW_ERRORS.tooLarge);

  const request: ShadowRequest = { ...value, state: {} };
  if (desired !== undefined) request.state.desired = desired as JsonObject | null;
  if (reported !== undefined) request.state.reported = reported as JsonObject | null;
  if (token !== undefined) request.clientToken = token;
  if (version !== undefined) request.version = version;
  return { ok: true, request };
}

/**
 * The delta of a shadow: the keys of `desired` whose value differs from `reported` (a key missing
 * from `reported` differs); `reported`-only keys never appear; nested objects give the minimal
 * path to each differing leaf; arrays compare as whole values. `undefined` when nothing differs.
 *
 * @example
 * ```ts
 * computeDelta({ a: 1, b: 2 }, { a: 1, c: 3 }) // { b: 2 }   (vector D12)
 * ```
 */
export function computeDelta(
  desired: JsonObject | undefined,
  reported: JsonObject | undefined,
): JsonObject | undefined {
  if (desired === undefined) return undefined;
  const delta: JsonObject = {};
  for (const [key, want] of Object.entries(desired)) {
    const have = reported !== undefined && Object.hasOwn(reported, key) ? reported[key] : undefined;
    if (isJsonObject(want) && isJsonObject(have)) {
      const nested = computeDelta(want, have);
      if (nested !== undefined) setOwn(delta, key, nested);
    } else if (have === undefined || !jsonEqual(want, have)) {
      setOwn(delta, key, want);
    }
  }
  return Object.keys(delta).length === 0 ? undefined : delta;
}

/**
 * Merges a request section into a stored one: `null` removes a key, objects merge key by key,
 * anything else (arrays included) replaces. Objects left empty are removed [inferred].
 */
function mergeSection(
  current: JsonObject | undefined,
  patch: JsonObject | null | undefined,
): JsonObject | undefined {
  if (patch === undefined) return current;
  if (patch === null) return undefined;
  const merged: JsonObject = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete merged[key];
    } else if (isJsonObject(value)) {
      const before = Object.hasOwn(merged, key) ? merged[key] : undefined;
      const nested = mergeSection(isJsonObject(before) ? before : undefined, value);
      if (nested === undefined) delete merged[key];
      else setOwn(merged, key, nested);
    } else {
      setOwn(merged, key, value);
    }
  }
  return Object.keys(merged).length === 0 ? undefined : merged;
}

/** Metadata of a merged section: touched leaves get `timestamp`, untouched ones keep theirs. */
function rebuildMetadata(
  value: JsonValue,
  before: JsonValue | undefined,
  patch: JsonValue | undefined,
  timestamp: number,
): JsonValue {
  if (isJsonObject(value)) {
    const out: JsonObject = {};
    for (const [key, child] of Object.entries(value)) {
      const meta = rebuildMetadata(
        child,
        isJsonObject(before) && Object.hasOwn(before, key) ? before[key] : undefined,
        isJsonObject(patch) && Object.hasOwn(patch, key)
          ? patch[key]
          : isJsonObject(patch)
            ? undefined
            : patch,
        timestamp,
      );
      setOwn(out, key, meta);
    }
    return out;
  }
  if (patch === undefined && isJsonObject(before) && typeof before.timestamp === 'number') {
    return { timestamp: before.timestamp };
  }
  return { timestamp };
}

/** Metadata of the keys a request touched (for `/update/accepted`; removed keys included). */
function patchMetadata(patch: JsonValue, timestamp: number): JsonValue {
  if (!isJsonObject(patch)) return { timestamp };
  return Object.fromEntries(
    Object.entries(patch).map(([key, value]) => [key, patchMetadata(value, timestamp)]),
  );
}

/** `metadata` restricted to the paths present in `shape` (for `/update/delta`). */
function restrictMetadata(metadata: JsonValue | undefined, shape: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(shape)) {
    const meta = isJsonObject(metadata) && Object.hasOwn(metadata, key) ? metadata[key] : undefined;
    if (meta === undefined) continue;
    setOwn(out, key, isJsonObject(value) ? restrictMetadata(meta, value) : meta);
  }
  return out;
}

function snapshot(shadow: StoredShadow) {
  return { state: { ...shadow.state }, metadata: { ...shadow.metadata }, version: shadow.version };
}

/** Options of {@link applyUpdate}. */
export interface ApplyUpdateOptions extends ServiceOptions {
  /**
   * Version of a deleted shadow of the same name: AWS keeps counting across a delete (within
   * 48 hours), so a re-created shadow continues from here.
   * @default 0
   */
  previousVersion?: number;
}

/** What an accepted update produces: the new shadow and every response AWS publishes. */
export interface UpdateOutcome {
  shadow: StoredShadow;
  /** Published on `/update/accepted`. */
  accepted: ShadowUpdateAccepted;
  /** Published on `/update/delta` when `desired` still differs from `reported` [inferred: AWS says "when desired ≠ reported after an accepted update"]. */
  delta?: ShadowDelta;
  /** Published on `/update/documents`. */
  documents: ShadowDocuments;
}

/**
 * Applies a request state document to a stored shadow (`undefined` = none yet), or rejects it
 * with AWS's error document: 400s as {@link checkRequest}, 409 "Version conflict" when the
 * request's `version` is not the stored one (D10), 413 when the merged state exceeds
 * {@link ShadowSizeLimits.stateBytes}. `null` removes a key (D11); `"desired": null` removes the section.
 *
 * @example
 * ```ts
 * const result = applyUpdate(stored, payload, { timestamp: Math.floor(Date.now() / 1000) })
 * if (result.ok) publish('update/accepted', result.accepted)
 * else publish('update/rejected', result.error)
 * ```
 */
export function applyUpdate(
  current: StoredShadow | undefined,
  input: WireInput,
  options: ApplyUpdateOptions,
): ServiceResult<UpdateOutcome> {
  const checked = checkRequest(input, options);
  if (!checked.ok) return checked;
  const { request } = checked;
  const { timestamp } = options;
  const token = request.clientToken;
  const baseVersion = current?.version ?? options.previousVersion ?? 0;
  if (request.version !== undefined && request.version !== baseVersion) {
    return reject(SHADOW_ERRORS.versionConflict, options, token);
  }

  const state: StoredShadow['state'] = {};
  const metadata: StoredShadow['metadata'] = {};
  for (const section of ['desired', 'reported'] as const) {
    const merged = mergeSection(current?.state[section], request.state[section]);
    if (merged === undefined) continue;
    state[section] = merged;
    metadata[section] = rebuildMetadata(
      merged,
      current?.metadata[section],
      request.state[section] ?? undefined,
      timestamp,
    ) as JsonObject;
  }
  if (jsonBytes(state) > stateLimit(options)) return reject(SHADOW_ERRORS.tooLarge, options, token);

  const shadow: StoredShadow = { state, metadata, version: baseVersion + 1, timestamp };
  const withToken = token === undefined ? {} : { clientToken: token };

  const acceptedMetadata: ShadowUpdateAccepted['metadata'] = {};
  for (const section of ['desired', 'reported'] as const) {
    const patch = request.state[section];
    if (patch !== undefined)
      acceptedMetadata[section] = patch === null ? null : (patchMetadata(patch, timestamp) as JsonObject);
  }
  const accepted: ShadowUpdateAccepted = {
    state: { ...request.state },
    metadata: acceptedMetadata,
    version: shadow.version,
    timestamp,
    ...withToken,
  };

  const deltaState = computeDelta(state.desired, state.reported);
  const documents: ShadowDocuments = {
    ...(current === undefined ? {} : { previous: snapshot(current) }),
    current: snapshot(shadow),
    timestamp,
    ...withToken,
  };
  const outcome: UpdateOutcome = { shadow, accepted, documents };
  if (deltaState !== undefined) {
    outcome.delta = {
      state: deltaState,
      metadata: restrictMetadata(metadata.desired, deltaState),
      version: shadow.version,
      timestamp,
      ...withToken,
    };
  }
  return { ok: true, ...outcome };
}

/**
 * The `clientToken` of a `get` or `delete` payload, which AWS reads and otherwise ignores: an
 * empty payload, one that is not JSON, or an object without a token has none [inferred: AWS
 * documents only the empty payload]; a token that is not a string or is longer than 64 UTF-8
 * bytes is a 400 "Invalid clientToken"; a payload over the size bound is a 413.
 */
export function readClientToken(
  payload: Uint8Array | string,
  options: ServiceOptions,
): ServiceResult<{ clientToken: string | undefined }> {
  const size = typeof payload === 'string' ? utf8Bytes(payload) : payload.length;
  if (size > payloadLimit(options)) return reject(SHADOW_ERRORS.tooLarge, options);
  if (size === 0) return { ok: true, clientToken: undefined };
  let value: unknown;
  try {
    value = JSON.parse(typeof payload === 'string' ? payload : utf8.decode(payload));
  } catch {
    return { ok: true, clientToken: undefined };
  }
  if (!isJsonObject(value) || !Object.hasOwn(value, 'clientToken'))
    return { ok: true, clientToken: undefined };
  const token = value.clientToken;
  if (typeof token !== 'string' || utf8Bytes(token) > LIMITS.clientTokenBytes) {
    return reject(SHADOW_ERRORS.invalidClientToken, options);
  }
  return { ok: true, clientToken: token };
}

/** Options of {@link getShadow} and {@link deleteShadow}. */
export interface ReadOptions extends ServiceOptions {
  /** Echoed in the response (a `/get` or `/delete` payload may carry one). */
  clientToken?: string;
}

/**
 * The `/get` response: the whole shadow with its computed `delta`, or 404 when there is none
 * (D15).
 */
export function getShadow(
  current: StoredShadow | undefined,
  address: ShadowAddress,
  options: ReadOptions,
): ServiceResult<{ accepted: ShadowGetAccepted }> {
  if (current === undefined) return reject(shadowNotFound(address), options, options.clientToken);
  const delta = computeDelta(current.state.desired, current.state.reported);
  const accepted: ShadowGetAccepted = {
    state: { ...current.state, ...(delta === undefined ? {} : { delta }) },
    metadata: { ...current.metadata },
    version: current.version,
    timestamp: options.timestamp,
    ...(options.clientToken === undefined ? {} : { clientToken: options.clientToken }),
  };
  return { ok: true, accepted };
}

/**
 * The `/delete` response, or 404 when there is no shadow. Pass `deletedVersion` as
 * {@link ApplyUpdateOptions.previousVersion} when the shadow is re-created.
 */
export function deleteShadow(
  current: StoredShadow | undefined,
  address: ShadowAddress,
  options: ReadOptions,
): ServiceResult<{ accepted: ShadowDeleteAccepted; deletedVersion: number }> {
  if (current === undefined) return reject(shadowNotFound(address), options, options.clientToken);
  return {
    ok: true,
    accepted: {
      version: current.version,
      timestamp: options.timestamp,
      ...(options.clientToken === undefined ? {} : { clientToken: options.clientToken }),
    },
    deletedVersion: current.version,
  };
}
