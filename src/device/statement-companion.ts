/**
 * The signed statement of an HTTP-pull platform (micropython_ota, Connhex), fetched from its
 * companion file. Those platforms' order is one small answer (a `version` file, the headers of a
 * `HEAD`) with no room for a signed manifest, so the statement is published beside the release
 * and a device fetches it in its check, **before any download**, with the same credentials:
 *
 * - the channel wrapper sends the order request, decodes the answer, and when it is an order,
 *   fetches that order's companion (`companionRequest`) and keeps its answer with the order's;
 * - the protocol wrapper's `decodeOrder` then applies it: `404`/`410` = no statement (the order
 *   stays unsigned, which a device with trusted keys refuses), `200` = the statement, decoded and
 *   reconciled with the order (`applyStatement`: a statement of another version or file is a
 *   `ManifestError`), anything else = a failed check (`TransportError`, retryable for 5xx, 408
 *   and 429), so an order is never run without the statement the server has for it.
 *
 * @module
 */
import { TransportError } from '../core/errors.js';
import type { UpdateRef } from '../core/status.js';
import type { Manifest } from '../manifest/schema.js';
import type { InboundMessage, Protocol, WireMessage } from '../protocols/contract.js';
import { applyStatement } from '../protocols/signed-statement.js';
import type { Channel, ChannelSendOptions } from '../transport/channel.js';

export interface StatementCompanionOptions<Target> {
  /** The platform's protocol (its `device.decodeOrder` finds the order in an answer). */
  protocol: Protocol<string, string | number, Target>;
  target: Target;
  /** The channel the order requests go out on. */
  http: Channel;
  /**
   * The request for the statement of `manifest`, the order decoded from the answer to `request`
   * (whose headers, credentials included, it should carry); `null` when there is none to ask.
   */
  companionRequest(manifest: Manifest, request: WireMessage): WireMessage | null;
}

export interface StatementCompanion<Target> {
  /** `http`, fetching the companion of every order it receives. */
  channel: Channel;
  /** `protocol`, with `decodeOrder` applying the companion fetched for the message. */
  protocol: Protocol<string, string | number, Target>;
  /** Tells the wrappers what the device runs (the agent's `current`), once the agent exists. */
  attach(current: () => UpdateRef | null): void;
}

/** Wraps an HTTP-pull platform's channel and protocol so orders carry their companion statement. */
export function statementCompanion<Target>(
  options: StatementCompanionOptions<Target>,
): StatementCompanion<Target> {
  const { protocol, target, http } = options;
  const companions = new WeakMap<InboundMessage, InboundMessage>();
  let current: () => UpdateRef | null = () => null;
  const orderAddresses = (): Set<string> =>
    new Set(
      protocol.device
        .orderSources(target)
        .flatMap((source) => (source.channel === 'http' ? [source.request.address] : [])),
    );

  const channel: Channel = {
    kind: http.kind,
    async send(message: WireMessage, sendOptions?: ChannelSendOptions) {
      const answer = await http.send(message, sendOptions);
      if (answer === undefined || !orderAddresses().has(message.address)) return answer;
      let manifest: Manifest | null;
      try {
        manifest = protocol.device.decodeOrder(answer, { target, current: current() }).value;
      } catch {
        return answer; // not an order: the agent's own decoding says why
      }
      if (manifest === null) return answer;
      const request = options.companionRequest(manifest, message);
      if (request === null) return answer;
      const companion = await http.send(request, sendOptions);
      if (companion !== undefined) companions.set(answer, companion);
      return answer;
    },
  };

  const device = {
    ...protocol.device,
    decodeOrder: (message: InboundMessage, context: Parameters<typeof protocol.device.decodeOrder>[1]) => {
      const decoding = protocol.device.decodeOrder(message, context);
      const companion = companions.get(message);
      if (decoding.value === null || companion === undefined) return decoding;
      const status = companion.status ?? 200;
      if (status === 404 || status === 410) return decoding;
      if (status !== 200) {
        throw new TransportError(`The signed statement check failed with HTTP ${status}`, {
          status,
          retryable: status >= 500 || status === 408 || status === 429,
        });
      }
      return applyStatement(decoding, companion.payload);
    },
  };

  return {
    channel,
    protocol: { ...protocol, device },
    attach(getter) {
      current = getter;
    },
  };
}
