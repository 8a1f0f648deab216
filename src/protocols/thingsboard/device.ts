/**
 * The device side of the ThingsBoard protocol object: orders arrive as shared attributes (pushed
 * on `v1/devices/me/attributes`, or answered to an attribute request), statuses leave as
 * `fw_state` telemetry. See docs/protocols/thingsBoard.md.
 *
 * @module
 */
import { ManifestError } from '../../core/errors.js';
import type { UpdateRef, UpdateStatus } from '../../core/status.js';
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
import { applyStatement } from '../signed-statement.js';
import { toCanonical } from './codec.js';
import { decodeGuarded, isEmptyPayload, orderAddressKind, readInbound } from './inbound.js';
import {
  attributeKey,
  currentTelemetryKey,
  type PackageType,
  SHARED_KEYS,
  statementAttribute,
} from './keys.js';
import {
  attributeRequest,
  decodeAttributeResponse,
  decodeAttributes,
  isPackageRemoved,
  readPackage,
  updateDecision,
} from './package.js';
import { titleFromPackageId } from './package-id.js';
import type { SharedAttributes, Telemetry } from './schemas.js';
import { statusToTelemetry } from './status.js';
import { deviceApiUrl, packageTypeOf, readTarget, type Target } from './target.js';
import {
  ATTRIBUTE_RESPONSE_SUBSCRIPTION,
  ATTRIBUTES_TOPIC,
  attributeRequestTopic,
  TELEMETRY_TOPIC,
} from './topics.js';

const ORDER = 'ThingsBoard order';

/**
 * The request id of the attribute request sent at boot. Any id works: the answer comes back on
 * `v1/devices/me/attributes/response/<id>`, which the device subscribes to with a wildcard.
 */
export const BOOT_REQUEST_ID = 1;

/** The attribute request of `target`: its package's keys, and its statement's when it wants it. */
function requestOf(target: Target): { sharedKeys: string } {
  return attributeRequest(packageTypeOf(target), SHARED_KEYS, { statement: target.statements === true });
}

/** Where orders arrive: the MQTT attribute topics, or a poll of the HTTP attributes URL. */
export function orderSources(target: Target): WireSource[] {
  const valid = readTarget(target);
  if (valid.transport === 'http') {
    const address = deviceApiUrl(valid, `attributes?sharedKeys=${requestOf(valid).sharedKeys}`);
    return [{ channel: 'http', request: { channel: 'http', method: 'GET', address, payload: '' } }];
  }
  return [
    { channel: 'mqtt', filter: ATTRIBUTES_TOPIC, qos: 1 },
    { channel: 'mqtt', filter: ATTRIBUTE_RESPONSE_SUBSCRIPTION, qos: 1 },
  ];
}

/** Whether `attributes` set any key of the package of `type` (other features share the topic). */
function mentionsPackage(attributes: SharedAttributes, type: PackageType): boolean {
  const source = attributes as Record<string, unknown>;
  return SHARED_KEYS.some((key) => source[attributeKey(type, key)] !== undefined);
}

function noOrder(): Conversion<Manifest | null> {
  return { value: null, lost: [] };
}

/**
 * The manifest of the package in a message of shared attributes, or `null` when it holds none:
 * an empty body, attributes of other features only, a package removed (`deleted` lists
 * `fw_title`/`fw_version`), the package the device already runs, or one whose title is not the
 * device's (with `titleRule: 'match'`; `lost` then says so).
 */
export function decodeOrder(
  message: InboundMessage,
  context: OrderContext<Target>,
): Conversion<Manifest | null> {
  return decodeGuarded(ORDER, () => {
    const target = readTarget(context?.target);
    const inbound = readInbound(message, ORDER);
    const kind = orderAddressKind(inbound.address);
    if (kind === undefined) {
      throw new ManifestError(ORDER, [
        {
          path: 'address',
          expected: `${ATTRIBUTES_TOPIC}, ${ATTRIBUTE_RESPONSE_SUBSCRIPTION} or the HTTP attributes URL`,
        },
      ]);
    }
    // The HTTP long poll ends with 408 when nothing changed before its timeout.
    if (inbound.status === 408) return noOrder();
    if (inbound.status !== undefined && (inbound.status < 200 || inbound.status > 299)) {
      throw new ManifestError(ORDER, [{ path: 'status', expected: 'a 2xx HTTP response' }]);
    }
    if (isEmptyPayload(inbound.payload)) return noOrder();
    const attributes =
      kind === 'push'
        ? decodeAttributes(inbound.payload)
        : (decodeAttributeResponse(inbound.payload).shared ?? {});
    const type = packageTypeOf(target);
    if (isPackageRemoved(attributes, type)) return noOrder();
    if (!mentionsPackage(attributes, type)) return noOrder();
    const pkg = readPackage(attributes, type);
    const current = context.current ?? null;
    const running = {
      title: titleFromPackageId(type, current?.id, current?.version) ?? null,
      version: current?.version ?? null,
    };
    const decision = updateDecision(pkg, running, { title: target.titleRule ?? 'match' });
    if (decision === 'current') return noOrder();
    if (decision === 'not_for_us') {
      return {
        value: null,
        lost: [
          {
            field: attributeKey(type, 'title'),
            reason: 'the package title differs from the one the device runs: not for this device',
          },
        ],
      };
    }
    const decoding = toCanonical(attributes, { type });
    const statement = (attributes as Record<string, unknown>)[statementAttribute(type)];
    return applyStatement(decoding, statement, { path: statementAttribute(type) });
  });
}

function telemetryMessage(target: Target, telemetry: Telemetry): WireMessage {
  const payload = JSON.stringify(telemetry);
  if (target.transport === 'http') {
    return {
      channel: 'http',
      method: 'POST',
      address: deviceApiUrl(target, 'telemetry'),
      payload,
      headers: { 'content-type': 'application/json' },
    };
  }
  return { channel: 'mqtt', address: TELEMETRY_TOPIC, payload, qos: 1 };
}

/**
 * The telemetry for one transition: `{"fw_state":"DOWNLOADING"}`, `VERIFIED` then `UPDATING` on
 * `verifying → installing`, `UPDATED` with `current_fw_title`/`current_fw_version`, `FAILED`
 * with `fw_error`; `[]` for states ThingsBoard has no word for.
 */
export function encodeStatus(status: UpdateStatus, context: StatusContext<Target>): WireMessage[] {
  const target = readTarget(context.target);
  const type = packageTypeOf(target);
  const title = titleFromPackageId(type, status.updateId, status.version);
  return statusToTelemetry(status, title === undefined ? { type } : { type, title }).map((telemetry) =>
    telemetryMessage(target, telemetry),
  );
}

/**
 * At boot: what the device runs (`current_fw_title`/`current_fw_version`, when known) and, over
 * MQTT, a request for its package attributes (ThingsBoard pushes only changes, so a device that
 * was offline asks).
 */
export function bootReport(current: UpdateRef | null, context: StatusContext<Target>): WireMessage[] {
  const target = readTarget(context.target);
  const type = packageTypeOf(target);
  const messages: WireMessage[] = [];
  if (current !== null && current.version !== null) {
    const title = titleFromPackageId(type, current.id, current.version);
    const telemetry: Record<string, string> = {};
    if (title !== undefined) telemetry[currentTelemetryKey(type, 'title')] = title;
    telemetry[currentTelemetryKey(type, 'version')] = current.version;
    messages.push(telemetryMessage(target, telemetry as Telemetry));
  }
  if (target.transport !== 'http') {
    messages.push({
      channel: 'mqtt',
      address: attributeRequestTopic(BOOT_REQUEST_ID),
      payload: JSON.stringify(requestOf(target)),
      qos: 1,
    });
  }
  return messages;
}

/** The device half of {@link Protocol} for ThingsBoard. */
export const device: DeviceCodec<Target> = { orderSources, decodeOrder, encodeStatus, bootReport };
