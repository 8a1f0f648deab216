/**
 * The cloud side of the ThingsBoard protocol object: ThingsBoard's end of the device API. Orders
 * go out as the shared attribute update of the device's session (`v1/devices/me/attributes`),
 * statuses come in as `fw_state` telemetry. See docs/protocols/thingsBoard.md.
 *
 * @module
 */
import { ManifestError } from '../../core/errors.js';
import { isTerminalState, type UpdateState } from '../../core/states.js';
import type { UpdateStatus } from '../../core/status.js';
import { parseWith } from '../../core/validate.js';
import { type Manifest, type ManifestInput, ManifestSchema } from '../../manifest/schema.js';
import type {
  CloudCodec,
  InboundMessage,
  StatusDecodeContext,
  WireMessage,
  WireSource,
} from '../contract.js';
import type { Conversion } from '../conversion.js';
import { encodeStatement, signedOrder } from '../signed-statement.js';
import { completeStatus, type PartialStatus } from '../update-status.js';
import { fromCanonical, packageId } from './codec.js';
import { decodeGuarded, isEmptyPayload, isTelemetryAddress, readInbound } from './inbound.js';
import { attributeKey, type PackageType, SHARED_KEYS, statementAttribute } from './keys.js';
import { type TelemetryStatus, telemetryToStatus } from './status.js';
import { packageTypeOf, readTarget, type Target } from './target.js';
import { decodeTelemetry } from './telemetry.js';
import { ATTRIBUTES_TOPIC, TELEMETRY_TOPIC } from './topics.js';

const STATUS = 'ThingsBoard status';

/** The attribute update that assigns `manifest` to the device (its `fw_*` or `sw_*` keys). */
export function encodeOrder(manifest: Manifest | ManifestInput, target: Target): Conversion<WireMessage[]> {
  const type = packageTypeOf(readTarget(target));
  const conversion = fromCanonical(manifest, { type });
  const { statement, lost } = signedOrder(parseWith(ManifestSchema, manifest, 'manifest'), conversion.lost, {
    what: 'signed manifest for ThingsBoard',
  });
  // A signed manifest travels whole in one more shared attribute (`otakit_fw_manifest` or
  // `otakit_sw_manifest`: the signed statement's JSON), which ThingsBoard's SDKs ignore.
  const attributes =
    statement === null
      ? conversion.value
      : { ...conversion.value, [statementAttribute(type)]: encodeStatement(statement) };
  return {
    value: [{ channel: 'mqtt', address: ATTRIBUTES_TOPIC, payload: JSON.stringify(attributes), qos: 1 }],
    lost,
  };
}

/** The attribute update that unassigns the package: ThingsBoard lists the removed keys in `deleted`. */
export function encodeWithdrawal(target: Target): WireMessage[] {
  const type = packageTypeOf(readTarget(target));
  const deleted = SHARED_KEYS.map((key) => attributeKey(type, key));
  return [{ channel: 'mqtt', address: ATTRIBUTES_TOPIC, payload: JSON.stringify({ deleted }), qos: 1 }];
}

/**
 * The telemetry topic of an MQTT device. An HTTP device posts its telemetry to the server
 * (`…/api/v1/<token>/telemetry`), which nobody can subscribe to or poll: `[]`, and the endpoint
 * that receives the posts gives each to `decodeStatus`.
 */
export function statusSources(target: Target): WireSource[] {
  const valid = readTarget(target);
  return valid.transport === 'http' ? [] : [{ channel: 'mqtt', filter: TELEMETRY_TOPIC, qos: 1 }];
}

/** What one telemetry message says about the package, the last statement winning. */
interface Reading {
  state: UpdateState | null;
  error: TelemetryStatus['error'];
  title: string | null;
  version: string | null;
  ts: number | undefined;
}

/** `prior` updated with one telemetry entry: a later statement overrides an earlier one. */
function merge(prior: Reading | null, status: TelemetryStatus, ts: number | undefined): Reading {
  return {
    state: status.state ?? prior?.state ?? null,
    error: status.state === null ? (prior?.error ?? null) : status.error,
    title: status.current?.title ?? prior?.title ?? null,
    version: status.current?.version ?? prior?.version ?? null,
    ts: ts ?? prior?.ts,
  };
}

function read(payload: string | Uint8Array, type: PackageType, previous: UpdateState | null): Reading | null {
  let reading: Reading | null = null;
  for (const entry of decodeTelemetry(payload)) {
    // Each entry's bare FAILED is judged against the state the entries before it reached.
    const status = telemetryToStatus(entry.values, { type, previous: reading?.state ?? previous });
    if (status !== null) reading = merge(reading, status, entry.ts);
  }
  return reading;
}

function isoTime(ts: number): string {
  const date = new Date(ts);
  if (Number.isNaN(date.getTime())) {
    throw new ManifestError(STATUS, [{ path: 'ts', expected: 'milliseconds since 1970 (at most 8.64e15)' }]);
  }
  return date.toISOString();
}

/**
 * The update a status is about. ThingsBoard's telemetry names the package only in `UPDATED`
 * (`current_fw_title`/`current_fw_version`): when that is the version the tracker follows, the
 * tracker's id stands (it may be a manifest id of the service's own); another version is another
 * package, `fw:<title>@<version>`, or an unnamed one without a title. Other states leave it to
 * the tracker.
 */
function identify(
  reading: Reading,
  type: PackageType,
  context: StatusDecodeContext<unknown>,
): Pick<PartialStatus, 'updateId' | 'version'> {
  if (reading.version === null) return {};
  const followed = context.previous?.update ?? null;
  if (followed !== null && followed.version === reading.version) return { version: reading.version };
  return {
    updateId: reading.title === null ? null : packageId(type, reading.title, reading.version),
    version: reading.version,
  };
}

/**
 * The status in a telemetry message, or `null` when it is not one: another address (an attribute
 * update echoed on a shared connection), an empty body, telemetry of other features, or a bare
 * `current_fw_*` report while an update is under way (at boot, before the `UPDATED` that follows).
 * A bare report when nothing is under way is `idle`.
 */
export function decodeStatus(
  message: InboundMessage,
  context: StatusDecodeContext<Target>,
): UpdateStatus | null {
  return decodeGuarded(STATUS, () => {
    const target = readTarget(context?.target);
    const inbound = readInbound(message, STATUS);
    if (!isTelemetryAddress(inbound.address) || isEmptyPayload(inbound.payload)) return null;
    const previous = context.previous?.state ?? null;
    const type = packageTypeOf(target);
    const reading = read(inbound.payload, type, previous);
    if (reading === null) return null;
    const at = reading.ts === undefined ? {} : { at: isoTime(reading.ts) };
    if (reading.state === null) {
      if (previous !== null && previous !== 'idle' && !isTerminalState(previous)) return null;
      return completeStatus({ state: 'idle', updateId: null, version: reading.version, ...at }, context);
    }
    const partial: PartialStatus = { state: reading.state, ...identify(reading, type, context), ...at };
    if (reading.error !== null) partial.error = reading.error;
    return completeStatus(partial, context);
  });
}

/** The cloud half of {@link Protocol} for ThingsBoard. */
export const cloud: CloudCodec<Target> = { encodeOrder, encodeWithdrawal, statusSources, decodeStatus };
