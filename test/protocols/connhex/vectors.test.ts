import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  IntegrityError,
  isOtaError,
  manifestIntegrity,
  type OtaError,
  type SerializedOtaError,
  type UpdateState,
  verifyStaged,
} from '../../../src/index.js';
import { connhexAgent } from '../../../src/node/index.js';
import * as connhex from '../../../src/protocols/connhex/index.js';
import { AT, SHA, SHA_B64 } from './support.js';

const RUNS = Number(process.env.OTAKIT_PROPERTY_RUNS ?? 1000);

const URL_ = 'https://apis.example.com/iot/ota/dev-42';
const CURRENT = '0.0.2';

/** The statuses the addon publishes while walking through `states` (null words are skipped). */
function wireSequence(
  states: UpdateState[],
  version: string,
  error?: SerializedOtaError,
): connhex.StatusMessage[] {
  const out: connhex.StatusMessage[] = [];
  let previous: UpdateState | null = 'checking';
  for (const state of states) {
    const failed = state.endsWith('_failed');
    const wire = connhex.toWireStatus(
      { state, previous, version, at: AT, ...(failed && error ? { error } : {}) },
      { currentVersion: CURRENT, lastChecked: AT },
    );
    if (wire) out.push(wire);
    previous = state;
  }
  return out;
}

/** The canonical path the addon's flags allow after an available release (docs/protocols/connhex.md). */
function plannedStates(decision: connhex.CheckDecision): UpdateState[] {
  if (decision.kind !== 'available') return [];
  const states: UpdateState[] = ['available'];
  if (decision.download) states.push('downloading', 'downloaded');
  if (decision.install) states.push('installing', 'installed', 'committed');
  return states;
}

const head = (version: string, extra: Record<string, string> = {}): connhex.CheckResponse => ({
  status: 200,
  headers: { Version: `"${version}"`, 'Content-Length': '4096', ...extra },
});

describe('Connhex vectors (docs/protocols/connhex.md)', () => {
  it("C1: check_interval='24h0m0s' is 86 400 000 ms; '1h', '1h30m', '90s'", () => {
    const interval = (text: string) =>
      connhexAgent.parseAgentConfig(`[ota]\ncheck_interval = '${text}'\n`).checkIntervalMs;
    expect(interval('24h0m0s')).toBe(86_400_000);
    expect(interval('1h')).toBe(3_600_000);
    expect(interval('1h30m')).toBe(5_400_000);
    expect(interval('90s')).toBe(90_000);
  });

  it('C2: a config without [ota] gives auto_download=false, auto_install=false, 1 h', () => {
    expect(connhexAgent.parseAgentConfig('[log]\nlevel = "debug"\n')).toEqual({
      autoDownload: false,
      autoInstall: false,
      checkIntervalMs: 3_600_000,
      checkInterval: '1h0m0s',
    });
    expect(connhexAgent.parseAgentConfig('')).toEqual(connhexAgent.DEFAULT_OTA_CONFIG);
  });

  it('C3: auto_install=true, auto_download=false gives effective auto_download=true', () => {
    const config = connhexAgent.parseAgentConfig('[ota]\nauto_install = true\nauto_download = false\n');
    expect(config).toMatchObject({ autoInstall: true, autoDownload: true });
  });

  it('C4: current 0.0.2, HEAD 200 Version 0.0.3, both flags off: update_available, latest 0.0.3, no GET', () => {
    const config = connhexAgent.parseAgentConfig('[ota]\n');
    const decision = connhex.decideUpdate(head('0.0.3'), CURRENT, { config });
    expect(decision).toEqual({
      kind: 'available',
      release: { version: '0.0.3', size: 4096 },
      download: false,
      install: false,
    });
    expect(plannedStates(decision)).toEqual(['available']); // no download: no GET
    expect(wireSequence(plannedStates(decision), '0.0.3')).toEqual([
      {
        current_version: '0.0.2',
        latest_version: '0.0.3',
        status: 'update_available',
        error: '',
        last_checked: AT,
      },
    ]);
  });

  it('C5: auto_download only: downloading → file in .store/ota/ → update_ready; no install', () => {
    const config = connhexAgent.parseAgentConfig('[ota]\nauto_download = true\n');
    const decision = connhex.decideUpdate(head('0.0.3'), CURRENT, { config });
    expect(decision).toMatchObject({ kind: 'available', download: true, install: false });
    const statuses = wireSequence(plannedStates(decision), '0.0.3').map((message) => message.status);
    expect(statuses).toEqual(['update_available', 'downloading', 'update_ready']);
    expect(connhex.storePaths().storeDir).toBe('/opt/connhex/.store/ota');
  });

  it('C6: auto_install, zip {update.sh, new_service.py}: downloading → update_ready → updating → updated', () => {
    const config = connhexAgent.parseAgentConfig('[ota]\nauto_install = true\n');
    const decision = connhex.decideUpdate(head('0.0.3'), CURRENT, { config });
    expect(decision).toMatchObject({ kind: 'available', download: true, install: true });
    const checked = connhex.checkPackageEntries([{ name: 'update.sh' }, { name: 'new_service.py' }]);
    expect(checked.entrypoint).toBe('update.sh');
    const paths = connhex.storePaths('/opt/connhex');
    expect(paths.extractDir).toBe('/opt/connhex/.store/ota/current');
    expect(paths.entrypoint).toBe('/opt/connhex/.store/ota/current/update.sh');
    expect(connhex.updateScriptResult({ code: 0 })).toBeUndefined();
    const sequence = wireSequence(plannedStates(decision), '0.0.3');
    expect(sequence.map((message) => message.status)).toEqual([
      'update_available',
      'downloading',
      'update_ready',
      'updating',
      'updated',
    ]);
    expect(sequence.at(-1)).toMatchObject({ current_version: '0.0.3', latest_version: '0.0.3', error: '' });
  });

  it('C7: update.sh exits 1: update_failed with a non-empty error', () => {
    const failure = connhex.updateScriptResult({ code: 1 });
    expect(failure?.code).toBe('INSTALL');
    const sequence = wireSequence(['installing', 'install_failed'], '0.0.3', failure!.toJSON());
    expect(sequence.at(-1)).toMatchObject({
      status: 'update_failed',
      error: 'update.sh exited with status 1',
    });
    // Without an error object the addon still says what failed.
    expect(wireSequence(['install_failed'], '0.0.3').at(-1)!.error).not.toBe('');
  });

  it('C8: HEAD 500 or a network error: check_failed, error set, last_checked updated', () => {
    const decision = connhex.decideUpdate({ status: 500, headers: {} }, CURRENT);
    expect(decision.kind).toBe('failed');
    if (decision.kind !== 'failed') return;
    expect(decision.error).toMatchObject({ code: 'TRANSPORT', retryable: true, status: 500 });
    const now = '2025-03-02T08:00:00.000Z';
    for (const error of [
      decision.error.toJSON(),
      { name: 'TypeError', code: 'CHECK' as const, message: 'fetch failed', retryable: true },
    ]) {
      const wire = connhex.toWireStatus(
        { state: 'check_failed', previous: 'checking', version: null, at: now, error },
        { currentVersion: CURRENT, lastChecked: AT },
      );
      expect(wire).toMatchObject({ status: 'check_failed', last_checked: now, current_version: CURRENT });
      expect(wire!.error).not.toBe('');
    }
  });

  it('C9: GET aborted half-way: download_failed; the next check resumes with Range: bytes=<n>-', () => {
    const aborted = {
      name: 'AbortError',
      code: 'DOWNLOAD' as const,
      message: 'connection reset after 2048 bytes',
      retryable: true,
    };
    expect(
      wireSequence(['downloading', 'download_failed'], '0.0.3', aborted).map((m) => [m.status, m.error]),
    ).toEqual([
      ['downloading', ''],
      ['download_failed', 'connection reset after 2048 bytes'],
    ]);
    const retry = connhex.requestHeaders({ credentials: { key: 'k' }, etag: '"r-42"', resumeFrom: 2048 });
    expect(retry).toMatchObject({ Range: 'bytes=2048-', 'If-Match': '"r-42"' });
    expect(connhex.parseContentRange('bytes 2048-4095/4096')).toEqual({ start: 2048, end: 4095, size: 4096 });
    // The tracker reads the failure as retryable (the addon retries at the next check).
    const fields = connhex.fromWireStatus(
      connhex.decodeStatusMessage(JSON.stringify(wireSequence(['download_failed'], '0.0.3', aborted)[0])),
    );
    expect(fields).toMatchObject({ state: 'download_failed', error: { code: 'DOWNLOAD', retryable: true } });
  });

  it('C10: a zip without update.sh ends in update_failed', () => {
    let error: unknown;
    try {
      connhex.checkPackageEntries([{ name: 'new_service.py' }]);
    } catch (caught) {
      error = caught;
    }
    expect(isOtaError(error, 'INSTALL')).toBe(true);
    const wire = connhex.toWireStatus(
      {
        state: 'install_failed',
        previous: 'installing',
        version: '0.0.3',
        at: AT,
        error: (error as OtaError).toJSON(),
      },
      { currentVersion: CURRENT },
    );
    expect(wire).toMatchObject({
      status: 'update_failed',
      error: 'Release package has no update.sh at its root',
    });
  });

  it('C11: artifact API HEAD with Version: 1.2.0 when nothing is newer: 204, no body, no update', () => {
    const headers = connhex.requestHeaders({ credentials: { key: 'k', scheme: 'Bearer' }, version: '1.2.0' });
    expect(headers.Version).toBe('1.2.0');
    expect(connhex.decideUpdate({ status: 204, headers: {} }, '1.2.0')).toEqual({
      kind: 'up-to-date',
      reason: 'no-eligible-release',
    });
  });

  it('C12: Content-Digest sha256= present: the SHA-256 is verified before install (hardened)', () => {
    for (const digest of [`sha-256=:${SHA_B64}:`, `sha256=${SHA}`, `sha256=${SHA_B64}`]) {
      const decision = connhex.decideUpdate(head('0.0.3', { 'Content-Digest': digest }), CURRENT);
      if (decision.kind !== 'available') throw new Error('expected an available release');
      const { value: manifest } = connhex.toCanonical({ url: URL_, ...decision.release });
      expect(manifestIntegrity(manifest)).toBe('sha256');
      expect(manifest.artifacts[0]!.sha256).toBe(SHA);
      expect(() => verifyStaged(manifest, [{ location: 'a.zip', size: 4096, sha256: SHA }])).not.toThrow();
      expect(() =>
        verifyStaged(manifest, [{ location: 'a.zip', size: 4096, sha256: '0'.repeat(64) }]),
      ).toThrow(IntegrityError);
    }
    // A digest mismatch is reported as download_failed: the next check downloads again.
    const mismatch = new IntegrityError('release.zip', {
      algorithm: 'sha256',
      expected: SHA,
      actual: '0'.repeat(64),
    });
    expect(wireSequence(['verify_failed'], '0.0.3', mismatch.toJSON())[0]).toMatchObject({
      status: 'download_failed',
      error: expect.stringContaining('sha256 mismatch'),
    });
    // A digest header that cannot be read fails the check instead of skipping verification.
    expect(connhex.decideUpdate(head('0.0.3', { 'Content-Digest': 'sha256=zz' }), CURRENT).kind).toBe(
      'failed',
    );
  });

  it('C13: HEAD Version equal to current: no download; inequality means 0.9 → 0.8 would downgrade', () => {
    const config = { autoDownload: true, autoInstall: true };
    expect(connhex.decideUpdate(head('0.0.2'), CURRENT, { config })).toMatchObject({
      kind: 'up-to-date',
      reason: 'same-version',
    });
    expect(connhex.decideUpdate(head('0.8'), '0.9', { config })).toMatchObject({
      kind: 'available',
      release: { version: '0.8' },
      install: true,
    });
    const compareVersions = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });
    expect(connhex.decideUpdate(head('0.8'), '0.9', { config, compareVersions })).toMatchObject({
      kind: 'up-to-date',
      reason: 'not-newer',
    });
  });
});

describe('decideUpdate beyond the vectors', () => {
  it('maps HTTP failures to check failures with the right retryability, never echoing headers', () => {
    const cases: [number, string, boolean][] = [
      [401, 'credentials', false],
      [403, 'credentials', false],
      [404, 'no firmware release', true],
      [400, 'firmware id or Version', false],
      [429, 'HTTP 429', true],
      [503, 'HTTP 503', true],
      [302, 'HTTP 302', false],
      [412, 'HTTP 412', false],
    ];
    for (const [status, text, retryable] of cases) {
      const decision = connhex.decideUpdate(
        { status, headers: { Authorization: 'Thing SECRET-KEY', Version: '"9"' } },
        CURRENT,
      );
      expect(decision.kind, String(status)).toBe('failed');
      if (decision.kind !== 'failed') continue;
      expect(decision.error.message).toContain(text);
      expect(decision.error.message).not.toContain('SECRET-KEY');
      expect(decision.error.retryable, String(status)).toBe(retryable);
    }
    expect(connhex.decideUpdate({ status: 304, headers: {} }, CURRENT)).toEqual({
      kind: 'up-to-date',
      reason: 'not-modified',
    });
  });

  it('a 200 without a readable Version fails with MANIFEST_INVALID', () => {
    const decision = connhex.decideUpdate({ status: 200, headers: {} }, CURRENT);
    expect(decision.kind === 'failed' && isOtaError(decision.error, 'MANIFEST_INVALID')).toBe(true);
    const missingDigest = connhex.decideUpdate(head('0.0.3'), CURRENT, { requireDigest: true });
    expect(missingDigest.kind).toBe('failed');
  });

  it('with a version order, enforces Min-Version (inclusive) and Max-Version (exclusive)', () => {
    const compareVersions = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });
    const windowed = head('2.0.0', { 'Min-Version': '"1.0.0"', 'Max-Version': '"1.5.0"' });
    expect(connhex.decideUpdate(windowed, '1.0.0', { compareVersions }).kind).toBe('available');
    expect(connhex.decideUpdate(windowed, '0.9.0', { compareVersions })).toMatchObject({
      reason: 'not-eligible',
    });
    expect(connhex.decideUpdate(windowed, '1.5.0', { compareVersions })).toMatchObject({
      reason: 'not-eligible',
    });
    // Without an order the window cannot be judged: the addon's inequality rule applies.
    expect(connhex.decideUpdate(windowed, '1.5.0').kind).toBe('available');
    // Nothing installed yet: any release is an update.
    expect(connhex.decideUpdate(windowed, '', { compareVersions }).kind).toBe('available');
  });

  it('arbitrary responses give a decision, never a throw (1000 runs)', () => {
    const headers = fc.dictionary(
      fc.constantFrom('Version', 'Content-Length', 'Content-Digest', 'ETag', 'Min-Version', 'x'),
      fc.oneof(fc.string(), fc.constantFrom('"1.0"', `sha256=${SHA}`, '12')),
    );
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 599 }), headers, fc.string(), (status, h, current) => {
        const decision = connhex.decideUpdate({ status, headers: h }, current);
        expect(['available', 'up-to-date', 'failed']).toContain(decision.kind);
        if (decision.kind === 'failed') expect(isOtaError(decision.error)).toBe(true);
        if (decision.kind === 'available') expect(decision.release.version).not.toBe(current);
      }),
      { numRuns: RUNS },
    );
  });
});
