import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { isOtaError, ManifestError } from '../../../src/core/errors.js';
import * as insighIo from '../../../src/protocols/insighio/index.js';
import { CC, CONTEXT, DID, DK, I2_URL, IDS, ORDER, OTA_TOPIC } from './fixtures.js';

const PARAMS = { fileId: 'fa8884d2', ...CONTEXT };

/** Every printable form of a thrown value, its cause chain included. */
function printed(error: unknown): string {
  const forms: string[] = [];
  for (let current = error; current !== undefined && current !== null; current = (current as Error).cause) {
    forms.push(String(current), JSON.stringify(current), inspect(current, { depth: 5 }));
    if (current instanceof Error) forms.push(current.message, current.stack ?? '');
  }
  return forms.join('\n');
}

function thrown(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('insigh.io topics', () => {
  it('builds the control, OTA and subscription topics', () => {
    expect(insighIo.otaTopic(IDS)).toBe(OTA_TOPIC);
    expect(insighIo.controlTopic(IDS)).toBe(`channels/${CC}/messages/${DID}`);
    expect(insighIo.controlTopic(IDS, 'config')).toBe(`channels/${CC}/messages/${DID}/config`);
    expect(insighIo.controlSubscription(IDS)).toBe(`channels/${CC}/messages/${DID}/#`);
  });

  it('refuses ids that would inject a level or a wildcard, with a CONFIG error', () => {
    for (const bad of ['a/b', '+', '#', 'a+', 'x#', '', 'a b', 'a\u0000b', '..', 'x'.repeat(129)]) {
      for (const ids of [
        { ...IDS, deviceId: bad },
        { ...IDS, controlChannelId: bad },
      ]) {
        const error = thrown(() => insighIo.otaTopic(ids));
        expect(isOtaError(error, 'CONFIG'), JSON.stringify(ids)).toBe(true);
      }
      expect(
        isOtaError(
          thrown(() => insighIo.controlTopic(IDS, bad)),
          'CONFIG',
        ),
      ).toBe(true);
    }
    expect((thrown(() => insighIo.otaTopic({ ...IDS, deviceId: 'a/b' })) as Error).message).toBe(
      'Invalid insigh.io control ids: deviceId: expected a device id of letters, digits, "-" and "_" only',
    );
  });

  it('parses control and OTA topics, refusing wildcards, extra levels and other prefixes', () => {
    expect(insighIo.parseControlTopic(OTA_TOPIC)).toEqual({ ...IDS, subtopic: 'ota' });
    expect(insighIo.parseControlTopic(`channels/${CC}/messages/${DID}`)).toEqual({ ...IDS, subtopic: null });
    expect(insighIo.parseOtaTopic(OTA_TOPIC)).toEqual(IDS);
    for (const bad of [
      `channels/${CC}/messages/${DID}/config`,
      `channels/${CC}/messages/${DID}/ota/extra`,
      `channels/+/messages/${DID}/ota`,
      `channels/${CC}/messages/#`,
      `channels/${CC}/messages//ota`,
      `/channels/${CC}/messages/${DID}/ota`,
      `things/${CC}/messages/${DID}/ota`,
      `channels/${CC}/messages/${DID}/ota/`,
      '',
      'x'.repeat(5000),
    ]) {
      expect(() => insighIo.parseOtaTopic(bad), bad).toThrow(ManifestError);
      expect(insighIo.isOtaTopic(bad)).toBe(false);
    }
    expect(insighIo.isOtaTopic(OTA_TOPIC)).toBe(true);
  });

  it('builds a publication for the order, retained with QoS 1', () => {
    expect(insighIo.orderPublication(IDS, ORDER)).toEqual({
      topic: OTA_TOPIC,
      payload: '[{"n":"e","v":0},{"n":"i","vs":"fa8884d2"},{"n":"t","vs":".tar.gz"},{"n":"s","v":3987}]',
      options: { qos: 1, retain: true },
    });
    expect(insighIo.clearPublication(IDS)).toEqual({
      topic: OTA_TOPIC,
      payload: '',
      options: { qos: 1, retain: true },
    });
  });
});

describe('insigh.io download URL', () => {
  it('builds the documented URL over HTTPS by default', () => {
    expect(insighIo.downloadUrl(PARAMS).href).toBe(I2_URL);
    expect(insighIo.downloadUrls(PARAMS).map((url) => url.href)).toEqual([I2_URL]);
  });

  it('takes a configurable base URL (trailing slash or not, with a port)', () => {
    for (const baseUrl of ['https://ota.example.test:8443/proxy', 'https://ota.example.test:8443/proxy/']) {
      expect(insighIo.downloadUrl(PARAMS, { baseUrl }).href).toBe(
        `https://ota.example.test:8443/proxy/packages/download?fuid=fa8884d2&did=${DID}&dk=${DK}&cid=${CC}`,
      );
    }
    expect(insighIo.downloadUrl(PARAMS, { baseUrl: 'https://h.test' }).href).toMatch(
      /^https:\/\/h\.test\/packages\/download\?/,
    );
  });

  it('percent-encodes the key, so it cannot add or end a parameter', () => {
    const url = insighIo.downloadUrl({ ...PARAMS, deviceKey: 'a&cid=evil#x y+%' });
    expect(url.href).toBe(
      `https://console.insigh.io/mf-rproxy/packages/download?fuid=fa8884d2&did=${DID}&dk=a%26cid%3Devil%23x%20y%2B%25&cid=${CC}`,
    );
    expect(new URL(url.href).searchParams.get('dk')).toBe('a&cid=evil#x y+%');
    expect(insighIo.parseDownloadUrl(url.href).deviceKey).toBe('a&cid=evil#x y+%');
  });

  it('refuses http: unless allowed; the HTTP fallback only on request', () => {
    expect(
      isOtaError(
        thrown(() => insighIo.downloadUrl(PARAMS, { baseUrl: 'http://console.insigh.io/mf-rproxy' })),
        'CONFIG',
      ),
    ).toBe(true);
    expect(
      insighIo.downloadUrl(PARAMS, { baseUrl: 'http://console.insigh.io/mf-rproxy', allowInsecureHttp: true })
        .href,
    ).toBe(I2_URL.replace('https:', 'http:'));
    expect(insighIo.downloadUrls(PARAMS, { httpFallback: true }).map((url) => url.href)).toEqual([
      I2_URL,
      I2_URL.replace('https:', 'http:'),
    ]);
    for (const baseUrl of [
      'ftp://x.test',
      'not a url',
      'https://u:p@x.test',
      'https://x.test/?q=1',
      'https://x.test/#f',
    ]) {
      expect(
        isOtaError(
          thrown(() => insighIo.downloadUrl(PARAMS, { baseUrl })),
          'CONFIG',
        ),
        baseUrl,
      ).toBe(true);
    }
  });

  it('parses a download URL back into its parameters', () => {
    expect(insighIo.parseDownloadUrl(I2_URL)).toEqual({
      baseUrl: 'https://console.insigh.io/mf-rproxy',
      ...PARAMS,
    });
    for (const bad of [
      I2_URL.replace('fuid=fa8884d2', 'fuid=..%2Fx'),
      I2_URL.replace('&cid=', '&cid=a&cid='),
      `${I2_URL}&extra=1`,
      I2_URL.replace('/download', '/upload'),
      I2_URL.replace('&dk=', '&dx='),
      'relative?fuid=a',
      'x'.repeat(5000),
    ]) {
      expect(() => insighIo.parseDownloadUrl(bad), bad).toThrow(ManifestError);
    }
  });

  it('never prints the device key: toString, JSON, inspect and template literals are redacted', () => {
    const url = insighIo.downloadUrl(PARAMS);
    const redacted = I2_URL.replace(DK, '***');
    expect(url.redacted).toBe(redacted);
    expect(String(url)).toBe(redacted);
    expect(`${url}`).toBe(redacted);
    expect(JSON.stringify({ url })).toBe(JSON.stringify({ url: redacted }));
    expect(inspect(url)).toBe(`DownloadUrl <${redacted}>`);
    expect(inspect({ nested: [url] }, { depth: 5 })).not.toContain(DK);
    expect(Object.keys(url)).toEqual([]);
    for (const fallback of insighIo.downloadUrls(PARAMS, { httpFallback: true })) {
      expect(String(fallback)).not.toContain(DK);
    }
  });

  it('never puts the device key in an error, whatever else is wrong', () => {
    const failures = [
      () => insighIo.downloadUrl({ ...PARAMS, fileId: 'a/b' }),
      () => insighIo.downloadUrl({ ...PARAMS, deviceKey: `${DK}\n` }),
      () => insighIo.downloadUrl({ ...PARAMS, deviceKey: DK.repeat(20) }),
      () => insighIo.downloadUrl(PARAMS, { baseUrl: `https://${DK}:${DK}@x.test` }),
      () => insighIo.downloadUrl(PARAMS, { baseUrl: `https://x.test/?dk=${DK}` }),
      () => insighIo.downloadUrl(PARAMS, { baseUrl: `not a url ${DK}` }),
      () => insighIo.parseDownloadUrl(`${I2_URL}&dk=${DK}`),
      () => insighIo.parseDownloadUrl(I2_URL.replace('fuid=fa8884d2', 'fuid=a.b')),
      () => insighIo.parseDownloadUrl(`${I2_URL} ${DK}`.replace('https://', 'https://[')),
      () => insighIo.parseDownloadUrl(I2_URL.replace(`dk=${DK}`, `dk=${DK}${'x'.repeat(300)}`)),
      () => insighIo.connectSettings({ ...IDS, deviceId: 'a/b', deviceKey: DK }),
      () => insighIo.connectSettings({ ...IDS, deviceKey: `${DK}\u0000` }),
      () => insighIo.toCanonical(ORDER, { ...CONTEXT, deviceId: '#' }),
      () => insighIo.toCanonical(ORDER, { ...CONTEXT, baseUrl: `http://x.test/${DK}` }),
      () => insighIo.toCanonical({ ...ORDER, fileId: DK.replace(/-/g, '/') }, CONTEXT),
      () =>
        insighIo.fromCanonical({
          id: 'a.b',
          version: '1',
          artifacts: [{ url: `https://x.test/p?dk=${DK}`, target: 'package', size: 1 }],
        }),
    ];
    for (const failure of failures) {
      const error = thrown(failure);
      expect(isOtaError(error), String(failure)).toBe(true);
      expect(printed(error), String(failure)).not.toContain(DK);
      expect(printed(error)).not.toContain(DK.replace(/-/g, '/'));
    }
  });
});
