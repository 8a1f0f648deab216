/**
 * The cloud side of the insigh.io contract: the retained SenML order out (and the empty retained
 * payload that withdraws it), the devices' `e` = 1/2/3 statuses in. Built on the canonical
 * conversion (`codec.ts`), the status vocabulary (`status.ts`) and the publications
 * (`publish.ts`); see docs/protocols/insighIo.md for the wire details.
 *
 * @module
 */
import { ManifestError } from '../../core/errors.js';
import type { UpdateStatus } from '../../core/status.js';
import { type Manifest, type ManifestInput, parseManifest } from '../../manifest/schema.js';
import type { CloudCodec, StatusDecodeContext, WireMessage, WireSource } from '../contract.js';
import type { Conversion } from '../conversion.js';
import { encodeStatement, STATEMENT_KEY, signedOrder } from '../signed-statement.js';
import { completeStatus } from '../update-status.js';
import { fromCanonical } from './codec.js';
import { checkInbound } from './inbound.js';
import { LIMITS } from './limits.js';
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
   * insigh.io order cannot carry (version, digests, URL, target, expiry…).
   *
   * A signed manifest also travels whole: a fifth SenML record
   * `{"n":"otakit_manifest","vs":"<base64url of the signed statement>"}`, which the firmware
   * ignores (it reads records by name). Its id must be the file id and its artifact URL the
   * device's download URL (as `toCanonical` builds them), or the device could not match it.
   * @throws ManifestError when the manifest cannot be expressed as an order, or is signed but
   *   names another file id, URL, target or name than the order, or is too large to travel
   *   (the order message is at most `LIMITS.maxMessageBytes`).
   */
  encodeOrder(manifest: Manifest | ManifestInput, target: Target): Conversion<WireMessage[]> {
    const valid = parseTarget(target);
    const conversion = fromCanonical(manifest);
    const publication = orderPublication(valid, conversion.value);
    const parsed = parseManifest(manifest);
    const { statement, lost } = signedOrder(parsed, conversion.lost, {
      what: 'signed manifest for insigh.io',
      wireVersion: false,
    });
    if (statement !== null) {
      const record = { n: STATEMENT_KEY, vs: encodeStatement(statement, 'base64url') };
      publication.payload = JSON.stringify([...(JSON.parse(publication.payload) as unknown[]), record]);
      if (new TextEncoder().encode(publication.payload).length > LIMITS.maxMessageBytes) {
        throw new ManifestError('signed manifest for insigh.io', [
          {
            path: 'signature',
            expected: `an order with its signed statement of at most ${LIMITS.maxMessageBytes} bytes (fewer signatures, shorter fields)`,
          },
        ]);
      }
    }
    return { value: [toWireMessage(publication)], lost };
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
