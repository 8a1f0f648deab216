/**
 * The Connhex Edge addon's own configuration, for a device agent: the `[ota]` table of
 * `agent.toml` (read and written with a TOML parser), its resolution into effective settings, and
 * the Go durations it is written in. Exported from `otakit/node` as `connhexAgent`, beside the
 * agent that reads the file, so the browser-safe root (which speaks only the wire protocol) does
 * not carry the TOML parser and the duration arithmetic. See docs/protocols/connhex.md,
 * "Device configuration".
 *
 * @module
 */
export { encodeOtaSection, parseAgentConfig, safeParseAgentConfig } from './agent-toml.js';
export {
  type ConfigOptions,
  DEFAULT_OTA_CONFIG,
  type OtaConfig,
  type OtaConfigInput,
  resolveOtaSection,
} from './config.js';
export {
  formatGoDuration,
  MAX_GO_DURATION,
  MIN_GO_DURATION,
  msToNanoseconds,
  nanosecondsToMs,
  parseGoDuration,
  safeParseGoDuration,
} from './duration.js';
