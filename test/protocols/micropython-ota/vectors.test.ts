/**
 * The documented vectors M1–M18 (docs/protocols/micropythonOta.md), one test each. The I/O-free
 * pieces (version check, requests, install plan) are what a device agent runs, so each vector is
 * asserted on them.
 */
import { describe, expect, it } from 'vitest';
import { isOtaError, OtaError } from '../../../src/core/errors.js';
import { manifestIntegrity } from '../../../src/manifest/schema.js';
import * as micropythonOta from '../../../src/protocols/micropython-ota/index.js';

const HOST = 'http://example.org';
const PROJECT = 'sample';
const {
  basicAuthHeaders,
  evaluateVersionCheck,
  fileRequests,
  installPlan,
  parseRemoteVersion,
  periodicCheckAction,
  readLocalVersion,
  versionFileUrl,
  versionRequest,
} = micropythonOta;

/** The device's whole boot-time cycle on the pure pieces: check, then what `version` holds after. */
function bootCycle(localFile: string | null, remoteBody: string, strictCompat: boolean) {
  const check = evaluateVersionCheck(
    readLocalVersion(localFile),
    { status: 200, body: remoteBody },
    { strictCompat },
  );
  if (!check.changed) return { check, versionFile: localFile };
  const plan = installPlan(check.version, [{ filename: 'main.py', status: 200 }], { strictCompat });
  return { check, versionFile: plan.install ? plan.versionFile.content : localFile };
}

describe('micropython_ota vectors (docs/protocols/micropythonOta.md)', () => {
  it('M1: no local version file and a remote v1.0.1 is a change to v1.0.1', () => {
    expect(readLocalVersion(null)).toBe('');
    expect(readLocalVersion(undefined)).toBe('');
    expect(evaluateVersionCheck(readLocalVersion(null), { status: 200, body: 'v1.0.1\n' })).toEqual({
      changed: true,
      version: 'v1.0.1',
      outcome: 'changed',
      status: 200,
    });
  });

  it('M2: same version is no change; the version GET has a 5 s timeout and no auth header', () => {
    const check = evaluateVersionCheck(readLocalVersion('v1.0.1'), { status: 200, body: 'v1.0.1' });
    expect(check).toMatchObject({ changed: false, version: 'v1.0.1', outcome: 'unchanged' });
    expect(versionRequest({ host: HOST, project: PROJECT })).toEqual({
      method: 'GET',
      url: 'http://example.org/sample/version',
      headers: {},
      timeoutMs: 5000,
    });
  });

  it('M3: a 404 on the version file keeps the local version, unchanged', () => {
    const check = evaluateVersionCheck('v1.0.0', { status: 404, body: '<h1>Not Found</h1>' });
    expect(check).toEqual({ changed: false, version: 'v1.0.0', outcome: 'unavailable', status: 404 });
  });

  it('M4: a network error keeps the local version and is reported, not swallowed', () => {
    const check = evaluateVersionCheck('v1.0.0', { error: new TypeError('fetch failed') });
    expect(check).toMatchObject({ changed: false, version: 'v1.0.0', outcome: 'error' });
    expect(isOtaError(check.error, 'TRANSPORT')).toBe(true);
    expect(check.error?.retryable).toBe(true);
    expect(check.error?.message).toBe('fetch failed');
  });

  it('M5: Basic auth is base64 of user:passwd', () => {
    expect(basicAuthHeaders({ user: 'hello', password: 'world' })).toEqual({
      Authorization: 'Basic aGVsbG86d29ybGQ=',
    });
    expect(basicAuthHeaders({ user: 'otauser', password: 'topsecret' })).toEqual({
      Authorization: 'Basic b3RhdXNlcjp0b3BzZWNyZXQ=',
    });
    // Sent on the version request and on every file request.
    const auth = { user: 'otauser', password: 'topsecret' };
    expect(versionRequest({ host: HOST, project: PROJECT }, { auth }).headers.Authorization).toBe(
      'Basic b3RhdXNlcjp0b3BzZWNyZXQ=',
    );
    const files = fileRequests(
      { host: HOST, project: PROJECT, version: 'v1', filenames: ['a.py', 'b.py'] },
      { auth },
    );
    expect(files.map((request) => request.headers.Authorization)).toEqual([
      'Basic b3RhdXNlcjp0b3BzZWNyZXQ=',
      'Basic b3RhdXNlcjp0b3BzZWNyZXQ=',
    ]);
  });

  it('M6: a user without a password (or the reverse) is a configuration error', () => {
    const message = 'Either only user or pass given. None or both are required.';
    expect(() => basicAuthHeaders({ user: 'otauser' })).toThrow(message);
    expect(() => basicAuthHeaders({ user: 'otauser', password: '' })).toThrow(message);
    let thrown: unknown;
    try {
      basicAuthHeaders({ password: 'topsecret' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(OtaError);
    expect(isOtaError(thrown, 'CONFIG')).toBe(true);
    expect(JSON.stringify(thrown)).not.toContain('topsecret');
    // Neither given: no header, as in Python (None and '' are both falsy).
    expect(basicAuthHeaders({ user: '', password: null })).toEqual({});
  });

  it('M7: prefix layout fetches <project>/<version>_<file>', () => {
    const [request] = fileRequests({
      host: HOST,
      project: PROJECT,
      version: 'v1.0.1',
      filenames: ['main.py'],
    });
    expect(request).toMatchObject({
      method: 'GET',
      url: 'http://example.org/sample/v1.0.1_main.py',
      timeoutMs: 5000,
    });
  });

  it('M8: subdirectory layout fetches <project>/<version>/<file>', () => {
    const [request] = fileRequests({
      host: HOST,
      project: PROJECT,
      version: 'v1.0.1',
      filenames: ['main.py'],
      layout: 'subdirectory',
    });
    expect(request?.url).toBe('http://example.org/sample/v1.0.1/main.py');
  });

  it('M9: all files found: both replaced, version written last, one hard reset', () => {
    const plan = installPlan('v1.0.1', [
      { filename: 'main.py', status: 200 },
      { filename: 'library.py', status: 200 },
    ]);
    expect(plan).toEqual({
      install: true,
      version: 'v1.0.1',
      mkdirs: ['tmp'],
      staged: [
        { filename: 'main.py', path: 'tmp/main.py', mode: 'binary' },
        { filename: 'library.py', path: 'tmp/library.py', mode: 'binary' },
      ],
      copies: [
        { from: 'tmp/main.py', to: 'main.py' },
        { from: 'tmp/library.py', to: 'library.py' },
      ],
      versionFile: { path: 'version', content: 'v1.0.1' },
      cleanup: ['tmp/main.py', 'tmp/library.py', 'tmp'],
      reset: 'hard',
    });
  });

  it('M10: soft_reset_device takes precedence over hard reset', () => {
    const files = [{ filename: 'main.py', status: 200 }];
    expect(installPlan('v1.0.1', files, { hardReset: false, softReset: true })).toMatchObject({
      reset: 'soft',
    });
    expect(installPlan('v1.0.1', files, { hardReset: true, softReset: true })).toMatchObject({
      reset: 'soft',
    });
  });

  it('M11: with both reset flags off the device is not reset', () => {
    const plan = installPlan('v1.0.1', [{ filename: 'main.py', status: 200 }], {
      hardReset: false,
      softReset: false,
    });
    expect(plan).toMatchObject({ install: true, reset: 'none' });
  });

  it('M12: one missing file installs nothing, keeps version and tmp/main.py, no reset', () => {
    const plan = installPlan('v1.0.1', [
      { filename: 'main.py', status: 200 },
      { filename: 'library.py', status: 404 },
    ]);
    expect(plan).toEqual({
      install: false,
      version: 'v1.0.1',
      missing: ['library.py'],
      staged: [{ filename: 'main.py', path: 'tmp/main.py', mode: 'binary' }],
      reset: 'none',
    });
  });

  it('M13: an older remote tag is a change (the documented rollback)', () => {
    expect(evaluateVersionCheck('v1.0.1', { status: 200, body: 'v1.0.0' })).toMatchObject({
      changed: true,
      version: 'v1.0.0',
    });
  });

  it('M14: the periodic check resets on a change and fetches no file', () => {
    const changed = evaluateVersionCheck('v1.0.0', { status: 200, body: 'v1.0.1' });
    expect(periodicCheckAction(changed)).toBe('hard');
    expect(periodicCheckAction(changed, { softReset: true })).toBe('soft');
    expect(periodicCheckAction(evaluateVersionCheck('v1.0.1', { status: 200, body: 'v1.0.1' }))).toBe('none');
  });

  it('M15: a multi-line version body loops in strictCompat; hardened reads the first line', () => {
    // Reference: installs "v2\nextra", reads back "v2", sees a change on every boot.
    const first = bootCycle('v1', 'v2\nextra', true);
    expect(first.check.version).toBe('v2\nextra');
    expect(first.versionFile).toBe('v2\nextra');
    const second = bootCycle(first.versionFile, 'v2\nextra', true);
    expect(second.check.changed).toBe(true);
    // Hardened: the tag is "v2", so the second boot is quiet.
    expect(parseRemoteVersion('v2\nextra')).toBe('v2');
    const hardFirst = bootCycle('v1', 'v2\nextra', false);
    expect(hardFirst.versionFile).toBe('v2');
    expect(bootCycle(hardFirst.versionFile, 'v2\nextra', false).check.changed).toBe(false);
  });

  it('M16: a host with a trailing slash: reference doubles it, hardened normalises', () => {
    expect(versionFileUrl({ host: 'http://h/', project: PROJECT }, { strictCompat: true })).toBe(
      'http://h//sample/version',
    );
    expect(versionFileUrl({ host: 'http://h/', project: PROJECT })).toBe('http://h/sample/version');
  });

  it('M17: a file in a sub-directory: the reference only creates tmp/, hardened creates the parents', () => {
    const files = [{ filename: 'lib/util.py', status: 200 }];
    const reference = installPlan('v1.0.1', files, { strictCompat: true });
    // open('tmp/lib/util.py', 'w') fails on the device because tmp/lib was never created.
    expect(reference).toMatchObject({ install: true, mkdirs: ['tmp'] });
    const hardened = installPlan('v1.0.1', files);
    expect(hardened).toMatchObject({
      install: true,
      mkdirs: ['tmp', 'tmp/lib', 'lib'],
      copies: [{ from: 'tmp/lib/util.py', to: 'lib/util.py' }],
      cleanup: ['tmp/lib/util.py', 'tmp/lib', 'tmp'],
    });
    const [request] = fileRequests({
      host: HOST,
      project: PROJECT,
      version: 'v1.0.1',
      filenames: ['lib/util.py'],
    });
    expect(request?.url).toBe('http://example.org/sample/v1.0.1_lib/util.py');
  });

  it('M18: binary files are written as text by the reference, as bytes when hardened', () => {
    const files = [{ filename: 'lib/fast.mpy', status: 200 }];
    expect(installPlan('v1', files, { strictCompat: true })).toMatchObject({ staged: [{ mode: 'text' }] });
    expect(installPlan('v1', files)).toMatchObject({ staged: [{ mode: 'binary' }] });
    const { value } = micropythonOta.toCanonical({
      host: HOST,
      project: PROJECT,
      version: 'v1',
      filenames: ['lib/fast.mpy'],
    });
    expect(value.artifacts[0]).toMatchObject({ name: 'lib/fast.mpy', target: 'script' });
    expect(manifestIntegrity(value)).toBe('none');
  });
});
