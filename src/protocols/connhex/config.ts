/**
 * The `[ota]` section of the Connhex Edge `agent.toml`: the effective settings, resolved from an
 * already parsed table. Defaults and the `auto_install ⇒ auto_download` rule are the addon's
 * (docs/protocols/connhex.md, "Device configuration"). Reading and writing the TOML file itself
 * is in `agent-toml.ts` (exported from `otakit/node`).
 *
 * @module
 */
import { ManifestError } from '../../core/errors.js';
import { parseWith } from '../../core/validate.js';
import { formatGoDuration, goDurationProblem, nanosecondsToMs } from './duration.js';
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
