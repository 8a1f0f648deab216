/**
 * Reading and writing the Connhex addon's `agent.toml` (its `[ota]` table). Kept apart from the
 * rest of the Connhex codec because it needs a TOML parser (smol-toml): a dashboard or a service
 * that only speaks the wire protocol does not pay for it. Exported from `otakit/node`, where the
 * agent that reads the file runs. The settings themselves are described in
 * docs/protocols/connhex.md.
 *
 * @module
 */
import { parse, stringify, TomlError } from 'smol-toml';
import { ManifestError, type ValidationIssue } from '../../core/errors.js';
import { type WireInput, wireText } from '../../core/wire.js';
import { type ConfigOptions, type OtaConfig, type OtaConfigInput, resolveOtaSection } from './config.js';
import { formatGoDuration, goDurationProblem, MAX_GO_DURATION, msToNanoseconds } from './duration.js';
import { LIMITS } from './limits.js';

const WHAT = 'Connhex agent.toml';
const SETTINGS = 'Connhex [ota] settings';
const DEFAULT_INTERVAL_NS = 3_600_000_000_000n;

/**
 * Turns smol-toml's error into a {@link ManifestError}. The original message embeds a code block
 * of the surrounding lines, which may hold a thing key from another table of `agent.toml`: only
 * the fixed reason and the position are kept, and the original error is not attached as `cause`.
 */
function tomlIssue(error: TomlError): ValidationIssue {
  const reason = (error.message.split('\n')[0] ?? '').replace(/^Invalid TOML document:\s*/, '').slice(0, 120);
  return { path: '', expected: `valid TOML (line ${error.line}, column ${error.column}: ${reason})` };
}

function parseToml(text: string): unknown {
  try {
    // A byte-order mark is common in files saved on Windows and means nothing to TOML.
    const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
    return parse(body, {
      // Large integers elsewhere in the file must not make the whole file unreadable.
      integersAsBigInt: 'asNeeded',
      maxDepth: LIMITS.maxConfigDepth,
    });
  } catch (error) {
    if (error instanceof TomlError) throw new ManifestError(WHAT, [tomlIssue(error)]);
    throw new ManifestError(WHAT, [{ path: '', expected: 'valid TOML' }]);
  }
}

/**
 * Reads the OTA settings from `agent.toml` text (or UTF-8 bytes, or an already parsed TOML
 * table). A file without `[ota]` gives the defaults (C2); `auto_install = true` turns on
 * `auto_download` (C3); `check_interval` is a Go duration (C1) that must be positive.
 *
 * The byte limit ({@link LIMITS}.maxConfigBytes) is checked before parsing. Every failure is a
 * {@link ManifestError} (`MANIFEST_INVALID`): a TOML syntax error names its line and column but
 * never quotes the file, which may hold credentials in other tables.
 *
 * @example
 * ```ts
 * const config = parseAgentConfig(await readFile('/opt/connhex/agent.toml', 'utf8'))
 * config.checkIntervalMs // 86_400_000 for check_interval = '24h0m0s'
 * ```
 */
export function parseAgentConfig(input: WireInput, options: ConfigOptions = {}): OtaConfig {
  const text = wireText(input, { what: WHAT, maxBytes: LIMITS.maxConfigBytes });
  const document = typeof text === 'string' ? parseToml(text) : text.value;
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new ManifestError(WHAT, [{ path: '', expected: 'a TOML table' }]);
  }
  const ota = (document as Record<string, unknown>).ota;
  return resolveOtaSection(ota, options);
}

/** Like {@link parseAgentConfig}, returning a result instead of throwing. */
export function safeParseAgentConfig(
  input: WireInput,
  options: ConfigOptions = {},
): { success: true; data: OtaConfig } | { success: false; error: ManifestError } {
  try {
    return { success: true, data: parseAgentConfig(input, options) };
  } catch (error) {
    if (error instanceof ManifestError) return { success: false, error };
    throw error;
  }
}

/**
 * Writes an `[ota]` table for `agent.toml`. Every key is written explicitly, with the effective
 * values (so `auto_install = true` comes with `auto_download = true`), and the interval in the form
 * Go prints. Reading the result with {@link parseAgentConfig} gives the same settings.
 *
 * @throws ManifestError when the interval is not a positive int64 duration.
 *
 * @example
 * ```ts
 * encodeOtaSection({ autoInstall: true, checkIntervalMs: 86_400_000 })
 * // [ota]\nauto_download = true\nauto_install = true\ncheck_interval = "24h0m0s"
 * ```
 */
export function encodeOtaSection(config: OtaConfigInput): string {
  let nanoseconds = DEFAULT_INTERVAL_NS;
  let path = 'checkInterval';
  if (config.checkInterval !== undefined) {
    const parsed = goDurationProblem(config.checkInterval);
    if ('expected' in parsed) throw new ManifestError(SETTINGS, [{ path, expected: parsed.expected }]);
    nanoseconds = parsed.nanoseconds;
  } else if (config.checkIntervalMs !== undefined) {
    path = 'checkIntervalMs';
    nanoseconds = Number.isFinite(config.checkIntervalMs) ? msToNanoseconds(config.checkIntervalMs) : 0n;
  }
  // The writer must never produce a file the reader refuses.
  if (nanoseconds <= 0n || nanoseconds > MAX_GO_DURATION) {
    throw new ManifestError(SETTINGS, [{ path, expected: 'a positive duration within int64 nanoseconds' }]);
  }
  const autoInstall = config.autoInstall ?? false;
  const section = {
    auto_download: autoInstall || (config.autoDownload ?? false),
    auto_install: autoInstall,
    check_interval: formatGoDuration(nanoseconds),
  };
  return stringify({ ota: section });
}
