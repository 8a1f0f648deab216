import { describe, expect, it } from 'vitest';
import { isOtaError, manifestIntegrity } from '../../../src/index.js';
import { exositeProvisioning } from '../../../src/node/index.js';
import * as exosite from '../../../src/protocols/exosite/index.js';

const TOKEN = 'f3b2c1d0e9a8f7b6c5d4e3f2a1b0c9d8e7f6a5b4';
const PID = 'd1zzd6dflnt50000';

const E3_MANIFEST = {
  version: '1.0.2',
  name: 'Firmware update',
  description: 'firmware package updated',
  type: 'URL_LIST',
  payload: ['firmware_updatev102.txt'],
} as const;

function decodeError(run: () => unknown) {
  try {
    run();
  } catch (error) {
    if (isOtaError(error, 'MANIFEST_INVALID')) return error;
    throw error;
  }
  throw new Error('expected a MANIFEST_INVALID error');
}

describe('Exosite test vectors (docs/protocols/exosite.md)', () => {
  it('E1: boot with 2.0.5-stable installed writes INSTALLED_VERSION to otau_in', () => {
    const status = exosite.statusFromCanonical({ state: 'idle', version: '2.0.5-stable' });
    expect(status).not.toBeNull();
    const value = exosite.encodeStatus(status!);
    expect(JSON.parse(value)).toEqual({ version: '2.0.5-stable', status: 'INSTALLED_VERSION', message: '' });

    const request = exosite.writeRequest({ token: TOKEN, values: { otau_in: value } });
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/onep:v1/stack/alias');
    expect(request.headers['Content-Type']).toBe('application/x-www-form-urlencoded; charset=utf-8');
    expect(request.headers['X-Exosite-CIK']).toBe(TOKEN);
    expect(exosite.decodeForm(request.body!)).toEqual({ otau_in: value });
  });

  it('E2: a long poll that times out (304) is re-polled at once with the same request', async () => {
    const first = exosite.longPollRequest({ token: TOKEN, timeoutMs: 30_000 });
    expect(first.method).toBe('GET');
    expect(first.path).toBe('/onep:v1/stack/alias?config_otau');
    expect(first.headers).toEqual({
      'X-Exosite-CIK': TOKEN,
      Accept: 'application/x-www-form-urlencoded; charset=utf-8',
      'Request-Timeout': '30000',
    });
    expect(exosite.decodeLongPollResponse({ status: 304 })).toEqual({ kind: 'timeout' });

    // A minimal poll loop over a fake server: three timeouts, then a write. No delay between polls.
    const answers = [
      { status: 304 },
      { status: 304 },
      { status: 304 },
      { status: 200, body: 'config_otau=x' },
    ];
    const seen: exosite.ExositeRequest[] = [];
    let since: string | null = null;
    let result: exosite.LongPollResult = { kind: 'timeout' };
    while (result.kind === 'timeout') {
      const request = exosite.longPollRequest({ token: TOKEN, timeoutMs: 30_000, ifModifiedSince: since });
      seen.push(request);
      const answer = answers.shift()!;
      result = exosite.decodeLongPollResponse(
        answer,
        answer.status === 200 ? 'Tue, 15 Nov 1994 08:12:31 GMT' : null,
      );
      if (result.kind === 'changed') since = result.lastModified;
    }
    expect(seen).toHaveLength(4);
    for (const request of seen) expect(request).toEqual(first);
    expect(result).toEqual({
      kind: 'changed',
      alias: 'config_otau',
      value: 'x',
      lastModified: 'Tue, 15 Nov 1994 08:12:31 GMT',
    });
    // The next poll passes Last-Modified back, so a write between polls is not missed.
    expect(
      exosite.longPollRequest({ token: TOKEN, timeoutMs: 30_000, ifModifiedSince: since }).headers[
        'If-Modified-Since'
      ],
    ).toBe('Tue, 15 Nov 1994 08:12:31 GMT');
  });

  it('E3: a 200 poll body is URL-decoded, JSON-parsed, and acknowledged with the same string', () => {
    const value = JSON.stringify(E3_MANIFEST);
    // As the vector shows it: %7B%22version%22%3A%221.0.2%22%2C...%7D
    const body = `config_otau=${encodeURIComponent(value)}`;
    expect(body.startsWith('config_otau=%7B%22version%22%3A%221.0.2%22%2C')).toBe(true);
    expect(body.endsWith('%7D')).toBe(true);

    const result = exosite.decodeLongPollResponse({ status: 200, body }, '1526046488');
    if (result.kind !== 'changed') throw new Error('expected a change');
    expect(result.value).toBe(value);
    expect(exosite.decodeManifest(result.value)).toEqual(E3_MANIFEST);

    const ack = exosite.acknowledgeRequest({ token: TOKEN, value: result.value });
    expect(ack.method).toBe('POST');
    expect(ack.path).toBe('/onep:v1/stack/alias');
    expect(ack.body!.startsWith('config_otau=%7B%22version%22%3A%221.0.2%22%2C')).toBe(true);
    // The same string is written back; only the form spelling of a space may differ (+ vs %20).
    expect(exosite.decodeForm(ack.body!)).toEqual({ config_otau: value });
    expect(ack.body).toBe(body.replace(/%20/g, '+'));
  });

  it('E4: a payload item without a host is downloaded through the content API by id', () => {
    const manifest = exosite.decodeManifest(JSON.stringify(E3_MANIFEST));
    if (manifest.type !== 'URL_LIST') throw new Error('expected URL_LIST');
    const item = manifest.payload[0]!;
    expect(exosite.classifyPayloadItem(item)).toEqual({ kind: 'content', id: 'firmware_updatev102.txt' });

    const url = exosite.resolvePayloadItem(item, exosite.contentBaseUrl(PID));
    expect(url).toBe(
      `https://${PID}.m2.exosite.io/provision/download?vendor=${PID}&model=${PID}&id=firmware_updatev102.txt`,
    );
    expect(new URL(url).searchParams.get('id')).toBe('firmware_updatev102.txt');

    const request = exositeProvisioning.contentDownloadRequest({ token: TOKEN, productId: PID, id: item });
    expect(request.path).toBe(`/provision/download?vendor=${PID}&model=${PID}&id=firmware_updatev102.txt`);
    expect(request.headers['X-Exosite-CIK']).toBe(TOKEN);

    const { value } = exosite.toCanonical(manifest, { content: exosite.contentBaseUrl(PID) });
    expect(value.artifacts).toEqual([{ url, target: 'file', name: 'firmware_updatev102.txt' }]);
  });

  it('E5: two absolute URLs are two direct downloads, reported as "Downloading file 2 of 2"', () => {
    const manifest = exosite.decodeManifest({
      version: '08-14-2021',
      name: 'Update Device Packages 08-14-2021',
      description: '',
      type: 'URL_LIST',
      payload: ['https://mycontentserver.com/file1', 'https://mycontentserver.com/file2'],
    });
    if (manifest.type !== 'URL_LIST') throw new Error('expected URL_LIST');
    const urls = manifest.payload.map((item) => exosite.resolvePayloadItem(item));
    expect(urls).toEqual(['https://mycontentserver.com/file1', 'https://mycontentserver.com/file2']);
    expect(exosite.toCanonical(manifest).value.artifacts.map((artifact) => artifact.url)).toEqual(urls);

    const statuses = urls.map((_, index) =>
      exosite.statusFromCanonical(
        { state: 'downloading', version: manifest.version },
        { step: { index: index + 1, count: urls.length } },
      ),
    );
    expect(statuses).toContainEqual({
      version: '08-14-2021',
      status: 'DOWNLOAD_STEP',
      message: 'Downloading file 2 of 2',
    });
  });

  it('E6: a disk too small is reported as TEST_ERROR with the reason', () => {
    const message = 'Not enough memory (required: 1024MB, available: 512MB).';
    const status = exosite.statusFromCanonical({
      state: 'check_failed',
      version: '1.2.4',
      error: { name: 'OtaError', code: 'CHECK', message, retryable: false },
    });
    expect(status).toEqual({ version: '1.2.4', status: 'TEST_ERROR', message });
    expect(exosite.otauStatus('1.2.4', 'TEST_ERROR', message)).toEqual(status);
    expect(JSON.parse(exosite.encodeStatus(status!))).toEqual({
      version: '1.2.4',
      status: 'TEST_ERROR',
      message,
    });
  });

  it('E7: a FILE manifest is a single download', () => {
    const manifest = exosite.decodeManifest(
      '{"version":"3.1","name":"Installer","type":"FILE","payload":"https://www.example.com/otau.exe"}',
    );
    expect(manifest).toEqual({
      version: '3.1',
      name: 'Installer',
      type: 'FILE',
      payload: 'https://www.example.com/otau.exe',
    });
    const { value } = exosite.toCanonical(manifest);
    expect(value.artifacts).toEqual([
      { url: 'https://www.example.com/otau.exe', target: 'file', name: 'otau.exe' },
    ]);
  });

  it('E8: a JSON manifest downloads nothing; the handler receives the object', async () => {
    const payload = { settings: { interval: 30, mode: 'eco' }, restart: true };
    const manifest = exosite.decodeManifest(
      JSON.stringify({ version: '5', name: 'Config', type: 'JSON', payload }),
    );
    if (manifest.type !== 'JSON') throw new Error('expected JSON');
    expect(manifest.payload).toEqual(payload);

    const { value } = exosite.toCanonical(manifest);
    expect(value.artifacts).toHaveLength(1);
    const artifact = value.artifacts[0]!;
    expect(artifact.target).toBe('config');
    // No network: the one artifact is the object itself, as a data: URL.
    expect(artifact.url.startsWith('data:application/json,')).toBe(true);
    expect(await (await fetch(artifact.url)).json()).toEqual(payload);
    expect(value.extensions?.exosite).toMatchObject({ type: 'JSON', payload });
  });

  it('E9: an unknown type (ZIP) is refused before any download and answered with TEST_ERROR', () => {
    const raw = '{"version":"1.3","name":"Zip","type":"ZIP","payload":"https://example.com/a.zip"}';
    const error = decodeError(() => exosite.decodeManifest(raw));
    expect(error.issues).toEqual([{ path: 'type', expected: 'one of "URL_LIST", "FILE", "JSON"' }]);
    const version = exosite.manifestVersionOf(raw);
    expect(version).toBe('1.3');
    expect(
      exosite.statusFromCanonical({
        state: 'check_failed',
        version,
        error: { name: error.name, code: error.code, message: error.message, retryable: false },
      }),
    ).toEqual({ version: '1.3', status: 'TEST_ERROR', message: error.message });
    expect(error.message).toBe(
      'Invalid Exosite config_otau manifest: type: expected one of "URL_LIST", "FILE", "JSON"',
    );
  });

  it('E10: a manifest without version or name is refused', () => {
    const noVersion = decodeError(() =>
      exosite.decodeManifest({ name: 'x', type: 'FILE', payload: 'https://example.com/f' }),
    );
    expect(noVersion.issues).toEqual([
      { path: 'version', expected: 'a non-empty version string (at most 256 characters)' },
    ]);
    const noName = decodeError(() =>
      exosite.decodeManifest({ version: '1', type: 'FILE', payload: 'https://example.com/f' }),
    );
    expect(noName.issues).toEqual([{ path: 'name', expected: 'a name string' }]);
    expect(exosite.manifestVersionOf({ name: 'x' })).toBeNull();
    expect(exosite.statusFromCanonical({ state: 'check_failed', version: null })).toEqual({
      version: '',
      status: 'TEST_ERROR',
      message: '',
    });
  });

  it('E11: an MQTT change on $resource/config_otau/<ts> is parsed and acknowledged with the same payload', () => {
    const topic = '$resource/config_otau/1526046488000000';
    const payload = new TextEncoder().encode(JSON.stringify(E3_MANIFEST));
    expect(exosite.parseResourceTopic(topic)).toEqual({ alias: 'config_otau', timestamp: 1526046488000000 });
    expect(exosite.decodeManifest(payload)).toEqual(E3_MANIFEST);

    const ack = exosite.acknowledgeChange({ topic, payload });
    expect(ack.topic).toBe('$resource/config_otau');
    expect(ack.payload).toBe(payload); // the very bytes received
    expect(exosite.acknowledgePublication(payload)).toEqual(ack);
  });

  it('E12: an MQTT status is published to $resource/otau_in', () => {
    const status = exosite.statusFromCanonical({
      state: 'downloading',
      version: '1.0.2',
      previous: 'available',
    });
    expect(exosite.resourceTopic('otau_in')).toBe('$resource/otau_in');
    expect(exosite.encodeStatus(status!)).toBe('{"version":"1.0.2","status":"DOWNLOAD","message":""}');
  });

  it('E13: the same manifest delivered twice is not installed again once INSTALLED_VERSION was sent', () => {
    const manifest = exosite.decodeManifest(JSON.stringify(E3_MANIFEST));
    expect(exosite.isAlreadyInstalled(manifest, null)).toBe(false);
    const installing = exosite.statusFromCanonical({ state: 'installing', version: '1.0.2' });
    expect(exosite.isAlreadyInstalled(manifest, installing)).toBe(false);
    const done = exosite.statusFromCanonical({ state: 'committed', version: '1.0.2' });
    expect(exosite.isAlreadyInstalled(manifest, done)).toBe(true);
    expect(exosite.isAlreadyInstalled({ version: '1.0.3' }, done)).toBe(false);
    // A tracker following 1.0.2 reads the re-sent INSTALLED_VERSION as the same committed state.
    expect(exosite.statusToCanonical(done!, { updateVersion: '1.0.2' }).state).toBe('committed');
    expect(manifestIntegrity(exosite.toCanonical(manifest).value)).toBe('none');
  });
});
