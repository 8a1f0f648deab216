/**
 * The Connhex agent's OTA settings: the `[ota]` table of the addon's `agent.toml`, overridden
 * field by field by settings given in code. Both go through the addon's own rules (defaults,
 * `auto_install` ⇒ `auto_download`, a positive Go duration), so a file and an option mean the same.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { OtaError } from '../../core/errors.js';
import { parseAgentConfig } from '../../protocols/connhex/agent-toml.js';
import {
  type ConfigOptions,
  DEFAULT_OTA_CONFIG,
  type OtaConfig,
  type OtaConfigInput,
  resolveOtaSection,
} from '../../protocols/connhex/config.js';
import { formatGoDuration, msToNanoseconds } from '../../protocols/connhex/duration.js';

/** The longest wait one timer can make (2³¹−1 ms, about 24.8 days); longer intervals are capped. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

function readConfigFile(path: string, options: ConfigOptions): OtaConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    const code = (cause as { code?: unknown } | null)?.code;
    throw new OtaError(
      'CONFIG',
      `Connhex agent: configFile ${JSON.stringify(path)} cannot be read (${typeof code === 'string' ? code : 'error'})`,
      { cause },
    );
  }
  return parseAgentConfig(text, options);
}

/** The `[ota]` keys an {@link OtaConfigInput} sets, for the addon's own resolver. */
function section(input: OtaConfigInput): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (input.autoDownload !== undefined) out.auto_download = input.autoDownload;
  if (input.autoInstall !== undefined) out.auto_install = input.autoInstall;
  if (input.checkInterval !== undefined) out.check_interval = input.checkInterval;
  else if (input.checkIntervalMs !== undefined) {
    if (!Number.isFinite(input.checkIntervalMs) || input.checkIntervalMs <= 0) {
      throw new OtaError('CONFIG', 'Connhex agent: config.checkIntervalMs must be a positive number of ms');
    }
    out.check_interval = formatGoDuration(msToNanoseconds(input.checkIntervalMs));
  }
  return out;
}

/**
 * The effective settings: the file's (or the addon's defaults), then each field `config` sets.
 *
 * @throws ManifestError naming `ota.<key>` for a bad value (in the file or in `config`).
 * @throws OtaError (`CONFIG`) when the file cannot be read.
 */
export function resolveConnhexConfig(
  configFile: string | undefined,
  config: OtaConfigInput | undefined,
  options: ConfigOptions = {},
): OtaConfig {
  const fromFile = configFile === undefined ? { ...DEFAULT_OTA_CONFIG } : readConfigFile(configFile, options);
  if (config === undefined) return fromFile;
  const overrides = section(config);
  const merged = resolveOtaSection({
    // The file's effective values: `autoInstall: false` in code over `auto_install = true` in
    // the file keeps the download the file implied (set `autoDownload: false` to drop it too).
    auto_download: fromFile.autoDownload,
    auto_install: fromFile.autoInstall,
    check_interval: fromFile.checkInterval,
    ...overrides,
  });
  return merged;
}
