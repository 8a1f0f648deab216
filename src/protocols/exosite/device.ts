/**
 * The device side of the Exosite contract: the `config_otau` resource is the order (long-polled
 * over HTTP or received on `$resource/config_otau/<timestamp>` over MQTT), `otau_in` takes the
 * status, and `INSTALLED_VERSION` is the boot report. Built from the folder's codecs
 * (`decodeManifest`, `toCanonical`, `statusFromCanonical`, the HTTP and topic builders); the
 * wire is described in docs/protocols/exosite.md.
 *
 * @module
 */
import { ManifestError } from '../../core/errors.js';
import { type UpdateRef, type UpdateStatus, UpdateStatusSchema } from '../../core/status.js';
import { parseWith } from '../../core/validate.js';
import { decodeJson, wireText } from '../../core/wire.js';
import type { Manifest } from '../../manifest/schema.js';
import type {
  DeviceCodec,
  InboundMessage,
  OrderContext,
  StatusContext,
  WireMessage,
  WireSource,
} from '../contract.js';
import type { Conversion } from '../conversion.js';
import { applyStatement, STATEMENT_KEY } from '../signed-statement.js';
import { CONFIG_OTAU, OTAU_IN } from './alias.js';
import { toCanonical } from './codec.js';
import { contentBaseUrl } from './content-url.js';
import { decodeReadResponse, longPollRequest, writeRequest } from './http.js';
import { checkedInbound } from './inbound.js';
import { LIMITS } from './limits.js';
import { decodeManifest, encodeStatus as encodeOtauStatus, isEmptyResourceValue } from './resource.js';
import { statusFromCanonical } from './status.js';
import { checkedTarget, DEFAULT_LONG_POLL_MS, deviceToken, type Target } from './target.js';
import { RESOURCE_SUBSCRIPTION, resourceTopic, safeParseResourceTopic } from './topics.js';
import { httpMessage, mqttMessage } from './wire-messages.js';

const ORDER = 'Exosite config_otau order';

/** The target of a context (a context that is not an object has none). */
function targetOf(context: unknown): Target {
  return checkedTarget(
    typeof context === 'object' && context !== null ? (context as { target?: unknown }).target : undefined,
  );
}

/**
 * HTTP: the long poll on `config_otau` (`Request-Timeout` from the target). The channel passes
 * the previous answer's `Last-Modified` back as `If-Modified-Since`, or a write made between two
 * polls is missed. MQTT: `$resource/#`, where Murano delivers resource changes (it subscribes
 * devices itself; the explicit subscription is harmless).
 */
function orderSources(input: Target): WireSource[] {
  const target = checkedTarget(input);
  if (target.transport === 'mqtt') return [{ channel: 'mqtt', filter: RESOURCE_SUBSCRIPTION }];
  const request = longPollRequest({
    token: deviceToken(target),
    alias: CONFIG_OTAU,
    timeoutMs: target.longPollTimeoutMs ?? DEFAULT_LONG_POLL_MS,
  });
  return [{ channel: 'http', request: httpMessage(request, target) }];
}

/**
 * The `config_otau` value a message carries: `undefined` when it carries none (a long poll that
 * timed out, an empty read, another resource's change).
 */
function configOtauValue(message: InboundMessage): string | Uint8Array | undefined {
  if (message.status !== undefined) {
    if (message.status === 304) return undefined;
    return decodeReadResponse({ status: message.status, body: message.payload })[CONFIG_OTAU];
  }
  const topic = safeParseResourceTopic(message.address);
  if (topic === undefined) {
    throw new ManifestError(ORDER, [
      {
        path: 'address',
        expected: '$resource/<alias>/<timestamp> (MQTT), or an HTTP response with its status',
      },
    ]);
  }
  return topic.alias === CONFIG_OTAU ? message.payload : undefined;
}

/**
 * The manifest of a `config_otau` value. `null` for no value, an empty one (the order was
 * withdrawn), and a manifest of the version the device already runs: Murano delivers the value
 * again at every MQTT connect, and it must not install twice.
 *
 * @throws ManifestError for a malformed message or manifest (unknown `type`, missing `version` or
 *   `name`, a payload item that is neither an http(s) URL nor a content id…).
 * @throws TransportError for an HTTP answer other than 200, 204 and 304 (401: token rejected).
 */
function decodeOrder(input: InboundMessage, context: OrderContext<Target>): Conversion<Manifest | null> {
  const target = targetOf(context);
  const message = checkedInbound(input, ORDER);
  const value = configOtauValue(message);
  if (value === undefined || isEmptyResourceValue(value)) return { value: null, lost: [] };
  const manifest = decodeManifest(value);
  const current = context.current;
  if (current != null && (current.version ?? current.id) === manifest.version)
    return { value: null, lost: [] };
  const domain = target.domain === undefined ? {} : { domain: target.domain };
  const decoding = toCanonical(manifest, { content: contentBaseUrl(target.productId, domain) });
  // A signed manifest travels beside the Exosite one, as the `otakit_manifest` member.
  const raw = decodeJson(value, { what: ORDER, maxBytes: LIMITS.resourceBytes });
  const json =
    typeof raw === 'string' ? decodeJson(raw, { what: ORDER, maxBytes: LIMITS.resourceBytes }) : raw;
  const statement =
    typeof json === 'object' && json !== null && Object.hasOwn(json, STATEMENT_KEY)
      ? (json as Record<string, unknown>)[STATEMENT_KEY]
      : undefined;
  return applyStatement(decoding, statement);
}

/** A resource write of `value` to `alias`, over the target's transport. */
function resourceWrite(alias: string, value: string, target: Target): WireMessage {
  if (target.transport === 'mqtt') return mqttMessage(resourceTopic(alias), value);
  return httpMessage(writeRequest({ token: deviceToken(target), values: { [alias]: value } }), target);
}

/**
 * The `otau_in` write for `status`; `[]` for `checking`, `verifying` and `rolling_back`, which
 * Exosite has no word for. A repeated state sends the phase's `_STEP` status.
 */
function encodeStatus(status: UpdateStatus, context: StatusContext<Target>): WireMessage[] {
  const target = targetOf(context);
  const valid = parseWith(UpdateStatusSchema, status, 'update status');
  const otau = statusFromCanonical(valid);
  return otau === null ? [] : [resourceWrite(OTAU_IN, encodeOtauStatus(otau), target)];
}

/**
 * `INSTALLED_VERSION` with the running version, which Exosite expects at every boot; `[]` when
 * the device has no committed update to name.
 */
function bootReport(current: UpdateRef | null, context: StatusContext<Target>): WireMessage[] {
  const target = targetOf(context);
  if (current == null) return [];
  const version = current.version ?? current.id;
  const otau = statusFromCanonical({ state: 'idle', version });
  return otau === null ? [] : [resourceWrite(OTAU_IN, encodeOtauStatus(otau), target)];
}

/**
 * The acknowledgement Exosite asks for when a `config_otau` value arrives: the same value written
 * back to `config_otau` (until then the platform shows the configuration as pending). Send it
 * for every value received, before validating it, an empty or invalid one included. `[]` when
 * the message carries no `config_otau` value.
 *
 * The contract's `decodeOrder` has no place for replies, so an agent calls this next to it.
 *
 * @throws ManifestError for a malformed message, or a value over the resource size limit or
 *   not UTF-8.
 *
 * @example
 * ```ts
 * for (const reply of acknowledgeOrder(message, target)) await channel.send(reply)
 * const { value } = protocol.device.decodeOrder(message, { target })
 * ```
 */
export function acknowledgeOrder(message: InboundMessage, target: Target): WireMessage[] {
  const valid = checkedTarget(target);
  const value = configOtauValue(checkedInbound(message, ORDER));
  if (value === undefined) return [];
  // The identical bytes: valid UTF-8 decodes to a string that encodes back to the same bytes.
  const text = wireText(value, { what: 'Exosite acknowledgement value', maxBytes: LIMITS.resourceBytes });
  if (typeof text !== 'string') return [];
  return [resourceWrite(CONFIG_OTAU, text, valid)];
}

/** The device side of the Exosite protocol. */
export const device: DeviceCodec<Target> = { orderSources, decodeOrder, encodeStatus, bootReport };
