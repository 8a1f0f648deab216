/**
 * ThingsBoard device API topics and URLs for OTA (ThingsBoard `MqttTopics`, `DeviceApiController`).
 * The device token is the MQTT user name; over HTTP it is a path segment, so a firmware URL is a
 * secret: never log one (see `redactFirmwareUrl`).
 *
 * @module
 */
import { OtaError } from '../../core/errors.js';
import { type PackageType, PREFIX } from './keys.js';
import { LIMITS } from './limits.js';

/** Shared attribute pushes arrive here (subscribe). */
export const ATTRIBUTES_TOPIC = 'v1/devices/me/attributes';
/** Subscription for the answers to attribute requests. */
export const ATTRIBUTE_RESPONSE_SUBSCRIPTION = 'v1/devices/me/attributes/response/+';
/** Where the device publishes `fw_state`, `fw_error`, `current_fw_*`. */
export const TELEMETRY_TOPIC = 'v1/devices/me/telemetry';

const REQUEST_PREFIX = 'v1/devices/me/attributes/request/';
const RESPONSE_PREFIX = 'v1/devices/me/attributes/response/';

function topicNumber(value: number, name: string): string {
  if (!Number.isInteger(value) || value < 0 || value > LIMITS.maxTopicNumber) {
    throw new OtaError('CONFIG', `${name} must be an integer from 0 to ${LIMITS.maxTopicNumber}`);
  }
  return String(value);
}

/** Parses a decimal topic level the way ThingsBoard's `\d+` pattern and `Integer.parseInt` do. */
function parseTopicNumber(level: string | undefined): number | undefined {
  if (level === undefined || !/^\d{1,10}$/.test(level)) return undefined;
  const value = Number(level);
  return value <= LIMITS.maxTopicNumber ? value : undefined;
}

/** `v1/devices/me/attributes/request/<requestId>`. @throws OtaError `CONFIG` for a bad id. */
export function attributeRequestTopic(requestId: number): string {
  return REQUEST_PREFIX + topicNumber(requestId, 'requestId');
}

/** The request id of an attribute response topic, or `undefined` when `topic` is not one. */
export function parseAttributeResponseTopic(topic: string): number | undefined {
  if (typeof topic !== 'string' || !topic.startsWith(RESPONSE_PREFIX)) return undefined;
  return parseTopicNumber(topic.slice(RESPONSE_PREFIX.length));
}

/** Subscription for package chunks: `v2/fw/response/+/chunk/+`. */
export function chunkResponseSubscription(type: PackageType = 'firmware'): string {
  return `v2/${PREFIX[type]}/response/+/chunk/+`;
}

/** Where the server reports chunk errors such as `PAYLOAD_TOO_LARGE`: `v2/fw/error`. */
export function chunkErrorTopic(type: PackageType = 'firmware'): string {
  return `v2/${PREFIX[type]}/error`;
}

/** `v2/fw/request/<requestId>/chunk/<chunk>`: ask for chunk number `chunk` (from 0). */
export function chunkRequestTopic(requestId: number, chunk: number, type: PackageType = 'firmware'): string {
  return `v2/${PREFIX[type]}/request/${topicNumber(requestId, 'requestId')}/chunk/${topicNumber(chunk, 'chunk')}`;
}

/** A parsed `v2/{fw|sw}/{request|response}/<requestId>/chunk/<chunk>` topic. */
export interface ChunkTopic {
  type: PackageType;
  direction: 'request' | 'response';
  requestId: number;
  chunk: number;
}

const CHUNK_TOPIC = /^v2\/(fw|sw)\/(request|response)\/([^/]+)\/chunk\/([^/]+)$/;

/** Parses a chunk request or response topic, or returns `undefined` when `topic` is not one. */
export function parseChunkTopic(topic: string): ChunkTopic | undefined {
  if (typeof topic !== 'string') return undefined;
  const match = CHUNK_TOPIC.exec(topic);
  if (match === null) return undefined;
  const requestId = parseTopicNumber(match[3]);
  const chunk = parseTopicNumber(match[4]);
  if (requestId === undefined || chunk === undefined) return undefined;
  return {
    type: match[1] === 'fw' ? 'firmware' : 'software',
    direction: match[2] === 'request' ? 'request' : 'response',
    requestId,
    chunk,
  };
}

/**
 * The payload of a chunk request: the chunk size in bytes as decimal text, or `''` for the whole
 * package in one message (ThingsBoard then reuses the size of the previous request of the same id).
 */
export function encodeChunkRequest(chunkSize?: number): string {
  return chunkSize === undefined ? '' : topicNumber(chunkSize, 'chunkSize');
}

/**
 * The chunk size a chunk request asks for (`0` = whole package or previous size), as ThingsBoard
 * reads it. `undefined` when the payload is not a decimal number within `LIMITS.maxTopicNumber`
 * (ThingsBoard would fail `Integer.parseInt` and drop the session).
 */
export function decodeChunkRequest(payload: string | Uint8Array): number | undefined {
  if (typeof payload !== 'string' && !(payload instanceof Uint8Array)) return undefined;
  if (payload.length > LIMITS.chunkRequestBytes) return undefined;
  const text = typeof payload === 'string' ? payload : new TextDecoder().decode(payload);
  if (text === '') return 0;
  return parseTopicNumber(text);
}

/** Options of the HTTP firmware endpoint. */
export interface FirmwareUrlOptions {
  /** ThingsBoard base URL, e.g. `https://tb.example.com`. */
  baseUrl: string;
  /** The device access token. It becomes a path segment: the URL is a secret. */
  token: string;
  type?: PackageType;
  title: string;
  version: string;
  /** Chunk size in bytes; omit for the whole package. */
  size?: number;
  /** Chunk index from 0; only with `size`. */
  chunk?: number;
}

/**
 * `GET {baseUrl}/api/v1/{token}/firmware?title=&version=[&size=&chunk=]` (`/software` for
 * software), the HTTP download of a package stored in ThingsBoard.
 *
 * @throws OtaError `CONFIG` when the token is empty or contains `/`, `?`, `#`, `%`, whitespace or
 *   a control character, or the base URL is not http(s). The message never contains the token.
 */
export function firmwareUrl(options: FirmwareUrlOptions): string {
  if (!/^https?:\/\/[^\s?#]+$/i.test(options.baseUrl)) {
    throw new OtaError('CONFIG', 'baseUrl must be an http(s) URL without query or fragment');
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  if (!/^[^\s/?#%\\\u0000-\u001f\u007f]+$/.test(options.token)) {
    throw new OtaError('CONFIG', 'The device token must be a non-empty path segment');
  }
  const query = new URLSearchParams({ title: options.title, version: options.version });
  if (options.size !== undefined) query.set('size', topicNumber(options.size, 'size'));
  if (options.chunk !== undefined) query.set('chunk', topicNumber(options.chunk, 'chunk'));
  const resource = (options.type ?? 'firmware') === 'firmware' ? 'firmware' : 'software';
  return `${options.baseUrl.replace(/\/+$/, '')}/api/v1/${options.token}/${resource}?${query.toString()}`;
}

/** A firmware URL with its token masked: `…/api/v1/***\/firmware?…`. Safe to log. */
export function redactFirmwareUrl(url: string): string {
  return url.replace(/(\/api\/v1\/)[^/?#]+(?=\/(?:firmware|software)\b)/, '$1***');
}
