/**
 * What each protocol gives the registry-driven contract suite (test/protocols/contract.test.ts):
 * one file per registered protocol, `test/protocols/contract-fixtures/<registry name>.ts`,
 * default-exporting a {@link ContractFixture}. The suite finds the file by the registry name, so
 * a new protocol without one fails the suite.
 */
import type { InboundMessage, ManifestInput, WireMessage } from '../../../src/index.js';

export interface ContractFixture<Target = unknown> {
  /** A valid target (one device), built from the protocol's documented vectors. */
  target: Target;
  /** The id a tracker of this device uses (the device id, thing name…). */
  machineId: string;
  /**
   * A manifest this protocol can carry (URLs the format accepts, the digests it carries; extra
   * fields are fine, they show up in `lost`).
   */
  manifest: ManifestInput;
  /**
   * What a device receives when the cloud side has sent `messages`: for MQTT/NATS the same
   * topic and payload; for HTTP-pull protocols the response the server would give to the
   * device's request (e.g. the `version` file body, the HEAD response headers).
   */
  deliverOrder(messages: WireMessage[], target: Target): InboundMessage[];
  /** Same for statuses: what the cloud receives when the device sent `messages`. */
  deliverStatus(messages: WireMessage[], target: Target): InboundMessage[];
  /**
   * Credentials that occur in the target (device key, token, password), to check that no
   * address or payload redacted with `redactUrl`/`redactText` shows them. Empty when none.
   */
  secrets: string[];
  /** Whether the device reports statuses the cloud can read (micropython_ota has none). */
  reportsStatus: boolean;
  /** Whether the platform can withdraw an order (so `encodeWithdrawal` decodes to `null`). */
  canWithdraw: boolean;
}
