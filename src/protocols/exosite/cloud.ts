/**
 * The cloud side of the Exosite contract: a service orders an update by writing the device's
 * `config_otau` resource through Murano's device state API, withdraws it by writing `""`, and
 * reads the device's `otau_in` from the same state. `decodeStatus` also reads `otau_in` as a
 * broker or a self-hosted device API sees it (`$resource/otau_in`, `$resource.batch`, the form
 * write), so the same code serves a test bench. See docs/protocols/exosite.md, "Cloud side".
 *
 * @module
 */
import { ManifestError } from '../../core/errors.js';
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
import { encodeStatement, STATEMENT_KEY, signedOrder } from '../signed-statement.js';
import { completeStatus, type PartialStatus } from '../update-status.js';
import { CONFIG_OTAU, OTAU_IN } from './alias.js';
import { fromCanonical } from './codec.js';
import { decodeForm } from './form.js';
import { ALIAS_PATH, statusError } from './http.js';
import { decodeResourceState, IDENTITY_STATE_PATH, identityStatePath } from './identity-state.js';
import { checkedInbound } from './inbound.js';
import { LIMITS } from './limits.js';
import { decodeStatus as decodeOtauStatus, encodeManifest, isEmptyResourceValue } from './resource.js';
import { type StatusContext, statusToCanonical } from './status.js';
import { checkedTarget, type Target } from './target.js';
import { BATCH_TOPIC, decodeBatch, parseResourceTopic } from './topics.js';

const STATUS = 'Exosite otau_in status message';

/**
 * Murano writes device state with `PATCH`, which the contract's `WireMessage['method']` does not
 * list; channels hand the method to `fetch`, which sends it as is.
 */
const PATCH = 'PATCH' as unknown as NonNullable<WireMessage['method']>;

/** The target of a context (a context that is not an object has none). */
function targetOf(context: unknown): Target {
  return checkedTarget(
    typeof context === 'object' && context !== null ? (context as { target?: unknown }).target : undefined,
  );
}

/** A write of `values` to the device's state: `PATCH`, JSON body alias → resource string. */
function stateWrite(target: Target, values: Record<string, string>): WireMessage {
  return {
    channel: 'http',
    address: identityStatePath(target.productId, target.identity),
    method: PATCH,
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify(values),
  };
}

/**
 * The write of `config_otau` that orders `manifest`. `lost` names what Exosite cannot carry
 * (digests, sizes, an id other than the version, expiry, signature…).
 *
 * @throws ManifestError for an invalid manifest, an artifact URL that is neither an http(s) URL
 *   nor a content id, or a manifest string over the resource size limit.
 */
function encodeOrder(manifest: Manifest | ManifestInput, input: Target): Conversion<WireMessage[]> {
  const target = checkedTarget(input);
  const canonical = parseWith(ManifestSchema, manifest, 'canonical manifest for Exosite');
  const conversion = fromCanonical(canonical);
  const { statement, lost } = signedOrder(canonical, conversion.lost, {
    what: 'signed manifest for Exosite',
  });
  const plain = encodeManifest(conversion.value);
  // A signed manifest travels whole in an extra member, `otakit_manifest` (the signed statement's
  // JSON, as a string), which Exosite devices ignore as they ignore any unknown key.
  const text =
    statement === null
      ? plain
      : JSON.stringify({ ...(JSON.parse(plain) as object), [STATEMENT_KEY]: encodeStatement(statement) });
  if (
    text.length * 3 > LIMITS.resourceBytes &&
    new TextEncoder().encode(text).length > LIMITS.resourceBytes
  ) {
    throw new ManifestError('Exosite config_otau manifest', [
      { path: '', expected: `at most ${LIMITS.resourceBytes} bytes as a resource string` },
    ]);
  }
  return { value: [stateWrite(target, { [CONFIG_OTAU]: text })], lost };
}

/** An empty `config_otau`: the device reads it as "no order". */
function encodeWithdrawal(input: Target): WireMessage[] {
  return [stateWrite(checkedTarget(input), { [CONFIG_OTAU]: '' })];
}

/** The device's state, polled: `otau_in.reported` is its last status. */
function statusSources(input: Target): WireSource[] {
  const target = checkedTarget(input);
  const request: WireMessage = {
    channel: 'http',
    address: identityStatePath(target.productId, target.identity),
    method: 'GET',
    headers: { accept: 'application/json' },
    payload: '',
  };
  return [{ channel: 'http', request }];
}

/** An `otau_in` value, and the time the platform stamped on it, if any. */
interface Reported {
  value: string | Uint8Array;
  /** Microseconds since the epoch. */
  timestamp?: number;
}

/** The path of an HTTP address (absolute URL or path), `undefined` for anything else. */
function pathOf(address: string): string | undefined {
  if (URL.canParse(address)) return new URL(address).pathname;
  if (address.startsWith('/')) return address.split(/[?#]/, 1)[0];
  return undefined;
}

/** The `otau_in` value a message carries, or `null` when it carries none. */
function reportedValue(message: InboundMessage): Reported | null {
  if (message.address === BATCH_TOPIC) {
    let latest: Reported | null = null;
    for (const entry of decodeBatch(message.payload)) {
      const value = entry.values[OTAU_IN];
      if (value !== undefined && (latest === null || entry.timestamp >= (latest.timestamp ?? 0))) {
        latest = { value, timestamp: entry.timestamp };
      }
    }
    return latest;
  }
  if (message.address.startsWith('$resource/')) {
    return parseResourceTopic(message.address).alias === OTAU_IN ? { value: message.payload } : null;
  }
  const path = pathOf(message.address);
  if (path !== undefined && IDENTITY_STATE_PATH.test(path)) {
    if (message.status === 204) return null;
    if (message.status !== undefined && message.status !== 200)
      throw statusError('device state', message.status);
    const state = decodeResourceState(message.payload, OTAU_IN);
    if (state?.reported === undefined) return null;
    return state.timestamp === undefined
      ? { value: state.reported }
      : { value: state.reported, timestamp: state.timestamp };
  }
  if (path === ALIAS_PATH) {
    const value = decodeForm(message.payload)[OTAU_IN];
    return value === undefined ? null : { value };
  }
  throw new ManifestError(STATUS, [
    {
      path: 'address',
      expected: `the device state path, ${BATCH_TOPIC}, $resource/<alias> or ${ALIAS_PATH}`,
    },
  ]);
}

/** The machine id of a context, checked: it names the status the tracker gets. */
function machineIdOf(context: StatusDecodeContext<Target>): string {
  const id = (context as { machineId?: unknown }).machineId;
  if (typeof id !== 'string' || id === '') {
    throw new ManifestError(STATUS, [{ path: 'machineId', expected: 'a non-empty machine id' }]);
  }
  return id;
}

/**
 * The canonical status of an `otau_in` value. Exosite names an update only by its version, so
 * the tracker's update (`context.previous`) supplies the id when the versions match, and tells
 * `INSTALLED_VERSION` of that version (`committed`) from the boot report of another (`idle`).
 *
 * @throws ManifestError for a malformed message or status (a status word outside the 15).
 * @throws TransportError for a device state answer other than 200 and 204.
 */
function decodeStatus(input: InboundMessage, context: StatusDecodeContext<Target>): UpdateStatus | null {
  targetOf(context);
  const machineId = machineIdOf(context);
  const reported = reportedValue(checkedInbound(input, STATUS));
  if (reported === null || isEmptyResourceValue(reported.value)) return null;
  const otau = decodeOtauStatus(reported.value);
  const previous = context.previous ?? null;
  const followed = previous?.update ?? null;
  const followedVersion = followed === null ? null : (followed.version ?? followed.id);
  const reading: StatusContext = { updateVersion: followedVersion };
  if (previous !== null) reading.current = previous.state;
  const fields = statusToCanonical(otau, reading);
  const partial: PartialStatus = { state: fields.state };
  if (fields.state === 'idle') {
    partial.updateId = null;
    partial.version = fields.version;
  } else if (fields.version !== null) {
    // An empty version names nothing: the tracker's update is kept (completeStatus fills it in).
    partial.updateId = followed !== null && fields.version === followedVersion ? followed.id : fields.version;
    partial.version = fields.version;
  }
  if (fields.error !== null) partial.error = fields.error;
  if (reported.timestamp !== undefined)
    partial.at = new Date(Math.floor(reported.timestamp / 1000)).toISOString();
  return completeStatus(partial, { ...context, machineId });
}

/** The cloud side of the Exosite protocol. */
export const cloud: CloudCodec<Target> = { encodeOrder, encodeWithdrawal, statusSources, decodeStatus };
