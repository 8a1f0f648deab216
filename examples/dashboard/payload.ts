/**
 * What the demo's `--serve` streams to the dashboard (Server-Sent Events, `event: snapshot`, one
 * JSON payload per message) and answers at `GET /api/snapshot`: every platform's fleet and every
 * rollout, as the root `otakit` entry types them.
 */
import type { FleetSnapshot, RolloutSnapshot } from '../../src/index.js';

export interface DemoPlatformSnapshot {
  /** The protocol name (`insighIo`, `degu`…). */
  platform: string;
  /** Its display title (`insigh.io`, `Degu`…). */
  title: string;
  fleet: FleetSnapshot;
}

export interface DemoStreamPayload {
  /** ISO 8601 time of the payload. */
  at: string;
  platforms: DemoPlatformSnapshot[];
  rollouts: RolloutSnapshot[];
  /** Every rollout ended (the demo is only serving from now on). */
  done: boolean;
}
