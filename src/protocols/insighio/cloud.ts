/**
 * The cloud side of the insigh.io contract: the retained SenML order out (and the empty retained
 * payload that withdraws it), the devices' `e` = 1/2/3 statuses in. Built on the canonical
 * conversion (`codec.ts`), the status vocabulary (`status.ts`) and the publications
 * (`publish.ts`); see docs/protocols/insighIo.md for the wire details.
 *
 * @module
 */
import type { UpdateStatus } from '../../core/status.js';
import type { Manifest, ManifestInput } from '../../manifest/schema.js';
import type { CloudCodec, StatusDecodeContext, WireMessage, WireSource } from '../contract.js';
import type { Conversion } from '../conversion.js';
import { completeStatus } from '../update-status.js';
import { fromCanonical } from './codec.js';
import { checkInbound } from './inbound.js';
import { decodeMessage } from './messages.js';
import { clearPublication, orderPublication } from './publish.js';
import { statusFromWire } from './status.js';
import { parseTarget, type Target } from './target.js';
import { OTA_SUBTOPIC, otaTopic } from './topics.js';
import { toWireMessage } from './wire.js';

const WHAT = 'insigh.io OTA status';

/** The cloud side of {@link protocol}. */
export const cloud: CloudCodec<Target> = {
  /**
   * The order, retained (QoS 1) on the device's OTA topic so a sleeping device finds it when it
   * next subscribes. The manifest needs exactly one artifact with a size; `lost` lists what an
   * insigh.io order cannot carry (version, digests, URL, target, expiry, signature…).
   * @throws ManifestError when the manifest cannot be expressed as an order.
   */
  encodeOrder(manifest: Manifest | ManifestInput, target: Target): Conversion<WireMessage[]> {
    const valid = parseTarget(target);
    const { value: order, lost } = fromCanonical(manifest);
    return { value: [toWireMessage(orderPublication(valid, order))], lost };
  },

  /** The empty retained payload on the OTA topic, which removes a retained order from the broker. */
  encodeWithdrawal(target: Target): WireMessage[] {
    return [toWireMessage(clearPublication(parseTarget(target)))];
  },

  /** The device's OTA topic, where it publishes its statuses (and the console its order). */
  statusSources(target: Target): WireSource[] {
    return [{ channel: 'mqtt', filter: otaTopic(parseTarget(target)), qos: 1 }];
  },

  /**
   * The status of an `e` = 1, 2 or 3 message: `committed`, the failure its `m` names (a bare or
   * unknown `m` reads as `install_failed`) with `m` as the error message, or `canceled`. The
   * update id is the file id `i`; the version, which the wire lacks, comes from
   * `context.previous` when it follows the same update. `null` for the order itself (`e` = 0,
   * retained on the same topic), an empty payload and other control subtopics.
   * @throws ManifestError for a malformed message or a topic of another device.
   */
  decodeStatus(message, context: StatusDecodeContext<Target>): UpdateStatus | null {
    const target = parseTarget((context as Partial<StatusDecodeContext<Target>> | null)?.target);
    const inbound = checkInbound(message, target, WHAT);
    if (inbound.topic.subtopic !== OTA_SUBTOPIC) return null;
    const decoded = decodeMessage(inbound.payload);
    if (decoded.kind !== 'status') return null;
    const { state, updateId, error } = statusFromWire(decoded.status);
    return completeStatus({ state, updateId, error }, context);
  },
};
