/**
 * The `[ota]` section of the Connhex Edge `agent.toml`: read it (with smol-toml) into the
 * effective settings, and write it back. Defaults and the `auto_install ⇒ auto_download` rule
 * are the addon's (docs/protocols/connhex.md, "Device configuration").
 *
 * @module
 */
import { parse, stringify, TomlError } from 'smol-toml';
import { ManifestError, type ValidationIssue } from '../../core/errors.js';
import { parseWith } from '../../core/validate.js';
import { type WireInput, wireText } from '../../core/wire.js';
import {
  formatGoDuration,
  goDurationProblem,
  MAX_GO_DURATION,
  msToNanoseconds,
  nanosecondsToMs,
} from './duration.js';
import { LIMITS } from './limits.js';
import { CompatOtaSectionSchema, type OtaSection, OtaSectionSchema } from './schemas.js';

/** The OTA settings the addon acts on, after defaults and implications. */
export interface OtaConfig {
  /** Download new releases without being asked (already `true` when `autoInstall` is). */
  autoDownload: boolean;
  /** Run `update.sh` of a downloaded release. */
  autoInstall: boolean;
  /**
   * Milliseconds between checks (the first check runs at startup). May exceed the 2³¹−1 ms a
   * single `setTimeout` can wait: schedulers must chain timers for intervals over ~24.8 days.
   */
  checkIntervalMs: number;
  /** The same interval as Go prints it, e.g. `'24h0m0s'`; exact to the nanosecond. */
  checkInterval: string;
}

/** The addon's defaults: no automatic download or install, a check every hour. */
export const DEFAULT_OTA_CONFIG: Readonly<OtaConfig> = Object.freeze({
  autoDownload: false,
  autoInstall: false,
  checkIntervalMs: 3_600_000,
  checkInterval: '1h0m0s',
});

export interface ConfigOptions {
  /**
   * Read `[ota]` as the Go agent does: unknown keys are ignored. By default (hardened) an
   * unknown key is an error, since a misspelt key silently keeps the default.
   * @default false
   */
  strictCompat?: boolean;
}

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
 * Resolves an already parsed `[ota]` table (or `undefined` when the file has none) into the
 * effective {@link OtaConfig}.
 *
 * @throws ManifestError naming `ota.<key>` and what was expected.
 */
export function resolveOtaSection(section: unknown, options: ConfigOptions = {}): OtaConfig {
  if (section === undefined) return { ...DEFAULT_OTA_CONFIG };
  const schema = options.strictCompat ? CompatOtaSectionSchema : OtaSectionSchema;
  let ota: OtaSection;
  try {
    ota = parseWith(schema, section, WHAT);
  } catch (error) {
    if (error instanceof ManifestError) {
      throw new ManifestError(
        WHAT,
        error.issues.map((issue) => ({ ...issue, path: issue.path === '' ? 'ota' : `ota.${issue.path}` })),
      );
    }
    throw error;
  }
  const autoInstall = ota.auto_install ?? false;
  let checkIntervalMs = DEFAULT_OTA_CONFIG.checkIntervalMs;
  let checkInterval = DEFAULT_OTA_CONFIG.checkInterval;
  if (ota.check_interval !== undefined) {
    const parsed = goDurationProblem(ota.check_interval);
    if ('expected' in parsed) {
      throw new ManifestError(WHAT, [{ path: 'ota.check_interval', expected: parsed.expected }]);
    }
    // Go's time.NewTicker panics on a non-positive interval; a zero interval would also spin.
    if (parsed.nanoseconds <= 0n) {
      throw new ManifestError(WHAT, [
        {
          path: 'ota.check_interval',
          expected: 'a positive Go duration such as "1h" (not zero or negative)',
        },
      ]);
    }
    checkIntervalMs = nanosecondsToMs(parsed.nanoseconds);
    checkInterval = formatGoDuration(parsed.nanoseconds);
  }
  return {
    autoDownload: autoInstall || (ota.auto_download ?? false),
    autoInstall,
    checkIntervalMs,
    checkInterval,
  };
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

/** Settings to write; what is left out takes the addon's default. */
export interface OtaConfigInput {
  autoDownload?: boolean;
  autoInstall?: boolean;
  /** Interval in milliseconds (rounded to the nanosecond), used when `checkInterval` is absent. */
  checkIntervalMs?: number;
  /**
   * Interval as Go duration text, e.g. `'24h'`; written in Go's own form (`'24h0m0s'`). Exact, so it
   * wins over `checkIntervalMs`: `encodeOtaSection(parseAgentConfig(text))` keeps every nanosecond.
   */
  checkInterval?: string;
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
