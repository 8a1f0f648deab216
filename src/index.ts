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
export type * from './core/credentials.js';
export * from './core/encoding.js';
export * from './core/errors.js';
export * from './core/logger.js';
export {
  GENERIC_SECRETS,
  mergeSecrets,
  redactHeadersWith,
  redactTextWith,
  redactUrlWith,
  type SecretPatterns,
} from './core/redact.js';
export * from './core/retry.js';
export * from './core/states.js';
export * from './core/status.js';
export * from './core/status.js';
export * from './core/store.js';
export * from './core/validate.js';
export * from './core/wire.js';
export * from './machine/create-machine.js';
export * from './machine/device-machine.js';
export * from './machine/events.js';
export * from './machine/hooks.js';
export {
  type EnterOptions,
  MachineBase,
  type MachineCommonOptions,
  machineStoreKey,
} from './machine/machine-base.js';
export {
  DEFAULT_RETRIES,
  DEFAULT_TIMEOUTS,
  type PhaseRetries,
  type PhaseTimeouts,
} from './machine/phase-runner.js';
export * from './machine/record.js';
export * from './machine/tracker-machine.js';
export * from './machine/verify-staged.js';
export * from './machine/wait-for.js';
export * from './manifest/hash.js';
export * from './manifest/schema.js';
export * as connhex from './protocols/connhex/index.js';
export type * from './protocols/contract.js';
export type { Conversion, Loss, StatusMapping } from './protocols/conversion.js';
export * as degu from './protocols/degu/index.js';
export { PROTOCOL_DESCRIPTORS, PROTOCOL_NAMES, type ProtocolName } from './protocols/descriptors.js';
export * as exosite from './protocols/exosite/index.js';
export * as insighIo from './protocols/insighio/index.js';
export * as micropythonOta from './protocols/micropython-ota/index.js';
export { KNOWN_SECRETS, redactHeaders, redactText, redactUrl } from './protocols/secrets.js';
export { STATUS_MAPPINGS, type StatusMappings } from './protocols/status-mappings.js';
export * as thingsBoard from './protocols/thingsboard/index.js';
export { completeStatus, type PartialStatus } from './protocols/update-status.js';
export * from './transport/auth.js';
export * from './transport/download.js';
export * from './transport/download-sink.js';
export * from './transport/http-headers.js';
export * from './transport/mqtt-connection.js';
