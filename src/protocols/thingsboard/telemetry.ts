/**
 * Telemetry messages as ThingsBoard accepts them on `v1/devices/me/telemetry`: a flat object,
 * `{"ts": …, "values": {…}}`, or an array of either. Decoding yields one entry per object, each
 * validated on its own so an error names its exact path (`[1].values.fw_state`).
 *
 * @module
 */
import { ManifestError, type ValidationIssue } from '../../core/errors.js';
import { toValidationIssues } from '../../core/validate.js';
import type { WireInput } from '../../core/wire.js';
import { decodeBoundedJson } from './json.js';
import { currentTelemetryKey, type PackageType } from './keys.js';
import { LIMITS } from './limits.js';
import { type Telemetry, TelemetrySchema, TimestampedTelemetrySchema } from './schemas.js';

/** What the device reports it runs, e.g. at boot: `{current_fw_title, current_fw_version}`. */
export function currentTelemetry(
  current: { title: string; version: string },
  type: PackageType = 'firmware',
): Telemetry {
  return {
    [currentTelemetryKey(type, 'title')]: current.title,
    [currentTelemetryKey(type, 'version')]: current.version,
  } as Telemetry;
}

/** One telemetry object and its timestamp, when the device sent one. */
export interface TelemetryEntry {
  ts?: number;
  values: Telemetry;
}

const WHAT = 'ThingsBoard telemetry';

function prefix(base: string, path: string): string {
  if (path === '') return base;
  if (base === '' || path.startsWith('[')) return `${base}${path}`;
  return `${base}.${path}`;
}

function entry(value: unknown, at: string, issues: ValidationIssue[]): TelemetryEntry | undefined {
  const timestamped = typeof value === 'object' && value !== null && 'ts' in value && 'values' in value;
  const result = (timestamped ? TimestampedTelemetrySchema : TelemetrySchema).safeParse(value);
  if (!result.success) {
    for (const issue of toValidationIssues(result.error))
      issues.push({ ...issue, path: prefix(at, issue.path) });
    return undefined;
  }
  return 'values' in result.data && timestamped
    ? (result.data as TelemetryEntry)
    : { values: result.data as Telemetry };
}

/**
 * Decodes a telemetry message in any of ThingsBoard's forms: a flat object, `{ts, values}`, or an
 * array of either (at most `LIMITS.telemetryEntries`).
 *
 * @throws ManifestError naming each bad path (`[1].values.fw_state`), or the size limit
 *   (`LIMITS.telemetryBytes`).
 */
export function decodeTelemetry(input: WireInput): TelemetryEntry[] {
  const value = decodeBoundedJson(input, { what: WHAT, maxBytes: LIMITS.telemetryBytes });
  const issues: ValidationIssue[] = [];
  const entries: TelemetryEntry[] = [];
  if (Array.isArray(value)) {
    if (value.length > LIMITS.telemetryEntries) {
      throw new ManifestError(WHAT, [{ path: '', expected: `at most ${LIMITS.telemetryEntries} entries` }]);
    }
    value.forEach((item, index) => {
      const decoded = entry(item, `[${index}]`, issues);
      if (decoded) entries.push(decoded);
    });
  } else {
    const decoded = entry(value, '', issues);
    if (decoded) entries.push(decoded);
  }
  if (issues.length > 0) throw new ManifestError(WHAT, issues);
  return entries;
}
