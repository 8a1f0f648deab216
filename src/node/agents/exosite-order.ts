/**
 * How the Exosite agent takes a `config_otau` value: the protocol's `decodeOrder`, plus what only an
 * agent can do because it needs to send or remember something (the contract's decoder does neither):
 *
 * - **Acknowledge** (docs/protocols/exosite.md, "Acknowledgement"): the value is written back to
 *   `config_otau` as received, before it is validated (an invalid manifest is acknowledged too,
 *   then answered with `TEST_ERROR`). A value identical to the last one acknowledged is not echoed
 *   again: Murano re-sends the value at every MQTT connect, and an echo that woke the long poll
 *   would otherwise feed itself.
 * - **Stale deliveries**: a change older than the newest seen (an MQTT topic timestamp, an HTTP
 *   `Last-Modified`) is a replay (a re-sent retained message, a proxy's old answer). It is neither
 *   acknowledged (that would write an old order back) nor run. Equal times are the same change
 *   delivered again, which the agent's duplicate and already-installed rules handle.
 * - **The device's own writes**: `$resource/<alias>` without a timestamp is what a device publishes;
 *   a plain broker (an emulation) delivers it back to a `$resource/#` subscriber. Not an order.
 * - **Withdrawal**: an empty value cancels an update that has not begun installing.
 *
 * What it remembers (newest change, last acknowledged value's digest) is the protocol `memory`
 * the agent persists with its record.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { ManifestError } from '../../core/errors.js';
import type { JsonValue } from '../../core/store.js';
import type { InboundMessage, OrderContext, OrderDecoding, WireMessage } from '../../protocols/contract.js';
import { CONFIG_OTAU } from '../../protocols/exosite/alias.js';
import { acknowledgeOrder } from '../../protocols/exosite/device.js';
import { decodeReadResponse } from '../../protocols/exosite/http.js';
import { protocol } from '../../protocols/exosite/protocol.js';
import { isEmptyResourceValue } from '../../protocols/exosite/resource.js';
import type { Target } from '../../protocols/exosite/target.js';
import { safeParseResourceTopic } from '../../protocols/exosite/topics.js';

interface OrderMemory {
  format: 'otakit.exosite-agent/1';
  /** Newest `$resource/config_otau/<timestamp>` seen, µs. */
  mqttTimestamp?: number;
  /** Newest HTTP `Last-Modified` seen, ms. */
  modifiedMs?: number;
  /** SHA-256 of the last acknowledgement sent. */
  acked?: string;
}

function readMemory(value: JsonValue | undefined): OrderMemory {
  const candidate = value as Partial<OrderMemory> | undefined | null;
  if (candidate?.format !== 'otakit.exosite-agent/1') return { format: 'otakit.exosite-agent/1' };
  const memory: OrderMemory = { format: 'otakit.exosite-agent/1' };
  if (Number.isSafeInteger(candidate.mqttTimestamp)) memory.mqttTimestamp = candidate.mqttTimestamp!;
  if (Number.isSafeInteger(candidate.modifiedMs)) memory.modifiedMs = candidate.modifiedMs!;
  if (typeof candidate.acked === 'string') memory.acked = candidate.acked;
  return memory;
}

/** `Last-Modified` as ms: epoch seconds (what Murano accepts back) or an HTTP-date. */
export function lastModifiedMs(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const text = header.trim();
  if (/^\d{1,12}$/.test(text)) return Number(text) * 1000;
  const parsed = Date.parse(text);
  return Number.isNaN(parsed) ? undefined : parsed;
}

/** The `config_otau` value a message carries; `undefined` for none (a 304, another resource). */
function configOtauValue(message: InboundMessage): string | Uint8Array | undefined {
  if (message.status !== undefined) {
    if (message.status === 304) return undefined;
    return decodeReadResponse({ status: message.status, body: message.payload })[CONFIG_OTAU];
  }
  const topic = safeParseResourceTopic(message.address);
  return topic?.alias === CONFIG_OTAU ? message.payload : undefined;
}

/** The `version` of a manifest that did not decode, for its `TEST_ERROR` (`""` when it has none). */
export function rawVersion(value: string | Uint8Array | undefined): string {
  if (value === undefined) return '';
  try {
    const text = typeof value === 'string' ? value : new TextDecoder('utf-8', { fatal: true }).decode(value);
    let json: unknown = JSON.parse(text);
    if (typeof json === 'string') json = JSON.parse(json);
    const version = (json as { version?: unknown } | null)?.version;
    return typeof version === 'string' && version.length <= 128 ? version : '';
  } catch {
    return '';
  }
}

export interface OrderDecoderOptions {
  target: Target;
  /** Sends the acknowledgement (in order with the statuses). */
  send(messages: WireMessage[]): void;
  /** A manifest that does not decode: answer `TEST_ERROR`. */
  rejected(version: string, error: ManifestError): void;
  /** `config_otau` was emptied. */
  withdrawn(): void;
}

const NOTHING: OrderDecoding = { value: null, lost: [] };

/** The preset's `decodeOrder` (see the module comment). */
export function orderDecoder(options: OrderDecoderOptions) {
  const { target } = options;
  return (message: InboundMessage, context: OrderContext<Target>): OrderDecoding => {
    const before = readMemory(context.memory);
    const memory: OrderMemory = { ...before };
    if (message.status === undefined) {
      const topic = safeParseResourceTopic(message.address);
      // `$resource/<alias>`: a device write echoed by a plain broker, never an order.
      if (topic !== undefined && topic.timestamp === undefined) return NOTHING;
      if (topic?.timestamp !== undefined) {
        if (before.mqttTimestamp !== undefined && topic.timestamp < before.mqttTimestamp) return NOTHING;
        memory.mqttTimestamp = topic.timestamp;
      }
    } else {
      const modified = lastModifiedMs(message.headers?.['last-modified']);
      if (modified !== undefined) {
        if (before.modifiedMs !== undefined && modified < before.modifiedMs) return NOTHING;
        memory.modifiedMs = modified;
      }
    }
    const value = configOtauValue(message);
    const acks = acknowledgeOrder(message, target);
    if (acks.length > 0) {
      const digest = createHash('sha256')
        .update(acks.map((ack) => ack.payload).join('\u0000'))
        .digest('hex');
      if (digest !== before.acked) {
        options.send(acks);
        memory.acked = digest;
      }
    }
    if (value !== undefined && isEmptyResourceValue(value)) options.withdrawn();
    let decoding: OrderDecoding;
    try {
      // Without `current`: the agent itself says `already_installed` for the running version.
      decoding = protocol.device.decodeOrder(message, { ...context, current: null });
    } catch (error) {
      if (error instanceof ManifestError && value !== undefined) options.rejected(rawVersion(value), error);
      throw error;
    }
    const changed =
      memory.mqttTimestamp !== before.mqttTimestamp ||
      memory.modifiedMs !== before.modifiedMs ||
      memory.acked !== before.acked;
    return changed ? { ...decoding, memory: memory as unknown as JsonValue } : decoding;
  };
}
