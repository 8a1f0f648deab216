/**
 * `npm run demo`: a staged OTA rollout over all six platforms, end to end on loopback, nothing to
 * configure (`npm run demo -- --help` for the options).
 *
 * - The cloud side of each platform, for real: an embedded aedes MQTT broker, the HTTP servers
 *   (package, release, device-API servers), each platform's publisher feeding a `Fleet`, and one
 *   rollout orchestrator per platform (canary, then 100 %, a failure-rate threshold that pauses).
 * - A simulated fleet of devices running the real device agents (`createDeguAgent`,
 *   `createInsighioAgent`…): real downloads over loopback, digests, installs into temp directories.
 * - One injected failing device (a corrupt artifact) trips its rollout's threshold; the demo
 *   resumes it, and every healthy device must reach `committed` (exit code 0, else 1).
 * - Live progress bars on a terminal, plain lines elsewhere; a summary table at the end;
 *   `--serve` keeps the dashboard running.
 *
 * The parts are in examples/demo/: one file per platform's wiring in platforms/.
 */
import { main } from './demo/main.js';

process.exitCode = await main(process.argv.slice(2));
