/**
 * ThingsBoard's REST answer for a device's latest telemetry, `{"fw_state": [{"ts": …, "value":
 * "DOWNLOADING"}], …}`, turned back into the telemetry message a device posts, so the protocol's
 * `decodeStatus` reads it as it reads a device's message.
 *
 * @module
 */
import { ManifestError } from '../../core/errors.js';

const WHAT = 'ThingsBoard latest telemetry';

interface Latest {
  ts: number;
  value: string;
}

function readLatest(key: string, entries: unknown): Latest | undefined {
  if (!Array.isArray(entries) || entries.length === 0) return undefined;
  const entry = entries[0] as { ts?: unknown; value?: unknown } | null;
  if (typeof entry?.ts !== 'number' || (typeof entry.value !== 'string' && typeof entry.value !== 'number')) {
    throw new ManifestError(WHAT, [{ path: `${key}[0]`, expected: '{ ts: number, value: string }' }]);
  }
  return { ts: entry.ts, value: String(entry.value) };
}

/**
 * The telemetry message of the latest values: `{"ts": …, "values": {…}}`, or `null` when there
 * are none. Values are kept only when sent with the newest `*_state` (the same message): an
 * `fw_error` or a `current_fw_version` of an earlier update must not be read into this one.
 * Without a state, the `current_*` values alone (what the device reported at boot).
 * @throws ManifestError when the answer is not ThingsBoard's shape.
 */
export function latestToTelemetry(text: string): { ts: number; values: Record<string, string> } | null {
  let body: unknown;
  try {
    body = JSON.parse(text === '' ? '{}' : text);
  } catch {
    throw new ManifestError(WHAT, [{ path: '', expected: 'a JSON object' }]);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ManifestError(WHAT, [{ path: '', expected: 'a JSON object of key → [{ ts, value }]' }]);
  }
  const latest = new Map<string, Latest>();
  for (const [key, entries] of Object.entries(body)) {
    const value = readLatest(key, entries);
    if (value !== undefined) latest.set(key, value);
  }
  if (latest.size === 0) return null;
  const state = [...latest].find(([key]) => /^(fw|sw)_state$/.test(key))?.[1];
  const kept = [...latest].filter(([key, value]) =>
    state === undefined ? key.startsWith('current_') : value.ts === state.ts,
  );
  if (kept.length === 0) return null;
  const ts = Math.max(...kept.map(([, value]) => value.ts));
  return { ts, values: Object.fromEntries(kept.map(([key, value]) => [key, value.value])) };
}
