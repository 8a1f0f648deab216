/**
 * otakit: typed over-the-air updates for IoT devices and fleets. The root entry is browser-safe
 * (web standards only: no `node:*`, no `mqtt`), for device agents, Node services and dashboards.
 *
 * @example
 * ```ts
 * import { createUpdateMachine, waitFor } from 'otakit'
 *
 * const machine = createUpdateMachine({ id: 'pi-42', hooks: { download, install } })
 * machine.on('transition', ({ from, to }) => console.log(from, '->', to))
 * await machine.resume()
 * const outcome = await machine.apply(manifest)
 * ```
 *
 * @module
 */
export * from './core/abort.js';
export * from './core/clock.js';
export * from './core/create-machine.js';
export * from './core/device-machine.js';
export * from './core/encoding.js';
export * from './core/errors.js';
export * from './core/events.js';
export * from './core/hooks.js';
export * from './core/logger.js';
export {
  type EnterOptions,
  MachineBase,
  type MachineCommonOptions,
  machineStoreKey,
} from './core/machine-base.js';
export {
  DEFAULT_RETRIES,
  DEFAULT_TIMEOUTS,
  type PhaseRetries,
  type PhaseTimeouts,
} from './core/phase-runner.js';
export * from './core/record.js';
export * from './core/redact.js';
export * from './core/retry.js';
export * from './core/states.js';
export * from './core/store.js';
export * from './core/tracker-machine.js';
export * from './core/validate.js';
export * from './core/wait-for.js';
export * from './core/wire.js';
export * from './manifest/hash.js';
export * from './manifest/schema.js';
export * from './manifest/verify-staged.js';
export * as connhex from './protocols/connhex/index.js';
export type { Conversion, Loss, StatusMapping } from './protocols/conversion.js';
export * as degu from './protocols/degu/index.js';
export * as exosite from './protocols/exosite/index.js';
export * as insighIo from './protocols/insighio/index.js';
export * as micropythonOta from './protocols/micropython-ota/index.js';
export { type ProtocolName, STATUS_MAPPINGS } from './protocols/status-mappings.js';
export * as thingsBoard from './protocols/thingsboard/index.js';
export * from './transport/auth.js';
export * from './transport/download.js';
export * from './transport/download-sink.js';
export * from './transport/http-headers.js';
export * from './transport/mqtt-connection.js';
