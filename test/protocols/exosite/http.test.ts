import { describe, expect, it } from 'vitest';
import { isOtaError, ManifestError, redactHeaders } from '../../../src/index.js';
import { exositeProvisioning } from '../../../src/node/index.js';
import * as exosite from '../../../src/protocols/exosite/index.js';

const TOKEN = 'f3b2c1d0e9a8f7b6c5d4e3f2a1b0c9d8e7f6a5b4';
const PID = 'd1zzd6dflnt50000';

function caught(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

function issues(run: () => unknown) {
  const error = caught(run);
  if (isOtaError(error, 'MANIFEST_INVALID')) return error.issues;
  throw error;
}

describe('form bodies', () => {
  it('encodes a write of several aliases, byte-identical to URLSearchParams', () => {
    const values = {
      otau_in: '{"version":"1.0.2","status":"DOWNLOAD","message":"50% done & more = ok"}',
      temperature: '21.5',
      'note.x': "a b!'()~*-._+/?#é😀",
    };
    const body = exosite.encodeForm(values);
    expect(body).toBe(new URLSearchParams(values).toString());
    expect(body.split('&')).toHaveLength(3);
    expect(body).toContain('temperature=21.5');
    expect(exosite.decodeForm(body)).toEqual(values);
    expect(Object.fromEntries(new URLSearchParams(body))).toEqual(values);
  });

  it('decodes bodies encoded with %20 or +, and skips empty segments', () => {
    expect(exosite.decodeForm('a=x%20y&&b=x+y&c&d=')).toEqual({ a: 'x y', b: 'x y', c: '', d: '' });
    expect(exosite.decodeForm(new TextEncoder().encode('a=%C3%A9'))).toEqual({ a: 'é' });
    expect(exosite.decodeForm('')).toEqual({});
  });

  it('names every bad field of a form body in one error', () => {
    expect(issues(() => exosite.decodeForm('a=%zz&b%2Fc=2&a=1&d=%E0'))).toEqual([
      { path: 'a', expected: 'valid percent-encoded UTF-8' },
      { path: '[1]', expected: 'a resource alias as field name' },
      { path: 'a', expected: 'each alias at most once' },
      { path: 'd', expected: 'valid percent-encoded UTF-8' },
    ]);
  });

  it('is stricter than URLSearchParams: bad escapes, repeated aliases, non-alias names', () => {
    expect(issues(() => exosite.decodeForm('config_otau=%E0%A4%A'))).toEqual([
      { path: 'config_otau', expected: 'valid percent-encoded UTF-8' },
    ]);
    expect(issues(() => exosite.decodeForm('a=%zz'))).toEqual([
      { path: 'a', expected: 'valid percent-encoded UTF-8' },
    ]);
    expect(issues(() => exosite.decodeForm('a=1&a=2'))).toEqual([
      { path: 'a', expected: 'each alias at most once' },
    ]);
    expect(issues(() => exosite.decodeForm('a=1&b%2Fc=2'))).toEqual([
      { path: '[1]', expected: 'a resource alias as field name' },
    ]);
    expect(issues(() => exosite.decodeForm('=1'))).toEqual([
      { path: '[0]', expected: 'a resource alias as field name' },
    ]);
    const many = Array.from({ length: 65 }, (_, index) => `a${index}=1`).join('&');
    expect(issues(() => exosite.decodeForm(many))).toEqual([{ path: '', expected: 'at most 64 fields' }]);
  });

  it('refuses a "__proto__" key anywhere in a JSON payload, naming its path, in every direction', () => {
    const wire = '{"version":"1","name":"n","type":"JSON","payload":{"k":[{"__proto__":{"polluted":1}}]}}';
    const expected = { code: 'MANIFEST_INVALID', issues: [{ path: 'payload.k[0].__proto__' }] };
    expect(caught(() => exosite.decodeManifest(wire))).toMatchObject(expected);
    const parsed = JSON.parse(wire) as exosite.OtauManifest; // JSON.parse makes "__proto__" an own key
    expect(caught(() => exosite.encodeManifest(parsed))).toMatchObject(expected);
    expect(caught(() => exosite.toCanonical(parsed))).toMatchObject(expected);
    expect(({} as { polluted?: number }).polluted).toBeUndefined();
  });

  it('does not let __proto__ touch the prototype', () => {
    const values = exosite.decodeForm('__proto__=x&constructor=y');
    expect(Object.getOwnPropertyDescriptor(values, '__proto__')?.value).toBe('x');
    expect(Object.keys(values)).toEqual(['__proto__', 'constructor']);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('refuses bad writes with CONFIG errors that never contain values', () => {
    const secret = 'SECRET-VALUE';
    for (const run of [
      () => exosite.encodeForm({}),
      () => exosite.encodeForm({ 'bad/alias': secret }),
      () => exosite.encodeForm({ a: `${secret}\ud800` }),
      () => exosite.encodeForm({ a: secret.repeat(200_000) }),
      () => exosite.encodeForm(Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`a${i}`, secret]))),
    ]) {
      const error = caught(run);
      expect(isOtaError(error, 'CONFIG')).toBe(true);
      expect(String((error as Error).message)).not.toContain(secret);
    }
  });
});

describe('HTTP device API', () => {
  it('builds the auth header and refuses malformed tokens without quoting them', () => {
    expect(exosite.authHeaders(TOKEN)).toEqual({ 'X-Exosite-CIK': TOKEN });
    for (const bad of ['', 'SECRET\r\nX-Injected: 1', 'SECRET TOKEN', `SECRET${'x'.repeat(300)}`, 'SECRÉT']) {
      const error = caught(() => exosite.authHeaders(bad));
      expect(isOtaError(error, 'CONFIG')).toBe(true);
      expect((error as Error).message).toBe(
        'Invalid Exosite device token: expected 1 to 256 visible ASCII characters',
      );
      expect(JSON.stringify(error)).not.toContain('SECRET');
    }
  });

  it('never shows the token when a request is logged as JSON', () => {
    const request = exosite.readRequest({ token: TOKEN, aliases: ['config_otau'] });
    expect(JSON.stringify(request)).not.toContain(TOKEN);
    expect(JSON.parse(JSON.stringify(request)).headers['X-Exosite-CIK']).toBe('***');
    expect(redactHeaders(request.headers)['X-Exosite-CIK']).toBe('***');
    // …while the request itself still carries it for fetch.
    expect(request.headers['X-Exosite-CIK']).toBe(TOKEN);
  });

  it('builds reads and hybrid write/reads', () => {
    expect(exosite.readRequest({ token: TOKEN, aliases: ['config_otau', 'config_io'] })).toEqual({
      method: 'GET',
      path: '/onep:v1/stack/alias?config_otau&config_io',
      headers: { 'X-Exosite-CIK': TOKEN, Accept: 'application/x-www-form-urlencoded; charset=utf-8' },
    });
    const hybrid = exosite.hybridRequest({ token: TOKEN, values: { otau_in: 'x y' }, read: ['config_otau'] });
    expect(hybrid).toMatchObject({
      method: 'POST',
      path: '/onep:v1/stack/alias?config_otau',
      body: 'otau_in=x+y',
    });
    expect(hybrid.headers['Content-Type']).toBe(exosite.FORM_CONTENT_TYPE);
    expect(
      isOtaError(
        caught(() => exosite.readRequest({ token: TOKEN, aliases: [] })),
        'CONFIG',
      ),
    ).toBe(true);
    expect(
      isOtaError(
        caught(() => exosite.readRequest({ token: TOKEN, aliases: ['a&b'] })),
        'CONFIG',
      ),
    ).toBe(true);
  });

  it('decodes read responses', () => {
    expect(exosite.decodeReadResponse({ status: 200, body: 'config_otau=%7B%7D' })).toEqual({
      config_otau: '{}',
    });
    expect(exosite.decodeReadResponse({ status: 204 })).toEqual({});
    const rejected = caught(() => exosite.decodeReadResponse({ status: 401, body: TOKEN }));
    expect(isOtaError(rejected, 'TRANSPORT')).toBe(true);
    expect(rejected).toMatchObject({
      status: 401,
      retryable: false,
      message: 'Exosite read: device token rejected (HTTP 401)',
    });
    expect(caught(() => exosite.decodeReadResponse({ status: 503 }))).toMatchObject({
      status: 503,
      retryable: true,
    });
  });

  it('builds long polls as the device API describes them and checks their parameters', () => {
    const withDate = exosite.longPollRequest({
      token: TOKEN,
      alias: 'config_otau',
      timeoutMs: 300_000,
      ifModifiedSince: new Date(Date.UTC(1994, 10, 15, 8, 12, 31)),
    });
    expect(withDate.headers['Request-Timeout']).toBe('300000');
    expect(withDate.headers['If-Modified-Since']).toBe('Tue, 15 Nov 1994 08:12:31 GMT');
    expect(
      exosite.longPollRequest({ token: TOKEN, timeoutMs: 1, ifModifiedSince: 1526046488 }).headers[
        'If-Modified-Since'
      ],
    ).toBe('1526046488');
    for (const options of [
      { timeoutMs: 0 },
      { timeoutMs: 300_001 },
      { timeoutMs: 1.5 },
      { timeoutMs: 1000, ifModifiedSince: 'x\r\nInjected: 1' },
      { timeoutMs: 1000, ifModifiedSince: -1 },
      { timeoutMs: 1000, ifModifiedSince: new Date(Number.NaN) },
      { timeoutMs: 1000, alias: 'config_otau&otau_in' },
    ]) {
      expect(
        isOtaError(
          caught(() => exosite.longPollRequest({ token: TOKEN, ...options })),
          'CONFIG',
        ),
      ).toBe(true);
    }
  });

  it('decodes long poll answers', () => {
    expect(exosite.decodeLongPollResponse({ status: 204 })).toEqual({ kind: 'empty' });
    expect(issues(() => exosite.decodeLongPollResponse({ status: 200, body: 'a=1&b=2' }))).toEqual([
      { path: '', expected: 'exactly one alias=value field' },
    ]);
    expect(issues(() => exosite.decodeLongPollResponse({ status: 200, body: '' }))).toEqual([
      { path: '', expected: 'exactly one alias=value field' },
    ]);
    expect(
      isOtaError(
        caught(() => exosite.decodeLongPollResponse({ status: 500 })),
        'TRANSPORT',
      ),
    ).toBe(true);
  });

  it('activates, and never quotes a token in activation errors', () => {
    const request = exositeProvisioning.activateRequest({ productId: PID, identity: 'a0:01 b&c' });
    expect(request).toEqual({
      method: 'POST',
      path: '/provision/activate',
      headers: { 'Content-Type': exosite.FORM_CONTENT_TYPE },
      body: `vendor=${PID}&model=${PID}&sn=a0%3A01+b%26c`,
    });
    expect(exositeProvisioning.decodeActivateResponse({ status: 200, body: `${TOKEN}\n` })).toBe(TOKEN);
    expect(caught(() => exositeProvisioning.decodeActivateResponse({ status: 404 }))).toMatchObject({
      code: 'TRANSPORT',
      status: 404,
    });
    expect(caught(() => exositeProvisioning.decodeActivateResponse({ status: 409 }))).toMatchObject({
      code: 'TRANSPORT',
      status: 409,
    });
    const malformed = caught(() =>
      exositeProvisioning.decodeActivateResponse({ status: 200, body: 'SECRET PART TWO' }),
    );
    expect(isOtaError(malformed, 'MANIFEST_INVALID')).toBe(true);
    expect((malformed as Error).message).not.toContain('SECRET');
    expect(
      isOtaError(
        caught(() => exositeProvisioning.activateRequest({ productId: 'Bad.Pid', identity: 'x' })),
        'CONFIG',
      ),
    ).toBe(true);
  });

  it('builds the origin, timestamp and content requests', () => {
    expect(exosite.deviceApiOrigin(PID)).toBe(`https://${PID}.m2.exosite.io`);
    expect(exosite.deviceApiOrigin(PID, { domain: 'm2.exosite.com' })).toBe(`https://${PID}.m2.exosite.com`);
    expect(
      isOtaError(
        caught(() => exosite.deviceApiOrigin(PID, { domain: 'evil.com/x' })),
        'CONFIG',
      ),
    ).toBe(true);
    expect(exositeProvisioning.timestampRequest()).toEqual({
      method: 'GET',
      path: '/timestamp',
      headers: {},
    });
    expect(exositeProvisioning.decodeTimestampResponse({ status: 200, body: '1526046488\n' })).toBe(
      1526046488,
    );
    expect(issues(() => exositeProvisioning.decodeTimestampResponse({ status: 200, body: '12.5' }))).toEqual([
      { path: '', expected: 'whole epoch seconds' },
    ]);
    expect(exositeProvisioning.contentListRequest({ token: TOKEN, productId: PID }).path).toBe(
      `/provision/download?vendor=${PID}&model=${PID}`,
    );
    expect(
      exositeProvisioning.contentInfoRequest({ token: TOKEN, productId: PID, id: 'fw v1.bin' }).path,
    ).toBe(`/provision/download?vendor=${PID}&model=${PID}&id=fw+v1.bin&info=true`);
    const ranged = exositeProvisioning.contentDownloadRequest({
      token: TOKEN,
      productId: PID,
      id: 'a',
      range: { start: 10 },
    });
    expect(ranged.headers.Range).toBe('bytes=10-');
    expect(
      exositeProvisioning.contentDownloadRequest({
        token: TOKEN,
        productId: PID,
        id: 'a',
        range: { start: 0, end: 99 },
      }).headers.Range,
    ).toBe('bytes=0-99');
    expect(
      isOtaError(
        caught(() =>
          exositeProvisioning.contentDownloadRequest({
            token: TOKEN,
            productId: PID,
            id: 'a',
            range: { start: 5, end: 4 },
          }),
        ),
        'CONFIG',
      ),
    ).toBe(true);
  });

  it('decodes content lists and content info', () => {
    expect(exositeProvisioning.decodeContentList({ status: 200, body: 'a.bin\r\nb.txt\n\n' })).toEqual([
      'a.bin',
      'b.txt',
    ]);
    expect(exositeProvisioning.decodeContentList({ status: 204 })).toEqual([]);
    expect(
      exositeProvisioning.decodeContentInfo({
        status: 200,
        body: 'application/octet-stream,1024,1526046488,v1, beta',
      }),
    ).toEqual({
      contentType: 'application/octet-stream',
      size: 1024,
      updated: 1526046488,
      meta: 'v1, beta',
    });
    expect(
      issues(() => exositeProvisioning.decodeContentInfo({ status: 200, body: 'text/plain,big,1' })),
    ).toEqual([{ path: '', expected: '<content-type>,<byte-size>,<updated-ts>,<meta>' }]);
  });
});

describe('payload items and content', () => {
  it('refuses a content id with a lone surrogate (no URL can name it) with a typed error, not a URIError', () => {
    // Shrunk from the fuzz suite (npm run test:fuzz): encodeURIComponent threw URIError here.
    const error = (() => {
      try {
        exosite.resolvePayloadItem('fw\udd47.bin', 'https://cdn.example/fw.bin');
      } catch (thrown) {
        return thrown;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ManifestError);
    expect((error as ManifestError).issues[0]?.path).toBe('payload');
  });

  it('resolves content ids against a query base, a path base or a function', () => {
    expect(exosite.resolvePayloadItem('fw v1&2.bin', 'https://x.example/dl?vendor=p&model=p')).toBe(
      'https://x.example/dl?vendor=p&model=p&id=fw+v1%262.bin',
    );
    expect(exosite.resolvePayloadItem('a/../b', 'https://cdn.example/content')).toBe(
      'https://cdn.example/content/a%2F..%2Fb',
    );
    expect(exosite.resolvePayloadItem('a', 'https://cdn.example/content/')).toBe(
      'https://cdn.example/content/a',
    );
    expect(exosite.resolvePayloadItem('a', (id) => `https://cdn.example/${id}.bin`)).toBe(
      'https://cdn.example/a.bin',
    );
    expect(exosite.resolvePayloadItem('https://other.example/x', 'https://cdn.example/')).toBe(
      'https://other.example/x',
    );
  });

  it('refuses dot segments, missing or non-http locators', () => {
    expect(issues(() => exosite.resolvePayloadItem('..', 'https://cdn.example/c/'))).toEqual([
      { path: 'payload', expected: exosite.PAYLOAD_ITEM_EXPECTED },
    ]);
    for (const content of [
      undefined,
      'ftp://cdn.example/',
      'not a url',
      'https://cdn.example/#x',
      () => 'file:///x',
    ]) {
      expect(
        isOtaError(
          caught(() => exosite.resolvePayloadItem('a', content)),
          'CONFIG',
        ),
      ).toBe(true);
    }
  });
});
